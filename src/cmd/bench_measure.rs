//! What `sightline bench` measures, all through the code the node runs: per-stage
//! latency and throughput through `sightline_perception::Pipeline`, and the fixed-rate
//! phases through the node's own worker (latest-frame slots, one batch per step).

use serde::Serialize;
use sightline_detect::Detector;
use sightline_perception::{Camera, Frame, Output, Pipeline, Stamp};
use sightline_ros::worker::{Arrived, CameraInput, Sink, Worker, WorkerCamera};
use std::time::{Duration, Instant};

/// Percentiles of one stage, in milliseconds.
#[derive(Serialize, Clone, Copy, Default)]
pub struct Stats {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Stats {
    pub fn of(samples: &[Duration]) -> Stats {
        let mut sorted = samples.to_vec();
        sorted.sort();
        let ms =
            |q: f64| sightline_types::percentile(&sorted, q).map_or(0.0, |d| d.as_secs_f64() * 1e3);
        let total: f64 = sorted.iter().map(|d| d.as_secs_f64() * 1e3).sum();
        Stats {
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            max: ms(1.0),
            mean: total / sorted.len().max(1) as f64,
        }
    }
}

pub const STAGES: [&str; 7] = [
    "upload",
    "preprocess",
    "inference",
    "postprocess",
    "state",
    "localization",
    "total",
];

/// Per-stage samples of `count` frames, one at a time, as the node runs one camera, and
/// the mean number of model passes a frame took (more than 1 with tiling).
pub fn stages(
    pipeline: &mut Pipeline<Detector>,
    frames: &[Frame],
    count: usize,
) -> anyhow::Result<(Vec<Vec<Duration>>, f64)> {
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); STAGES.len()];
    let mut passes = 0;
    for i in 0..count {
        let start = Instant::now();
        let out = pipeline.process_one(0, &frames[i % frames.len()])?;
        passes += out.times.passes;
        let (d, t) = (out.times.device, out.times);
        let row = [
            d.upload,
            d.preprocess,
            d.inference,
            d.postprocess,
            t.state,
            t.localize,
            start.elapsed(),
        ];
        for (k, v) in row.into_iter().enumerate() {
            samples[k].push(v);
        }
    }
    Ok((samples, passes as f64 / count.max(1) as f64))
}

#[derive(Serialize)]
pub struct FixedRate {
    pub cameras: usize,
    pub rate_hz: f64,
    pub offered: usize,
    pub processed: usize,
    pub dropped: usize,
    pub dropped_fraction: f64,
    pub latency_ms: Stats,
}

/// Image stamp → result, as the node's `stamp_age`.
struct Latencies(Vec<Duration>);

impl Sink for Latencies {
    fn publish(&mut self, out: &Output) {
        self.0.push(out.stamp.age().unwrap_or_default());
    }
}

/// `cameras` cameras emit frames at `rate` Hz into the node worker's latest-frame slots;
/// the worker takes the newest frame of each ready camera, all in one batch. A frame
/// overwritten before it was taken is dropped, as in the node.
pub fn fixed_rate(
    detector: Detector,
    camera: &Camera,
    frames: &[Frame],
    (cameras, rate, per_camera): (usize, f64, usize),
) -> anyhow::Result<(Detector, FixedRate)> {
    anyhow::ensure!(
        rate > 0.0 && cameras > 0,
        "--rate and --cameras must be positive"
    );
    let cams: Vec<WorkerCamera> = (0..cameras)
        .map(|i| WorkerCamera {
            camera: Camera {
                name: format!("/bench/cam{i}"),
                ..camera.clone()
            },
            input: CameraInput::default(),
        })
        .collect();
    let inputs: Vec<CameraInput> = cams.iter().map(|c| c.input.clone()).collect();
    let mut worker = Worker::new(detector, cams);
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut sink = Latencies(Vec::new());
    let start = Instant::now();
    std::thread::scope(|scope| {
        let producers: Vec<_> = inputs
            .iter()
            .enumerate()
            .map(|(cam, input)| {
                scope.spawn(move || {
                    // Cameras are staggered within a period, as real sensors are.
                    let offset = period.mul_f64(cam as f64 / cameras as f64);
                    for i in 0..per_camera {
                        let due = start + offset + period.mul_f64(i as f64);
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                        let mut frame = frames[i % frames.len()].clone();
                        frame.stamp = Stamp::now();
                        input.push(Arrived {
                            camera: cam,
                            received: Instant::now(),
                            frame,
                        });
                    }
                })
            })
            .collect();
        // Until every producer is done and a step finds no frame left.
        while worker.step(&mut sink, Duration::from_millis(10)) > 0
            || !producers.iter().all(|p| p.is_finished())
        {}
    });
    let offered = cameras * per_camera;
    let processed = sink.0.len();
    let dropped = offered.saturating_sub(processed);
    let result = FixedRate {
        cameras,
        rate_hz: rate,
        offered,
        processed,
        dropped,
        dropped_fraction: dropped as f64 / offered as f64,
        latency_ms: Stats::of(&sink.0),
    };
    Ok((worker.into_detector(), result))
}

/// Highest per-camera rate with < 5 % dropped frames, by bisection between half and
/// twice the measured back-to-back throughput (as ros2_benchmark's peak search).
pub fn peak_rate(
    mut detector: Detector,
    camera: &Camera,
    frames: &[Frame],
    (cameras, throughput, per_camera): (usize, f64, usize),
) -> anyhow::Result<(Detector, Option<f64>)> {
    let per_camera_fps = throughput / cameras as f64;
    let (mut lo, mut hi) = (per_camera_fps * 0.5, per_camera_fps * 2.0);
    let mut best = None;
    for _ in 0..5 {
        let mid = (lo + hi) / 2.0;
        let (d, r) = fixed_rate(detector, camera, frames, (cameras, mid, per_camera.max(10)))?;
        detector = d;
        if r.dropped_fraction < 0.05 {
            best = Some(mid);
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok((detector, best))
}
