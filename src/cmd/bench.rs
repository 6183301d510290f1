//! `sightline bench`: per-stage latency, throughput, fixed-rate behaviour and the peak
//! sustainable rate of the whole frame path (image bytes → localized detections), with
//! onnxruntime and tract measured on the same images in the same run (`--peers`).
//! With `--ros` it measures a running `sightline node` instead, from image stamp to
//! detections received.

use crate::cmd::detect::{collect_images, load_image, DetectorArgs};
use crate::cmd::localize;
use anyhow::Context;
use serde::Serialize;
use sightline_detect::{Detector, ImageView, PixelFormat};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// Directory of images (cycled if fewer than --frames).
    #[arg(long)]
    pub input: PathBuf,
    /// Frames measured per phase (after 3 warm-up frames).
    #[arg(long, default_value_t = 50)]
    pub frames: usize,
    /// Cameras publishing at --rate in the fixed-rate phase.
    #[arg(long, default_value_t = 1)]
    pub cameras: usize,
    /// Per-camera frame rate (Hz) of the fixed-rate phase; default: skip it.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Camera calibration, to include localization in the frame path.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Also measure onnxruntime (CPU, same images, same thread count) via the Python venv.
    #[arg(long)]
    pub peers: bool,
    /// Write all results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the latency histogram (SVG) here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Measure a running `sightline node` instead: publish the images (rgb8) on
    /// `<--ros-camera>/image_raw` at --rate (default 10 Hz) and time image stamp →
    /// Detection2DArray received (needs a build with --features ros).
    #[arg(long)]
    pub ros: bool,
    /// The node's camera namespace, with --ros.
    #[arg(long, default_value = "/camera/front", requires = "ros")]
    pub ros_camera: String,
}

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
    fn of(samples: &[Duration]) -> Stats {
        if samples.is_empty() {
            return Stats::default();
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        // Nearest-rank percentiles: every reported value is a measured one.
        let at = |q: f64| ms[((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
        Stats {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: ms[ms.len() - 1],
            mean: ms.iter().sum::<f64>() / ms.len() as f64,
        }
    }
}

#[derive(Serialize)]
struct FixedRate {
    cameras: usize,
    rate_hz: f64,
    offered: usize,
    processed: usize,
    dropped: usize,
    dropped_fraction: f64,
    latency_ms: Stats,
}

#[derive(Serialize)]
struct Report {
    device: String,
    model: String,
    image_size: [u32; 2],
    frames: usize,
    startup_ms: f64,
    stages_ms: Vec<(String, Stats)>,
    throughput_fps: f64,
    peak_memory_mb: Option<f64>,
    fixed_rate: Option<FixedRate>,
    peak_rate_hz: Option<f64>,
    per_op: Vec<OpTime>,
    peers: Option<serde_json::Value>,
}

/// Model time by op type (median of 3 synced runs), with conv GFLOP/s.
#[derive(Serialize)]
struct OpTime {
    op_type: &'static str,
    launches: usize,
    ms: f64,
    gflops: Option<f64>,
}

fn per_op(detector: &Detector) -> anyhow::Result<Vec<OpTime>> {
    let runs: Vec<Vec<sightline_engine::StepTiming>> = (0..3)
        .map(|_| detector.model().run_timed())
        .collect::<Result<_, _>>()?;
    let mut by_type: Vec<OpTime> = Vec::new();
    for (i, step) in runs[0].iter().enumerate() {
        let mut ms: Vec<f64> = runs
            .iter()
            .map(|r| r[i].duration.as_secs_f64() * 1e3)
            .collect();
        ms.sort_by(f64::total_cmp);
        let entry = match by_type.iter_mut().position(|o| o.op_type == step.op_type) {
            Some(k) => &mut by_type[k],
            None => {
                by_type.push(OpTime {
                    op_type: step.op_type,
                    launches: 0,
                    ms: 0.0,
                    gflops: None,
                });
                by_type.last_mut().expect("just pushed")
            }
        };
        entry.launches += 1;
        entry.ms += ms[1];
        if step.flops > 0.0 {
            *entry.gflops.get_or_insert(0.0) += step.flops;
        }
    }
    for o in &mut by_type {
        o.gflops = o.gflops.map(|flops| flops / (o.ms * 1e-3) / 1e9);
    }
    by_type.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    Ok(by_type)
}

struct Frame {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Frame {
    fn view(&self) -> anyhow::Result<ImageView<'_>> {
        Ok(ImageView::new(
            self.width,
            self.height,
            self.width as usize * 3,
            PixelFormat::Rgb8,
            &self.rgb,
        )?)
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.frames > 0, "--frames must be positive");
    let files = collect_images(std::slice::from_ref(&args.input))?;
    let frames: Vec<Frame> = files
        .iter()
        .take(args.frames)
        .map(|p| {
            let rgb = load_image(p)?.to_rgb8();
            Ok(Frame {
                width: rgb.width(),
                height: rgb.height(),
                rgb: rgb.into_raw(),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    if args.ros {
        return run_ros(&args, frames);
    }
    let localizer = args
        .calibration
        .as_deref()
        .map(localize::load)
        .transpose()?;
    let mut detector = args.detector.build(None)?;
    eprintln!(
        "device: {}  startup: {:.0} ms",
        detector.gpu().name(),
        detector.startup_time().as_secs_f64() * 1e3
    );
    let frame = |i: usize| &frames[i % frames.len()];
    for i in 0..3 {
        detector.detect(&frame(i).view()?)?;
    }

    // Per-stage latency, with a device sync after each stage.
    let names = [
        "upload",
        "preprocess",
        "inference",
        "postprocess",
        "localization",
        "total",
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    for i in 0..args.frames {
        let start = Instant::now();
        let (dets, t) = detector.detect_timed(&frame(i).view()?, true)?;
        let loc_start = Instant::now();
        localize_all(localizer.as_ref(), &dets);
        let localization = loc_start.elapsed();
        for (k, d) in [
            t.upload,
            t.preprocess,
            t.inference,
            t.postprocess,
            localization,
            start.elapsed(),
        ]
        .into_iter()
        .enumerate()
        {
            samples[k].push(d);
        }
    }
    let stages: Vec<(String, Stats)> = names
        .iter()
        .zip(&samples)
        .map(|(n, s)| (n.to_string(), Stats::of(s)))
        .collect();
    let ops = per_op(&detector)?;

    // Throughput: frames back to back, no per-stage syncs.
    let start = Instant::now();
    for i in 0..args.frames {
        let dets = detector.detect(&frame(i).view()?)?;
        localize_all(localizer.as_ref(), &dets);
    }
    let throughput = args.frames as f64 / start.elapsed().as_secs_f64();

    let fixed_rate = match args.rate {
        Some(rate) => Some(fixed_rate(
            &mut detector,
            &frames,
            args.cameras,
            rate,
            args.frames,
        )?),
        None => None,
    };
    let peak_rate = peak_rate(
        &mut detector,
        &frames,
        args.cameras,
        throughput,
        args.frames.min(30),
    )?;
    let peers = if args.peers {
        Some(run_peers(&files, args.frames, &args.detector)?)
    } else {
        None
    };

    let report = Report {
        device: detector.gpu().name().to_string(),
        model: detector.model_path().display().to_string(),
        image_size: [frames[0].width, frames[0].height],
        frames: args.frames,
        startup_ms: detector.startup_time().as_secs_f64() * 1e3,
        stages_ms: stages,
        throughput_fps: throughput,
        peak_memory_mb: peak_memory_mb(),
        fixed_rate,
        peak_rate_hz: peak_rate,
        per_op: ops,
        peers,
    };
    print_report(&report);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        crate::cmd::bench_plot::histogram(path, &samples[names.len() - 1])?;
    }
    Ok(())
}

#[derive(Serialize)]
struct RosReport {
    camera: String,
    image_size: [u32; 2],
    rate_hz: f64,
    sent: usize,
    answered: usize,
    /// Frames the node skipped (latest frame wins) or whose answer did not come.
    unanswered_fraction: f64,
    answers_per_s: f64,
    latency_ms: Stats,
}

/// `--ros`: the node's latency as a subscriber sees it.
fn run_ros(args: &Args, frames: Vec<Frame>) -> anyhow::Result<()> {
    let rate_hz = args.rate.unwrap_or(10.0);
    anyhow::ensure!(rate_hz > 0.0, "--rate must be positive");
    let image_size = [frames[0].width, frames[0].height];
    let bench = sightline_ros::NodeBench {
        camera: args.ros_camera.clone(),
        frames: frames
            .into_iter()
            .map(|f| sightline_ros::RgbFrame {
                width: f.width,
                height: f.height,
                rgb: f.rgb,
            })
            .collect(),
        count: args.frames,
        rate_hz,
        timeout: Duration::from_secs(10),
    };
    let result = sightline_ros::bench_node(&bench)?;
    let report = RosReport {
        camera: bench.camera,
        image_size,
        rate_hz,
        sent: result.sent,
        answered: result.latencies.len(),
        unanswered_fraction: 1.0 - result.latencies.len() as f64 / result.sent.max(1) as f64,
        answers_per_s: result.latencies.len() as f64 / result.duration.as_secs_f64().max(1e-9),
        latency_ms: Stats::of(&result.latencies),
    };
    let l = &report.latency_ms;
    println!(
        "node {}: {} of {} frames ({}x{} rgb8 at {:.1} Hz) answered, {:.2} answers/s",
        report.camera,
        report.answered,
        report.sent,
        image_size[0],
        image_size[1],
        rate_hz,
        report.answers_per_s
    );
    println!(
        "image stamp → detections received (ms): p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        l.p50, l.p90, l.p99, l.max
    );
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        crate::cmd::bench_plot::histogram(path, &result.latencies)?;
    }
    Ok(())
}

/// The localization stage of the frame path (results are only timed).
fn localize_all(
    localizer: Option<&sightline_geometry::Localizer>,
    dets: &[sightline_detect::Detection],
) {
    if let Some(l) = localizer {
        for d in dets {
            std::hint::black_box(localize::locate(l, d));
        }
    }
}

/// Cameras emit frames at `rate` Hz into latest-frame-wins slots; the detector takes
/// the newest frame of each ready camera, all in one batch. A frame overwritten before it was taken is
/// dropped, as in the ROS node.
fn fixed_rate(
    detector: &mut Detector,
    frames: &[Frame],
    cameras: usize,
    rate: f64,
    per_camera: usize,
) -> anyhow::Result<FixedRate> {
    anyhow::ensure!(
        rate > 0.0 && cameras > 0,
        "--rate and --cameras must be positive"
    );
    type Slot = Arc<Mutex<Option<(usize, Instant)>>>;
    let slots: Vec<Slot> = (0..cameras).map(|_| Arc::new(Mutex::new(None))).collect();
    let dropped = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let period = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let producers: Vec<_> = slots
        .iter()
        .enumerate()
        .map(|(cam, slot)| {
            let (slot, dropped) = (slot.clone(), dropped.clone());
            std::thread::spawn(move || {
                // Cameras are staggered within a period, as real sensors are.
                let offset = period.mul_f64(cam as f64 / cameras as f64);
                for i in 0..per_camera {
                    let due = start + offset + period.mul_f64(i as f64);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
                    if s.replace((i, Instant::now())).is_some() {
                        dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    loop {
        let ready: Vec<(usize, Instant)> = slots
            .iter()
            .filter_map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).take())
            .collect();
        if ready.is_empty() {
            if producers.iter().all(|p| p.is_finished())
                && slots
                    .iter()
                    .all(|s| s.lock().map(|s| s.is_none()).unwrap_or(true))
            {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        // The newest frame of every ready camera in one device batch, as the node does.
        let views: Vec<ImageView> = ready
            .iter()
            .map(|&(i, _)| frames[i % frames.len()].view())
            .collect::<anyhow::Result<_>>()?;
        detector.detect_batch(&views)?;
        latencies.extend(ready.iter().map(|(_, stamp)| stamp.elapsed()));
    }
    for p in producers {
        let _ = p.join();
    }
    let offered = cameras * per_camera;
    let dropped = dropped.load(std::sync::atomic::Ordering::Relaxed);
    Ok(FixedRate {
        cameras,
        rate_hz: rate,
        offered,
        processed: latencies.len(),
        dropped,
        dropped_fraction: dropped as f64 / offered as f64,
        latency_ms: Stats::of(&latencies),
    })
}

/// Highest per-camera rate with < 5 % dropped frames, by bisection between half and
/// twice the measured back-to-back throughput (as ros2_benchmark's peak search).
fn peak_rate(
    detector: &mut Detector,
    frames: &[Frame],
    cameras: usize,
    throughput: f64,
    per_camera: usize,
) -> anyhow::Result<Option<f64>> {
    let per_camera_fps = throughput / cameras as f64;
    let (mut lo, mut hi) = (per_camera_fps * 0.5, per_camera_fps * 2.0);
    let mut best = None;
    for _ in 0..5 {
        let mid = (lo + hi) / 2.0;
        let r = fixed_rate(detector, frames, cameras, mid, per_camera.max(10))?;
        if r.dropped_fraction < 0.05 {
            best = Some(mid);
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(best)
}

fn run_peers(
    files: &[PathBuf],
    frames: usize,
    detector: &DetectorArgs,
) -> anyhow::Result<serde_json::Value> {
    let python = std::env::var_os("SIGHTLINE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".venv/bin/python"));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_peers.py");
    let model =
        sightline_detect::Manifest::default_model().locate_weights(detector.model.as_deref())?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut cmd = std::process::Command::new(&python);
    cmd.arg(&script)
        .arg("--model")
        .arg(&model)
        .arg("--frames")
        .arg(frames.to_string())
        .arg("--threads")
        .arg(threads.to_string());
    cmd.args(files.iter().take(frames));
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {} (run scripts/setup.sh)", python.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "peer benchmark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).context("peer benchmark output")
}

fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn print_report(r: &Report) {
    println!(
        "device {}, {} frames of {}x{}, startup {:.0} ms",
        r.device, r.frames, r.image_size[0], r.image_size[1], r.startup_ms
    );
    println!(
        "{:<13} {:>9} {:>9} {:>9} {:>9}",
        "stage (ms)", "p50", "p90", "p99", "max"
    );
    for (name, s) in &r.stages_ms {
        println!(
            "{name:<13} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            s.p50, s.p90, s.p99, s.max
        );
    }
    println!("throughput    {:.2} frames/s", r.throughput_fps);
    println!("model time by op type (synced after each launch):");
    for o in &r.per_op {
        let gflops = o
            .gflops
            .map(|g| format!("{g:.2} GFLOP/s"))
            .unwrap_or_default();
        println!(
            "  {:<10} {:>4} launches {:>9.2} ms  {gflops}",
            o.op_type, o.launches, o.ms
        );
    }
    if let Some(mb) = r.peak_memory_mb {
        println!("peak memory   {mb:.0} MB (process RSS high-water mark)");
    }
    if let Some(f) = &r.fixed_rate {
        println!(
            "fixed rate    {} camera(s) × {:.1} Hz: {} of {} frames dropped ({:.1} %), latency p50 {:.1} ms p99 {:.1} ms",
            f.cameras, f.rate_hz, f.dropped, f.offered, 100.0 * f.dropped_fraction, f.latency_ms.p50, f.latency_ms.p99
        );
    }
    match r.peak_rate_hz {
        Some(hz) => println!("peak rate     {hz:.2} Hz per camera with < 5 % dropped"),
        None => println!("peak rate     none of the tried rates kept drops under 5 %"),
    }
    if let Some(p) = &r.peers {
        let ours = r
            .stages_ms
            .iter()
            .find(|(n, _)| n == "total")
            .map(|(_, s)| s.p50)
            .unwrap_or(f64::NAN);
        println!("peers, whole frame p50 (same images, same run):");
        println!("  sightline    {ours:>9.1} ms");
        for (name, peer) in p.as_object().into_iter().flatten() {
            let Some(theirs) = peer.pointer("/total_ms/p50").and_then(|v| v.as_f64()) else {
                continue;
            };
            let threads = peer.get("threads").and_then(|v| v.as_u64()).unwrap_or(0);
            println!(
                "  {name:<12} {theirs:>9.1} ms  ({threads} thread(s))  sightline/{name} = {:.2}×",
                ours / theirs
            );
        }
    }
}
