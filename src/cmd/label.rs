//! `sightline label`: pre-labels for annotation tools. Frames of image folders and
//! rosbag2 recordings go through the same pipeline as `detect`, are written to
//! `<out>/images/` and their detections to each `--format` (`sightline_eval::export`).
//!
//! A folder's image keeps its file name (copied byte for byte); a recording's frame
//! becomes `<recording>__<topic>__<sec>_<nanosec>.png` (lossless, whatever the message
//! carried). `<out>/frames.jsonl` maps every image back to its source, topic, stamp and
//! message index.

use crate::cmd::setup::{self, CameraArgs, DetectorArgs};
use anyhow::Context;
use sightline_bag::frames::{FrameOptions, Frames};
use sightline_bag::Bag;
use sightline_detect::Detector;
use sightline_eval::export::{self, ExportFormat, ExportInfo, LabelImage};
use sightline_perception::{Output, Pipeline};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Image folders or files, and rosbag2 recordings (directory, .mcap or .db3).
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<PathBuf>,
    /// Output folder (must be empty or not exist): images/, frames.jsonl and the formats.
    #[arg(long)]
    pub out: PathBuf,
    /// Label format to write (repeatable).
    #[arg(
        long = "format",
        required = true,
        value_name = "cvat|labelstudio|yolo|coco"
    )]
    pub formats: Vec<ExportFormat>,
    /// Image topics of the recordings (repeatable; default: every Image/CompressedImage topic).
    #[arg(long = "topic")]
    pub topics: Vec<String>,
    #[command(flatten)]
    pub detector: DetectorArgs,
    #[command(flatten)]
    pub camera: CameraArgs,
}

/// Where an exported image came from (one line of `frames.jsonl`).
#[derive(serde::Serialize)]
struct Origin {
    image: String,
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stamp: Option<[i64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
}

/// What a run collects: one entry per image written, and the frames that failed.
struct Collected {
    pipeline: Pipeline<Detector>,
    out: PathBuf,
    images: Vec<LabelImage>,
    origins: Vec<Origin>,
    /// The detections in the `sightline detect` JSON lines schema (`image` = file stem),
    /// for `sightline eval --detections` against the corrected labels.
    detections: Vec<String>,
    /// Exported file name → the source it came from, to refuse two sources one name.
    names: BTreeMap<String, String>,
    failed: usize,
    bar: indicatif::ProgressBar,
}

fn is_recording(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if path.is_file() {
        return ext.eq_ignore_ascii_case("mcap") || ext.eq_ignore_ascii_case("db3");
    }
    path.join("metadata.yaml").is_file()
}

/// A recording must hold image messages on the chosen topics (all image topics when
/// none are chosen); the error lists the image topics it has.
fn check_recording(source: &Path, topics: &[String]) -> anyhow::Result<()> {
    let bag = Bag::open(source)?;
    let info = bag.info();
    let images = sightline_bag::frames::image_topics(info);
    let count: u64 = info
        .topics
        .iter()
        .filter(|t| images.contains(&t.name))
        .filter(|t| topics.is_empty() || topics.contains(&t.name))
        .map(|t| t.message_count)
        .sum();
    let chosen = if topics.is_empty() {
        "any topic".to_string()
    } else {
        format!("{topics:?}")
    };
    anyhow::ensure!(
        count > 0,
        "{}: no image messages on {chosen} (its image topics: {images:?})",
        source.display()
    );
    Ok(())
}

/// `--out` must not hold anything yet: an export never mixes with an older one.
fn prepare_out(out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        let mut entries =
            std::fs::read_dir(out).with_context(|| format!("--out {}", out.display()))?;
        anyhow::ensure!(
            entries.next().is_none(),
            "--out {} is not empty; give a new folder",
            out.display()
        );
    }
    let images = out.join("images");
    std::fs::create_dir_all(&images).with_context(|| format!("cannot create {}", images.display()))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut formats = args.formats.clone();
    formats.sort();
    formats.dedup();
    for s in &args.sources {
        anyhow::ensure!(s.exists(), "no such file or directory: {}", s.display());
    }
    // Every recording is opened before the model loads: an empty one fails in a moment.
    for s in args.sources.iter().filter(|s| is_recording(s)) {
        check_recording(s, &args.topics)?;
    }
    prepare_out(&args.out)?;
    let camera = args.camera.camera("label", false, None)?;
    let pipeline = setup::pipeline(&args.detector, vec![camera])?;
    let weights = pipeline.detector().model_path().to_path_buf();
    let digest = sightline_detect::manifest::file_sha256(&weights)
        .with_context(|| format!("cannot read {}", weights.display()))?;
    let info = ExportInfo {
        model_version: format!("{}@sha256:{digest}", pipeline.detector().manifest().name),
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} frames  {per_sec}  ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut run = Collected {
        pipeline,
        out: args.out.clone(),
        images: Vec::new(),
        origins: Vec::new(),
        detections: Vec::new(),
        names: BTreeMap::new(),
        failed: 0,
        bar,
    };
    let started = std::time::Instant::now();
    for source in &args.sources {
        if is_recording(source) {
            run.recording(source, &args.topics)?;
        } else {
            run.image_files(source)?;
        }
    }
    run.bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let origins = run.out.join("frames.jsonl");
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(&origins)
            .with_context(|| format!("cannot create {}", origins.display()))?,
    );
    for o in &run.origins {
        setup::write_line(&mut w, o)?;
    }
    w.flush()?;
    let detections = run.out.join("detections.jsonl");
    let mut text = run.detections.join("\n");
    text.push('\n');
    std::fs::write(&detections, text.trim_start())
        .with_context(|| format!("cannot write {}", detections.display()))?;
    for format in formats {
        let files = export::write(&run.out, format, &run.images, &info)?;
        eprintln!("wrote {}", run.out.join(format.entry_file()).display());
        tracing::info!(?format, files = files.len(), "written");
    }
    let boxes: usize = run.images.iter().map(|i| i.objects.len()).sum();
    eprintln!(
        "{} images, {boxes} pre-labels in {elapsed:.1} s ({:.2} frames/s) → {}",
        run.images.len(),
        run.images.len() as f64 / elapsed.max(1e-9),
        run.out.display()
    );
    anyhow::ensure!(
        run.failed == 0,
        "{} frames could not be processed (named above); the others were exported",
        run.failed
    );
    Ok(())
}

/// `<recording>__<topic, / as _>__<sec>_<nanosec>`: the stem of a recording's frame.
fn frame_name(recording: &str, topic: &str, stamp: sightline_perception::Stamp) -> String {
    let topic = topic.trim_start_matches('/').replace('/', "_");
    format!("{recording}__{topic}__{}_{:09}", stamp.sec, stamp.nanosec)
}

/// An `f32` as the `f64` of its shortest decimal form, so the formats hold the numbers
/// `detections.jsonl` holds (`0.8284734`, not `0.8284733891487122`).
fn decimal(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

impl Collected {
    /// Reserves `name` for `source`, or says which source already took it.
    fn claim(&mut self, name: &str, source: &str) -> anyhow::Result<()> {
        if let Some(first) = self.names.insert(name.to_string(), source.to_string()) {
            anyhow::bail!(
                "{source} and {first} both give an image named {name}; label them in separate runs"
            );
        }
        Ok(())
    }

    fn push(&mut self, name: String, out: &Output, origin: Origin) -> anyhow::Result<()> {
        for record in out.records(&setup::stem(Path::new(&name))) {
            self.detections.push(serde_json::to_string(&record)?);
        }
        let objects = out
            .objects
            .iter()
            .map(|o| sightline_eval::Detection {
                class: o.detection.class,
                score: decimal(o.detection.score),
                bbox: o.detection.bbox.map(decimal),
                position: None,
                range_m: None,
                state: o.state.map(|s| s.state),
            })
            .collect();
        self.images.push(LabelImage {
            file_name: name,
            width: out.width,
            height: out.height,
            objects,
        });
        self.origins.push(origin);
        Ok(())
    }

    fn image_files(&mut self, source: &Path) -> anyhow::Result<()> {
        let files = setup::collect_images(&[source.to_path_buf()])?;
        self.bar.inc_length(files.len() as u64);
        for path in files {
            self.bar.inc(1);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let output = match crate::cmd::detect::detect_file(&mut self.pipeline, &path) {
                Ok(o) => o,
                Err(err) => {
                    self.failed += 1;
                    self.bar.suspend(|| eprintln!("error: {err:#}"));
                    continue;
                }
            };
            self.claim(&name, &path.display().to_string())?;
            let target = self.out.join("images").join(&name);
            std::fs::copy(&path, &target).with_context(|| {
                format!("cannot copy {} to {}", path.display(), target.display())
            })?;
            let origin = Origin {
                image: name.clone(),
                source: path.display().to_string(),
                topic: None,
                stamp: None,
                index: None,
            };
            self.push(name, &output, origin)?;
        }
        Ok(())
    }

    fn recording(&mut self, source: &Path, topics: &[String]) -> anyhow::Result<()> {
        let bag = Bag::open(source)?;
        let options = FrameOptions {
            topics: topics.to_vec(),
            ..FrameOptions::default()
        };
        let frames = Frames::spawn(&bag, &options)?;
        anyhow::ensure!(
            frames.total() > 0,
            "{}: no image messages on {}",
            source.display(),
            if topics.is_empty() {
                "any topic".to_string()
            } else {
                format!("{topics:?}")
            }
        );
        self.bar.inc_length(frames.total());
        let recording = source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bag".into());
        for item in frames {
            self.bar.inc(1);
            let result = item.map_err(anyhow::Error::from).and_then(|f| {
                let what = format!("{} {} message #{}", source.display(), f.topic, f.index);
                let (topic, index, stamp) = (f.topic.to_string(), f.index, f.header.stamp);
                let frame = sightline_perception::Frame::from(f);
                let pixels = frame.pixels().with_context(|| what.clone())?;
                let rgb = sightline_perception::annotate::to_rgb(&pixels.view()?);
                let output = self.pipeline.process_one(0, &frame).context(what)?;
                Ok((topic, index, stamp, rgb, output))
            });
            let (topic, index, stamp, rgb, output) = match result {
                Ok(r) => r,
                Err(err) => {
                    self.failed += 1;
                    self.bar.suspend(|| eprintln!("error: {err:#}"));
                    continue;
                }
            };
            let base = frame_name(&recording, &topic, stamp);
            // Two messages of a topic with one stamp (a driver that does not stamp)
            // keep apart by their index.
            let name = if self.names.contains_key(&format!("{base}.png")) {
                format!("{base}__{index}.png")
            } else {
                format!("{base}.png")
            };
            self.claim(&name, &source.display().to_string())?;
            let target = self.out.join("images").join(&name);
            rgb.save(&target)
                .with_context(|| format!("cannot write {}", target.display()))?;
            let origin = Origin {
                image: name.clone(),
                source: source.display().to_string(),
                topic: Some(topic),
                stamp: Some([i64::from(stamp.sec), i64::from(stamp.nanosec)]),
                index: Some(index),
            };
            self.push(name, &output, origin)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_name_traces_back_to_recording_topic_and_stamp() {
        let stamp = sightline_perception::Stamp {
            sec: 1_700_000_000,
            nanosec: 5_000,
        };
        assert_eq!(
            frame_name("drive", "/cam_front/image_raw/compressed", stamp),
            "drive__cam_front_image_raw_compressed__1700000000_000005000"
        );
    }

    #[test]
    fn only_bag_files_and_folders_with_metadata_are_recordings() {
        let tmp = tempfile::tempdir().unwrap();
        let mcap = tmp.path().join("a.mcap");
        std::fs::write(&mcap, b"").unwrap();
        assert!(is_recording(&mcap));
        assert!(!is_recording(tmp.path()), "a folder without metadata.yaml");
        std::fs::write(tmp.path().join("metadata.yaml"), b"").unwrap();
        assert!(is_recording(tmp.path()));
        let png = tmp.path().join("a.png");
        std::fs::write(&png, b"").unwrap();
        assert!(!is_recording(&png));
    }
}
