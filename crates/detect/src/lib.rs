//! YOLOX detection on top of `sightline-engine`: model manifests, on-device
//! pre-processing (letterbox) and decoding, class-aware NMS, and the state of each
//! traffic light (`tl_state`, HSV colour masses on the device).
//!
//! Image bytes in, [`Detection`]s out, in original-image pixels. Knows nothing of ROS,
//! bags or files.

mod detector;
mod image;
pub mod kernels;
pub mod manifest;
pub mod nms;
pub mod tl_state;

pub use detector::{Detector, DetectorConfig, StageTimes};
pub use image::{ImageView, PixelFormat, Region};
pub use manifest::Manifest;
pub use sightline_engine::DeviceChoice;

use std::path::PathBuf;

/// The object classes Sightline reports (shared with the crates without the GPU stack).
pub use sightline_types::{Class, LightReading, LightState};

/// One detected object; `bbox` is `[x1, y1, x2, y2]` in original-image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub class: Class,
    pub score: f32,
    pub bbox: [f32; 4],
}

/// One image's detections, per region the model saw of it (the whole frame, tiles).
pub type RegionDetections = Vec<Vec<Detection>>;

/// Errors of the detection stage.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("image {what}: {reason}")]
    BadImage { what: String, reason: String },
    #[error("unknown image encoding {0:?} (supported: rgb8, bgr8, rgba8, bgra8, mono8)")]
    UnknownEncoding(String),
    #[error("model manifest {origin}: {reason}")]
    Manifest { origin: String, reason: String },
    #[error("model weights {file} not found (looked in: {looked}); download them from {source_url}, then pass --model PATH or set SIGHTLINE_MODELS")]
    ModelMissing {
        looked: String,
        file: String,
        source_url: String,
    },
    #[error("model weights {path}: sha256 {actual} is not the verified {expected}; download the model from {source_url} (or add the digest of a verified export to the manifest)")]
    ModelChecksum {
        path: PathBuf,
        actual: String,
        expected: String,
        source_url: String,
    },
    #[error("model does not fit its manifest: {0}")]
    ModelMismatch(String),
    #[error(transparent)]
    Engine(#[from] sightline_engine::EngineError),
    #[error("device error: {0}")]
    Device(String),
}
