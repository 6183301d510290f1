//! Errors that say which file, topic and message went wrong.

use std::path::PathBuf;

/// A malformed serialised message. `field` is the message field being read.
#[derive(Debug, thiserror::Error)]
pub enum CdrError {
    #[error("{len} bytes is shorter than the 4-byte CDR encapsulation header")]
    NoHeader { len: usize },
    #[error("unsupported CDR representation {0:#06x} (supported: 0x0000 CDR_BE, 0x0001 CDR_LE)")]
    Representation(u16),
    #[error("field `{field}`: needs {needed} bytes at offset {offset}, only {available} left")]
    Truncated {
        field: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("field `{field}`: length {len} at offset {offset} exceeds the {available} bytes left")]
    BadLength {
        field: &'static str,
        offset: usize,
        len: u32,
        available: usize,
    },
    #[error("field `{field}`: string is not NUL-terminated")]
    NoNul { field: &'static str },
    #[error("field `{field}`: bool byte is {value}, not 0 or 1")]
    BadBool { field: &'static str, value: u8 },
}

/// Where in a bag a read failed: the last message read before the failure, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    BeforeFirstMessage,
    After { topic: String, index: u64 },
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::BeforeFirstMessage => f.write_str("before the first message"),
            Position::After { topic, index } => write!(f, "after {topic} message #{index}"),
        }
    }
}

/// Everything that can go wrong opening, reading or writing a bag.
#[derive(Debug, thiserror::Error)]
pub enum BagError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a rosbag2 directory, .mcap or .db3 file")]
    NotABag { path: PathBuf },
    #[error("{path}: missing metadata.yaml (a rosbag2 directory needs one)")]
    MissingMetadata { path: PathBuf },
    #[error("{path}: bad metadata: {reason}")]
    BadMetadata { path: PathBuf, reason: String },
    #[error("{path}: unknown storage id {id:?} (supported: mcap, sqlite3)")]
    UnknownStorage { path: PathBuf, id: String },
    #[error("{path}: {mode} compression ({format}) is not supported; decompress with `ros2 bag convert`")]
    Compressed {
        path: PathBuf,
        mode: String,
        format: String,
    },
    #[error("{path}: corrupted or truncated MCAP {position}")]
    Mcap {
        path: PathBuf,
        position: Position,
        #[source]
        source: mcap::McapError,
    },
    #[error("{path}: SQLite error {position}")]
    Sqlite {
        path: PathBuf,
        position: Position,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: topic {topic} message #{index}")]
    Decode {
        path: PathBuf,
        topic: String,
        index: u64,
        #[source]
        source: CdrError,
    },
    #[error("{path}: topic {topic} message #{index}: type is {found}, expected {expected}")]
    WrongType {
        path: PathBuf,
        topic: String,
        index: u64,
        found: String,
        expected: &'static str,
    },
    #[error("{path}: topic {topic} message #{index}: {reason}")]
    BadImage {
        path: PathBuf,
        topic: String,
        index: u64,
        reason: String,
    },
    #[error("{path}: no topic {topic} (topics: {known})")]
    UnknownTopic {
        path: PathBuf,
        topic: String,
        known: String,
    },
    #[error("{path}: already exists; choose another output")]
    OutputExists { path: PathBuf },
    #[error("{path}: topic {topic}: unknown message type {type_name} for writing")]
    UnknownType {
        path: PathBuf,
        topic: String,
        type_name: String,
    },
}

impl BagError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BagError {
        let path = path.into();
        move |source| BagError::Io { path, source }
    }
}
