//! `builtin_interfaces/Time`, `std_msgs/Header` and the `vision_msgs` 4.x detections
//! (with the `geometry_msgs` they use) as plain structs: what Sightline publishes, in one
//! shape for the node (copied into r2r's types), the bag writer (CDR-encoded by
//! `sightline-bag`) and the tests that compare them.
//!
//! Nested upstream messages that only group fields are flattened in Rust
//! (`ObjectHypothesisWithPose.hypothesis.class_id` is `class_id` here); the fields are
//! exactly upstream's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `builtin_interfaces/msg/Time`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time {
    pub sec: i32,
    pub nanosec: u32,
}

impl Time {
    /// Nanoseconds since the epoch (negative seconds are kept, not clamped).
    pub fn as_nanos(self) -> i64 {
        i64::from(self.sec) * 1_000_000_000 + i64::from(self.nanosec)
    }

    /// The system clock, as camera drivers stamp their images.
    pub fn now() -> Time {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Time {
            sec: i32::try_from(since_epoch.as_secs()).unwrap_or(i32::MAX),
            nanosec: since_epoch.subsec_nanos(),
        }
    }

    /// Wall-clock time since this stamp; `None` for stamps in the future or before
    /// the epoch (simulated time).
    pub fn age(self) -> Option<Duration> {
        let stamped = Duration::new(u64::try_from(self.sec).ok()?, self.nanosec);
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()?
            .checked_sub(stamped)
    }

    /// Splits nanoseconds since the epoch; saturates outside the `i32` seconds range.
    pub fn from_nanos(ns: i64) -> Time {
        let sec = ns.div_euclid(1_000_000_000);
        let sec = i32::try_from(sec).unwrap_or(if sec < 0 { i32::MIN } else { i32::MAX });
        Time {
            sec,
            nanosec: ns.rem_euclid(1_000_000_000) as u32,
        }
    }
}

/// `std_msgs/msg/Header`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub stamp: Time,
    pub frame_id: String,
}

/// `geometry_msgs/msg/Point`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// `geometry_msgs/msg/Vector3`.
pub type Vector3 = Point;

/// `geometry_msgs/msg/Quaternion`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quaternion {
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub w: f64,
}

impl Default for Quaternion {
    /// The identity rotation (upstream's default, `w = 1`).
    fn default() -> Self {
        Quaternion {
            x: 0.0,
            y: 0.0,
            z: 0.0,
            w: 1.0,
        }
    }
}

/// `geometry_msgs/msg/Pose`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pose {
    pub position: Point,
    pub orientation: Quaternion,
}

/// `vision_msgs/msg/ObjectHypothesisWithPose` = `ObjectHypothesis{class_id, score}` +
/// `geometry_msgs/PoseWithCovariance{pose, covariance}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectHypothesisWithPose {
    pub class_id: String,
    pub score: f64,
    pub pose: Pose,
    pub covariance: [f64; 36],
}

/// `vision_msgs/msg/BoundingBox2D` = `Pose2D center{Point2D position{x, y}, theta}`,
/// `size_x`, `size_y`, all in pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BoundingBox2D {
    pub center_x: f64,
    pub center_y: f64,
    pub theta: f64,
    pub size_x: f64,
    pub size_y: f64,
}

/// `vision_msgs/msg/BoundingBox3D`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BoundingBox3D {
    pub center: Pose,
    pub size: Vector3,
}

/// `vision_msgs/msg/Detection2D`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detection2D {
    pub header: Header,
    pub results: Vec<ObjectHypothesisWithPose>,
    pub bbox: BoundingBox2D,
    pub id: String,
}

/// `vision_msgs/msg/Detection2DArray`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detection2DArray {
    pub header: Header,
    pub detections: Vec<Detection2D>,
}

/// `vision_msgs/msg/Detection3D`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detection3D {
    pub header: Header,
    pub results: Vec<ObjectHypothesisWithPose>,
    pub bbox: BoundingBox3D,
    pub id: String,
}

/// `vision_msgs/msg/Detection3DArray`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detection3DArray {
    pub header: Header,
    pub detections: Vec<Detection3D>,
}
