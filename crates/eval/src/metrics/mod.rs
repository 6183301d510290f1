//! The metrics, each a pure function of frames; see each module for its reference.

pub mod coco;
pub mod greedy;
pub mod kitti;
pub mod range;
