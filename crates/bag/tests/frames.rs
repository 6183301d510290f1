//! Decoding image topics on worker threads keeps bag order and every pixel.

mod common;

use sightline_bag::frames::{image_topics, FrameOptions, Frames};
use sightline_bag::Bag;

#[test]
fn frames_come_in_bag_order_with_their_pixels() {
    let (dir, expected) = common::fixtures();
    for storage in ["sqlite3", "mcap"] {
        let bag = Bag::open(dir.path().join(storage)).unwrap();
        let topics = image_topics(bag.info());
        assert_eq!(topics.len(), 6, "{topics:?}"); // camera_info is not an image topic
        let want: Vec<_> = expected["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["type"] != "sensor_msgs/msg/CameraInfo")
            .collect();
        // Three workers under a one-byte budget: one frame in flight at a time, still
        // every frame, in order.
        for (workers, max_bytes) in [(1, sightline_bag::frames::MAX_BYTES_IN_FLIGHT), (3, 1)] {
            let options = FrameOptions {
                topics: vec![],
                workers,
                queue: 2,
                max_bytes,
            };
            let frames = Frames::spawn(&bag, &options).unwrap();
            assert_eq!(frames.total(), want.len() as u64);
            let got: Vec<_> = frames.map(|f| f.unwrap()).collect();
            assert_eq!(got.len(), want.len());
            for (f, w) in got.iter().zip(&want) {
                assert_eq!(&*f.topic, w["topic"].as_str().unwrap());
                assert_eq!(f.index, w["index"].as_u64().unwrap());
                assert_eq!(f.log_time_ns, w["log_time_ns"].as_u64().unwrap());
                assert_eq!(
                    f.header.frame_id,
                    w["fields"]["header"]["frame_id"].as_str().unwrap()
                );
                if f.compressed {
                    assert_eq!(
                        (f.pixels.width, f.pixels.height),
                        (
                            w["width"].as_u64().unwrap() as u32,
                            w["height"].as_u64().unwrap() as u32
                        )
                    );
                    assert_eq!(f.pixels.encoding, "rgb8");
                    if w["fields"]["format"] == "png" {
                        assert_eq!(
                            f.pixels.data(),
                            common::unhex(w["pixels_rgb8"].as_str().unwrap())
                        );
                    }
                } else {
                    let data = common::unhex(w["fields"]["data"].as_str().unwrap());
                    assert_eq!(f.pixels.data(), data.as_slice());
                    assert_eq!(
                        f.pixels.step,
                        w["fields"]["step"].as_u64().unwrap() as usize
                    );
                    assert_eq!(f.pixels.encoding, w["fields"]["encoding"].as_str().unwrap());
                }
            }
        }
        // Stopping early joins the threads instead of hanging.
        let mut frames = Frames::spawn(
            &bag,
            &FrameOptions {
                topics: vec![],
                workers: 2,
                queue: 1,
                ..FrameOptions::default()
            },
        )
        .unwrap();
        assert!(frames.next().unwrap().is_ok());
        drop(frames);
    }
}
