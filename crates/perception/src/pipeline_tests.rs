use super::*;
use crate::fake::{frame, kitti_camera, FakeDetector, KITTI};
use crate::frame::{Payload, Stamp};
use sightline_detect::LightState;

fn camera(name: &str) -> Camera {
    kitti_camera(name)
}

fn pipeline(cameras: usize) -> Pipeline<FakeDetector> {
    let cams = (0..cameras).map(|i| camera(&format!("/cam{i}"))).collect();
    Pipeline::new(FakeDetector::default(), cams)
}

#[test]
fn detects_filters_and_localizes() {
    let mut p = pipeline(1);
    // a person ~1.7 m tall about 15 m ahead: feet below the horizon (v0 = 180.5)
    let out = p
        .process_one(0, &frame(11, "cam0_optical", KITTI, [600, 180, 632, 262]))
        .unwrap();
    assert_eq!(
        (out.stamp, out.frame_id.as_str(), out.base_frame.as_str()),
        (
            Stamp {
                sec: 11,
                nanosec: 7
            },
            "cam0_optical",
            "base_link"
        )
    );
    assert_eq!(
        out.objects.len(),
        1,
        "the 0.1 stop sign is below its 0.3 threshold"
    );
    assert_eq!(out.objects[0].detection.bbox, [600.0, 180.0, 632.0, 262.0]);
    let loc = out.objects[0]
        .localization
        .as_ref()
        .expect("calibrated size");
    assert!(
        loc.position.x > 5.0 && loc.position.x < 30.0,
        "{:?}",
        loc.position
    );
    assert!(out.debug_image.is_none());
    let m3 = out.detection_3d_array();
    assert_eq!(m3.detections.len(), 1);
    assert_eq!(
        m3.detections[0].results[0].covariance,
        loc.pose_covariance()
    );
}

#[test]
fn per_class_thresholds_and_base_frame_are_the_cameras() {
    let mut cam = camera("/front");
    cam.thresholds.apply("stop_sign=0.05").unwrap();
    cam.thresholds.apply("pedestrian=0.95").unwrap();
    cam.base_frame = "odom".into();
    let mut p = Pipeline::new(FakeDetector::default(), vec![cam]);
    let out = p
        .process_one(0, &frame(1, "f", KITTI, [600, 180, 632, 262]))
        .unwrap();
    let classes: Vec<Class> = out.objects.iter().map(|o| o.detection.class).collect();
    assert_eq!(classes, [Class::StopSign]);
    assert_eq!(out.detection_3d_array().header.frame_id, "odom");
}

#[test]
fn other_sizes_stay_2d_and_are_counted() {
    let mut cam = camera("/cam0");
    cam.draw = true;
    let mut p = Pipeline::new(FakeDetector::default(), vec![cam]);
    for sec in 0..2 {
        let out = p
            .process_one(0, &frame(sec, "f", (320, 240), [10, 10, 40, 90]))
            .unwrap();
        assert!(out.calibration_mismatch);
        assert_eq!(out.objects.len(), 1, "2D detections stay");
        assert!(out.objects[0].localization.is_none());
        assert_eq!(out.unlocalized, 1);
        assert!(out.detection_3d_array().detections.is_empty());
        assert!(out.debug_image.is_some(), "debug image requested");
    }
    assert!(p.cameras[0].warned);
}

#[test]
fn bad_frames_fail_alone_and_cameras_batch() {
    let mut p = pipeline(2);
    let mut bad = frame(1, "f", (8, 8), [0, 0, 1, 1]);
    bad.payload = Payload::Encoded {
        format: "jpeg".into(),
        data: vec![0xFF, 0xD8, 1, 2, 3],
    };
    let good = frame(2, "f", (16, 16), [2, 2, 6, 9]);
    let results = p.process(&[(0, &bad), (1, &good), (5, &good)]);
    assert!(matches!(results[0], Err(Failure::Bad(_))));
    assert_eq!(results[1].as_ref().unwrap().camera, 1);
    assert!(matches!(results[2], Err(Failure::UnknownCamera(5))));
    assert_eq!(
        p.detector().batches,
        vec![1],
        "only the good frame reached the device"
    );
}

/// A frame with a lit red lamp at the top of a dark 20×60 housing at (100, 50).
fn red_light_frame() -> Frame {
    let mut f = frame(1, "f", (320, 240), [0, 0, 0, 0]);
    if let Payload::Raw { data, .. } = &mut f.payload {
        for y in 50..110u32 {
            for x in 100..120u32 {
                let i = ((y * 320 + x) * 3) as usize;
                let lit = (55..70).contains(&y) && (104..116).contains(&x);
                let px = if lit { [250, 40, 60] } else { [30, 30, 30] };
                data[i..i + 3].copy_from_slice(&px);
            }
        }
    }
    f
}

#[test]
fn lights_get_a_state_small_ones_unknown_other_classes_none() {
    let light = |bbox: [f32; 4]| Detection {
        class: Class::TrafficLight,
        score: 0.8,
        bbox,
    };
    // The housing; a 4-pixel-wide sliver of it (too small to judge); the same red
    // lamp reported as a stop sign; and a light below the 0.3 threshold.
    let lights = vec![
        light([100.0, 50.0, 120.0, 110.0]),
        light([104.0, 50.0, 108.0, 110.0]),
        Detection {
            class: Class::StopSign,
            score: 0.9,
            bbox: [102.0, 52.0, 118.0, 108.0],
        },
        Detection {
            score: 0.2,
            ..light([100.0, 50.0, 120.0, 110.0])
        },
    ];
    let detector = FakeDetector {
        lights,
        ..FakeDetector::default()
    };
    let mut cam = camera("/cam0");
    cam.draw = true;
    let mut p = Pipeline::new(detector, vec![cam]);
    let out = p.process_one(0, &red_light_frame()).unwrap();
    let got: Vec<(Class, Option<LightState>)> = out
        .objects
        .iter()
        .map(|o| (o.detection.class, o.state.map(|s| s.state)))
        .collect();
    assert_eq!(
        got,
        [
            (Class::TrafficLight, Some(LightState::Red)),
            (Class::TrafficLight, Some(LightState::Unknown)),
            (Class::StopSign, None),
        ]
    );
    let img = out.debug_image.expect("debug image");
    assert_eq!(
        img.get_pixel(100, 80),
        &crate::annotate::state_colour(LightState::Red),
        "the red light's box is drawn red"
    );
}

#[test]
fn a_tiled_frame_is_one_batch_and_a_box_across_tile_borders_is_one_box() {
    let mut cam = camera("/front");
    cam.tiling = Tiling::Auto;
    let mut p = Pipeline::new(FakeDetector::default(), vec![cam]);
    // Across both borders of the overlap of the first two native tiles (x 0–416 and
    // 275–691): each tile sees a cut piece, the whole frame sees it all.
    let white = [250, 150, 440, 300];
    let out = p
        .process_one(0, &frame(1, "cam0_optical", KITTI, white))
        .unwrap();
    let boxes: Vec<[f32; 4]> = out.objects.iter().map(|o| o.detection.bbox).collect();
    assert_eq!(boxes, vec![white.map(|v| v as f32)]);
    assert_eq!(out.times.passes, 5, "the whole frame and 4 tiles");
    let d = p.detector();
    assert_eq!(d.batches, vec![5], "one device batch");
    let regions = &d.region_batches[0][0];
    assert_eq!(regions[0], Region::whole(KITTI.0, KITTI.1));
    assert!(regions[1..].iter().all(|r| r.width == 416));
}

#[test]
fn tiling_off_is_the_plain_batch() {
    let mut p = pipeline(1);
    let out = p
        .process_one(0, &frame(1, "cam0_optical", KITTI, [250, 150, 440, 300]))
        .unwrap();
    assert_eq!(out.times.passes, 1);
    assert!(p.detector().region_batches.is_empty());
}
