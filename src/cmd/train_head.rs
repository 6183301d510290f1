//! `sightline train-head`: teach the detector new classes (docs/training.md). Flags are
//! checked here; the fit and the graph surgery live in `sightline-train`.

use anyhow::Context;
use sightline_eval::DatasetSpec;
use sightline_train::{NewClass, TrainConfig};
use std::path::PathBuf;

use crate::cmd::setup::DetectorArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Labelled photos: voc:DIR, yolo:DIR, coco:FILE (also cvat:FILE.xml,
    /// labelstudio:FILE.json).
    #[arg(long)]
    dataset: String,
    /// A class to teach, NAME=LABEL: its Sightline name and the data set's label of its
    /// boxes, e.g. speed_limit=speedlimit (repeatable).
    #[arg(long = "class", value_name = "NAME=LABEL", required = true)]
    classes: Vec<String>,
    /// DIR/NAME: writes DIR/NAME.onnx (base model + new channels) and DIR/NAME.yaml.
    #[arg(long)]
    out: PathBuf,
    /// Seeds the split and the background sampling; the same seed gives the same model.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of the photos (by file-name hash) held out for validation and thresholds.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=90))]
    validation_percent: u32,
    /// L2 penalty of the fits, per unit of sample weight.
    #[arg(long, default_value_t = 1e-4)]
    l2: f64,
    #[command(flatten)]
    detector: DetectorArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let dataset: DatasetSpec = args
        .dataset
        .parse()
        .with_context(|| format!("--dataset {}", args.dataset))?;
    let classes = args
        .classes
        .iter()
        .map(|c| c.parse::<NewClass>())
        .collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(
        args.l2.is_finite() && args.l2 >= 0.0,
        "--l2 {}: expected a finite value >= 0",
        args.l2
    );
    let config = TrainConfig {
        base: args.detector.manifest()?,
        base_model: args.detector.model.clone(),
        device: args.detector.device.parse()?,
        dataset,
        dataset_text: args.dataset.clone(),
        classes,
        out: args.out.clone(),
        seed: args.seed,
        validation_percent: args.validation_percent,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        fit: sightline_train::fit::FitConfig {
            l2: args.l2,
            ..Default::default()
        },
    };
    let summary = sightline_train::train(&config, &mut |line| eprintln!("{line}"))?;
    eprintln!(
        "features {:.1} s, fit {:.1} s, validation {:.1} s",
        summary.collect_seconds, summary.fit_seconds, summary.validate_seconds
    );
    for (name, ap50, threshold, f1) in &summary.validation {
        let ap = ap50.map_or("n/a".to_string(), |a| format!("{a:.3}"));
        println!(
            "{name}: validation AP50 {ap} over {} images; threshold {threshold:.3} (F1 {f1:.3})",
            summary.validation_images
        );
    }
    println!(
        "wrote {} and {}",
        summary.model.display(),
        summary.manifest.display()
    );
    Ok(())
}
