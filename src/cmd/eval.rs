//! `sightline eval`: score detections against a labeled dataset, optionally one shard of
//! it, and `sightline eval merge` to combine shards. All metrics live in
//! `sightline-eval`; this file parses flags and moves files.

use std::path::PathBuf;

use anyhow::{bail, Context};
use sightline_eval::shard::{self, ShardHeader, ShardSpec};
use sightline_eval::{ClassMap, Dataset, DatasetKind, DatasetSpec, EvalOptions, Frame, Skipped};

use crate::cmd::setup::{CameraArgs, DetectorArgs};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    merge: Option<Sub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Combine shard files written with --shard/--out into one report.
    Merge(MergeArgs),
}

#[derive(clap::Args)]
struct MergeArgs {
    /// Shard files, all N of them, in any order.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// Directory for report.json, report.md and plots.
    #[arg(long)]
    report: PathBuf,
    /// Score at which precision, recall, F1 and range error are taken.
    #[arg(long, default_value_t = 0.3)]
    operating_threshold: f64,
}

#[derive(clap::Args)]
struct RunArgs {
    /// kitti:DIR, yolo:DIR, voc:DIR, coco:FILE, cvat:FILE.xml or labelstudio:FILE.json
    /// (corrected `sightline label` exports); or tlstate:DIR (traffic-light crops
    /// in red/, yellow/, green/: state accuracy only).
    #[arg(long)]
    dataset: Option<String>,
    /// Score detections from this JSONL file (the `sightline detect` schema) instead of
    /// running the detector.
    #[arg(long, conflicts_with = "model")]
    detections: Option<PathBuf>,
    #[command(flatten)]
    detector: DetectorArgs,
    /// Range error needs positions: KITTI's own calib/ files, or --calibration. The
    /// scores kept default to 0.001 here (AP wants them all).
    #[command(flatten)]
    camera: CameraArgs,
    /// Score at which precision, recall, F1 and range error are taken, for every class.
    /// Without it: each class's score threshold from the model's manifest (0.3 for the
    /// shipped classes; a trained class's was chosen on its validation split).
    #[arg(long)]
    operating_threshold: Option<f64>,
    /// Dataset label → class map (YAML); default: the shipped map. The labels a trained
    /// model's manifest names for its new classes are added.
    #[arg(long)]
    class_map: Option<PathBuf>,
    /// Score only one side of a trained model's split (its manifest's `training.split`):
    /// `validation` (the photos the fit never saw) or `training`.
    #[arg(long, value_name = "validation|training")]
    split: Option<String>,
    /// Directory for report.json, report.md and plots.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Evaluate only shard K of N (frames sorted by id, frame i in shard i % N).
    #[arg(long, requires = "out")]
    shard: Option<String>,
    /// Where a shard's frames go, for `sightline eval merge`.
    #[arg(long, requires = "shard")]
    out: Option<PathBuf>,
    /// Score without the images that cannot be read (listed in the report) and exit 0;
    /// without it such images still leave the scores and are listed, but the exit status
    /// is non-zero.
    #[arg(long)]
    skip_bad: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.merge {
        Some(Sub::Merge(m)) => merge(m),
        None => run_eval(args.run),
    }
}

fn merge(m: MergeArgs) -> anyhow::Result<()> {
    let (kind, frames, skipped) = shard::merge(&m.shards)?;
    let opts = EvalOptions {
        operating_threshold: m.operating_threshold,
        ..EvalOptions::default()
    };
    report(&m.report, &frames, kind, &skipped, &opts)
}

fn run_eval(a: RunArgs) -> anyhow::Result<()> {
    let Some(spec) = a.dataset.as_deref() else {
        bail!("--dataset is required (kitti:DIR, yolo:DIR, voc:DIR, coco:FILE, cvat:FILE.xml or labelstudio:FILE.json)");
    };
    if let Some(dir) = spec.strip_prefix("tlstate:") {
        let Some(report) = &a.report else {
            bail!("--report DIR is required");
        };
        return crate::cmd::eval_state::run(std::path::Path::new(dir), &a.detector, report);
    }
    let spec: DatasetSpec = spec.parse()?;
    let shard = a
        .shard
        .as_deref()
        .map(str::parse::<ShardSpec>)
        .transpose()?;
    if shard.is_none() && a.report.is_none() {
        bail!("--report DIR is required (or --shard K/N --out FILE)");
    }
    let mut map = match &a.class_map {
        Some(p) => ClassMap::load(p)?,
        None => ClassMap::default(),
    };
    // The model's manifest registers its classes and names their data set labels.
    let manifest = a.detector.manifest()?;
    for c in &manifest.classes {
        for label in &c.labels {
            map.add_label(label, c.name);
        }
        // Its own name too: `sightline label` exports of the model read back.
        if !c.name.is_builtin() {
            map.add_label(c.name.as_str(), c.name);
        }
    }
    let mut dataset = Dataset::load(&spec, &map)
        .with_context(|| format!("reading dataset {}", spec.path.display()))?;
    if let Some(side) = &a.split {
        select_split(&mut dataset, &manifest, side)?;
    }
    for s in &dataset.skipped {
        eprintln!("skipped {}: {}", s.path.display(), s.reason);
    }
    let kind = dataset.kind;
    let mut skipped = dataset.skipped.clone();
    let mut frames: Vec<Frame> = dataset.frames;
    let mut unreadable = 0;
    match &a.detections {
        Some(path) => {
            if a.camera.calibration.is_some() {
                tracing::warn!(
                    "--calibration is ignored with --detections: positions come from the file"
                );
            }
            let dets = sightline_eval::detections::load(path)?;
            let stray = sightline_eval::detections::attach(&mut frames, dets);
            if stray > 0 {
                eprintln!("{stray} detections name images that are not in the dataset; dropped");
            }
            if let Some(s) = shard {
                frames = s.select(frames);
            }
        }
        None => {
            // Only this shard's images go through the detector.
            let mut images = dataset.images;
            if let Some(s) = shard {
                let keep = |i: &usize| i % s.count == s.index;
                frames = s.select(frames);
                images = images
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| keep(i))
                    .map(|(_, p)| p)
                    .collect();
            }
            eprintln!("running the detector on {} images", images.len());
            let calib = spec.path.join("calib");
            let kitti = (kind == DatasetKind::Kitti).then_some(calib.as_path());
            let (dets, bad) = crate::cmd::eval_run::detect(&images, kitti, &a.detector, &a.camera)?;
            // An unreadable image has no detections to score: keeping its frame would
            // count its objects as missed and lower AP without a word.
            let bad_ids: std::collections::BTreeSet<String> = bad
                .iter()
                .map(|s| crate::cmd::setup::stem(&s.path))
                .collect();
            frames.retain(|f| !bad_ids.contains(&f.id));
            unreadable = bad.len();
            skipped.extend(bad);
            sightline_eval::detections::attach(&mut frames, dets);
        }
    }
    let opts = match a.operating_threshold {
        Some(t) => EvalOptions {
            operating_threshold: t,
            ..EvalOptions::default()
        },
        None => EvalOptions {
            class_thresholds: manifest
                .classes
                .iter()
                // The manifest's f32, as the decimal it was written as (0.3, not 0.30000001).
                .map(|c| (c.name, (f64::from(c.score_threshold) * 1e6).round() / 1e6))
                .collect(),
            ..EvalOptions::default()
        },
    };
    if let (Some(s), Some(out)) = (shard, &a.out) {
        let header = ShardHeader {
            sightline_eval_shard: 1,
            dataset: kind,
            shard: s,
            skipped: skipped.clone(),
        };
        shard::write(out, &header, &frames)?;
        eprintln!(
            "shard {}/{}: {} frames written to {}",
            s.index,
            s.count,
            frames.len(),
            out.display()
        );
    }
    if let Some(dir) = &a.report {
        report(dir, &frames, kind, &skipped, &opts)?;
    }
    if unreadable > 0 && !a.skip_bad {
        bail!(
            "{unreadable} image(s) could not be read and were left out of the scores (listed \
             in the report); pass --skip-bad to accept that"
        );
    }
    Ok(())
}

/// Keeps the frames of one side of the manifest's training split.
fn select_split(
    dataset: &mut Dataset,
    manifest: &sightline_detect::Manifest,
    side: &str,
) -> anyhow::Result<()> {
    let want_validation = match side {
        "validation" => true,
        "training" => false,
        other => bail!("--split {other:?}: expected validation or training"),
    };
    let Some(training) = &manifest.training else {
        bail!(
            "--split {side}: the manifest of {} has no training split (only models written by train-head do)",
            manifest.name
        );
    };
    let rule = training.split;
    let keep: Vec<bool> = dataset
        .frames
        .iter()
        .map(|f| rule.is_validation(&f.id) == want_validation)
        .collect();
    let mut k = keep.iter();
    dataset.frames.retain(|_| *k.next().unwrap_or(&false));
    let mut k = keep.iter();
    dataset.images.retain(|_| *k.next().unwrap_or(&false));
    eprintln!(
        "--split {side}: {} images ({}% validation by file-name hash, seed {})",
        dataset.frames.len(),
        rule.validation_percent,
        rule.seed
    );
    Ok(())
}

fn report(
    dir: &std::path::Path,
    frames: &[Frame],
    kind: DatasetKind,
    skipped: &[Skipped],
    opts: &EvalOptions,
) -> anyhow::Result<()> {
    let (report, curves) = sightline_eval::evaluate(frames, kind, skipped, opts);
    let files = sightline_eval::write_report(dir, &report, &curves)?;
    print!("{}", sightline_eval::markdown_table(&report));
    eprintln!("wrote {} files to {}", files.len(), dir.display());
    Ok(())
}
