//! `sightline bench`: per-stage latency, throughput, fixed-rate behaviour and the peak
//! sustainable rate of the node's frame path (image bytes → localized detections, the
//! code `sightline node` runs), with onnxruntime and tract measured on the same images
//! in the same run (`--peers`). With `--ros` it measures a running `sightline node`
//! instead, from image stamp to detections received.

use crate::cmd::bench_measure::{self as measure, Stats, STAGES};
use crate::cmd::bench_plot;
use crate::cmd::bench_report::{self as report, Report};
use crate::cmd::setup::{self, CameraArgs, DetectorArgs};
use anyhow::Context;
use serde::Serialize;
use sightline_perception::{Frame, Payload};
use std::path::PathBuf;
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
    /// The camera: with --calibration, localization is part of the frame path.
    #[command(flatten)]
    pub camera: CameraArgs,
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

/// The raw rgb8 pixels of a decoded frame.
fn rgb(f: Frame) -> Option<sightline_ros::RgbFrame> {
    match f.payload {
        Payload::Raw {
            width,
            height,
            data,
            ..
        } => Some(sightline_ros::RgbFrame {
            width,
            height,
            rgb: data,
        }),
        Payload::Encoded { .. } => None,
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.frames > 0, "--frames must be positive");
    let files = setup::collect_images(std::slice::from_ref(&args.input))?;
    // Decoded up front: the node's frames arrive as raw pixels.
    let frames: Vec<Frame> = files
        .iter()
        .take(args.frames)
        .map(|p| Ok(setup::image_frame(p)?.decoded()?))
        .collect::<anyhow::Result<_>>()?;
    if args.ros {
        return run_ros(&args, frames);
    }
    let camera = args
        .camera
        .camera(&args.detector, "/bench/cam0", false, None)?;
    let mut pipeline = setup::pipeline(&args.detector, vec![camera.clone()])?;
    let (device, model, startup) = {
        let d = pipeline.detector();
        (
            d.gpu().name().to_string(),
            d.model_path().display().to_string(),
            d.startup_time(),
        )
    };
    eprintln!(
        "device: {device}  startup: {:.0} ms",
        startup.as_secs_f64() * 1e3
    );
    measure::stages(&mut pipeline, &frames, 3)?; // warm-up
    let (samples, passes_per_frame) = measure::stages(&mut pipeline, &frames, args.frames)?;
    let stages_ms = STAGES
        .iter()
        .zip(&samples)
        .map(|(n, s)| (n.to_string(), Stats::of(s)))
        .collect();
    let per_op = report::per_op(pipeline.detector())?;
    // Throughput: frames back to back, exactly as one camera's worker runs them.
    let start = Instant::now();
    measure::stages(&mut pipeline, &frames, args.frames)?;
    let throughput_fps = args.frames as f64 / start.elapsed().as_secs_f64();

    let mut detector = pipeline.into_detector();
    let fixed_rate = match args.rate {
        Some(rate) => {
            let phase = (args.cameras, rate, args.frames);
            let (d, r) = measure::fixed_rate(detector, &camera, &frames, phase)?;
            detector = d;
            Some(r)
        }
        None => None,
    };
    let phase = (args.cameras, throughput_fps, args.frames.min(30));
    let (_, peak_rate_hz) = measure::peak_rate(detector, &camera, &frames, phase)?;
    let peers = match args.peers {
        true => Some(report::run_peers(&files, args.frames, &args.detector)?),
        false => None,
    };
    let image_size = rgb(frames[0].clone()).map_or([0, 0], |f| [f.width, f.height]);
    let report = Report {
        device,
        model,
        image_size,
        tiling: camera.tiling.to_string(),
        passes_per_frame,
        frames: args.frames,
        startup_ms: startup.as_secs_f64() * 1e3,
        stages_ms,
        throughput_fps,
        peak_memory_mb: report::peak_memory_mb(),
        fixed_rate,
        peak_rate_hz,
        per_op,
        peers,
    };
    report::print_report(&report);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        bench_plot::histogram(path, &samples[STAGES.len() - 1])?;
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
    let frames: Vec<sightline_ros::RgbFrame> = frames.into_iter().filter_map(rgb).collect();
    let rate_hz = args.rate.unwrap_or(10.0);
    anyhow::ensure!(rate_hz > 0.0, "--rate must be positive");
    let image_size = frames.first().map_or([0, 0], |f| [f.width, f.height]);
    let bench = sightline_ros::NodeBench {
        camera: args.ros_camera.clone(),
        frames,
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
        bench_plot::histogram(path, &result.latencies)?;
    }
    Ok(())
}
