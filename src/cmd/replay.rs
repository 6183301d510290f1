//! `sightline replay`: a rosbag2 recording through the detector (and the localizer, when
//! calibrated) into a new MCAP bag, plus optional JSON lines and annotated images.
//!
//! Frames are read and decoded on worker threads (`sightline_bag::frames`) while this
//! thread runs the detector, so the device is not starved by JPEG decoding or storage.

use crate::cmd::annotate;
use crate::cmd::detect::{open_output, DetectorArgs};
use anyhow::Context;
use serde::Serialize;
use sightline_bag::frames::{Frame, FrameOptions, Frames};
use sightline_bag::msgs::{
    BoundingBox2D, BoundingBox3D, Detection2D, Detection2DArray, Detection3D, Detection3DArray,
    Header, ObjectHypothesisWithPose, Point, Pose,
};
use sightline_bag::{Bag, BagWriter, TopicId};
use sightline_detect::{Detection, Detector, ImageView, PixelFormat};
use sightline_geometry::{Calibration, Localizer, Priors};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
    /// Camera calibration YAML; adds positions in base_link on `<ns>/detections_3d`.
    #[arg(long)]
    calibration: Option<PathBuf>,
    /// Skip frames that cannot be read or decoded (counted in the summary) instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// Decoding threads (default: available cores, at most 8).
    #[arg(long)]
    workers: Option<usize>,
    #[command(flatten)]
    detector: DetectorArgs,
    /// Minimum score to report (same default as `sightline detect`).
    #[arg(long, default_value_t = 0.3)]
    score_threshold: f32,
}

/// One `--jsonl` line: the `sightline detect` schema plus where the frame came from.
#[derive(Serialize)]
struct Record<'a> {
    image: &'a str,
    class: &'static str,
    score: f32,
    #[serde(rename = "box")]
    bbox: [f32; 4],
    topic: &'a str,
    index: u64,
    stamp_ns: i64,
    frame_id: &'a str,
}

/// `/cam/image_raw` and `/cam/image_raw/compressed` → `/cam`; `/image_raw` → ``.
pub fn namespace(topic: &str) -> &str {
    let base = topic.strip_suffix("/compressed").unwrap_or(topic);
    base.rsplit_once('/').map_or("", |(ns, _)| ns)
}

fn hypothesis(d: &Detection, pose: Pose, covariance: [f64; 36]) -> Vec<ObjectHypothesisWithPose> {
    vec![ObjectHypothesisWithPose {
        class_id: d.class.as_str().into(),
        score: f64::from(d.score),
        pose,
        covariance,
    }]
}

fn detections_2d(header: &Header, dets: &[Detection]) -> Detection2DArray {
    let detections = dets
        .iter()
        .map(|d| {
            let [x1, y1, x2, y2] = d.bbox.map(f64::from);
            let bbox = BoundingBox2D {
                center_x: (x1 + x2) / 2.0,
                center_y: (y1 + y2) / 2.0,
                theta: 0.0,
                size_x: x2 - x1,
                size_y: y2 - y1,
            };
            Detection2D {
                header: header.clone(),
                results: hypothesis(d, Pose::default(), [0.0; 36]),
                bbox,
                id: String::new(),
            }
        })
        .collect();
    Detection2DArray {
        header: header.clone(),
        detections,
    }
}

/// Positions in `base_link` (the header's frame); detections that cannot be localized are
/// left out. The box size is unknown (zero); the pose covariance holds the position block.
fn detections_3d(
    header: &Header,
    dets: &[Detection],
    localizer: &Localizer,
) -> (Detection3DArray, usize) {
    let header = Header {
        stamp: header.stamp,
        frame_id: "base_link".into(),
    };
    let mut failed = 0;
    let mut detections = Vec::new();
    for d in dets {
        match localizer.localize(
            crate::cmd::localize::target_kind(d.class),
            d.bbox.map(f64::from),
        ) {
            Ok(loc) => {
                let p = loc.position;
                let pose = Pose {
                    position: Point {
                        x: p.x,
                        y: p.y,
                        z: p.z,
                    },
                    ..Pose::default()
                };
                let covariance = loc.pose_covariance();
                let bbox = BoundingBox3D {
                    center: pose,
                    size: Point::default(),
                };
                detections.push(Detection3D {
                    header: header.clone(),
                    results: hypothesis(d, pose, covariance),
                    bbox,
                    id: String::new(),
                });
            }
            Err(e) => {
                failed += 1;
                tracing::debug!("not localized: {e}");
            }
        }
    }
    (Detection3DArray { header, detections }, failed)
}

fn view(frame: &Frame) -> anyhow::Result<ImageView<'_>> {
    let p = &frame.pixels;
    let format = PixelFormat::from_ros_encoding(&p.encoding)?;
    Ok(ImageView::new(p.width, p.height, p.step, format, p.data())?)
}

/// Tightly packed RGB copy of a frame, for `--annotate`.
fn to_rgb(view: &ImageView<'_>) -> image::RgbImage {
    let (w, h, fmt) = (view.width(), view.height(), view.format());
    let ch = fmt.channels();
    image::RgbImage::from_fn(w, h, |x, y| {
        let i = y as usize * view.step() + x as usize * ch;
        let px = &view.data()[i..i + ch];
        image::Rgb(match fmt {
            PixelFormat::Rgb8 | PixelFormat::Rgba8 => [px[0], px[1], px[2]],
            PixelFormat::Bgr8 | PixelFormat::Bgra8 => [px[2], px[1], px[0]],
            PixelFormat::Mono8 => [px[0]; 3],
        })
    })
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

#[derive(Default)]
struct Summary {
    frames: u64,
    skipped: u64,
    unlocalized: usize,
    per_class: BTreeMap<&'static str, u64>,
    latencies: Vec<Duration>,
}

/// Output topics of one image topic.
struct Outputs {
    d2: TopicId,
    d3: Option<TopicId>,
}

struct Replay {
    detector: Detector,
    localizer: Option<Localizer>,
    writer: BagWriter,
    outputs: HashMap<Arc<str>, Outputs>,
    jsonl: Option<Box<dyn Write>>,
    annotate: Option<PathBuf>,
    summary: Summary,
}

impl Replay {
    fn outputs(&mut self, topic: &Arc<str>) -> anyhow::Result<&Outputs> {
        if !self.outputs.contains_key(topic) {
            let ns = namespace(topic);
            let d2 = self.writer.add_topic(
                &format!("{ns}/detections"),
                "vision_msgs/msg/Detection2DArray",
            )?;
            let d3 = match self.localizer {
                Some(_) => Some(self.writer.add_topic(
                    &format!("{ns}/detections_3d"),
                    "vision_msgs/msg/Detection3DArray",
                )?),
                None => None,
            };
            self.outputs.insert(topic.clone(), Outputs { d2, d3 });
        }
        Ok(&self.outputs[topic])
    }

    fn frame(&mut self, frame: &Frame) -> anyhow::Result<()> {
        let what = || format!("{} message #{}", frame.topic, frame.index);
        let view = view(frame).with_context(what)?;
        let start = Instant::now();
        let dets = self.detector.detect(&view).with_context(what)?;
        self.summary.latencies.push(start.elapsed());
        let (d2, d3) = {
            let o = self.outputs(&frame.topic)?;
            (o.d2, o.d3)
        };
        self.writer
            .write(d2, frame.log_time_ns, &detections_2d(&frame.header, &dets))?;
        if let (Some(d3), Some(localizer)) = (d3, &self.localizer) {
            let (msg, failed) = detections_3d(&frame.header, &dets, localizer);
            self.summary.unlocalized += failed;
            self.writer.write(d3, frame.log_time_ns, &msg)?;
        }
        let image = format!("{}#{}", frame.topic, frame.index);
        if let Some(out) = self.jsonl.as_mut() {
            for d in &dets {
                let record = Record {
                    image: &image,
                    class: d.class.as_str(),
                    score: d.score,
                    bbox: d.bbox,
                    topic: &frame.topic,
                    index: frame.index,
                    stamp_ns: frame.header.stamp.as_nanos(),
                    frame_id: &frame.header.frame_id,
                };
                serde_json::to_writer(&mut *out, &record)?;
                out.write_all(b"\n")?;
            }
            // A frame's lines reach the file together, so a reader tailing it (or an
            // interrupted run) never sees half a frame.
            out.flush()?;
        }
        if let Some(dir) = &self.annotate {
            let name = format!(
                "{}_{:06}.png",
                frame.topic.trim_start_matches('/').replace('/', "_"),
                frame.index
            );
            let target = dir.join(name);
            annotate::draw(image::DynamicImage::ImageRgb8(to_rgb(&view)), &dets)
                .save(&target)
                .with_context(|| format!("cannot write {}", target.display()))?;
        }
        self.summary.frames += 1;
        for d in &dets {
            *self.summary.per_class.entry(d.class.as_str()).or_default() += 1;
        }
        Ok(())
    }
}

fn default_out(bag: &Path) -> PathBuf {
    let stem = bag
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bag".into());
    bag.with_file_name(format!("{stem}_detections"))
}

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
    let localizer = match &args.calibration {
        Some(path) => Some(Localizer::new(Calibration::load(path)?, Priors::default())?),
        None => None,
    };
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.bag));
    let mut options = FrameOptions {
        topics: args.topics.clone(),
        ..FrameOptions::default()
    };
    if let Some(w) = args.workers {
        options.workers = w.max(1);
    }
    let frames = Frames::spawn(&bag, &options)?;
    anyhow::ensure!(
        frames.total() > 0,
        "{}: no image messages on {:?}",
        args.bag.display(),
        args.topics
    );
    if let Some(dir) = &args.annotate {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let jsonl = open_output(args.jsonl.as_deref())?;
    // The model loads before the output exists, so a bad --model leaves nothing behind.
    let detector = args.detector.build(Some(args.score_threshold))?;
    let writer = BagWriter::create(&out)?;
    let mut replay = Replay {
        detector,
        localizer,
        writer,
        outputs: HashMap::new(),
        jsonl,
        annotate: args.annotate.clone(),
        summary: Summary::default(),
    };
    install_interrupt_handler();

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
        let outcome = item.map_err(anyhow::Error::from).and_then(|frame| {
            if let Some(rate) = args.rate {
                let first = *first_log.get_or_insert(frame.log_time_ns);
                let due = Duration::from_secs_f64(
                    frame.log_time_ns.saturating_sub(first) as f64 / 1e9 / rate,
                );
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            replay.frame(&frame)
        });
        bar.inc(1);
        if let Err(e) = outcome {
            if !args.skip_bad {
                result = Err(e);
                break;
            }
            replay.summary.skipped += 1;
            bar.suspend(|| eprintln!("skipped: {e:#}"));
        }
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    if let Some(out) = replay.jsonl.as_mut() {
        out.flush()?;
    }
    let Replay {
        writer, summary, ..
    } = replay;
    let path = writer.finish()?;
    print_summary(&summary, elapsed, &path);
    result
}

/// Ctrl-C (SIGINT) or SIGTERM sets [`STOP`] so the loop ends after the current frame and the bag is
/// finished with its summary and metadata.yaml.
fn install_interrupt_handler() {
    if let Err(err) = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed)) {
        tracing::warn!(
            "no Ctrl-C handler ({err}): an interrupted replay may leave an unfinished bag"
        );
    }
}

fn print_summary(s: &Summary, elapsed: Duration, out: &Path) {
    let mut lat = s.latencies.clone();
    lat.sort();
    let fps = s.frames as f64 / elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "replayed {} frames in {:.2} s ({fps:.1} frames/s), skipped {}",
        s.frames,
        elapsed.as_secs_f64(),
        s.skipped
    );
    let classes: Vec<String> = s
        .per_class
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    eprintln!(
        "detections: {}",
        if classes.is_empty() {
            "none".into()
        } else {
            classes.join(", ")
        }
    );
    if s.unlocalized > 0 {
        eprintln!("not localized: {} detections", s.unlocalized);
    }
    eprintln!(
        "detector latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.9),
        percentile(&lat, 0.99),
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
    eprintln!("output: {}", out.display());
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_detect::Class;

    #[test]
    fn namespaces_follow_image_transport_names() {
        assert_eq!(namespace("/cam_front/image_raw"), "/cam_front");
        assert_eq!(namespace("/cam_front/image_raw/compressed"), "/cam_front");
        assert_eq!(namespace("/a/b/image"), "/a/b");
        assert_eq!(namespace("/image_raw"), "");
    }

    #[test]
    fn boxes_become_center_and_size() {
        let header = Header::default();
        let d = Detection {
            class: Class::StopSign,
            score: 0.5,
            bbox: [10.0, 20.0, 30.0, 60.0],
        };
        let m = detections_2d(&header, &[d]);
        let b = m.detections[0].bbox;
        assert_eq!(
            (b.center_x, b.center_y, b.size_x, b.size_y),
            (20.0, 40.0, 20.0, 40.0)
        );
        assert_eq!(m.detections[0].results[0].class_id, "stop_sign");
    }
}
