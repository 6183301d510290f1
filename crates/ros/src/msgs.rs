//! Message conversion at the node's edge: r2r messages → frames, the pipeline's
//! `vision_msgs` (built once in `sightline_perception`) → r2r's, statuses →
//! `diagnostic_msgs`. Field moves only, no decisions.

use crate::stats::{Level, Status};
use crate::worker::Arrived;
use r2r::builtin_interfaces::msg::Time;
use r2r::diagnostic_msgs::msg::{DiagnosticArray, DiagnosticStatus, KeyValue};
use r2r::geometry_msgs::msg::{Point, Pose, PoseWithCovariance, Quaternion, Vector3};
use r2r::sensor_msgs::msg::{CompressedImage, Image};
use r2r::std_msgs::msg::Header;
use r2r::vision_msgs::msg::{
    BoundingBox2D, BoundingBox3D, Detection2D, Detection2DArray, Detection3D, Detection3DArray,
    ObjectHypothesis, ObjectHypothesisWithPose, Point2D, Pose2D,
};
use sightline_perception::{Frame, Output, Payload, Stamp};
use sightline_types::msgs as types;
use std::time::Instant;

fn arrived(camera: usize, header: Header, payload: Payload) -> Arrived {
    Arrived {
        camera,
        received: Instant::now(),
        frame: Frame {
            stamp: Stamp {
                sec: header.stamp.sec,
                nanosec: header.stamp.nanosec,
            },
            frame_id: header.frame_id,
            payload,
        },
    }
}

pub fn frame_from_image(camera: usize, msg: Image) -> Arrived {
    let payload = Payload::Raw {
        width: msg.width,
        height: msg.height,
        step: msg.step,
        encoding: msg.encoding,
        data: msg.data,
    };
    arrived(camera, msg.header, payload)
}

pub fn frame_from_compressed(camera: usize, msg: CompressedImage) -> Arrived {
    let payload = Payload::Encoded {
        format: msg.format,
        data: msg.data,
    };
    arrived(camera, msg.header, payload)
}

fn time(t: Stamp) -> Time {
    Time {
        sec: t.sec,
        nanosec: t.nanosec,
    }
}

fn header(h: &types::Header) -> Header {
    Header {
        stamp: time(h.stamp),
        frame_id: h.frame_id.clone(),
    }
}

fn pose(p: &types::Pose) -> Pose {
    let (q, o) = (p.position, p.orientation);
    Pose {
        position: Point {
            x: q.x,
            y: q.y,
            z: q.z,
        },
        orientation: Quaternion {
            x: o.x,
            y: o.y,
            z: o.z,
            w: o.w,
        },
    }
}

fn results(results: &[types::ObjectHypothesisWithPose]) -> Vec<ObjectHypothesisWithPose> {
    results
        .iter()
        .map(|h| ObjectHypothesisWithPose {
            hypothesis: ObjectHypothesis {
                class_id: h.class_id.clone(),
                score: h.score,
            },
            pose: PoseWithCovariance {
                pose: pose(&h.pose),
                covariance: h.covariance.to_vec(),
            },
        })
        .collect()
}

fn detection_2d(d: &types::Detection2D) -> Detection2D {
    let b = &d.bbox;
    let position = Point2D {
        x: b.center_x,
        y: b.center_y,
    };
    Detection2D {
        header: header(&d.header),
        results: results(&d.results),
        bbox: BoundingBox2D {
            center: Pose2D {
                position,
                theta: b.theta,
            },
            size_x: b.size_x,
            size_y: b.size_y,
        },
        id: d.id.clone(),
    }
}

fn detection_3d(d: &types::Detection3D) -> Detection3D {
    let size = d.bbox.size;
    Detection3D {
        header: header(&d.header),
        results: results(&d.results),
        bbox: BoundingBox3D {
            center: pose(&d.bbox.center),
            size: Vector3 {
                x: size.x,
                y: size.y,
                z: size.z,
            },
        },
        id: d.id.clone(),
    }
}

/// The pipeline's 2D boxes (image frame) and 3D positions (base frame), as r2r's.
pub fn detection_arrays(out: &Output) -> (Detection2DArray, Detection3DArray) {
    let (m2, m3) = (out.detection_2d_array(), out.detection_3d_array());
    let d2 = Detection2DArray {
        header: header(&m2.header),
        detections: m2.detections.iter().map(detection_2d).collect(),
    };
    let d3 = Detection3DArray {
        header: header(&m3.header),
        detections: m3.detections.iter().map(detection_3d).collect(),
    };
    (d2, d3)
}

pub fn debug_image(out: &Output, img: &image::RgbImage) -> Image {
    Image {
        header: Header {
            stamp: time(out.stamp),
            frame_id: out.frame_id.clone(),
        },
        height: img.height(),
        width: img.width(),
        encoding: "rgb8".into(),
        is_bigendian: 0,
        step: img.width() * 3,
        data: img.as_raw().clone(),
    }
}

pub fn diagnostic_array(statuses: &[Status]) -> DiagnosticArray {
    let stamp = Stamp::now();
    DiagnosticArray {
        header: Header {
            stamp: time(stamp),
            frame_id: String::new(),
        },
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
