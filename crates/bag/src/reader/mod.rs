//! Opening bags and iterating their messages.

mod mcap_file;
mod sqlite_file;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{BagError, Position};
use crate::metadata::Metadata;
use crate::msgs::Message;
use mcap_file::McapFile;
use sqlite_file::SqliteFile;

/// The storage plugin a bag's files were written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageId {
    Mcap,
    Sqlite3,
}

impl StorageId {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageId::Mcap => "mcap",
            StorageId::Sqlite3 => "sqlite3",
        }
    }
}

/// One topic of a bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    /// e.g. `sensor_msgs/msg/Image`.
    pub type_name: String,
    /// `cdr` for every ROS 2 bag.
    pub serialization_format: String,
    pub message_count: u64,
}

/// What `sightline bag info` prints.
#[derive(Debug, Clone)]
pub struct BagInfo {
    pub path: PathBuf,
    pub storage: StorageId,
    pub files: Vec<PathBuf>,
    pub topics: Vec<TopicInfo>,
    /// First and last log time (ns since the epoch); `None` for an empty bag.
    pub time_range: Option<(u64, u64)>,
}

impl BagInfo {
    /// The counts as the bag's metadata or MCAP statistics claim them, added without
    /// overflow (a damaged file may claim anything; found by `fuzz/bag_mcap`).
    pub fn message_count(&self) -> u64 {
        self.topics
            .iter()
            .map(|t| t.message_count)
            .fold(0, u64::saturating_add)
    }

    pub fn topic(&self, name: &str) -> Option<&TopicInfo> {
        self.topics.iter().find(|t| t.name == name)
    }
}

/// Topics, counts and time range of one SQLite3 storage file (`bag recover`).
pub(crate) fn summarize_sqlite(path: &Path) -> rusqlite::Result<Contents> {
    sqlite_file::summarize(path)
}

/// A message as stored: who, when, and its serialised bytes.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// The storage file it came from.
    pub path: Arc<Path>,
    pub topic: Arc<str>,
    pub type_name: Arc<str>,
    /// Receive time recorded by the bag writer (ns since the epoch).
    pub log_time_ns: u64,
    /// 0-based position of this message within its topic, in iteration order.
    pub index: u64,
    /// CDR bytes including the 4-byte encapsulation header.
    pub data: Vec<u8>,
}

impl RawMessage {
    /// Decodes the message as `M`, checking the stored type name first.
    pub fn decode<'a, M: Message<'a>>(&'a self) -> Result<M, BagError> {
        if &*self.type_name != M::TYPE_NAME {
            return Err(BagError::WrongType {
                path: self.path.to_path_buf(),
                topic: self.topic.to_string(),
                index: self.index,
                found: self.type_name.to_string(),
                expected: M::TYPE_NAME,
            });
        }
        crate::msgs::from_cdr(&self.data).map_err(|source| BagError::Decode {
            path: self.path.to_path_buf(),
            topic: self.topic.to_string(),
            index: self.index,
            source,
        })
    }
}

/// Topics with counts, and the first and last log time, of one storage file.
pub(crate) type Contents = (Vec<TopicInfo>, Option<(u64, u64)>);

/// A message as a storage file yields it, before it gets its per-topic index.
pub(crate) struct Stored {
    pub topic: Arc<str>,
    pub type_name: Arc<str>,
    pub log_time_ns: u64,
    pub data: Vec<u8>,
}

/// An open rosbag2 recording: a directory with `metadata.yaml`, or a single `.mcap`/`.db3`.
#[derive(Debug, Clone)]
pub struct Bag {
    info: BagInfo,
}

fn storage_of_file(path: &Path) -> Option<StorageId> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("mcap") => Some(StorageId::Mcap),
        Some("db3") => Some(StorageId::Sqlite3),
        _ => None,
    }
}

fn summarize(path: &Path, storage: StorageId) -> Result<Contents, BagError> {
    let position = Position::BeforeFirstMessage;
    match storage {
        StorageId::Mcap => mcap_file::summarize(path).map_err(|source| BagError::Mcap {
            path: path.to_path_buf(),
            position,
            source,
        }),
        StorageId::Sqlite3 => sqlite_file::summarize(path).map_err(|source| BagError::Sqlite {
            path: path.to_path_buf(),
            position,
            source,
        }),
    }
}

impl Bag {
    pub fn open(path: impl AsRef<Path>) -> Result<Bag, BagError> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(BagError::io(path))?;
        if meta.is_file() {
            let storage =
                storage_of_file(path).ok_or_else(|| BagError::NotABag { path: path.into() })?;
            let (topics, time_range) = summarize(path, storage)?;
            let info = BagInfo {
                path: path.into(),
                storage,
                files: vec![path.into()],
                topics,
                time_range,
            };
            return Ok(Bag { info });
        }
        let m = Metadata::load(path)?;
        let storage = match m.storage_identifier.as_str() {
            "mcap" => StorageId::Mcap,
            "sqlite3" => StorageId::Sqlite3,
            other => {
                return Err(BagError::UnknownStorage {
                    path: path.into(),
                    id: other.into(),
                })
            }
        };
        let mode = m.compression_mode.to_ascii_lowercase();
        if !(mode.is_empty() || mode == "none") {
            return Err(BagError::Compressed {
                path: path.into(),
                mode,
                format: m.compression_format,
            });
        }
        // Older rosbag2 wrote paths relative to the parent; only the file name is reliable.
        let files = m
            .relative_file_paths
            .iter()
            .map(|p| path.join(Path::new(p).file_name().unwrap_or(p.as_ref())))
            .collect::<Vec<_>>();
        for file in &files {
            if !file.is_file() {
                let source = std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "storage file listed in metadata.yaml is missing",
                );
                return Err(BagError::Io {
                    path: file.clone(),
                    source,
                });
            }
        }
        let topics = m
            .topics_with_message_count
            .into_iter()
            .map(|t| TopicInfo {
                name: t.topic_metadata.name,
                type_name: t.topic_metadata.type_name,
                serialization_format: t.topic_metadata.serialization_format,
                message_count: t.message_count,
            })
            .collect();
        let start = u64::try_from(m.starting_time.nanoseconds_since_epoch).unwrap_or(0);
        let time_range =
            (m.message_count > 0).then_some((start, start.saturating_add(m.duration.nanoseconds)));
        Ok(Bag {
            info: BagInfo {
                path: path.into(),
                storage,
                files,
                topics,
                time_range,
            },
        })
    }

    pub fn info(&self) -> &BagInfo {
        &self.info
    }

    /// Messages of `topics` (all topics when empty) in log-time order within each storage file,
    /// files in recording order. After a storage error the rest of that file is skipped.
    pub fn messages(&self, topics: &[String]) -> Result<Messages, BagError> {
        for topic in topics {
            if self.info.topic(topic).is_none() {
                let known = self
                    .info
                    .topics
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(BagError::UnknownTopic {
                    path: self.info.path.clone(),
                    topic: topic.clone(),
                    known,
                });
            }
        }
        let selected = (!topics.is_empty()).then(|| topics.iter().cloned().collect());
        Ok(Messages {
            storage: self.info.storage,
            files: self.info.files.clone().into_iter(),
            selected,
            current: None,
            counters: HashMap::new(),
            last: Position::BeforeFirstMessage,
        })
    }
}

enum FileReader {
    Mcap(Box<McapFile>),
    Sqlite(SqliteFile),
}

/// Iterator over a bag's messages; see [`Bag::messages`].
pub struct Messages {
    storage: StorageId,
    files: std::vec::IntoIter<PathBuf>,
    selected: Option<BTreeSet<String>>,
    current: Option<(Arc<Path>, FileReader)>,
    counters: HashMap<Arc<str>, u64>,
    last: Position,
}

impl Messages {
    fn error(&self, path: &Path, e: FileError) -> BagError {
        let (path, position) = (path.to_path_buf(), self.last.clone());
        match e {
            FileError::Mcap(source) => BagError::Mcap {
                path,
                position,
                source,
            },
            FileError::Sqlite(source) => BagError::Sqlite {
                path,
                position,
                source,
            },
        }
    }

    fn open_next(&mut self) -> Option<Result<(), BagError>> {
        let path: Arc<Path> = Arc::from(self.files.next()?);
        let reader = match self.storage {
            StorageId::Mcap => McapFile::open(&path, self.selected.as_ref())
                .map(|r| FileReader::Mcap(Box::new(r)))
                .map_err(FileError::Mcap),
            StorageId::Sqlite3 => SqliteFile::open(&path, self.selected.as_ref())
                .map(FileReader::Sqlite)
                .map_err(FileError::Sqlite),
        };
        Some(match reader {
            Ok(reader) => {
                self.current = Some((path, reader));
                Ok(())
            }
            Err(e) => Err(self.error(&path, e)),
        })
    }
}

enum FileError {
    Mcap(mcap::McapError),
    Sqlite(rusqlite::Error),
}

impl Iterator for Messages {
    type Item = Result<RawMessage, BagError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some((path, reader)) = &mut self.current else {
                match self.open_next()? {
                    Ok(()) => continue,
                    Err(e) => return Some(Err(e)),
                }
            };
            let next = match reader {
                FileReader::Mcap(r) => r.next_message().map(|m| m.map_err(FileError::Mcap)),
                FileReader::Sqlite(r) => r.next_message().map(|m| m.map_err(FileError::Sqlite)),
            };
            let path = path.clone();
            match next {
                None => self.current = None,
                Some(Err(e)) => {
                    self.current = None;
                    return Some(Err(self.error(&path, e)));
                }
                Some(Ok(m)) => {
                    let counter = self.counters.entry(m.topic.clone()).or_insert(0);
                    let index = *counter;
                    *counter += 1;
                    self.last = Position::After {
                        topic: m.topic.to_string(),
                        index,
                    };
                    return Some(Ok(RawMessage {
                        path,
                        topic: m.topic,
                        type_name: m.type_name,
                        log_time_ns: m.log_time_ns,
                        index,
                        data: m.data,
                    }));
                }
            }
        }
    }
}
