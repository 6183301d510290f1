use super::*;
use crate::frame::Payload;
use crate::stats::Level;
use sightline_geometry::Calibration;

/// Finds the box of pure-white pixels and calls it a pedestrian (score 0.9); also
/// reports a weak stop sign (0.1) everywhere, which the per-class threshold must drop.
struct FakeDetector {
    /// Size of every batch it was given.
    batches: Vec<usize>,
    delay: Duration,
}

impl Detect for FakeDetector {
    fn detect_batch(
        &mut self,
        images: &[ImageView],
    ) -> Result<(Vec<Vec<Detection>>, StageTimes), DetectError> {
        self.batches.push(images.len());
        std::thread::sleep(self.delay);
        Ok((
            images.iter().map(white_box).collect(),
            StageTimes::default(),
        ))
    }
    fn device_name(&self) -> String {
        "fake".into()
    }
}

fn white_box(image: &ImageView) -> Vec<Detection> {
    let ch = image.format().channels();
    let (mut x1, mut y1, mut x2, mut y2) = (u32::MAX, u32::MAX, 0, 0);
    for y in 0..image.height() {
        for x in 0..image.width() {
            let i = y as usize * image.step() + x as usize * ch;
            if image.data()[i..i + ch.min(3)].iter().all(|&v| v == 255) {
                (x1, y1, x2, y2) = (x1.min(x), y1.min(y), x2.max(x + 1), y2.max(y + 1));
            }
        }
    }
    let mut dets = vec![Detection {
        class: Class::StopSign,
        score: 0.1,
        bbox: [0.0, 0.0, 4.0, 4.0],
    }];
    if x2 > x1 {
        dets.push(Detection {
            class: Class::Pedestrian,
            score: 0.9,
            bbox: [x1 as f32, y1 as f32, x2 as f32, y2 as f32],
        });
    }
    dets
}

#[derive(Default)]
struct Collect {
    outputs: Vec<(usize, Stamp, String, Vec<Object>, bool)>,
}

impl Sink for Collect {
    fn publish(&mut self, o: &CameraOutput) {
        self.outputs.push((
            o.camera,
            o.stamp,
            o.frame_id.to_string(),
            o.objects.clone(),
            o.debug_image.is_some(),
        ));
    }
}

const KITTI: (u32, u32) = (1242, 375);

fn camera(ns: &str) -> WorkerCamera {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../calibration/kitti_cam2.yaml"
    );
    let calibration = Calibration::load(path).unwrap();
    assert_eq!(
        (calibration.camera().width(), calibration.camera().height()),
        KITTI
    );
    WorkerCamera {
        namespace: ns.into(),
        localizer: Localizer::new(calibration, Default::default()).unwrap(),
        input: CameraInput::default(),
    }
}

fn worker(cameras: usize, delay_ms: u64, debug: bool) -> (Worker<FakeDetector>, Vec<CameraInput>) {
    let cams: Vec<WorkerCamera> = (0..cameras).map(|i| camera(&format!("/cam{i}"))).collect();
    let inputs = cams.iter().map(|c| c.input.clone()).collect();
    let thresholds = Class::ALL.iter().map(|&c| (c, 0.3)).collect();
    let det = FakeDetector {
        batches: Vec::new(),
        delay: Duration::from_millis(delay_ms),
    };
    (Worker::new(det, cams, thresholds, debug), inputs)
}

/// An rgb8 frame of `size` with a white box (a "pedestrian") standing on the road.
fn frame(camera: usize, sec: i32, size: (u32, u32), white: [u32; 4]) -> Frame {
    let (w, h) = size;
    let mut data = vec![40u8; (w * h * 3) as usize];
    for y in white[1]..white[3] {
        for x in white[0]..white[2] {
            let i = ((y * w + x) * 3) as usize;
            data[i..i + 3].copy_from_slice(&[255, 255, 255]);
        }
    }
    Frame {
        camera,
        stamp: Stamp { sec, nanosec: 7 },
        frame_id: format!("cam{camera}_optical"),
        received: Instant::now(),
        payload: Payload::Raw {
            width: w,
            height: h,
            step: w * 3,
            encoding: "rgb8".into(),
            data,
        },
    }
}

#[test]
fn detects_filters_and_localizes() {
    let (mut w, inputs) = worker(1, 0, false);
    let mut sink = Collect::default();
    // a person ~1.7 m tall about 15 m ahead: feet below the horizon (v0 = 180.5)
    inputs[0].push(frame(0, 11, KITTI, [600, 180, 632, 262]));
    assert_eq!(w.step(&mut sink, Duration::from_millis(10)), 1);
    let (cam, stamp, frame_id, objects, debug) = &sink.outputs[0];
    assert_eq!(
        (*cam, *stamp, frame_id.as_str(), *debug),
        (
            0,
            Stamp {
                sec: 11,
                nanosec: 7
            },
            "cam0_optical",
            false
        )
    );
    assert_eq!(
        objects.len(),
        1,
        "the 0.1 stop sign is below its 0.3 threshold"
    );
    assert_eq!(objects[0].detection.bbox, [600.0, 180.0, 632.0, 262.0]);
    let loc = objects[0]
        .localization
        .as_ref()
        .expect("calibrated size: localized");
    assert!(
        loc.position.x > 5.0 && loc.position.x < 30.0,
        "{:?}",
        loc.position
    );
}

#[test]
fn other_sizes_get_no_positions() {
    let (mut w, inputs) = worker(1, 0, true);
    let mut sink = Collect::default();
    inputs[0].push(frame(0, 1, (320, 240), [10, 10, 40, 90]));
    w.step(&mut sink, Duration::from_millis(10));
    let (_, _, _, objects, debug) = &sink.outputs[0];
    assert!(objects[0].localization.is_none());
    assert!(*debug, "debug image requested");
    let status = &w.reporter().report()[0];
    assert_eq!(status.level, Level::Warn);
    assert!(status
        .values
        .contains(&("calibration_mismatches".into(), "1".into())));
}

#[test]
fn bad_frames_are_counted_and_skipped() {
    let (mut w, inputs) = worker(1, 0, false);
    let mut sink = Collect::default();
    let mut bad = frame(0, 1, (8, 8), [0, 0, 1, 1]);
    bad.payload = Payload::Raw {
        width: 8,
        height: 8,
        step: 24,
        encoding: "rgb8".into(),
        data: vec![0; 10],
    };
    inputs[0].push(bad);
    w.step(&mut sink, Duration::from_millis(10));
    let mut garbage = frame(0, 2, (8, 8), [0, 0, 1, 1]);
    garbage.payload = Payload::Compressed {
        format: "jpeg".into(),
        data: vec![0xFF, 0xD8, 1, 2, 3],
    };
    inputs[0].push(garbage);
    w.step(&mut sink, Duration::from_millis(10));
    inputs[0].push(frame(0, 3, (8, 8), [0, 0, 1, 1]));
    w.step(&mut sink, Duration::from_millis(10));
    assert_eq!(sink.outputs.len(), 1);
    assert_eq!(sink.outputs[0].1.sec, 3);
    assert!(w.reporter().report()[0]
        .values
        .contains(&("bad_inputs".into(), "2".into())));
}

#[test]
fn latest_frame_wins_and_cameras_batch() {
    let (mut w, inputs) = worker(2, 0, false);
    let mut sink = Collect::default();
    for sec in 1..=5 {
        inputs[0].push(frame(0, sec, (16, 16), [2, 2, 6, 9]));
    }
    inputs[1].push(frame(1, 9, (16, 16), [2, 2, 6, 9]));
    assert_eq!(
        w.step(&mut sink, Duration::from_millis(10)),
        2,
        "both cameras in one batch"
    );
    let secs: Vec<(usize, i32)> = sink.outputs.iter().map(|o| (o.0, o.1.sec)).collect();
    assert_eq!(secs, vec![(0, 5), (1, 9)]);
    assert_eq!(w.detector.batches, vec![2], "one device batch for both");
    assert_eq!(
        w.step(&mut sink, Duration::from_millis(10)),
        0,
        "nothing left behind"
    );
    let statuses = w.reporter().report();
    let cam0 = &statuses[0];
    assert!(cam0.values.contains(&("dropped_frames".into(), "4".into())));
    assert!(cam0
        .values
        .contains(&("frames_received".into(), "5".into())));
    assert_eq!(cam0.name, "sightline: /cam0");
}

/// A slow device fed 3x faster than it runs keeps working on the newest frames.
#[test]
fn slow_device_never_backlogs() {
    let (mut w, inputs) = worker(1, 15, false);
    let stop = Arc::new(AtomicBool::new(false));
    let input = inputs[0].clone();
    let stop2 = stop.clone();
    let feeder = std::thread::spawn(move || {
        for sec in 1..=60 {
            input.push(frame(0, sec, (16, 16), [2, 2, 6, 9]));
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(50));
        stop2.store(true, Ordering::Relaxed);
    });
    let mut sink = Collect::default();
    w.run(&mut sink, &stop);
    feeder.join().unwrap();
    let secs: Vec<i32> = sink.outputs.iter().map(|o| o.1.sec).collect();
    assert!(
        secs.windows(2).all(|p| p[0] < p[1]),
        "in order, no repeats: {secs:?}"
    );
    assert_eq!(secs.last(), Some(&60), "the newest frame is processed");
    assert!(
        secs.len() < 40,
        "frames were dropped, not queued: {}",
        secs.len()
    );
    assert_eq!(w.detector.batches.len(), secs.len());
}

/// Diagnostics come from another thread and do not wait for a slow frame to finish.
#[test]
fn reporter_answers_while_the_device_is_busy() {
    let (mut w, inputs) = worker(1, 600, false);
    let mut reporter = w.reporter();
    let stop = Arc::new(AtomicBool::new(false));
    let running = {
        let stop = stop.clone();
        std::thread::spawn(move || w.run(&mut Collect::default(), &stop))
    };
    inputs[0].push(frame(0, 1, (16, 16), [2, 2, 6, 9]));
    std::thread::sleep(Duration::from_millis(150)); // the fake device is now busy
    let t0 = Instant::now();
    let statuses = reporter.report();
    let waited = t0.elapsed();
    assert!(statuses[0]
        .values
        .contains(&("frames_received".into(), "1".into())));
    assert!(statuses[0]
        .values
        .contains(&("frames_processed".into(), "0".into())));
    stop.store(true, Ordering::Relaxed);
    running.join().unwrap();
    assert!(
        waited < Duration::from_millis(100),
        "report waited {waited:?} for the frame"
    );
    let statuses = reporter.report();
    assert!(statuses[0]
        .values
        .contains(&("frames_processed".into(), "1".into())));
}
