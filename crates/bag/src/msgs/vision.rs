//! `vision_msgs` 4.x detections (what Sightline publishes) and the `geometry_msgs` they use.
//!
//! Nested upstream messages that only group fields are flattened in Rust
//! (`ObjectHypothesisWithPose.hypothesis.class_id` is `class_id` here); the wire layout is
//! exactly upstream's, field for field.

use super::sensor::{read_header, write_header};
use super::{
    BoundingBox2D, BoundingBox3D, Detection2D, Detection2DArray, Detection3D, Detection3DArray,
    Message, ObjectHypothesisWithPose, Point, Pose, Quaternion,
};
use crate::cdr::{CdrReader, CdrWriter};
use crate::error::CdrError;

fn read_point(r: &mut CdrReader<'_>, field: &'static str) -> Result<Point, CdrError> {
    Ok(Point {
        x: r.f64(field)?,
        y: r.f64(field)?,
        z: r.f64(field)?,
    })
}

fn write_point(w: &mut CdrWriter, p: &Point) {
    w.f64_array(&[p.x, p.y, p.z]);
}

fn read_pose(r: &mut CdrReader<'_>) -> Result<Pose, CdrError> {
    let position = read_point(r, "pose.position")?;
    let [x, y, z, w] = r.f64_array("pose.orientation")?;
    Ok(Pose {
        position,
        orientation: Quaternion { x, y, z, w },
    })
}

fn write_pose(w: &mut CdrWriter, p: &Pose) {
    write_point(w, &p.position);
    let q = p.orientation;
    w.f64_array(&[q.x, q.y, q.z, q.w]);
}

/// `results[]`: the element size bound (>= 4 + 8 + 7*8 + 36*8 bytes) rejects absurd counts.
fn read_results(r: &mut CdrReader<'_>) -> Result<Vec<ObjectHypothesisWithPose>, CdrError> {
    let n = r.length("results", 4 + 8 + 43 * 8)?;
    (0..n)
        .map(|_| {
            Ok(ObjectHypothesisWithPose {
                class_id: r.string("results[].hypothesis.class_id")?,
                score: r.f64("results[].hypothesis.score")?,
                pose: read_pose(r)?,
                covariance: r.f64_array("results[].pose.covariance")?,
            })
        })
        .collect()
}

fn write_results(w: &mut CdrWriter, results: &[ObjectHypothesisWithPose]) {
    w.length(results.len());
    for h in results {
        w.string(&h.class_id);
        w.f64(h.score);
        write_pose(w, &h.pose);
        w.f64_array(&h.covariance);
    }
}

impl Message<'_> for Detection2DArray {
    const TYPE_NAME: &'static str = "vision_msgs/msg/Detection2DArray";

    fn read(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        let header = read_header(r)?;
        // Smallest Detection2D: header 12 + results len 4 + bbox 40 + id 4 bytes.
        let n = r.length("detections", 60)?;
        let detections = (0..n)
            .map(|_| {
                let header = read_header(r)?;
                let results = read_results(r)?;
                let [center_x, center_y, theta, size_x, size_y] = r.f64_array("bbox")?;
                let bbox = BoundingBox2D {
                    center_x,
                    center_y,
                    theta,
                    size_x,
                    size_y,
                };
                Ok(Detection2D {
                    header,
                    results,
                    bbox,
                    id: r.string("id")?,
                })
            })
            .collect::<Result<_, CdrError>>()?;
        Ok(Detection2DArray { header, detections })
    }

    fn write(&self, w: &mut CdrWriter) {
        write_header(w, &self.header);
        w.length(self.detections.len());
        for d in &self.detections {
            write_header(w, &d.header);
            write_results(w, &d.results);
            let b = d.bbox;
            w.f64_array(&[b.center_x, b.center_y, b.theta, b.size_x, b.size_y]);
            w.string(&d.id);
        }
    }
}

impl Message<'_> for Detection3DArray {
    const TYPE_NAME: &'static str = "vision_msgs/msg/Detection3DArray";

    fn read(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        let header = read_header(r)?;
        // Smallest Detection3D: header 12 + results len 4 + bbox 80 + id 4 bytes.
        let n = r.length("detections", 100)?;
        let detections = (0..n)
            .map(|_| {
                let header = read_header(r)?;
                let results = read_results(r)?;
                let center = read_pose(r)?;
                let size = read_point(r, "bbox.size")?;
                let bbox = BoundingBox3D { center, size };
                Ok(Detection3D {
                    header,
                    results,
                    bbox,
                    id: r.string("id")?,
                })
            })
            .collect::<Result<_, CdrError>>()?;
        Ok(Detection3DArray { header, detections })
    }

    fn write(&self, w: &mut CdrWriter) {
        write_header(w, &self.header);
        w.length(self.detections.len());
        for d in &self.detections {
            write_header(w, &d.header);
            write_results(w, &d.results);
            write_pose(w, &d.bbox.center);
            write_point(w, &d.bbox.size);
            w.string(&d.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::{from_cdr, to_cdr, Header, Time};

    fn hypothesis(class_id: &str, score: f64) -> ObjectHypothesisWithPose {
        let mut covariance = [0.0; 36];
        covariance[0] = 0.5;
        covariance[35] = -2.0;
        ObjectHypothesisWithPose {
            class_id: class_id.into(),
            score,
            pose: Pose {
                position: Point {
                    x: 1.0,
                    y: 2.0,
                    z: 3.0,
                },
                ..Pose::default()
            },
            covariance,
        }
    }

    #[test]
    fn detection2d_array_round_trip_and_size() {
        let header = Header {
            stamp: Time {
                sec: 10,
                nanosec: 20,
            },
            frame_id: "cam".into(),
        };
        let msg = Detection2DArray {
            header: header.clone(),
            detections: vec![
                Detection2D {
                    header: header.clone(),
                    results: vec![hypothesis("pedestrian", 0.9)],
                    bbox: BoundingBox2D {
                        center_x: 5.0,
                        center_y: 6.0,
                        theta: 0.0,
                        size_x: 2.0,
                        size_y: 4.0,
                    },
                    id: String::new(),
                },
                Detection2D {
                    header,
                    results: vec![],
                    ..Default::default()
                },
            ],
        };
        let bytes = to_cdr(&msg);
        assert_eq!(from_cdr::<Detection2DArray>(&bytes).unwrap(), msg);
        // Layout check: header(4+4+4+4=16: "cam\0") + count(4) = 20; first detection header
        // 16 -> 36; results count 4 -> 40; class_id 4+11 -> 55; score aligned to 56 -> 64;
        // pose 7*8 -> 120; covariance 36*8 -> 408; bbox 5*8 -> 448; id 4+1 -> 453;
        // second: header at 456 (+16) -> 472; results 0 -> 476; bbox at 480 (+40) -> 520; id -> 525.
        assert_eq!(bytes.len(), 4 + 525);
    }

    #[test]
    fn detection3d_array_round_trip() {
        let msg = Detection3DArray {
            header: Header {
                stamp: Time {
                    sec: -3,
                    nanosec: 7,
                },
                frame_id: "base_link".into(),
            },
            detections: vec![Detection3D {
                header: Header::default(),
                results: vec![
                    hypothesis("stop_sign", 0.25),
                    hypothesis("traffic_light", 0.5),
                ],
                bbox: BoundingBox3D {
                    center: Pose {
                        position: Point {
                            x: 10.0,
                            y: -1.0,
                            z: 0.5,
                        },
                        ..Pose::default()
                    },
                    size: Point {
                        x: 0.6,
                        y: 0.6,
                        z: 1.8,
                    },
                },
                id: "7".into(),
            }],
        };
        assert_eq!(from_cdr::<Detection3DArray>(&to_cdr(&msg)).unwrap(), msg);
    }

    #[test]
    fn absurd_detection_count_is_rejected() {
        let mut bytes = to_cdr(&Detection2DArray::default());
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&1_000_000u32.to_le_bytes());
        let err = from_cdr::<Detection2DArray>(&bytes).unwrap_err();
        assert!(
            matches!(
                err,
                CdrError::BadLength {
                    field: "detections",
                    ..
                }
            ),
            "{err}"
        );
    }
}
