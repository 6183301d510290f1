use std::path::PathBuf;

/// Everything that can go wrong loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot read model {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an ONNX model")]
    Decode {
        path: PathBuf,
        #[source]
        source: prost::DecodeError,
    },
    #[error(
        "unsupported ONNX op {op_type} (node {node:?}, opset {opset}); supported: {supported}"
    )]
    UnsupportedOp {
        op_type: String,
        node: String,
        opset: i64,
        supported: &'static str,
    },
    #[error("{op_type} node {node:?} (opset {opset}): {reason}")]
    Unsupported {
        op_type: String,
        node: String,
        opset: i64,
        reason: String,
    },
    #[error("{path} takes input {model:?}, expected {expected:?}")]
    InputShape {
        path: PathBuf,
        model: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("malformed model: {0}")]
    Malformed(String),
    #[error("device {requested:?} unavailable: {reason}")]
    Device { requested: String, reason: String },
    #[error("kernel execution failed: {0}")]
    Execution(String),
    #[error("input has {actual} values, the model takes {expected} ({shape:?})")]
    InputSize {
        expected: usize,
        actual: usize,
        shape: Vec<usize>,
    },
}
