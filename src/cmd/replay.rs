//! `sightline replay`: a rosbag2 recording through the perception pipeline into a new
//! MCAP bag, plus optional JSON lines and annotated images. Each image topic is a camera
//! of the pipeline; what a frame becomes is what the node would have published.
//!
//! Frames are read and decoded on worker threads (`sightline_bag::frames`) while this
//! thread runs the detector, so the device is not starved by JPEG decoding or storage.

use crate::cmd::replay_out::{namespace, Sinks};
use crate::cmd::setup::{self, CameraArgs, DetectorArgs};
use anyhow::Context;
use sightline_bag::frames::{Frame as BagFrame, FrameOptions, Frames};
use sightline_bag::{Bag, BagWriter};
use sightline_detect::Detector;
use sightline_perception::{Frame, Pipeline};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// Input bag: rosbag2 directory, .mcap or .db3.
    bag: PathBuf,
    /// Image topics to replay (default: every Image/CompressedImage topic).
    #[arg(long, num_args = 1..)]
    topics: Vec<String>,
    /// Output bag directory (default: <BAG>_detections next to the input; must not exist).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write one JSON object per detection per line ("-" for stdout).
    #[arg(long)]
    jsonl: Option<PathBuf>,
    /// Write each frame with its detections drawn as PNG into this directory.
    #[arg(long)]
    annotate: Option<PathBuf>,
    /// Replay speed relative to recording time (1.0 = real time; default: as fast as possible).
    #[arg(long)]
    rate: Option<f64>,
    /// Skip frames that cannot be read or decoded (counted in the summary) instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// Decoding threads (default: available cores, at most 8).
    #[arg(long)]
    workers: Option<usize>,
    #[command(flatten)]
    detector: DetectorArgs,
    /// With --calibration, positions go on `<ns>/detections_3d`.
    #[command(flatten)]
    camera: CameraArgs,
}

fn default_out(bag: &Path) -> PathBuf {
    let stem = bag
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bag".into());
    bag.with_file_name(format!("{stem}_detections"))
}

/// A bag's frame as the pipeline's (its pixels were decoded on a reader thread).
/// Set by the interrupt handler; the loop stops and the output bag is finished.
static STOP: AtomicBool = AtomicBool::new(false);

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(r) = args.rate {
        anyhow::ensure!(
            r.is_finite() && r > 0.0,
            "--rate {r} must be a positive speed factor"
        );
    }
    let bag = Bag::open(&args.bag)?;
    let image_topics = sightline_bag::frames::image_topics(bag.info());
    // A mistyped topic would otherwise replay nothing of it, silently.
    let listed = if image_topics.is_empty() {
        "none".to_string()
    } else {
        image_topics.join(", ")
    };
    for topic in &args.topics {
        let what = match bag.info().topic(topic) {
            None => "is not in the bag".to_string(),
            Some(t) if !image_topics.contains(topic) => format!("holds {}", t.type_name),
            Some(_) => continue,
        };
        anyhow::bail!(
            "{}: --topics {topic} {what}; its image topics: {listed}",
            args.bag.display()
        );
    }
    let topics = if args.topics.is_empty() {
        image_topics
    } else {
        args.topics.clone()
    };
    let mut options = FrameOptions {
        topics: topics.clone(),
        ..FrameOptions::default()
    };
    if let Some(w) = args.workers {
        options.workers = w.max(1);
    }
    let frames = Frames::spawn(&bag, &options)?;
    anyhow::ensure!(
        frames.total() > 0,
        "{}: no image messages to replay (topics: [{}])",
        args.bag.display(),
        topics.join(", ")
    );
    let cameras = topics
        .iter()
        .map(|t| {
            args.camera
                .camera(&args.detector, namespace(t), args.annotate.is_some(), None)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let jsonl = setup::open_output(args.jsonl.as_deref())?;
    setup::annotate_dir(args.annotate.as_deref())?;
    // The model loads before the output exists, so a bad --model leaves nothing behind.
    let mut pipeline = setup::pipeline(&args.detector, cameras)?;
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.bag));
    let mut sinks = Sinks::new(BagWriter::create(&out)?, jsonl, args.annotate.clone());
    if let Err(err) = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed)) {
        tracing::warn!(
            "no Ctrl-C handler ({err}): an interrupted replay may leave an unfinished bag"
        );
    }
    let bar = indicatif::ProgressBar::new(frames.total());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} frames  {per_sec}  ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut first_log: Option<u64> = None;
    let mut result = Ok(());
    for item in frames {
        if STOP.load(Ordering::Relaxed) {
            bar.suspend(|| eprintln!("interrupted: finishing the output bag"));
            break;
        }
        let outcome = item.map_err(anyhow::Error::from).and_then(|f| {
            if let Some(rate) = args.rate {
                let first = *first_log.get_or_insert(f.log_time_ns);
                let due = Duration::from_secs_f64(
                    f.log_time_ns.saturating_sub(first) as f64 / 1e9 / rate,
                );
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            replay_frame(&mut pipeline, &topics, &mut sinks, f)
        });
        bar.inc(1);
        if let Err(e) = outcome {
            if !args.skip_bad {
                result = Err(e);
                break;
            }
            sinks.summary.skipped += 1;
            bar.suspend(|| eprintln!("skipped: {e:#}"));
        }
    }
    bar.finish_and_clear();
    sinks.finish(started.elapsed())?;
    result
}

fn replay_frame(
    pipeline: &mut Pipeline<Detector>,
    topics: &[String],
    sinks: &mut Sinks,
    f: BagFrame,
) -> anyhow::Result<()> {
    let what = format!("{} message #{}", f.topic, f.index);
    let camera = topics
        .iter()
        .position(|t| t.as_str() == &*f.topic)
        .context(what.clone())?;
    let (topic, index, log_time_ns) = (f.topic.clone(), f.index, f.log_time_ns);
    let start = Instant::now();
    let output = pipeline
        .process_one(camera, &Frame::from(f))
        .context(what)?;
    sinks.summary.latencies.push(start.elapsed());
    sinks.write(&topic, index, log_time_ns, &output)
}
