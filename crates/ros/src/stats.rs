//! Counters and latency percentiles behind the node's `/diagnostics`.
//!
//! The subscription side only bumps two atomics and feeds the image stamps to a
//! [`LossEstimator`] ([`InputCounters`]); everything else is owned by the worker
//! thread ([`CameraStats`]) and turned into a neutral [`Status`] once per second,
//! which the ROS glue maps to `diagnostic_msgs`.

use sightline_perception::Stamp;
use sightline_types::LightState;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Counted where messages arrive (the spin thread), read by the worker.
#[derive(Debug, Default)]
pub struct InputCounters {
    pub received: AtomicU64,
    /// Frames replaced in the latest-frame slot before the worker took them.
    pub displaced: AtomicU64,
    /// Frames lost before they reached the node, from the gaps in the stamps.
    pub lost: Mutex<LossEstimator>,
}

impl InputCounters {
    /// Counts one arriving frame.
    pub fn arrived(&self, stamp: Stamp) {
        self.received.fetch_add(1, Ordering::Relaxed);
        self.loss().observe(stamp);
    }

    fn loss(&self) -> MutexGuard<'_, LossEstimator> {
        // plain counters: a panic elsewhere leaves nothing worth refusing to read
        self.lost.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Estimates how many frames of a camera were lost before they reached the node
/// (in DDS, or never sent) from the gaps between the stamps of the frames that
/// arrived. A camera's period is regular, so the shortest of the last
/// [`LossEstimator::WINDOW`] gaps is taken as its period, and a gap of about `k`
/// periods (rounded) means `k - 1` frames missing. Gaps are judged when they occur,
/// against the period known then; stamps that repeat or go back (a restarted
/// driver, a bag looping) and gaps over [`LossEstimator::MAX_GAP`] periods (a
/// paused stream) count nothing. Meaningless for a source with irregular stamps.
#[derive(Debug, Default, Clone)]
pub struct LossEstimator {
    last_ns: Option<i64>,
    gaps_ns: VecDeque<i64>,
    lost: u64,
}

impl LossEstimator {
    pub const WINDOW: usize = 64;
    pub const MAX_GAP: i64 = 100;

    pub fn observe(&mut self, stamp: Stamp) {
        let t = i64::from(stamp.sec) * 1_000_000_000 + i64::from(stamp.nanosec);
        let Some(last) = self.last_ns.replace(t) else {
            return;
        };
        let gap = t - last;
        if gap <= 0 {
            return;
        }
        if self.gaps_ns.len() == Self::WINDOW {
            self.gaps_ns.pop_front();
        }
        self.gaps_ns.push_back(gap);
        let period = self.gaps_ns.iter().copied().min().unwrap_or(gap);
        // nearest whole number of periods, in integers
        let periods = (gap + period / 2) / period;
        if (2..=Self::MAX_GAP).contains(&periods) {
            self.lost += (periods - 1) as u64;
        }
    }

    /// Frames estimated lost so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// The camera period estimated from the stamps (after two frames).
    pub fn period(&self) -> Option<Duration> {
        let ns = self.gaps_ns.iter().copied().min()?;
        Some(Duration::from_nanos(ns as u64))
    }
}

/// The last `capacity` samples of one latency.
#[derive(Debug, Clone)]
pub struct LatencyWindow {
    samples: VecDeque<Duration>,
    capacity: usize,
}

impl LatencyWindow {
    pub fn new(capacity: usize) -> Self {
        LatencyWindow {
            samples: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    pub fn push(&mut self, sample: Duration) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// Nearest-rank percentile (`p` in 0..=100) of the window.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted: Vec<Duration> = self.samples.iter().copied().collect();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        Some(sorted[rank.clamp(1, sorted.len()) - 1])
    }
}

/// Latency stages reported per camera, in report order.
pub const STAGES: [&str; 9] = [
    "decode",
    "upload",
    "preprocess",
    "inference",
    "postprocess",
    "state",
    "localize",
    "node",
    "stamp_age",
];

/// What the worker knows about one camera.
#[derive(Debug, Clone)]
pub struct CameraStats {
    pub processed: u64,
    pub bad_inputs: u64,
    pub localize_failures: u64,
    /// Frames whose size differs from the calibration's (no 3D positions for them).
    pub calibration_mismatches: u64,
    /// Published traffic lights per state, in `LightState::ALL` order.
    pub light_states: [u64; 4],
    pub latency: Vec<LatencyWindow>,
    last_processed: u64,
    last_lost: u64,
}

impl Default for CameraStats {
    fn default() -> Self {
        CameraStats {
            processed: 0,
            bad_inputs: 0,
            localize_failures: 0,
            calibration_mismatches: 0,
            light_states: [0; 4],
            latency: STAGES.iter().map(|_| LatencyWindow::new(512)).collect(),
            last_processed: 0,
            last_lost: 0,
        }
    }
}

impl CameraStats {
    /// Records one sample of stage `STAGES[stage]`.
    pub fn record(&mut self, stage: &str, sample: Duration) {
        if let Some(i) = STAGES.iter().position(|s| *s == stage) {
            self.latency[i].push(sample);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
}

/// One diagnostic status (maps to `diagnostic_msgs/DiagnosticStatus`).
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub level: Level,
    pub name: String,
    pub message: String,
    pub hardware_id: String,
    pub values: Vec<(String, String)>,
}

/// Builds the status of one camera for the period since the previous call.
pub fn camera_status(
    namespace: &str,
    device: &str,
    stats: &mut CameraStats,
    inputs: &InputCounters,
    period: Duration,
) -> Status {
    let received = inputs.received.load(Ordering::Relaxed);
    let displaced = inputs.displaced.load(Ordering::Relaxed);
    let fps = (stats.processed - stats.last_processed) as f64 / period.as_secs_f64().max(1e-3);
    stats.last_processed = stats.processed;
    let (lost, period) = {
        let loss = inputs.loss();
        (loss.lost(), loss.period())
    };
    let newly_lost = lost.saturating_sub(std::mem::replace(&mut stats.last_lost, lost));
    let mut values = vec![
        ("fps".to_string(), format!("{fps:.1}")),
        ("frames_received".to_string(), received.to_string()),
        ("frames_processed".to_string(), stats.processed.to_string()),
        ("dropped_frames".to_string(), displaced.to_string()),
        ("frames_lost_estimate".to_string(), lost.to_string()),
        (
            "camera_period_ms".to_string(),
            period.map_or("n/a".into(), |p| format!("{:.1}", p.as_secs_f64() * 1e3)),
        ),
        ("bad_inputs".to_string(), stats.bad_inputs.to_string()),
        (
            "localize_failures".to_string(),
            stats.localize_failures.to_string(),
        ),
        (
            "calibration_mismatches".to_string(),
            stats.calibration_mismatches.to_string(),
        ),
        ("device".to_string(), device.to_string()),
    ];
    for (state, n) in LightState::ALL.iter().zip(stats.light_states) {
        values.push((format!("traffic_lights.{state}"), n.to_string()));
    }
    for (stage, window) in STAGES.iter().zip(&stats.latency) {
        for p in [50.0, 99.0] {
            let ms = window
                .percentile(p)
                .map(|d| format!("{:.2}", d.as_secs_f64() * 1e3));
            values.push((
                format!("latency_ms.{stage}.p{p}"),
                ms.unwrap_or_else(|| "n/a".into()),
            ));
        }
    }
    let (level, message) = if stats.processed == 0 {
        (Level::Warn, "no frame processed yet".to_string())
    } else if newly_lost > 0 {
        // only new losses warn: one lost frame an hour ago is no state to report
        (
            Level::Warn,
            format!("{fps:.1} fps; {newly_lost} frames lost before the node (estimated)"),
        )
    } else if stats.bad_inputs > 0 || stats.calibration_mismatches > 0 {
        (
            Level::Warn,
            format!(
                "{fps:.1} fps; {} bad inputs, {} calibration mismatches",
                stats.bad_inputs, stats.calibration_mismatches
            ),
        )
    } else {
        (Level::Ok, format!("{fps:.1} fps"))
    };
    Status {
        level,
        name: format!("sightline: {namespace}"),
        message,
        hardware_id: device.to_string(),
        values,
    }
}

/// Rate limiter for repeated warnings (one per `every`, counting the suppressed ones).
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    pub fn new(every: Duration) -> Self {
        Throttle {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(n)` when a message may be logged now, `n` being how many were suppressed.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn percentiles_match_a_sorted_reference() {
        let mut w = LatencyWindow::new(1000);
        assert_eq!(w.percentile(50.0), None);
        // 1..=100 ms shuffled deterministically
        for i in 0..100u64 {
            w.push(ms((i * 37) % 100 + 1));
        }
        assert_eq!(w.percentile(50.0), Some(ms(50)));
        assert_eq!(w.percentile(99.0), Some(ms(99)));
        assert_eq!(w.percentile(100.0), Some(ms(100)));
        assert_eq!(w.percentile(0.0), Some(ms(1)));
    }

    #[test]
    fn window_forgets_old_samples() {
        let mut w = LatencyWindow::new(3);
        for v in [100, 100, 100, 1, 2, 3] {
            w.push(ms(v));
        }
        assert_eq!(w.percentile(100.0), Some(ms(3)));
    }

    #[test]
    fn status_reports_rates_and_counts() {
        let mut stats = CameraStats::default();
        let inputs = InputCounters::default();
        let s = camera_status("/cam", "cpu", &mut stats, &inputs, Duration::from_secs(1));
        assert_eq!(s.level, Level::Warn);
        inputs.received.store(30, Ordering::Relaxed);
        inputs.displaced.store(10, Ordering::Relaxed);
        stats.processed = 20;
        stats.record("inference", ms(8));
        stats.record("inference", ms(12));
        stats.light_states[LightState::Red.index()] = 2;
        stats.light_states[LightState::Green.index()] = 1;
        let s = camera_status("/cam", "cpu", &mut stats, &inputs, Duration::from_secs(2));
        let get = |k: &str| {
            s.values
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(s.level, Level::Ok);
        assert_eq!(get("fps"), "10.0");
        assert_eq!(get("dropped_frames"), "10");
        assert_eq!(get("latency_ms.inference.p50"), "8.00");
        assert_eq!(get("latency_ms.inference.p99"), "12.00");
        assert_eq!(get("latency_ms.upload.p50"), "n/a");
        assert_eq!(get("traffic_lights.red"), "2");
        assert_eq!(get("traffic_lights.yellow"), "0");
        assert_eq!(get("traffic_lights.green"), "1");
        assert_eq!(get("traffic_lights.unknown"), "0");
        // the next period counts only new frames
        let s = camera_status("/cam", "cpu", &mut stats, &inputs, Duration::from_secs(1));
        assert_eq!(s.values[0].1, "0.0");
    }

    fn at(ms: i64) -> Stamp {
        Stamp {
            sec: (ms / 1000) as i32,
            nanosec: (ms % 1000) as u32 * 1_000_000,
        }
    }

    fn lost_after(stamps_ms: &[i64]) -> (u64, Option<Duration>) {
        let mut e = LossEstimator::default();
        for &t in stamps_ms {
            e.observe(at(t));
        }
        (e.lost(), e.period())
    }

    #[test]
    fn loss_estimator_counts_missing_periods() {
        assert_eq!(lost_after(&[]), (0, None));
        assert_eq!(lost_after(&[5000]), (0, None));
        // 10 Hz, every frame
        let all: Vec<i64> = (0..20).map(|i| 1000 + i * 100).collect();
        assert_eq!(lost_after(&all), (0, Some(ms(100))));
        // frames 5, 9, 10 and 11 missing
        let some: Vec<i64> = all
            .iter()
            .copied()
            .enumerate()
            .filter(|(i, _)| ![5, 9, 10, 11].contains(i))
            .map(|(_, t)| t)
            .collect();
        assert_eq!(lost_after(&some).0, 4);
        // jitter of a fifth of the period is no loss; a gap of 2.2 periods is one
        assert_eq!(lost_after(&[0, 100, 220, 300, 390, 500]).0, 0);
        assert_eq!(lost_after(&[0, 100, 200, 420, 500]).0, 1);
    }

    #[test]
    fn loss_estimator_ignores_restarts_and_pauses() {
        // stamps back to the start (a looping bag), repeated stamps, a long pause
        assert_eq!(lost_after(&[0, 100, 200, 0, 100, 100, 200]).0, 0);
        assert_eq!(lost_after(&[0, 100, 200, 200 + 101 * 100, 10_400]).0, 0);
        // the period is learnt from the window: a loss before it is known counts less
        assert_eq!(lost_after(&[0, 300, 400, 500]).0, 0);
        assert_eq!(lost_after(&[0, 300, 400, 500, 800]).0, 2);
    }

    #[test]
    fn status_warns_on_new_losses_only() {
        let mut stats = CameraStats {
            processed: 1,
            ..Default::default()
        };
        let inputs = InputCounters::default();
        for t in [0, 100, 400] {
            inputs.arrived(at(t));
        }
        let s = camera_status("/cam", "cpu", &mut stats, &inputs, Duration::from_secs(1));
        let get =
            |s: &Status, k: &str| s.values.iter().find(|(key, _)| key == k).unwrap().1.clone();
        assert_eq!(get(&s, "frames_received"), "3");
        assert_eq!(get(&s, "frames_lost_estimate"), "2");
        assert_eq!(get(&s, "camera_period_ms"), "100.0");
        assert_eq!(s.level, Level::Warn);
        assert!(s.message.contains("2 frames lost"), "{}", s.message);
        inputs.arrived(at(500));
        let s = camera_status("/cam", "cpu", &mut stats, &inputs, Duration::from_secs(1));
        assert_eq!(get(&s, "frames_lost_estimate"), "2");
        assert_eq!(s.level, Level::Ok);
    }

    #[test]
    fn throttle_counts_suppressed() {
        let mut t = Throttle::new(Duration::from_secs(5));
        let t0 = Instant::now();
        assert_eq!(t.allow(t0), Some(0));
        assert_eq!(t.allow(t0 + ms(10)), None);
        assert_eq!(t.allow(t0 + ms(20)), None);
        assert_eq!(t.allow(t0 + Duration::from_secs(6)), Some(2));
    }
}
