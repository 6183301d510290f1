//! One rosbag2 SQLite3 storage file (`topics` and `messages` tables).
//!
//! Iteration first loads `(timestamp, id, topic)` of the selected messages in time order
//! (24 bytes each), then fetches each message's data by primary key, so that the iterator
//! owns no borrowed statement and memory stays bounded by one message.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};

use super::{Contents, Stored, TopicInfo};

pub(crate) struct SqliteFile {
    conn: Connection,
    /// `(topic, type)` per topic id.
    topics: HashMap<i64, (Arc<str>, Arc<str>)>,
    /// `(timestamp, message id, topic id)`, in time order.
    order: std::vec::IntoIter<(i64, i64, i64)>,
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    // Read-only and without creating: a missing file is an error, never an empty bag.
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// `(id, name, type, serialization_format)` of every topic.
fn topic_rows(conn: &Connection) -> rusqlite::Result<Vec<(i64, String, String, String)>> {
    let mut stmt =
        conn.prepare("SELECT id, name, type, serialization_format FROM topics ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    rows.collect()
}

impl SqliteFile {
    pub fn open(path: &Path, selected: Option<&BTreeSet<String>>) -> rusqlite::Result<SqliteFile> {
        let conn = connect(path)?;
        let topics: HashMap<i64, (Arc<str>, Arc<str>)> = topic_rows(&conn)?
            .into_iter()
            .filter(|(_, name, _, _)| selected.is_none_or(|s| s.contains(name)))
            .map(|(id, name, ty, _)| (id, (Arc::from(name), Arc::from(ty))))
            .collect();
        let mut order = Vec::new();
        {
            let mut stmt = conn
                .prepare("SELECT timestamp, id, topic_id FROM messages ORDER BY timestamp, id")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let topic_id: i64 = row.get(2)?;
                if topics.contains_key(&topic_id) {
                    order.push((row.get(0)?, row.get(1)?, topic_id));
                }
            }
        }
        Ok(SqliteFile {
            conn,
            topics,
            order: order.into_iter(),
        })
    }

    pub fn next_message(&mut self) -> Option<rusqlite::Result<Stored>> {
        let (timestamp, id, topic_id) = self.order.next()?;
        let (topic, type_name) = self.topics.get(&topic_id)?.clone();
        let data = self
            .conn
            .prepare_cached("SELECT data FROM messages WHERE id = ?1")
            .and_then(|mut stmt| stmt.query_row([id], |r| r.get::<_, Vec<u8>>(0)));
        Some(data.map(|data| Stored {
            topic,
            type_name,
            // rosbag2 stores signed nanoseconds; pre-1970 stamps clamp to 0.
            log_time_ns: u64::try_from(timestamp).unwrap_or(0),
            data,
        }))
    }
}

/// Topics, counts and time range of a single `.db3` file.
pub(crate) fn summarize(path: &Path) -> rusqlite::Result<Contents> {
    let conn = connect(path)?;
    let counts: HashMap<i64, u64> = {
        let mut stmt = conn.prepare("SELECT topic_id, COUNT(*) FROM messages GROUP BY topic_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
        rows.map(|r| r.map(|(id, n)| (id, n as u64)))
            .collect::<rusqlite::Result<_>>()?
    };
    let topics = topic_rows(&conn)?
        .into_iter()
        .map(|(id, name, type_name, serialization_format)| TopicInfo {
            name,
            type_name,
            serialization_format,
            message_count: counts.get(&id).copied().unwrap_or(0),
        })
        .collect();
    let range: (Option<i64>, Option<i64>) = conn.query_row(
        "SELECT MIN(timestamp), MAX(timestamp) FROM messages",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let range = match range {
        (Some(a), Some(b)) => Some((a.max(0) as u64, b.max(0) as u64)),
        _ => None,
    };
    Ok((topics, range))
}
