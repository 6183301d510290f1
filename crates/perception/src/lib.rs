//! Sightline's frame path, written once for every use: the ROS node, bag replay,
//! `sightline detect`, bench and eval.
//!
//! - [`Camera`]: a camera's set-up (calibration and localizer, per-class
//!   [`Thresholds`], base frame, whether to draw);
//! - [`Frame`]: a frame in, as raw pixels or encoded bytes, checked by one rule
//!   ([`sightline_types::pixels`]);
//! - [`Pipeline::process`]: the frames of several cameras (and their tiles, see
//!   [`tiling`]) through the device as one batch, thresholds, localization (only at the calibration's size: otherwise 2D only,
//!   counted, warned once), the debug image;
//! - [`Output`]: the result of a frame, as `vision_msgs` 2D/3D arrays
//!   ([`sightline_types::msgs`]) and as JSON lines ([`Record`]).
//!
//! The uses differ only in where frames come from and where outputs go: the node's
//! worker (slots, threads, statistics) and the CLI's loops are around this crate, which
//! knows nothing of ROS, bags or files.

pub mod annotate;
mod camera;
pub mod fake;
mod frame;
mod output;
mod pipeline;
pub mod tiling;

pub use camera::{check_base_frame, localizer, Camera, CameraError, Thresholds, BASE_LINK};
pub use frame::{rgb_view, BadFrame, Frame, Payload, Pixels, Stamp};
pub use output::{Object, Output, Record, Times};
pub use pipeline::{target_kind, Detect, Failure, Pipeline};
pub use sightline_detect::{Class, Detection, Detector};
pub use tiling::{BadTiling, Tiling, TilingParams};
