use super::*;
use crate::stats::Level;
use sightline_perception::fake::{frame, kitti_camera, FakeDetector};
use sightline_perception::Payload;

#[derive(Default)]
struct Collect {
    outputs: Vec<Output>,
}

impl Sink for Collect {
    fn publish(&mut self, o: &Output) {
        self.outputs.push(o.clone());
    }
}

fn worker(cameras: usize, delay_ms: u64) -> (Worker<FakeDetector>, Vec<CameraInput>) {
    let cams: Vec<WorkerCamera> = (0..cameras)
        .map(|i| WorkerCamera {
            camera: kitti_camera(&format!("/cam{i}")),
            input: CameraInput::default(),
        })
        .collect();
    let inputs = cams.iter().map(|c| c.input.clone()).collect();
    let det = FakeDetector {
        delay: Duration::from_millis(delay_ms),
        ..FakeDetector::default()
    };
    (Worker::new(det, cams), inputs)
}

fn arrived(camera: usize, sec: i32, size: (u32, u32), white: [u32; 4]) -> Arrived {
    Arrived {
        camera,
        received: Instant::now(),
        frame: frame(sec, &format!("cam{camera}_optical"), size, white),
    }
}

#[test]
fn other_sizes_are_counted_in_diagnostics() {
    let (mut w, inputs) = worker(1, 0);
    let mut sink = Collect::default();
    inputs[0].push(arrived(0, 1, (320, 240), [10, 10, 40, 90]));
    w.step(&mut sink, Duration::from_millis(10));
    assert!(sink.outputs[0].objects[0].localization.is_none());
    let status = &w.reporter().report()[0];
    assert_eq!(status.level, Level::Warn);
    assert!(status
        .values
        .contains(&("calibration_mismatches".into(), "1".into())));
}

#[test]
fn bad_frames_are_counted_and_skipped() {
    let (mut w, inputs) = worker(1, 0);
    let mut sink = Collect::default();
    let mut bad = arrived(0, 1, (8, 8), [0, 0, 1, 1]);
    bad.frame.payload = Payload::Raw {
        width: 8,
        height: 8,
        step: 24,
        encoding: "rgb8".into(),
        data: vec![0; 10],
    };
    inputs[0].push(bad);
    w.step(&mut sink, Duration::from_millis(10));
    let mut garbage = arrived(0, 2, (8, 8), [0, 0, 1, 1]);
    garbage.frame.payload = Payload::Encoded {
        format: "jpeg".into(),
        data: vec![0xFF, 0xD8, 1, 2, 3],
    };
    inputs[0].push(garbage);
    w.step(&mut sink, Duration::from_millis(10));
    inputs[0].push(arrived(0, 3, (8, 8), [0, 0, 1, 1]));
    w.step(&mut sink, Duration::from_millis(10));
    assert_eq!(sink.outputs.len(), 1);
    assert_eq!(sink.outputs[0].stamp.sec, 3);
    assert!(w.reporter().report()[0]
        .values
        .contains(&("bad_inputs".into(), "2".into())));
}

#[test]
fn latest_frame_wins_and_cameras_batch() {
    let (mut w, inputs) = worker(2, 0);
    let mut sink = Collect::default();
    for sec in 1..=5 {
        inputs[0].push(arrived(0, sec, (16, 16), [2, 2, 6, 9]));
    }
    inputs[1].push(arrived(1, 9, (16, 16), [2, 2, 6, 9]));
    assert_eq!(
        w.step(&mut sink, Duration::from_millis(10)),
        2,
        "both cameras in one batch"
    );
    let secs: Vec<(usize, i32)> = sink
        .outputs
        .iter()
        .map(|o| (o.camera, o.stamp.sec))
        .collect();
    assert_eq!(secs, vec![(0, 5), (1, 9)]);
    assert_eq!(sink.outputs[1].frame_id, "cam1_optical");
    assert_eq!(w.detector().batches, vec![2], "one device batch for both");
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
    let (mut w, inputs) = worker(1, 15);
    let stop = Arc::new(AtomicBool::new(false));
    let input = inputs[0].clone();
    let stop2 = stop.clone();
    let feeder = std::thread::spawn(move || {
        for sec in 1..=60 {
            input.push(arrived(0, sec, (16, 16), [2, 2, 6, 9]));
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(50));
        stop2.store(true, Ordering::Relaxed);
    });
    let mut sink = Collect::default();
    w.run(&mut sink, &stop);
    feeder.join().unwrap();
    let secs: Vec<i32> = sink.outputs.iter().map(|o| o.stamp.sec).collect();
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
    assert_eq!(w.detector().batches.len(), secs.len());
}

/// Diagnostics come from another thread and do not wait for a slow frame to finish.
#[test]
fn reporter_answers_while_the_device_is_busy() {
    let (mut w, inputs) = worker(1, 600);
    let mut reporter = w.reporter();
    let stop = Arc::new(AtomicBool::new(false));
    let running = {
        let stop = stop.clone();
        std::thread::spawn(move || w.run(&mut Collect::default(), &stop))
    };
    inputs[0].push(arrived(0, 1, (16, 16), [2, 2, 6, 9]));
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
