//! Message conversion at the node's edge: r2r messages → [`Frame`], worker results →
//! `vision_msgs`, statuses → `diagnostic_msgs`. Field moves only, no decisions.

use crate::frame::{Frame, Payload, Stamp};
use crate::stats::{Level, Status};
use crate::worker::{CameraOutput, Object};
use r2r::builtin_interfaces::msg::Time;
use r2r::diagnostic_msgs::msg::{DiagnosticArray, DiagnosticStatus, KeyValue};
use r2r::geometry_msgs::msg::{Point, Pose, PoseWithCovariance, Quaternion, Vector3};
use r2r::sensor_msgs::msg::{CompressedImage, Image};
use r2r::std_msgs::msg::Header;
use r2r::vision_msgs::msg::{
    BoundingBox2D, BoundingBox3D, Detection2D, Detection2DArray, Detection3D, Detection3DArray,
    ObjectHypothesis, ObjectHypothesisWithPose, Point2D, Pose2D,
};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub fn frame_from_image(camera: usize, msg: Image) -> Frame {
    Frame {
        camera,
        stamp: Stamp {
            sec: msg.header.stamp.sec,
            nanosec: msg.header.stamp.nanosec,
        },
        frame_id: msg.header.frame_id,
        received: Instant::now(),
        payload: Payload::Raw {
            width: msg.width,
            height: msg.height,
            step: msg.step,
            encoding: msg.encoding,
            data: msg.data,
        },
    }
}

pub fn frame_from_compressed(camera: usize, msg: CompressedImage) -> Frame {
    Frame {
        camera,
        stamp: Stamp {
            sec: msg.header.stamp.sec,
            nanosec: msg.header.stamp.nanosec,
        },
        frame_id: msg.header.frame_id,
        received: Instant::now(),
        payload: Payload::Compressed {
            format: msg.format,
            data: msg.data,
        },
    }
}

fn header(stamp: Stamp, frame_id: &str) -> Header {
    Header {
        stamp: Time {
            sec: stamp.sec,
            nanosec: stamp.nanosec,
        },
        frame_id: frame_id.to_string(),
    }
}

fn hypothesis(obj: &Object, pose: PoseWithCovariance) -> ObjectHypothesisWithPose {
    ObjectHypothesisWithPose {
        hypothesis: ObjectHypothesis {
            class_id: obj.detection.class.as_str().to_string(),
            score: f64::from(obj.detection.score),
        },
        pose,
    }
}

/// 2D boxes in the image's frame and time.
pub fn detection_2d_array(out: &CameraOutput) -> Detection2DArray {
    let header = header(out.stamp, out.frame_id);
    let detections = out
        .objects
        .iter()
        .map(|obj| {
            let [x1, y1, x2, y2] = obj.detection.bbox.map(f64::from);
            Detection2D {
                header: header.clone(),
                results: vec![hypothesis(obj, PoseWithCovariance::default())],
                bbox: BoundingBox2D {
                    center: Pose2D {
                        position: Point2D {
                            x: (x1 + x2) / 2.0,
                            y: (y1 + y2) / 2.0,
                        },
                        theta: 0.0,
                    },
                    size_x: x2 - x1,
                    size_y: y2 - y1,
                },
                id: String::new(),
            }
        })
        .collect();
    Detection2DArray { header, detections }
}

/// Positions of the localized objects in `base_frame`, at the image's time.
pub fn detection_3d_array(out: &CameraOutput, base_frame: &str) -> Detection3DArray {
    let header = header(out.stamp, base_frame);
    let detections = out
        .objects
        .iter()
        .filter_map(|obj| {
            let loc = obj.localization.as_ref()?;
            let p = loc.position;
            let pose = Pose {
                position: Point {
                    x: p.x,
                    y: p.y,
                    z: p.z,
                },
                orientation: Quaternion {
                    x: 0.0,
                    y: 0.0,
                    z: 0.0,
                    w: 1.0,
                },
            };
            let covariance = loc.pose_covariance().to_vec();
            Some(Detection3D {
                header: header.clone(),
                results: vec![hypothesis(
                    obj,
                    PoseWithCovariance {
                        pose: pose.clone(),
                        covariance,
                    },
                )],
                bbox: BoundingBox3D {
                    center: pose,
                    size: Vector3 {
                        x: 0.0,
                        y: 0.0,
                        z: 0.0,
                    },
                },
                id: String::new(),
            })
        })
        .collect();
    Detection3DArray { header, detections }
}

pub fn debug_image(out: &CameraOutput, img: &image::RgbImage) -> Image {
    Image {
        header: header(out.stamp, out.frame_id),
        height: img.height(),
        width: img.width(),
        encoding: "rgb8".into(),
        is_bigendian: 0,
        step: img.width() * 3,
        data: img.as_raw().clone(),
    }
}

pub fn diagnostic_array(statuses: &[Status]) -> DiagnosticArray {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let stamp = Stamp {
        sec: i32::try_from(now.as_secs()).unwrap_or(i32::MAX),
        nanosec: now.subsec_nanos(),
    };
    DiagnosticArray {
        header: header(stamp, ""),
        status: statuses
            .iter()
            .map(|s| DiagnosticStatus {
                level: match s.level {
                    Level::Ok => 0,
                    Level::Warn => 1,
                },
                name: s.name.clone(),
                message: s.message.clone(),
                hardware_id: s.hardware_id.clone(),
                values: s
                    .values
                    .iter()
                    .map(|(k, v)| KeyValue {
                        key: k.clone(),
                        value: v.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}
