//! Our reader on bags written by the third-party `rosbags` package, in both storages.

mod common;

use serde_json::Value;
use sightline_bag::msgs::{CameraInfo, CompressedImage, Header, Image};
use sightline_bag::pixels::decode_compressed;
use sightline_bag::{Bag, StorageId};

fn check_header(h: &Header, want: &Value) {
    assert_eq!(i64::from(h.stamp.sec), want["sec"].as_i64().unwrap());
    assert_eq!(
        u64::from(h.stamp.nanosec),
        want["nanosec"].as_u64().unwrap()
    );
    assert_eq!(h.frame_id, want["frame_id"].as_str().unwrap());
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn u(v: &Value) -> u32 {
    v.as_u64().unwrap() as u32
}

fn check_storage(dir: &std::path::Path, storage: StorageId, expected: &Value) {
    let bag = Bag::open(dir).unwrap();
    let info = bag.info();
    assert_eq!(info.storage, storage);
    let topics = expected["topics"].as_object().unwrap();
    assert_eq!(info.topics.len(), topics.len());
    for (name, t) in topics {
        let got = info.topic(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(got.type_name, t["type"].as_str().unwrap());
        assert_eq!(got.message_count, t["count"].as_u64().unwrap());
        assert_eq!(got.serialization_format, "cdr");
    }
    let (start, end) = (
        expected["start_ns"].as_u64().unwrap(),
        expected["end_ns"].as_u64().unwrap(),
    );
    assert_eq!(info.time_range, Some((start, end)));

    let want = expected["messages"].as_array().unwrap();
    let got: Vec<_> = bag.messages(&[]).unwrap().map(|m| m.unwrap()).collect();
    // The fixture was written out of time order; both storages must come back in time order.
    assert_eq!(got.len(), want.len());
    for (m, w) in got.iter().zip(want) {
        let what = format!("{storage:?} {} #{}", m.topic, m.index);
        assert_eq!(&*m.topic, w["topic"].as_str().unwrap(), "{what}");
        assert_eq!(&*m.type_name, w["type"].as_str().unwrap(), "{what}");
        assert_eq!(m.log_time_ns, w["log_time_ns"].as_u64().unwrap(), "{what}");
        assert_eq!(m.index, w["index"].as_u64().unwrap(), "{what}");
        assert_eq!(
            m.data[1] == 1,
            w["little_endian"].as_bool().unwrap(),
            "{what}"
        );
        let f = &w["fields"];
        match &*m.type_name {
            "sensor_msgs/msg/Image" => {
                let img: Image = m.decode().unwrap();
                check_header(&img.header, &f["header"]);
                assert_eq!(img.height, u(&f["height"]), "{what}");
                assert_eq!(img.width, u(&f["width"]), "{what}");
                assert_eq!(img.encoding, f["encoding"].as_str().unwrap(), "{what}");
                assert_eq!(
                    img.is_bigendian,
                    f["is_bigendian"].as_u64().unwrap() as u8,
                    "{what}"
                );
                assert_eq!(img.step, u(&f["step"]), "{what}");
                assert!(
                    img.step as usize
                        > img.width as usize * if img.encoding == "mono8" { 1 } else { 3 }
                );
                assert_eq!(
                    img.data,
                    common::unhex(f["data"].as_str().unwrap()),
                    "{what}"
                );
            }
            "sensor_msgs/msg/CompressedImage" => {
                let img: CompressedImage = m.decode().unwrap();
                check_header(&img.header, &f["header"]);
                assert_eq!(img.format, f["format"].as_str().unwrap(), "{what}");
                assert_eq!(
                    img.data,
                    common::unhex(f["data"].as_str().unwrap()),
                    "{what}"
                );
                let px = decode_compressed(&img).unwrap();
                assert_eq!(
                    (px.width, px.height),
                    (u(&w["width"]), u(&w["height"])),
                    "{what}"
                );
                let reference = common::unhex(w["pixels_rgb8"].as_str().unwrap());
                if img.format == "png" {
                    assert_eq!(px.data, reference, "{what}: png is lossless");
                } else {
                    // Two JPEG decoders (image-rs vs OpenCV's libjpeg) differ by rounding only.
                    let diff: Vec<u32> = px
                        .data
                        .iter()
                        .zip(&reference)
                        .map(|(a, b)| u32::from(a.abs_diff(*b)))
                        .collect();
                    let mean = diff.iter().sum::<u32>() as f64 / diff.len() as f64;
                    assert!(
                        mean < 1.5 && *diff.iter().max().unwrap() <= 16,
                        "{what}: mean {mean}"
                    );
                }
            }
            "sensor_msgs/msg/CameraInfo" => {
                let ci: CameraInfo = m.decode().unwrap();
                check_header(&ci.header, &f["header"]);
                assert_eq!((ci.height, ci.width), (u(&f["height"]), u(&f["width"])));
                assert_eq!(ci.distortion_model, f["distortion_model"].as_str().unwrap());
                assert_eq!(ci.d, f64s(&f["d"]));
                assert_eq!(ci.k.to_vec(), f64s(&f["k"]));
                assert_eq!(ci.r.to_vec(), f64s(&f["r"]));
                assert_eq!(ci.p.to_vec(), f64s(&f["p"]));
                assert_eq!(
                    (ci.binning_x, ci.binning_y),
                    (u(&f["binning_x"]), u(&f["binning_y"]))
                );
                let roi = &f["roi"];
                assert_eq!(ci.roi.x_offset, u(&roi["x_offset"]));
                assert_eq!(ci.roi.y_offset, u(&roi["y_offset"]));
                assert_eq!(ci.roi.height, u(&roi["height"]));
                assert_eq!(ci.roi.width, u(&roi["width"]));
                assert_eq!(ci.roi.do_rectify, roi["do_rectify"].as_bool().unwrap());
            }
            other => panic!("unexpected type {other}"),
        }
    }
}

#[test]
fn every_field_of_rosbags_written_bags_in_both_storages() {
    let (dir, expected) = common::fixtures();
    check_storage(&dir.path().join("sqlite3"), StorageId::Sqlite3, &expected);
    check_storage(&dir.path().join("mcap"), StorageId::Mcap, &expected);
}

#[test]
fn topic_filter_and_single_storage_files() {
    let (dir, expected) = common::fixtures();
    for (sub, ext) in [("sqlite3", "db3"), ("mcap", "mcap")] {
        let bag = Bag::open(dir.path().join(sub)).unwrap();
        let topics = [
            "/cam_bgr/image_raw".to_string(),
            "/cam_front/camera_info".to_string(),
        ];
        let got: Vec<_> = bag.messages(&topics).unwrap().map(|m| m.unwrap()).collect();
        assert_eq!(got.len(), 6);
        assert!(got.iter().all(|m| topics.iter().any(|t| **t == *m.topic)));
        let bgr: Vec<u64> = got
            .iter()
            .filter(|m| &*m.topic == "/cam_bgr/image_raw")
            .map(|m| m.index)
            .collect();
        assert_eq!(bgr, [0, 1, 2]);
        let err = bag
            .messages(&["/nope".to_string()])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("/nope") && err.contains("/cam_bgr/image_raw"),
            "{err}"
        );

        // The storage file alone, without metadata.yaml.
        let file = common::storage_file(&dir.path().join(sub), ext);
        let single = Bag::open(&file).unwrap();
        let info = single.info();
        assert_eq!(
            info.message_count(),
            expected["messages"].as_array().unwrap().len() as u64
        );
        assert_eq!(info.time_range, bag.info().time_range);
        for t in &bag.info().topics {
            assert_eq!(
                info.topic(&t.name).map(|x| x.message_count),
                Some(t.message_count),
                "{sub}"
            );
        }
        let n = single.messages(&[]).unwrap().filter(|m| m.is_ok()).count();
        assert_eq!(n as u64, info.message_count());
    }
}
