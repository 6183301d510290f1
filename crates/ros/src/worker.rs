//! The one thread that owns the detector (it is not `Sync`): waits on every camera's
//! latest-frame slot, hands the frames that are ready together to the perception
//! pipeline as one device batch, and passes the results to a [`Sink`]. Its counters and
//! latencies are shared with a [`Reporter`], which another thread (the node's spin
//! loop) turns into diagnostics once a second, also while a slow device is busy.
//!
//! What happens to a frame is `sightline_perception`'s; this file keeps the slots, the
//! thread and the statistics. Neither the detector nor the sink is ROS-specific, so the
//! loop is unit-tested with fakes; `node.rs` plugs in r2r publishers.

use crate::slot::LatestSlot;
use crate::stats::{camera_status, CameraStats, InputCounters, Status, Throttle};
use crossbeam::channel::Select;
use sightline_perception::{Camera, Detect, Failure, Frame, Output, Pipeline, Stamp};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Where results go.
pub trait Sink {
    fn publish(&mut self, output: &Output);
}

/// A frame as it reached the node.
#[derive(Debug, Clone)]
pub struct Arrived {
    /// Index of the camera in the node's configuration.
    pub camera: usize,
    /// When the node received it (for the node's own latency).
    pub received: Instant,
    pub frame: Frame,
}

/// The subscription side of one camera: the slot and its counters.
#[derive(Clone, Default)]
pub struct CameraInput {
    slot: LatestSlot<Arrived>,
    counters: Arc<InputCounters>,
}

impl CameraInput {
    /// Called for every arriving message; never blocks.
    pub fn push(&self, frame: Arrived) {
        self.counters.arrived(frame.frame.stamp);
        if self.slot.offer(frame).is_some() {
            self.counters.displaced.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A configured camera as the worker sees it: its set-up and its input.
pub struct WorkerCamera {
    pub camera: Camera,
    pub input: CameraInput,
}

struct CameraState {
    name: String,
    input: CameraInput,
    stats: Arc<Mutex<CameraStats>>,
    warn: Throttle,
}

/// The worker's statistics are plain counters: a panic elsewhere cannot leave them in
/// a state worth refusing to read.
fn lock(stats: &Mutex<CameraStats>) -> MutexGuard<'_, CameraStats> {
    stats
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct Worker<D: Detect> {
    pipeline: Pipeline<D>,
    device: String,
    cameras: Vec<CameraState>,
}

/// Diagnostics of the worker's cameras, readable from any thread.
pub struct Reporter {
    device: String,
    cameras: Vec<(String, Arc<Mutex<CameraStats>>, Arc<InputCounters>)>,
    last_report: Instant,
}

impl Reporter {
    /// One status per camera for the period since the previous call.
    pub fn report(&mut self) -> Vec<Status> {
        let period = self.last_report.elapsed();
        self.last_report = Instant::now();
        self.cameras
            .iter()
            .map(|(namespace, stats, counters)| {
                camera_status(namespace, &self.device, &mut lock(stats), counters, period)
            })
            .collect()
    }
}

impl<D: Detect> Worker<D> {
    pub fn new(detector: D, cameras: Vec<WorkerCamera>) -> Self {
        let device = detector.device_name();
        let (setups, states): (Vec<Camera>, Vec<CameraState>) = cameras
            .into_iter()
            .map(|c| {
                let state = CameraState {
                    name: c.camera.name.clone(),
                    input: c.input,
                    stats: Arc::default(),
                    warn: Throttle::new(Duration::from_secs(5)),
                };
                (c.camera, state)
            })
            .unzip();
        Worker {
            pipeline: Pipeline::new(detector, setups),
            device,
            cameras: states,
        }
    }

    /// The detector, for its statistics.
    pub fn detector(&self) -> &D {
        self.pipeline.detector()
    }

    pub fn into_detector(self) -> D {
        self.pipeline.into_detector()
    }

    /// A handle on this worker's statistics, for diagnostics from another thread.
    pub fn reporter(&self) -> Reporter {
        Reporter {
            device: self.device.clone(),
            cameras: self
                .cameras
                .iter()
                .map(|c| (c.name.clone(), c.stats.clone(), c.input.counters.clone()))
                .collect(),
            last_report: Instant::now(),
        }
    }

    /// Runs until `stop` is set.
    pub fn run(&mut self, sink: &mut dyn Sink, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            self.step(sink, Duration::from_millis(100));
        }
    }

    /// Waits up to `timeout` for a frame, then processes the latest frame of every
    /// camera that has one, as one batch. Returns how many frames it processed.
    pub fn step(&mut self, sink: &mut dyn Sink, timeout: Duration) -> usize {
        let mut select = Select::new();
        for c in &self.cameras {
            select.recv(c.input.slot.receiver());
        }
        if self.cameras.is_empty() || select.ready_timeout(timeout).is_err() {
            return 0;
        }
        let batch: Vec<Arrived> = self
            .cameras
            .iter()
            .filter_map(|c| c.input.slot.take())
            .collect();
        let frames: Vec<(usize, &Frame)> = batch.iter().map(|a| (a.camera, &a.frame)).collect();
        let results = self.pipeline.process(&frames);
        for (arrived, result) in batch.iter().zip(results) {
            match result {
                Ok(output) => {
                    sink.publish(&output);
                    self.record(arrived, &output);
                }
                Err(failure) => self.drop_frame(arrived, &failure),
            }
        }
        batch.len()
    }

    /// Counts and (throttled) logs a frame that could not be processed.
    fn drop_frame(&mut self, arrived: &Arrived, failure: &Failure) {
        let Some(state) = self.cameras.get_mut(arrived.camera) else {
            return;
        };
        lock(&state.stats).bad_inputs += u64::from(matches!(failure, Failure::Bad(_)));
        if let Some(suppressed) = state.warn.allow(Instant::now()) {
            let Stamp { sec, nanosec } = arrived.frame.stamp;
            tracing::warn!(
                camera = %state.name,
                suppressed,
                "frame {sec}.{nanosec:09} dropped: {failure}"
            );
        }
    }

    /// Records a published frame's counters and stage times.
    fn record(&mut self, arrived: &Arrived, out: &Output) {
        let Some(state) = self.cameras.get(arrived.camera) else {
            return;
        };
        let mut stats = lock(&state.stats);
        stats.processed += 1;
        if out.calibration_mismatch {
            stats.calibration_mismatches += 1;
        } else {
            stats.localize_failures += out.unlocalized as u64;
        }
        for light in out.objects.iter().filter_map(|o| o.state) {
            stats.light_states[light.state.index()] += 1;
        }
        let t = out.times;
        for (stage, d) in [
            ("decode", t.decode),
            ("upload", t.device.upload),
            ("preprocess", t.device.preprocess),
            ("inference", t.device.inference),
            ("postprocess", t.device.postprocess),
            ("state", t.state),
            ("localize", t.localize),
            ("node", arrived.received.elapsed()),
        ] {
            stats.record(stage, d);
        }
        // Camera drivers stamp with system time; not meaningful in simulated time.
        if let Some(age) = out.stamp.age() {
            stats.record("stamp_age", age);
        }
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
