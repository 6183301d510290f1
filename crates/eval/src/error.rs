//! The one error type of `sightline-eval`: every variant names the file (and line or
//! field) it came from, so a user can fix the input without reading our code.

use std::path::PathBuf;

/// Errors while reading datasets, detections, shards or writing reports.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A malformed line in a text file (KITTI/YOLO label, detections or shard JSONL).
    #[error("{path}:{line}: {msg}")]
    Line {
        path: PathBuf,
        line: usize,
        msg: String,
    },
    /// A malformed field in a structured file (VOC XML, COCO JSON, class map YAML).
    #[error("{path}: {field}: {msg}")]
    Field {
        path: PathBuf,
        field: String,
        msg: String,
    },
    #[error("bad dataset spec {spec:?}: {msg}")]
    Spec { spec: String, msg: String },
    #[error("shards do not fit together: {0}")]
    Shards(String),
    #[error("plot {path}: {msg}")]
    Plot { path: PathBuf, msg: String },
}

impl EvalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EvalError::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn line(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        EvalError::Line {
            path: path.into(),
            line,
            msg: msg.into(),
        }
    }
    pub(crate) fn field(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        msg: impl Into<String>,
    ) -> Self {
        EvalError::Field {
            path: path.into(),
            field: field.into(),
            msg: msg.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, EvalError>;
