//! Sightline as a ROS 2 node: camera topics in, `vision_msgs` detections with
//! positions in the vehicle frame out, `/diagnostics` at 1 Hz. See `docs/ros.md`.
//!
//! The node is glue: r2r messages become `sightline_perception` frames in a
//! latest-frame-wins slot per camera; one worker thread owns the perception pipeline
//! ([`worker::Worker`]) and hands its results back to r2r publishers. Only the glue
//! (`node`, `msgs`) needs ROS; it is compiled with the `ros` feature. Without it
//! [`run_node`] reports that the build has no ROS support, and everything else
//! (parameter validation, the worker loop) builds and is tested on any machine.

pub mod config;
pub mod slot;
pub mod stats;
pub mod worker;

#[cfg(feature = "ros")]
mod bench;
#[cfg(feature = "ros")]
mod msgs;
#[cfg(feature = "ros")]
mod node;

pub use config::{CameraConfig, ConfigError, NodeConfig, ParamValue, RawParams, Transport};

use std::time::Duration;

/// Why the node could not start (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("sightline was built without ROS support; rebuild with `--features ros` after `. scripts/ros-env.sh`")]
    NotCompiled,
    // The cause is the source, not part of the message: `{:#}` (anyhow) prints the
    // chain, and would print it twice.
    #[error("invalid parameters")]
    Config(#[from] ConfigError),
    #[error("camera {camera}: parameter {parameter} ({path}): {reason}")]
    Calibration {
        camera: String,
        parameter: String,
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("detector with model {model}")]
    Detector {
        model: String,
        #[source]
        source: sightline_detect::DetectError,
    },
    #[error("ROS {what}: {reason}")]
    Ros { what: String, reason: String },
}

#[cfg(feature = "ros")]
pub(crate) use sightline_types::with_causes;

/// Runs the node until SIGINT/SIGTERM. ROS arguments (`--ros-args --params-file F
/// -p name:=value -r __node:=...`) are read by rcl from the process's command line.
pub fn run_node() -> Result<(), NodeError> {
    #[cfg(feature = "ros")]
    {
        node::run()
    }
    #[cfg(not(feature = "ros"))]
    {
        Err(NodeError::NotCompiled)
    }
}

/// What `sightline bench --ros` publishes into a running node, and how fast.
pub struct NodeBench {
    /// The node's camera namespace: frames go to `<camera>/image_raw` (rgb8), answers
    /// come from `<camera>/detections`.
    pub camera: String,
    /// Cycled if fewer than `count`.
    pub frames: Vec<RgbFrame>,
    pub count: usize,
    pub rate_hz: f64,
    /// How long to wait for answers after the last frame.
    pub timeout: Duration,
}

/// An rgb8 image, rows packed.
pub struct RgbFrame {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

pub struct NodeBenchResult {
    pub sent: usize,
    /// Image stamp → detections received, for each answered frame.
    pub latencies: Vec<Duration>,
    pub duration: Duration,
}

/// Publishes the frames into a running `sightline node` at the rate given and times
/// each from its stamp to its `Detection2DArray` (matched by stamp). Frames the node
/// skipped (latest frame wins) get no answer and no latency.
pub fn bench_node(bench: &NodeBench) -> Result<NodeBenchResult, NodeError> {
    #[cfg(feature = "ros")]
    {
        bench::run(bench)
    }
    #[cfg(not(feature = "ros"))]
    {
        let _ = bench;
        Err(NodeError::NotCompiled)
    }
}
