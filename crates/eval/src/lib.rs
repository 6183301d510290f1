//! Scores Sightline detections against labeled data.
//!
//! Datasets (KITTI, YOLO txt, Pascal VOC, COCO JSON) and detections (the `sightline
//! detect` JSONL) become [`Frame`]s; [`evaluate`] turns frames into a [`Report`] with
//! COCO AP as pycocotools computes it, KITTI's easy/moderate/hard AP as its devkit does,
//! precision/recall at an operating threshold and range error; [`write_report`] writes
//! `report.json`, `report.md` and plots; [`light_state`] scores traffic-light states.
//! Frames can be split into shards and merged
//! with an identical result. Nothing here runs a detector: the crate stays free of the
//! GPU stack.

mod class;
mod dataset;
pub mod detections;
mod error;
pub mod export;
mod frame;
pub mod light_state;
pub mod metrics;
mod output;
mod plot;
mod report;
pub mod shard;

pub use class::{Class, ClassMap};
pub use dataset::{Dataset, DatasetKind, DatasetSpec, Skipped};
pub use error::{EvalError, Result};
pub use frame::{Detection, Frame, GtObject, KittiAttrs};
pub use output::{markdown_table, write_report};
/// Registers a TrueType font for plot labels (plotters needs one); other plots reuse it.
pub use plot::ensure_font;
pub use report::{evaluate, ClassReport, Curves, EvalOptions, Report};

/// Sorts frames by id: the order every metric and shard assumes.
pub fn sort_frames(frames: &mut [Frame]) {
    frames.sort_by(|a, b| a.id.cmp(&b.id));
}
