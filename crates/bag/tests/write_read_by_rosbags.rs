//! Bags written by `BagWriter` are opened by the third-party `rosbags` reader, and the
//! detection messages it decodes are the ones we wrote.

mod common;

use serde_json::Value;
use sightline_bag::from_images::{from_images, FromImages, Storage};
use sightline_bag::msgs::*;
use sightline_bag::{Bag, BagWriter};

fn header(i: u32) -> Header {
    Header {
        stamp: Time {
            sec: 1_700_000_000 + i as i32,
            nanosec: 250_000_000 * i,
        },
        frame_id: "cam_front".into(),
    }
}

fn hypothesis(class_id: &str, score: f64, seed: f64) -> ObjectHypothesisWithPose {
    let mut covariance = [0.0; 36];
    for (k, c) in covariance.iter_mut().enumerate() {
        *c = seed + k as f64 * 0.125;
    }
    ObjectHypothesisWithPose {
        class_id: class_id.into(),
        score,
        pose: Pose {
            position: Point {
                x: seed,
                y: -seed,
                z: 0.5,
            },
            orientation: Quaternion {
                x: 0.0,
                y: 0.0,
                z: std::f64::consts::FRAC_1_SQRT_2,
                w: std::f64::consts::FRAC_1_SQRT_2,
            },
        },
        covariance,
    }
}

fn arrays_2d() -> Vec<Detection2DArray> {
    (0..3)
        .map(|i| Detection2DArray {
            header: header(i),
            detections: (0..i)
                .map(|k| Detection2D {
                    header: header(i),
                    results: vec![hypothesis(
                        ["pedestrian", "stop_sign"][k as usize % 2],
                        0.5 + f64::from(k) / 8.0,
                        f64::from(k),
                    )],
                    bbox: BoundingBox2D {
                        center_x: 10.5 + f64::from(k),
                        center_y: 20.25,
                        theta: 0.0,
                        size_x: 4.0,
                        size_y: 8.0 + f64::from(i),
                    },
                    id: format!("{i}-{k}"),
                })
                .collect(),
        })
        .collect()
}

fn arrays_3d() -> Vec<Detection3DArray> {
    (0..2)
        .map(|i| Detection3DArray {
            header: header(i),
            detections: vec![Detection3D {
                header: header(i),
                results: vec![
                    hypothesis("traffic_light", 0.75, 3.0),
                    hypothesis("pedestrian", 0.125, 4.0),
                ],
                bbox: BoundingBox3D {
                    center: Pose {
                        position: Point {
                            x: 12.0,
                            y: -1.5,
                            z: 0.9 + f64::from(i),
                        },
                        ..Pose::default()
                    },
                    size: Point {
                        x: 0.6,
                        y: 0.5,
                        z: 1.7,
                    },
                },
                id: String::new(),
            }],
        })
        .collect()
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn check_header(h: &Header, v: &Value) {
    assert_eq!(v["sec"].as_i64().unwrap(), i64::from(h.stamp.sec));
    assert_eq!(v["nanosec"].as_u64().unwrap(), u64::from(h.stamp.nanosec));
    assert_eq!(v["frame_id"], h.frame_id.as_str());
}

fn check_results(rs: &[ObjectHypothesisWithPose], v: &Value) {
    let v = v.as_array().unwrap();
    assert_eq!(rs.len(), v.len());
    for (r, v) in rs.iter().zip(v) {
        assert_eq!(v["class_id"], r.class_id.as_str());
        assert_eq!(v["score"].as_f64().unwrap(), r.score);
        let p = r.pose;
        assert_eq!(
            nums(&v["pose"]["position"]),
            [p.position.x, p.position.y, p.position.z]
        );
        let q = p.orientation;
        assert_eq!(nums(&v["pose"]["orientation"]), [q.x, q.y, q.z, q.w]);
        assert_eq!(nums(&v["covariance"]), r.covariance.to_vec());
    }
}

/// Lines of `bag_read_detections.py`: connections first, then messages.
fn read_with_rosbags(bag: &std::path::Path) -> (Vec<Value>, Vec<Value>) {
    let msg_dir = common::repo_root().join("crates/bag/msg");
    let out = common::run_script("bag_read_detections.py", &[bag, &msg_dir]);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines
        .into_iter()
        .partition(|l| l.get("connection").is_some())
}

#[test]
fn rosbags_decodes_our_detection_bags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    let (d2, d3) = (arrays_2d(), arrays_3d());
    let mut w = BagWriter::create(&path).unwrap();
    let t2 = w
        .add_topic("/cam_front/detections", "vision_msgs/msg/Detection2DArray")
        .unwrap();
    let t3 = w
        .add_topic(
            "/cam_front/detections_3d",
            "vision_msgs/msg/Detection3DArray",
        )
        .unwrap();
    for (i, m) in d2.iter().enumerate() {
        w.write(t2, m.header.stamp.as_nanos() as u64, m).unwrap();
        if let Some(m3) = d3.get(i) {
            w.write(t3, m3.header.stamp.as_nanos() as u64 + 1, m3)
                .unwrap();
        }
    }
    assert!(
        BagWriter::create(&path).is_err(),
        "an existing output must not be overwritten"
    );
    w.finish().unwrap();

    let (conns, msgs) = read_with_rosbags(&path);
    assert_eq!(conns.len(), 2);
    for c in &conns {
        assert_eq!(
            c["schema_matches"], true,
            "stored schema differs from the .msg files: {c}"
        );
    }
    let got2: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["topic"] == "/cam_front/detections")
        .collect();
    let got3: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["topic"] == "/cam_front/detections_3d")
        .collect();
    assert_eq!((got2.len(), got3.len()), (d2.len(), d3.len()));
    for (m, v) in d2.iter().zip(got2) {
        assert_eq!(
            v["log_time_ns"].as_u64().unwrap(),
            m.header.stamp.as_nanos() as u64
        );
        check_header(&m.header, &v["header"]);
        let dets = v["detections"].as_array().unwrap();
        assert_eq!(dets.len(), m.detections.len());
        for (d, v) in m.detections.iter().zip(dets) {
            check_header(&d.header, &v["header"]);
            check_results(&d.results, &v["results"]);
            let b = d.bbox;
            assert_eq!(
                nums(&v["bbox"]),
                [b.center_x, b.center_y, b.theta, b.size_x, b.size_y]
            );
            assert_eq!(v["id"], d.id.as_str());
        }
    }
    for (m, v) in d3.iter().zip(got3) {
        check_header(&m.header, &v["header"]);
        let dets = v["detections"].as_array().unwrap();
        assert_eq!(dets.len(), m.detections.len());
        for (d, v) in m.detections.iter().zip(dets) {
            check_results(&d.results, &v["results"]);
            let c = d.bbox.center.position;
            assert_eq!(nums(&v["bbox"]["center"]["position"]), [c.x, c.y, c.z]);
            let s = d.bbox.size;
            assert_eq!(nums(&v["bbox"]["size"]), [s.x, s.y, s.z]);
            assert_eq!(v["id"], d.id.as_str());
        }
    }

    // And our own reader agrees.
    let bag = Bag::open(&path).unwrap();
    assert_eq!(
        bag.info()
            .topic("/cam_front/detections")
            .unwrap()
            .message_count,
        3
    );
    let back: Vec<Detection2DArray> = bag
        .messages(&["/cam_front/detections".into()])
        .unwrap()
        .map(|m| m.unwrap().decode::<Detection2DArray>().unwrap())
        .collect();
    assert_eq!(back, d2);
}

#[test]
fn a_dropped_writer_leaves_a_readable_bag() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("interrupted");
    {
        let mut w = BagWriter::create(&path).unwrap();
        let t = w
            .add_topic("/cam/detections", "vision_msgs/msg/Detection2DArray")
            .unwrap();
        for m in arrays_2d().iter().take(2) {
            w.write(t, m.header.stamp.as_nanos() as u64, m).unwrap();
        }
        // dropped without finish(), as when a replay is interrupted
    }
    let (conns, msgs) = read_with_rosbags(&path);
    assert_eq!(conns[0]["count"], 2);
    assert_eq!(msgs.len(), 2);
}

fn write_png(path: &std::path::Path, w: u32, h: u32, seed: u8) -> Vec<u8> {
    let px: Vec<u8> = (0..w * h * 3)
        .map(|i| (i as u8).wrapping_mul(seed))
        .collect();
    image::RgbImage::from_raw(w, h, px.clone())
        .unwrap()
        .save(path)
        .unwrap();
    px
}

#[test]
fn from_images_raw_and_png_bags_read_back_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    // Written out of name order; frames must come out in file-name order.
    let p1 = write_png(&images.join("000001.png"), 9, 5, 7);
    let p0 = write_png(&images.join("000000.png"), 9, 5, 3);
    std::fs::write(images.join("notes.txt"), "not an image").unwrap();
    for storage in [Storage::Raw, Storage::Png, Storage::Jpeg] {
        let out = dir.path().join(format!("{storage:?}"));
        let opts = FromImages {
            input: images.clone(),
            output: out.clone(),
            topic: "/cam/image_raw".into(),
            frame_id: "cam".into(),
            rate_hz: 10.0,
            start_ns: 1_000_000_000,
            storage,
        };
        assert_eq!(from_images(&opts).unwrap(), 2);
        let (_, msgs) = read_with_rosbags(&out);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[1]["log_time_ns"], 1_100_000_000u64);
        assert_eq!(msgs[1]["header"]["nanosec"], 100_000_000);
        let bag = Bag::open(&out).unwrap();
        let raws: Vec<_> = bag.messages(&[]).unwrap().map(|m| m.unwrap()).collect();
        match storage {
            Storage::Raw => {
                assert_eq!(msgs[0]["encoding"], "rgb8");
                assert_eq!(msgs[0]["step"], 27);
                for (raw, px) in raws.iter().zip([&p0, &p1]) {
                    let img: Image = raw.decode().unwrap();
                    assert_eq!((img.width, img.height, img.data), (9, 5, px.as_slice()));
                }
            }
            Storage::Png => {
                let file0 = std::fs::read(images.join("000000.png")).unwrap();
                let img: CompressedImage = raws[0].decode().unwrap();
                assert_eq!(
                    img.data,
                    file0.as_slice(),
                    "png files are stored as they are"
                );
                assert_eq!(msgs[0]["format"], "png");
            }
            Storage::Jpeg => {
                let img: CompressedImage = raws[1].decode().unwrap();
                let px = sightline_bag::pixels::decode_compressed(&img).unwrap();
                assert_eq!((px.width, px.height), (9, 5));
                assert_eq!(msgs[1]["format"], "jpeg");
            }
        }
    }
}
