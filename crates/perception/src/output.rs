//! The result of one frame, in one type for every use, and its two outward shapes:
//! `vision_msgs` arrays ([`sightline_types::msgs`], which the node copies into r2r and
//! the bag writer encodes) and the JSON lines schema of `sightline detect`.

use crate::frame::Stamp;
use serde::Serialize;
use sightline_detect::{Class, Detection, LightReading, StageTimes};
use sightline_geometry::Localization;
use sightline_types::msgs::{
    BoundingBox2D, BoundingBox3D, Detection2D, Detection2DArray, Detection3D, Detection3DArray,
    Header, ObjectHypothesisWithPose, Point, Pose,
};
use std::time::Duration;

/// One detection, with its position in the base frame where it could be localized.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub detection: Detection,
    pub localization: Option<Localization>,
    /// A traffic light's state; `None` for every other class.
    pub state: Option<LightReading>,
}

/// Wall time of each stage of a frame; device stages are the batch's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Times {
    pub decode: Duration,
    pub device: StageTimes,
    /// The traffic-light state of the batch's lights (device and host).
    pub state: Duration,
    pub localize: Duration,
    /// Model passes the frame took: 1, or 1 + its tiles.
    pub passes: usize,
}

/// The result for one frame of one camera.
#[derive(Debug, Clone)]
pub struct Output {
    /// Index of the camera in the pipeline.
    pub camera: usize,
    pub stamp: Stamp,
    /// The image's frame: the 2D results' frame.
    pub frame_id: String,
    /// The 3D results' frame (the camera's `base_frame`).
    pub base_frame: String,
    pub width: u32,
    pub height: u32,
    /// Detections above their class's threshold.
    pub objects: Vec<Object>,
    /// Objects without a 3D position (left out of the 3D array).
    pub unlocalized: usize,
    /// The image size differs from the calibration's: no 3D positions at all.
    pub calibration_mismatch: bool,
    pub debug_image: Option<image::RgbImage>,
    pub times: Times,
}

/// The class hypothesis, then for a traffic light its state as a second one,
/// `traffic_light.<state>` with the state's score (docs/ros.md).
fn hypothesis(obj: &Object, pose: Pose, covariance: [f64; 36]) -> Vec<ObjectHypothesisWithPose> {
    let d = &obj.detection;
    let mut results = vec![ObjectHypothesisWithPose {
        class_id: d.class.as_str().into(),
        score: f64::from(d.score),
        pose,
        covariance,
    }];
    if let (Class::TrafficLight, Some(state)) = (d.class, obj.state) {
        results.push(ObjectHypothesisWithPose {
            class_id: format!("{}.{}", d.class.as_str(), state.state.as_str()),
            score: f64::from(state.score),
            pose,
            covariance,
        });
    }
    results
}

fn detection_2d(header: &Header, obj: &Object) -> Detection2D {
    let [x1, y1, x2, y2] = obj.detection.bbox.map(f64::from);
    Detection2D {
        header: header.clone(),
        results: hypothesis(obj, Pose::default(), [0.0; 36]),
        bbox: BoundingBox2D {
            center_x: (x1 + x2) / 2.0,
            center_y: (y1 + y2) / 2.0,
            theta: 0.0,
            size_x: x2 - x1,
            size_y: y2 - y1,
        },
        id: String::new(),
    }
}

/// `None` for an object without a position.
fn detection_3d(header: &Header, obj: &Object) -> Option<Detection3D> {
    let loc = obj.localization.as_ref()?;
    let p = loc.position;
    let pose = Pose {
        position: Point {
            x: p.x,
            y: p.y,
            z: p.z,
        },
        ..Pose::default()
    };
    Some(Detection3D {
        header: header.clone(),
        results: hypothesis(obj, pose, loc.pose_covariance()),
        bbox: BoundingBox3D {
            center: pose,
            size: Point::default(),
        },
        id: String::new(),
    })
}

impl Output {
    fn header(&self, frame_id: &str) -> Header {
        Header {
            stamp: self.stamp,
            frame_id: frame_id.into(),
        }
    }

    /// Boxes (centre and size, pixels) in the image's frame and time.
    pub fn detection_2d_array(&self) -> Detection2DArray {
        let header = self.header(&self.frame_id);
        let detections = self.objects.iter().map(|o| detection_2d(&header, o));
        Detection2DArray {
            detections: detections.collect(),
            header,
        }
    }

    /// Positions of the localized objects in the base frame, at the image's time. The box
    /// size is unknown (zero); the pose covariance holds the position block.
    pub fn detection_3d_array(&self) -> Detection3DArray {
        let header = self.header(&self.base_frame);
        let mut detections = Vec::new();
        for obj in &self.objects {
            detections.extend(detection_3d(&header, obj));
        }
        Detection3DArray { header, detections }
    }

    /// The JSON lines of this frame, `image` naming it.
    pub fn records<'a>(&'a self, image: &'a str) -> impl Iterator<Item = Record<'a>> + 'a {
        self.objects.iter().map(move |obj| {
            let d = &obj.detection;
            let loc = obj.localization.as_ref();
            Record {
                image,
                class: d.class.as_str(),
                score: d.score,
                bbox: d.bbox,
                position: loc.map(|l| [l.position.x, l.position.y, l.position.z]),
                range_m: loc.map(|l| l.range_m),
                method: loc.map(|l| l.method.as_str()),
                state: obj.state.map(|s| s.state.as_str()),
                state_score: obj.state.map(|s| s.score),
            }
        })
    }
}

/// One line of the JSON lines schema (`sightline detect --jsonl`, `replay --jsonl`).
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    pub image: &'a str,
    pub class: &'static str,
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// In the base frame (x forward, y left, z up), metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<[f64; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
    /// A traffic light's `red`, `yellow`, `green` or `unknown`; absent on other classes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_score: Option<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_detect::Class;

    fn output(objects: Vec<Object>) -> Output {
        Output {
            camera: 0,
            stamp: Stamp { sec: 3, nanosec: 9 },
            frame_id: "cam_optical".into(),
            base_frame: "odom".into(),
            width: 100,
            height: 50,
            objects,
            unlocalized: 0,
            calibration_mismatch: false,
            debug_image: None,
            times: Times::default(),
        }
    }

    #[test]
    fn boxes_become_center_and_size_in_the_image_frame() {
        let det = Detection {
            class: Class::StopSign,
            score: 0.5,
            bbox: [10.0, 20.0, 30.0, 60.0],
        };
        let out = output(vec![Object {
            detection: det,
            localization: None,
            state: None,
        }]);
        let m = out.detection_2d_array();
        assert_eq!(m.header.frame_id, "cam_optical");
        assert_eq!(m.header.stamp, Stamp { sec: 3, nanosec: 9 });
        let b = m.detections[0].bbox;
        assert_eq!(
            (b.center_x, b.center_y, b.size_x, b.size_y),
            (20.0, 40.0, 20.0, 40.0)
        );
        assert_eq!(m.detections[0].results[0].class_id, "stop_sign");
        let m3 = out.detection_3d_array();
        assert_eq!(
            m3.header.frame_id, "odom",
            "3D results are in the base frame"
        );
        assert!(m3.detections.is_empty(), "not localized: left out");
        let records: Vec<_> = out.records("img").collect();
        assert_eq!((records[0].image, records[0].position), ("img", None));
        assert_eq!(m.detections[0].results.len(), 1, "no state on a stop sign");
    }

    #[test]
    fn a_light_carries_its_state_as_a_second_hypothesis_and_in_json() {
        let light = Object {
            detection: Detection {
                class: Class::TrafficLight,
                score: 0.7,
                bbox: [10.0, 10.0, 20.0, 40.0],
            },
            localization: None,
            state: Some(LightReading {
                state: sightline_detect::LightState::Red,
                score: 0.875,
            }),
        };
        let out = output(vec![light]);
        let results = &out.detection_2d_array().detections[0].results;
        let ids: Vec<(&str, f64)> = results
            .iter()
            .map(|r| (r.class_id.as_str(), r.score))
            .collect();
        assert_eq!(
            ids,
            [
                ("traffic_light", 0.7f32 as f64),
                ("traffic_light.red", 0.875)
            ]
        );
        let line = serde_json::to_string(&out.records("img").next().unwrap()).unwrap();
        assert!(
            line.contains(r#""state":"red","state_score":0.875"#),
            "{line}"
        );
    }
}
