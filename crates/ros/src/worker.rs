//! The one thread that owns the detector (it is not `Sync`): waits on every camera's
//! latest-frame slot, runs the frames that are ready together as one device batch, localizes
//! the detections and hands results to a [`Sink`]. Its counters and latencies are
//! shared with a [`Reporter`], which another thread (the node's spin loop) turns into
//! diagnostics once a second, also while a slow device is busy with a frame.
//!
//! Neither the detector nor the sink is ROS-specific ([`Detect`], [`Sink`]), so the
//! whole loop is unit-tested with fakes; `node.rs` plugs in r2r publishers.

use crate::annotate;
use crate::frame::{BadFrame, Frame, Stamp};
use crate::slot::LatestSlot;
use crate::stats::{camera_status, CameraStats, InputCounters, Status, Throttle};
use crossbeam::channel::Select;
use image::RgbImage;
use sightline_detect::{Class, DetectError, Detection, Detector, ImageView, StageTimes};
use sightline_geometry::{Localization, Localizer, TargetKind};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the worker needs from a detector.
pub trait Detect {
    /// Detections of each image (the latest frame of every ready camera) as one device
    /// batch, with the batch's stage times.
    fn detect_batch(
        &mut self,
        images: &[ImageView],
    ) -> Result<(Vec<Vec<Detection>>, StageTimes), DetectError>;
    /// Name of the device, for diagnostics.
    fn device_name(&self) -> String;
}

impl Detect for Detector {
    fn detect_batch(
        &mut self,
        images: &[ImageView],
    ) -> Result<(Vec<Vec<Detection>>, StageTimes), DetectError> {
        match images {
            // One camera: a sync after each stage, so diagnostics show every stage.
            [image] => Detector::detect_timed(self, image, true).map(|(d, t)| (vec![d], t)),
            _ => Detector::detect_batch(self, images),
        }
    }
    fn device_name(&self) -> String {
        self.gpu().name().to_string()
    }
}

/// Where results go.
pub trait Sink {
    fn publish(&mut self, output: &CameraOutput);
}

/// One detection, with its position in the base frame where it could be localized.
#[derive(Debug, Clone)]
pub struct Object {
    pub detection: Detection,
    pub localization: Option<Localization>,
}

/// The result for one frame.
pub struct CameraOutput<'a> {
    pub camera: usize,
    pub stamp: Stamp,
    pub frame_id: &'a str,
    pub objects: Vec<Object>,
    pub debug_image: Option<RgbImage>,
}

/// The subscription side of one camera: the slot and its counters.
#[derive(Clone, Default)]
pub struct CameraInput {
    slot: LatestSlot<Frame>,
    counters: Arc<InputCounters>,
}

impl CameraInput {
    /// Called for every arriving message; never waits for the worker.
    pub fn push(&self, frame: Frame) {
        self.counters.arrived(frame.stamp);
        if self.slot.offer(frame).is_some() {
            self.counters.displaced.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A configured camera as the worker sees it.
pub struct WorkerCamera {
    pub namespace: String,
    pub localizer: Localizer,
    pub input: CameraInput,
}

struct CameraState {
    cam: WorkerCamera,
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
    detector: D,
    device: String,
    cameras: Vec<CameraState>,
    thresholds: BTreeMap<Class, f32>,
    debug_image: bool,
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
    pub fn new(
        detector: D,
        cameras: Vec<WorkerCamera>,
        thresholds: BTreeMap<Class, f32>,
        debug_image: bool,
    ) -> Self {
        let device = detector.device_name();
        let cameras = cameras
            .into_iter()
            .map(|cam| CameraState {
                cam,
                stats: Arc::default(),
                warn: Throttle::new(Duration::from_secs(5)),
            })
            .collect();
        Worker {
            detector,
            device,
            cameras,
            thresholds,
            debug_image,
        }
    }

    /// A handle on this worker's statistics, for diagnostics from another thread.
    pub fn reporter(&self) -> Reporter {
        Reporter {
            device: self.device.clone(),
            cameras: self
                .cameras
                .iter()
                .map(|c| {
                    (
                        c.cam.namespace.clone(),
                        c.stats.clone(),
                        c.cam.input.counters.clone(),
                    )
                })
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
    /// camera that has one. Returns how many frames it processed.
    pub fn step(&mut self, sink: &mut dyn Sink, timeout: Duration) -> usize {
        let mut select = Select::new();
        for c in &self.cameras {
            select.recv(c.cam.input.slot.receiver());
        }
        if self.cameras.is_empty() || select.ready_timeout(timeout).is_err() {
            return 0;
        }
        let batch: Vec<Frame> = self
            .cameras
            .iter()
            .filter_map(|c| c.cam.input.slot.take())
            .collect();
        self.process(&batch, sink);
        batch.len()
    }

    /// Decodes and checks the frames (dropping bad ones), runs the good ones through
    /// the device as one batch, then localizes and publishes each.
    fn process(&mut self, frames: &[Frame], sink: &mut dyn Sink) {
        let t0 = Instant::now();
        let mut pixels = Vec::new();
        for frame in frames {
            match frame.pixels() {
                Ok(p) => pixels.push((frame, p)),
                Err(bad) => self.drop_frame(frame, Failure::Bad(bad)),
            }
        }
        let mut batch = Vec::new();
        let mut views = Vec::new();
        for (frame, p) in &pixels {
            match p.view() {
                Ok(view) => {
                    batch.push(*frame);
                    views.push(view);
                }
                Err(e) => self.drop_frame(frame, Failure::Detect(e.to_string())),
            }
        }
        let decoded = t0.elapsed();
        if views.is_empty() {
            return;
        }
        let (detections, times) = match self.detector.detect_batch(&views) {
            Ok(r) => r,
            Err(e) => {
                let e = e.to_string();
                for frame in batch {
                    self.drop_frame(frame, Failure::Detect(e.clone()));
                }
                return;
            }
        };
        for ((frame, view), detections) in batch.into_iter().zip(&views).zip(detections) {
            let debug = self.debug_image.then(|| annotate::to_rgb(view));
            let size = (view.width(), view.height());
            let timing = (decoded, times);
            self.publish(frame, size, detections, timing, debug, sink);
        }
    }

    /// Counts and (throttled) logs a frame that could not be processed.
    fn drop_frame(&mut self, frame: &Frame, failure: Failure) {
        let Some(state) = self.cameras.get_mut(frame.camera) else {
            return;
        };
        lock(&state.stats).bad_inputs += u64::from(matches!(failure, Failure::Bad(_)));
        if let Some(suppressed) = state.warn.allow(Instant::now()) {
            tracing::warn!(
                camera = %state.cam.namespace,
                suppressed,
                "frame {}.{:09} dropped: {}",
                frame.stamp.sec,
                frame.stamp.nanosec,
                failure
            );
        }
    }

    /// Filters by class threshold, localizes, publishes, and records the frame's times.
    fn publish(
        &mut self,
        frame: &Frame,
        (width, height): (u32, u32),
        detections: Vec<Detection>,
        (decoded, times): (Duration, StageTimes),
        debug: Option<RgbImage>,
        sink: &mut dyn Sink,
    ) {
        let Some(state) = self.cameras.get_mut(frame.camera) else {
            return;
        };
        let t_loc = Instant::now();
        let calibration = state.cam.localizer.calibration().camera();
        let calibrated = (calibration.width(), calibration.height()) == (width, height);
        if !calibrated {
            lock(&state.stats).calibration_mismatches += 1;
            if let Some(suppressed) = state.warn.allow(Instant::now()) {
                tracing::warn!(
                    camera = %state.cam.namespace,
                    suppressed,
                    "image is {width}x{height}, its calibration {}x{}: no 3D positions",
                    calibration.width(),
                    calibration.height()
                );
            }
        }
        let mut objects = Vec::new();
        for detection in detections {
            if detection.score
                < self
                    .thresholds
                    .get(&detection.class)
                    .copied()
                    .unwrap_or(0.0)
            {
                continue;
            }
            let localization = if calibrated {
                let bbox = detection.bbox.map(f64::from);
                match state
                    .cam
                    .localizer
                    .localize(target_kind(detection.class), bbox)
                {
                    Ok(loc) => Some(loc),
                    Err(e) => {
                        lock(&state.stats).localize_failures += 1;
                        tracing::debug!(
                            camera = %state.cam.namespace,
                            "not localized: {}",
                            crate::with_causes(&e)
                        );
                        None
                    }
                }
            } else {
                None
            };
            objects.push(Object {
                detection,
                localization,
            });
        }
        let localize = t_loc.elapsed();
        let debug_image = debug.map(|mut img| {
            annotate::draw_boxes(&mut img, &objects);
            img
        });
        let output = CameraOutput {
            camera: frame.camera,
            stamp: frame.stamp,
            frame_id: &frame.frame_id,
            objects,
            debug_image,
        };
        sink.publish(&output);

        let mut stats = lock(&state.stats);
        stats.processed += 1;
        for (stage, d) in [
            ("decode", decoded),
            ("upload", times.upload),
            ("preprocess", times.preprocess),
            ("inference", times.inference),
            ("postprocess", times.postprocess),
            ("localize", localize),
            ("node", frame.received.elapsed()),
        ] {
            stats.record(stage, d);
        }
        if let Some(age) = stamp_age(frame.stamp) {
            stats.record("stamp_age", age);
        }
    }
}

enum Failure {
    Bad(BadFrame),
    /// The detector's error, as text: one device error fails every frame of its batch.
    Detect(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Bad(e) => write!(f, "{e}"),
            Failure::Detect(e) => write!(f, "detector: {e}"),
        }
    }
}

fn target_kind(class: Class) -> TargetKind {
    match class {
        Class::Pedestrian => TargetKind::Pedestrian,
        Class::StopSign => TargetKind::StopSign,
        Class::TrafficLight => TargetKind::TrafficLight,
    }
}

/// Wall-clock time since the image's stamp (camera drivers stamp with system time);
/// `None` for stamps in the future or simulated time.
fn stamp_age(stamp: Stamp) -> Option<Duration> {
    let stamped = Duration::new(u64::try_from(stamp.sec).ok()?, stamp.nanosec);
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .checked_sub(stamped)
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
