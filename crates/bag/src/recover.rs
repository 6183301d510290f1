//! `bag recover`: a complete, indexed copy of a recording cut short.
//!
//! A recording whose writer was killed may lack its summary, its `metadata.yaml`, or end
//! in a torn record; tools that seek (`ros2 bag`, `rosbags`, the `mcap` package's
//! `make_reader`) then refuse it. Recovery reads each storage file front to back up to the
//! first record it cannot read and writes what it read as a new bag:
//! - MCAP: every intact message, in file order, with its topic's schema, into one indexed
//!   MCAP file with its summary, plus `metadata.yaml`;
//! - SQLite3: a consistent copy of each database (`VACUUM INTO`, which also takes in a
//!   write-ahead log left beside it) plus `metadata.yaml` counted from the copies.
//!
//! The input is never modified.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::error::{BagError, Position};
use crate::metadata::{FileInfo, Metadata, Nanoseconds, SinceEpoch};
use crate::reader::{StorageId, TopicInfo};
use crate::writer::{BagWriter, TopicId};

/// What [`recover`] kept.
#[derive(Debug)]
pub struct Recovered {
    /// The new bag folder.
    pub output: PathBuf,
    pub storage: StorageId,
    /// Messages kept per topic.
    pub topics: Vec<TopicInfo>,
    /// Where and why reading stopped before the end of a file: one entry per damaged file.
    pub stopped: Vec<BagError>,
}

impl Recovered {
    pub fn message_count(&self) -> u64 {
        self.topics.iter().map(|t| t.message_count).sum()
    }
}

/// Recovers the recording at `input` (a bag folder, with or without `metadata.yaml`, or
/// one `.mcap`/`.db3` file) into the new folder `output`.
pub fn recover(input: &Path, output: &Path) -> Result<Recovered, BagError> {
    let (storage, files) = storage_files(input)?;
    if output.exists() {
        return Err(BagError::OutputExists {
            path: output.to_path_buf(),
        });
    }
    match storage {
        StorageId::Mcap => recover_mcap(&files, output),
        StorageId::Sqlite3 => recover_sqlite(&files, output),
    }
}

/// The storage files of a recording, in recording order: those `metadata.yaml` lists when
/// it can be read, otherwise the folder's `.mcap` or `.db3` files by name.
fn storage_files(input: &Path) -> Result<(StorageId, Vec<PathBuf>), BagError> {
    let meta = std::fs::metadata(input).map_err(BagError::io(input))?;
    let storage_of = |p: &Path| match p.extension().and_then(|e| e.to_str()) {
        Some("mcap") => Some(StorageId::Mcap),
        Some("db3") => Some(StorageId::Sqlite3),
        _ => None,
    };
    if meta.is_file() {
        let storage = storage_of(input).ok_or_else(|| BagError::NotABag {
            path: input.to_path_buf(),
        })?;
        return Ok((storage, vec![input.to_path_buf()]));
    }
    let listed: Vec<PathBuf> = match Metadata::load(input) {
        Ok(m) => m
            .relative_file_paths
            .iter()
            .filter_map(|p| Path::new(p).file_name())
            .map(|name| input.join(name))
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut files = listed;
    if files.is_empty() {
        files = std::fs::read_dir(input)
            .map_err(BagError::io(input))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && storage_of(p).is_some())
            .collect();
        files.sort();
    }
    let storage = files
        .first()
        .and_then(|f| storage_of(f))
        .ok_or_else(|| BagError::NotABag {
            path: input.to_path_buf(),
        })?;
    if files.iter().any(|f| storage_of(f) != Some(storage)) {
        return Err(BagError::NotABag {
            path: input.to_path_buf(),
        });
    }
    Ok((storage, files))
}

fn recover_mcap(files: &[PathBuf], output: &Path) -> Result<Recovered, BagError> {
    let mut writer = BagWriter::create(output)?;
    // (topic, type) → the writer's id and the index in `kept`.
    let mut ids: HashMap<(String, String), (TopicId, usize)> = HashMap::new();
    let mut kept: Vec<TopicInfo> = Vec::new();
    let mut stopped = Vec::new();
    for path in files {
        let file = File::open(path).map_err(BagError::io(path))?;
        let file_len = file.metadata().map_err(BagError::io(path))?.len();
        // Lengths a damaged file claims are checked against the file before any
        // allocation.
        let limit = usize::try_from(file_len).unwrap_or(usize::MAX);
        let options = mcap::sans_io::LinearReaderOptions::default().with_record_length_limit(limit);
        let reader = mcap::io::MessageReader::new_with_options(BufReader::new(file), options);
        let mut last = Position::BeforeFirstMessage;
        for message in reader {
            let message = match message {
                Ok(m) => m,
                Err(source) => {
                    stopped.push(BagError::Mcap {
                        path: path.clone(),
                        position: last,
                        source,
                    });
                    break;
                }
            };
            let topic = message.channel.topic.clone();
            let (type_name, encoding, schema) = match &message.channel.schema {
                Some(s) => (s.name.clone(), s.encoding.clone(), s.data.to_vec()),
                None => (String::new(), String::new(), Vec::new()),
            };
            let key = (topic.clone(), type_name.clone());
            let (id, k) = match ids.get(&key) {
                Some(&known) => known,
                None => {
                    let id =
                        writer.add_topic_with_schema(&topic, &type_name, &encoding, &schema)?;
                    kept.push(TopicInfo {
                        name: topic.clone(),
                        type_name,
                        serialization_format: message.channel.message_encoding.clone(),
                        message_count: 0,
                    });
                    ids.insert(key, (id, kept.len() - 1));
                    (id, kept.len() - 1)
                }
            };
            writer.write_raw(id, message.log_time, &message.data)?;
            let info = &mut kept[k];
            info.message_count += 1;
            last = Position::After {
                topic,
                index: info.message_count - 1,
            };
        }
    }
    let output = writer.finish()?;
    Ok(Recovered {
        output,
        storage: StorageId::Mcap,
        topics: kept,
        stopped,
    })
}

fn recover_sqlite(files: &[PathBuf], output: &Path) -> Result<Recovered, BagError> {
    std::fs::create_dir_all(output).map_err(BagError::io(output))?;
    let mut topics: Vec<TopicInfo> = Vec::new();
    let mut range: Option<(u64, u64)> = None;
    let mut file_infos = Vec::new();
    let stem = output
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .unwrap_or("bag")
        .to_string();
    for (i, path) in files.iter().enumerate() {
        let name = format!("{stem}_{i}.db3");
        let copy = output.join(&name);
        vacuum_into(path, &copy)?;
        let (file_topics, file_range) =
            crate::reader::summarize_sqlite(&copy).map_err(|source| BagError::Sqlite {
                path: copy.clone(),
                position: Position::BeforeFirstMessage,
                source,
            })?;
        let count = file_topics.iter().map(|t| t.message_count).sum();
        for t in file_topics {
            match topics.iter_mut().find(|x| x.name == t.name) {
                Some(x) => x.message_count += t.message_count,
                None => topics.push(t),
            }
        }
        if let Some((a, b)) = file_range {
            range = Some(range.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
        }
        file_infos.push(FileInfo {
            path: name,
            starting_time: SinceEpoch::from_ns(file_range.map_or(0, |r| r.0)),
            duration: Nanoseconds {
                nanoseconds: file_range.map_or(0, |(a, b)| b.saturating_sub(a)),
            },
            message_count: count,
        });
    }
    Metadata::describe("sqlite3", &topics, range, file_infos).store(output)?;
    Ok(Recovered {
        output: output.to_path_buf(),
        storage: StorageId::Sqlite3,
        topics,
        stopped: Vec::new(),
    })
}

/// A consistent copy of a database that its writer may have left with a write-ahead log:
/// the file and its `-wal`/`-shm` are copied to a scratch folder first, so that SQLite's
/// recovery of the log never touches the input.
fn vacuum_into(db: &Path, copy: &Path) -> Result<(), BagError> {
    let scratch = copy.with_extension("recovering");
    std::fs::create_dir_all(&scratch).map_err(BagError::io(&scratch))?;
    let scratch_db = scratch.join("input.db3");
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", db.display()));
        if from.is_file() {
            let to = PathBuf::from(format!("{}{suffix}", scratch_db.display()));
            std::fs::copy(&from, &to).map_err(BagError::io(&from))?;
        }
    }
    let sqlite_error = |source| BagError::Sqlite {
        path: db.to_path_buf(),
        position: Position::BeforeFirstMessage,
        source,
    };
    let result = rusqlite::Connection::open(&scratch_db).and_then(|conn| {
        conn.execute("VACUUM INTO ?1", [copy.to_string_lossy().as_ref()])
            .map(|_| ())
    });
    let _ = std::fs::remove_dir_all(&scratch);
    result.map_err(sqlite_error)
}
