//! rosbag2 recordings without a ROS installation.
//!
//! - [`Bag`] reads rosbag2 directories (`metadata.yaml` + MCAP or SQLite3 storage) and
//!   single `.mcap`/`.db3` files; [`Bag::messages`] yields [`RawMessage`]s with their topic,
//!   type, log time and per-topic index.
//! - [`msgs`] decodes `sensor_msgs` camera messages and encodes `vision_msgs` 4.x
//!   detections with a small bounds-checked CDR codec ([`cdr`]).
//! - [`BagWriter`] writes a rosbag2 directory with MCAP storage that ROS tools and the
//!   `rosbags` Python package read, and that is complete even when writing stops early.
//! - [`frames`] decodes image topics on worker threads, in bag order; [`pixels`] turns
//!   image messages into 8-bit pixels; [`from_images`] makes a drive bag
//!   from an image folder.
//!
//! Knows nothing of detection: the replay command joins this crate with the detector.

pub mod cdr;
mod error;
pub mod frames;
pub mod from_images;
mod metadata;
pub mod msgdef;
pub mod msgs;
pub mod pixels;
mod reader;
pub mod recover;
mod tail_file;
mod writer;

pub use error::{BagError, CdrError, Position};
pub use reader::{Bag, BagInfo, Messages, RawMessage, StorageId, TopicInfo};
pub use sightline_types::with_causes;
pub use writer::{BagWriter, TopicId};
