//! `sightline label`: pre-labels for annotation tools. Frames of image folders and
//! rosbag2 recordings go through the same pipeline as `detect`, are written to
//! `<out>/images/` and their detections to each `--format` (`sightline_eval::export`).
//!
//! A folder's image keeps its file name (copied byte for byte); a recording's frame
//! becomes `<recording>__<topic>__<sec>_<nanosec>.png` (lossless, whatever the message
//! carried). `<out>/frames.jsonl` maps every image back to its source, topic, stamp and
//! message index.
//!
//! `--select N` keeps the N most useful frames (`label_select`) and `--every SECONDS`
//! one frame per interval of message stamp; both write `<out>/selection.json`.

use crate::cmd::label_select::{self, Candidate, DEFAULT_MIN_DISTANCE};
use crate::cmd::setup::{self, CameraArgs, DetectorArgs};
use anyhow::Context;
use sightline_bag::frames::{FrameOptions, Frames};
use sightline_bag::Bag;
use sightline_detect::Detector;
use sightline_eval::export::{self, ExportFormat, ExportInfo, LabelImage};
use sightline_perception::{Output, Pipeline, Thresholds, Tiling};
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
    /// Keep only the N most useful frames: near-duplicates (by the detector's own image
    /// embedding) dropped, the rest ranked by uncertainty; selection.json says why.
    #[arg(long, value_name = "N", conflicts_with = "every")]
    pub select: Option<usize>,
    /// --select: the smallest cosine distance between two chosen frames' embeddings.
    #[arg(long, value_name = "D", default_value_t = DEFAULT_MIN_DISTANCE, requires = "select")]
    pub min_distance: f32,
    /// Keep one frame per SECONDS of message stamp on each topic (recordings only: an
    /// image folder has no stamps).
    #[arg(long, value_name = "SECONDS")]
    pub every: Option<f64>,
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
    /// Per image, its detections in the `sightline detect` JSON lines schema (`image` =
    /// file stem), for `sightline eval --detections` against the corrected labels.
    detections: Vec<Vec<String>>,
    /// `--select`: per image, what the ranking needs.
    candidates: Option<Vec<Candidate>>,
    thresholds: Thresholds,
    tiling_off: bool,
    /// `--every`: the interval in nanoseconds and each topic's last kept stamp.
    every: Option<(i128, BTreeMap<String, i128>)>,
    skipped_by_every: u64,
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

/// The flags `--select`, `--min-distance` and `--every` allow.
fn check_selection(args: &Args) -> anyhow::Result<()> {
    if let Some(n) = args.select {
        anyhow::ensure!(n > 0, "--select {n}: choose at least one frame");
    }
    anyhow::ensure!(
        (0.0..=2.0).contains(&args.min_distance),
        "--min-distance {}: a cosine distance is between 0 and 2",
        args.min_distance
    );
    if let Some(seconds) = args.every {
        anyhow::ensure!(
            seconds.is_finite() && seconds > 0.0,
            "--every {seconds}: give a positive number of seconds"
        );
        if let Some(folder) = args.sources.iter().find(|s| !is_recording(s)) {
            anyhow::bail!(
                "--every needs message stamps, and {} is an image folder or file; use --select N there, or label a recording made with `sightline bag from-images`",
                folder.display()
            );
        }
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    check_selection(&args)?;
    let mut formats = args.formats.clone();
    formats.sort();
    formats.dedup();
    for s in &args.sources {
        anyhow::ensure!(s.exists(), "no such file or directory: {}", s.display());
    }
    // Every source is opened before the model loads and before --out is made: an empty
    // one fails in a moment and leaves nothing behind.
    for s in &args.sources {
        if is_recording(s) {
            check_recording(s, &args.topics)?;
        } else {
            setup::collect_images(std::slice::from_ref(s))?;
        }
    }
    prepare_out(&args.out)?;
    let camera = args.camera.camera(&args.detector, "label", false, None)?;
    let thresholds = camera.thresholds.clone();
    let tiling_off = camera.tiling == Tiling::Off;
    let pipeline =
        setup::pipeline_with_embedding(&args.detector, vec![camera], args.select.is_some())?;
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
        candidates: args.select.map(|_| Vec::new()),
        thresholds,
        tiling_off,
        every: args
            .every
            .map(|s| ((s * 1e9).round() as i128, BTreeMap::new())),
        skipped_by_every: 0,
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
    let processed = run.images.len();
    if let Some(count) = args.select {
        run.keep_selected(count, args.min_distance)?;
    } else if let Some(seconds) = args.every {
        let manifest = serde_json::json!({
            "method": "every",
            "seconds": seconds,
            "rule": "per topic, a frame is kept when its stamp is at least `seconds` after the topic's last kept frame",
            "chosen": run.images.iter().map(|i| &i.file_name).collect::<Vec<_>>(),
            "skipped": run.skipped_by_every,
        });
        write_selection(&run.out, &manifest)?;
    }
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
    let mut text = run.detections.concat().join("\n");
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
        processed as f64 / elapsed.max(1e-9),
        run.out.display()
    );
    anyhow::ensure!(
        run.failed == 0,
        "{} frames could not be processed (named above); the others were exported",
        run.failed
    );
    Ok(())
}

fn write_selection(out: &Path, manifest: &impl serde::Serialize) -> anyhow::Result<()> {
    let path = out.join("selection.json");
    let text = serde_json::to_string_pretty(manifest)?;
    std::fs::write(&path, text + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("wrote {}", path.display());
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

    /// `--select`: the frame's embedding; after a run of the whole frame alone (no
    /// tiles) it is read from that run, else the model runs once more on it.
    fn embedding(&mut self, frame: &sightline_perception::Frame) -> anyhow::Result<Vec<f32>> {
        let detector = self.pipeline.detector_mut();
        if self.tiling_off {
            return Ok(detector.embedding_of_last_run()?);
        }
        let pixels = frame.pixels()?;
        Ok(detector.embedding(&pixels.view()?)?)
    }

    fn push(
        &mut self,
        name: String,
        out: &Output,
        origin: Origin,
        embedding: Option<Vec<f32>>,
    ) -> anyhow::Result<()> {
        let mut lines = Vec::new();
        for record in out.records(&setup::stem(Path::new(&name))) {
            lines.push(serde_json::to_string(&record)?);
        }
        self.detections.push(lines);
        if let (Some(candidates), Some(embedding)) = (&mut self.candidates, embedding) {
            let boxes = out
                .objects
                .iter()
                .map(|o| label_select::Box {
                    class: o.detection.class,
                    score: o.detection.score,
                    threshold: self.thresholds.get(o.detection.class),
                    state: o.state.map(|s| s.state),
                })
                .collect();
            candidates.push(Candidate {
                image: name.clone(),
                embedding,
                boxes,
            });
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
            // One read of the file serves the detector and the embedding.
            let result = setup::image_frame(&path).and_then(|frame| {
                let output = self
                    .pipeline
                    .process_one(0, &frame)
                    .with_context(|| format!("image {}", path.display()))?;
                let embedding = match self.candidates {
                    Some(_) => Some(self.embedding(&frame)?),
                    None => None,
                };
                Ok((output, embedding))
            });
            let (output, embedding) = match result {
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
            self.push(name, &output, origin, embedding)?;
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
            if let (Ok(f), Some((interval, last_kept))) = (&item, &mut self.every) {
                let at = i128::from(f.header.stamp.sec) * 1_000_000_000
                    + i128::from(f.header.stamp.nanosec);
                let topic = f.topic.to_string();
                if last_kept
                    .get(&topic)
                    .is_some_and(|&last| at - last < *interval)
                {
                    self.skipped_by_every += 1;
                    continue;
                }
                last_kept.insert(topic, at);
            }
            let result = item.map_err(anyhow::Error::from).and_then(|f| {
                let what = format!("{} {} message #{}", source.display(), f.topic, f.index);
                let (topic, index, stamp) = (f.topic.to_string(), f.index, f.header.stamp);
                let recorded = sightline_perception::Frame::from(f);
                let pixels = recorded.pixels().with_context(|| what.clone())?;
                let rgb = sightline_perception::annotate::to_rgb(&pixels.view()?);
                // The pipeline gets the decoded pixels, so a compressed frame is decoded
                // once, not again by the detector (and by the embedding with tiling).
                let frame = sightline_perception::Frame {
                    payload: sightline_perception::Payload::Raw {
                        width: rgb.width(),
                        height: rgb.height(),
                        step: rgb.width() * 3,
                        encoding: "rgb8".into(),
                        data: rgb.as_raw().clone(),
                    },
                    ..recorded
                };
                let output = self.pipeline.process_one(0, &frame).context(what.clone())?;
                let embedding = match self.candidates {
                    Some(_) => Some(self.embedding(&frame).context(what)?),
                    None => None,
                };
                Ok((topic, index, stamp, rgb, output, embedding))
            });
            let (topic, index, stamp, rgb, output, embedding) = match result {
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
            self.push(name, &output, origin, embedding)?;
        }
        Ok(())
    }

    /// `--select`: chooses, writes `selection.json`, and drops every other frame from
    /// the export (its image file included).
    fn keep_selected(&mut self, count: usize, min_distance: f32) -> anyhow::Result<()> {
        let candidates = self.candidates.take().unwrap_or_default();
        let selection = label_select::select(&candidates, count, min_distance);
        write_selection(&self.out, &selection)?;
        let chosen: std::collections::BTreeSet<&str> =
            selection.chosen.iter().map(|c| c.image.as_str()).collect();
        let keep: Vec<bool> = self
            .images
            .iter()
            .map(|i| chosen.contains(i.file_name.as_str()))
            .collect();
        for (image, _) in self.images.iter().zip(&keep).filter(|(_, k)| !**k) {
            let path = self.out.join("images").join(&image.file_name);
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
        let mut flags = keep.iter();
        self.images.retain(|_| *flags.next().unwrap_or(&false));
        let mut flags = keep.iter();
        self.origins.retain(|_| *flags.next().unwrap_or(&false));
        let mut flags = keep.iter();
        self.detections.retain(|_| *flags.next().unwrap_or(&false));
        eprintln!(
            "--select {count}: {} chosen of {} frames, {} near-duplicates dropped",
            selection.chosen.len(),
            selection.candidates,
            selection.near_duplicates.len()
        );
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
