//! `sightline eval`: score detections against a labeled dataset, optionally one shard of
//! it, and `sightline eval merge` to combine shards. All metrics live in
//! `sightline-eval`; this file parses flags and moves files.

use std::path::PathBuf;

use anyhow::{bail, Context};
use sightline_eval::shard::{self, ShardHeader, ShardSpec};
use sightline_eval::{
    ClassMap, Dataset, DatasetKind, DatasetSpec, Detection, EvalOptions, Frame, Skipped,
};

use crate::cmd::detect::DetectorArgs;

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
    /// kitti:DIR, yolo:DIR, voc:DIR or coco:FILE.
    #[arg(long)]
    dataset: Option<String>,
    /// Score detections from this JSONL file (the `sightline detect` schema) instead of
    /// running the detector.
    #[arg(long, conflicts_with = "model")]
    detections: Option<PathBuf>,
    #[command(flatten)]
    detector: DetectorArgs,
    /// Camera calibration, to localize detections (range error needs it).
    #[arg(long)]
    calibration: Option<PathBuf>,
    /// Lowest detector score kept (AP wants a low one).
    #[arg(long, default_value_t = 0.001)]
    score_threshold: f32,
    /// Score at which precision, recall, F1 and range error are taken.
    #[arg(long, default_value_t = 0.3)]
    operating_threshold: f64,
    /// Dataset label → class map (YAML); default: the shipped map.
    #[arg(long)]
    class_map: Option<PathBuf>,
    /// Directory for report.json, report.md and plots.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Evaluate only shard K of N (frames sorted by id, frame i in shard i % N).
    #[arg(long, requires = "out")]
    shard: Option<String>,
    /// Where a shard's frames go, for `sightline eval merge`.
    #[arg(long, requires = "shard")]
    out: Option<PathBuf>,
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
    };
    report(&m.report, &frames, kind, &skipped, &opts)
}

fn run_eval(a: RunArgs) -> anyhow::Result<()> {
    let Some(spec) = a.dataset.as_deref() else {
        bail!("--dataset is required (kitti:DIR, yolo:DIR, voc:DIR or coco:FILE)");
    };
    let spec: DatasetSpec = spec.parse()?;
    let shard = a
        .shard
        .as_deref()
        .map(str::parse::<ShardSpec>)
        .transpose()?;
    if shard.is_none() && a.report.is_none() {
        bail!("--report DIR is required (or --shard K/N --out FILE)");
    }
    let map = match &a.class_map {
        Some(p) => ClassMap::load(p)?,
        None => ClassMap::default(),
    };
    let dataset = Dataset::load(&spec, &map)
        .with_context(|| format!("reading dataset {}", spec.path.display()))?;
    for s in &dataset.skipped {
        eprintln!("skipped {}: {}", s.path.display(), s.reason);
    }
    let kind = dataset.kind;
    let skipped = dataset.skipped.clone();
    let mut frames: Vec<Frame> = dataset.frames;
    match &a.detections {
        Some(path) => {
            if a.calibration.is_some() {
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
            // One calibration for all frames, else KITTI's per-frame calib/<frame>.txt.
            let fixed = a
                .calibration
                .as_deref()
                .map(crate::cmd::localize::load)
                .transpose()?;
            eprintln!("running the detector on {} images", images.len());
            let results = if images.is_empty() {
                Vec::new() // an empty shard
            } else {
                crate::cmd::detect::detect_paths(&images, &a.detector, a.score_threshold)?
            };
            let mut dets = std::collections::BTreeMap::new();
            for r in results {
                let per_frame = match (&fixed, kind) {
                    (None, DatasetKind::Kitti) => {
                        let calib = spec.path.join("calib").join(format!("{}.txt", r.image));
                        calib
                            .is_file()
                            .then(|| crate::cmd::localize::kitti_frame(&calib, r.width, r.height))
                            .transpose()?
                    }
                    _ => None,
                };
                let localizer = fixed.as_ref().or(per_frame.as_ref());
                let converted = r
                    .detections
                    .iter()
                    .filter_map(|d| {
                        let class = sightline_eval::Class::from_name(d.class.as_str())?;
                        let location = localizer.and_then(|l| crate::cmd::localize::locate(l, d));
                        Some(Detection {
                            class,
                            score: f64::from(d.score),
                            bbox: d.bbox.map(f64::from),
                            position: location
                                .as_ref()
                                .map(|l| [l.position.x, l.position.y, l.position.z]),
                            range_m: location.as_ref().map(|l| l.range_m),
                        })
                    })
                    .collect::<Vec<_>>();
                dets.insert(r.image, converted);
            }
            sightline_eval::detections::attach(&mut frames, dets);
        }
    }
    let opts = EvalOptions {
        operating_threshold: a.operating_threshold,
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
    match &a.report {
        Some(dir) => report(dir, &frames, kind, &skipped, &opts),
        None => Ok(()),
    }
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
