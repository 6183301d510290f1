//! `train`: data set → samples → fits → written model and manifest, in that order, each
//! step checked before the next starts (bad input fails before the model loads).

use crate::assign::Grid;
use crate::checks::{check_boxes, check_classes, matches, out_paths};
use crate::collect::{self, ImageLabels};
use crate::fit::{self, FitConfig};
use crate::head::{self, Head, LevelChannels};
use crate::validate;
use crate::written::{new_manifest, write};
use crate::TrainError;
use sightline_detect::manifest::SplitRule;
use sightline_detect::{Class, Detector, DetectorConfig, DeviceChoice, Manifest};
use sightline_eval::{ClassMap, Dataset, DatasetSpec, Frame};
use std::path::PathBuf;
use std::time::Instant;

/// One class to teach: its Sightline name and the data set label of its boxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClass {
    pub name: String,
    pub label: String,
}

impl std::str::FromStr for NewClass {
    type Err = TrainError;
    /// `NAME=LABEL` (`speed_limit=speedlimit`), or `NAME` when the label is the name.
    fn from_str(spec: &str) -> Result<NewClass, TrainError> {
        let bad = |reason: String| TrainError::ClassSpec {
            spec: spec.to_string(),
            reason,
        };
        let (name, label) = spec.split_once('=').unwrap_or((spec, spec));
        let (name, label) = (name.trim(), label.trim());
        if label.is_empty() {
            return Err(bad("empty data set label".into()));
        }
        Class::register(name).map_err(|e| bad(e.to_string()))?;
        Ok(NewClass {
            name: name.to_string(),
            label: label.to_string(),
        })
    }
}

/// Everything [`train`] needs.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// The base model's manifest and weights (`None`: the manifest's search).
    pub base: Manifest,
    pub base_model: Option<PathBuf>,
    pub device: DeviceChoice,
    /// The data set, and its spec as the user wrote it (for the provenance).
    pub dataset: DatasetSpec,
    pub dataset_text: String,
    pub classes: Vec<NewClass>,
    /// `DIR/NAME`: writes `DIR/NAME.onnx` and `DIR/NAME.yaml`.
    pub out: PathBuf,
    pub seed: u64,
    pub validation_percent: u32,
    /// The command line, for the provenance.
    pub command: String,
    pub fit: FitConfig,
}

/// What a run did, for the caller to print.
#[derive(Debug, Clone)]
pub struct Summary {
    pub model: PathBuf,
    pub manifest: PathBuf,
    pub training_images: usize,
    pub validation_images: usize,
    /// Per new class: (name, validation AP50 (pycocotools), chosen threshold, F1 there).
    pub validation: Vec<(String, Option<f64>, f32, f32)>,
    pub collect_seconds: f64,
    pub fit_seconds: f64,
    pub validate_seconds: f64,
}

/// Random background anchors kept per level, over all training images: enough for
/// 65 parameters, few enough that each Newton step stays well under a second.
const BACKGROUND_PER_LEVEL: f64 = 40_000.0;

/// Trains the new classes' channels and writes the model and its manifest.
/// `progress` gets one line per stage and every few images.
pub fn train(config: &TrainConfig, progress: &mut dyn FnMut(&str)) -> Result<Summary, TrainError> {
    let names: Vec<Class> = check_classes(config)?;
    let (model_path, manifest_path) = out_paths(&config.out)?;
    let mut p = prepare(config, progress)?;
    let clock = Instant::now();
    let levels = collect_samples(&mut p, config, progress)?;
    let collect_seconds = clock.elapsed().as_secs_f64();
    let Prepared {
        dataset,
        split,
        detector,
        model,
        head,
        val_idx,
        train_idx,
        base_sha256,
        ..
    } = p;
    // The device memory goes back before validation loads the written model.
    drop(detector);

    // One objectness and one class channel per level and new class.
    let clock = Instant::now();
    let channels = fit_levels(&levels, config, progress)?;
    let fit_seconds = clock.elapsed().as_secs_f64();

    // The written model, then its manifest.
    let written = head.append(model, &channels)?;
    sightline_engine::check_model_bytes(&written).map_err(|e| TrainError::Model {
        path: config.out.clone(),
        reason: format!("the written graph does not load: {e}"),
    })?;

    write(&model_path, &written)?;
    let sha256 =
        sightline_detect::manifest::file_sha256(&model_path).map_err(|e| TrainError::Write {
            path: model_path.clone(),
            source: e,
        })?;
    let mut manifest = new_manifest(config, &model_path, &names, &sha256, &base_sha256, split);

    let clock = Instant::now();
    progress(&format!("validation: {} images", val_idx.len()));
    let val_frames: Vec<(Frame, PathBuf)> = val_idx
        .iter()
        .map(|&i| (dataset.frames[i].clone(), dataset.images[i].clone()))
        .collect();
    let results = validate::run(&manifest, &model_path, config, &names, &val_frames)?;
    let validate_seconds = clock.elapsed().as_secs_f64();
    let mut validation = Vec::new();
    for (k, r) in results.iter().enumerate() {
        let spec = manifest
            .classes
            .iter_mut()
            .find(|c| c.name == names[k])
            .ok_or_else(|| {
                TrainError::Fit(format!("class {} missing from the manifest", names[k]))
            })?;
        spec.score_threshold = r.threshold;
        validation.push((names[k].to_string(), r.ap50, r.threshold, r.f1));
        if let Some(t) = manifest.training.as_mut() {
            t.validation
                .push(sightline_detect::manifest::ValidationResult {
                    class: names[k],
                    images: val_frames.len(),
                    boxes: r.boxes,
                    f1: r.f1,
                });
        }
    }
    let text =
        serde_yaml::to_string(&manifest).map_err(|e| TrainError::Fit(format!("manifest: {e}")))?;
    let header = format!(
        "# Written by `sightline train-head`: {} plus {} trained class(es).\n# Provenance under `training`; the base model's notes are in its own manifest.\n",
        config.base.name,
        names.len()
    );
    write(&manifest_path, format!("{header}{text}").as_bytes())?;
    Ok(Summary {
        model: model_path,
        manifest: manifest_path,
        training_images: train_idx.len(),
        validation_images: val_idx.len(),
        validation,
        collect_seconds,
        fit_seconds,
        validate_seconds,
    })
}

/// The levels' grids from the manifest, checked against the head.
fn grid_of(manifest: &Manifest, head: &Head) -> Result<Grid, TrainError> {
    let (w, h) = (
        manifest.input.width as usize,
        manifest.input.height as usize,
    );
    let levels: Vec<(usize, usize, f32)> = manifest
        .output
        .strides
        .iter()
        .map(|&s| (w / s as usize, h / s as usize, s as f32))
        .collect();
    if levels.len() != head.levels.len() {
        return Err(TrainError::HeadShape(format!(
            "{} head levels, the manifest lists {} strides",
            head.levels.len(),
            levels.len()
        )));
    }
    Ok(Grid { levels })
}

/// The frame's boxes scaled into the model input (letterboxed top-left by r).
fn labels_in_input(
    config: &TrainConfig,
    frame: &Frame,
    rgb: &image::RgbImage,
    manifest: &Manifest,
) -> ImageLabels {
    let r = (manifest.input.width as f32 / rgb.width() as f32)
        .min(manifest.input.height as f32 / rgb.height() as f32);
    let scale = |b: &[f64; 4]| b.map(|v| v as f32 * r);
    ImageLabels {
        per_class: config
            .classes
            .iter()
            .map(|c| {
                frame
                    .gt
                    .iter()
                    .filter(|g| matches(&g.label, &c.label) && !g.ignore)
                    .map(|g| scale(&g.bbox))
                    .collect()
            })
            .collect(),
        all: frame.gt.iter().map(|g| scale(&g.bbox)).collect(),
    }
}

/// One objectness and one class channel per level and new class.
fn fit_levels(
    levels: &[collect::LevelSamples],
    config: &TrainConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<LevelChannels>, TrainError> {
    let mut channels: Vec<LevelChannels> = Vec::new();
    for (l, samples) in levels.iter().enumerate() {
        let mut level = LevelChannels {
            objectness: Vec::new(),
            class: Vec::new(),
        };
        for (j, class) in config.classes.iter().enumerate() {
            let (cls, reg) = samples.for_class(j);
            let positives = samples.positives(j);
            let what = |branch: &str| format!("class {} level {l} {branch}", class.name);
            // A level where no box of this class has positives (a small-sign data set's
            // coarsest level, say) gets a channel that never fires rather than an error.
            let (obj, score) = if positives == 0 {
                progress(&format!(
                    "{}: no positives on level {l}; its channels stay off",
                    class.name
                ));
                let off = (vec![0.0; samples.cls.dim], -30.0);
                (off.clone(), off)
            } else {
                let o = fit::fit(&reg, &config.fit, &what("objectness"))?;
                let c = fit::fit(&cls, &config.fit, &what("class"))?;
                progress(&format!(
                    "{} level {l}: {positives} positives of {} samples; objectness loss {:.4} ({} steps), class loss {:.4} ({} steps)",
                    class.name,
                    samples.labels.len(),
                    o.loss,
                    o.steps,
                    c.loss,
                    c.steps
                ));
                ((o.weights, o.bias), (c.weights, c.bias))
            };
            level.objectness.push(obj);
            level.class.push(score);
        }
        channels.push(level);
    }
    Ok(channels)
}

/// What every phase after the input checks works on.
pub(crate) struct Prepared {
    pub dataset: Dataset,
    pub split: SplitRule,
    /// The base model, keeping its head features readable.
    pub detector: Detector,
    pub model: sightline_engine::proto::ModelProto,
    pub head: Head,
    pub grid: Grid,
    pub taps: Vec<collect::LevelTaps>,
    pub train_idx: Vec<usize>,
    pub val_idx: Vec<usize>,
    pub base_sha256: String,
}

/// Reads and checks the data set, loads the base model and finds its head.
pub(crate) fn prepare(
    config: &TrainConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<Prepared, TrainError> {
    let dataset = Dataset::load(&config.dataset, &ClassMap::default())?;
    if !dataset.skipped.is_empty() {
        return Err(TrainError::MissingImages {
            dataset: config.dataset_text.clone(),
            count: dataset.skipped.len(),
            list: dataset
                .skipped
                .iter()
                .map(|s| format!("{} ({})", s.path.display(), s.reason))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let split = SplitRule {
        validation_percent: config.validation_percent,
        seed: config.seed,
    };
    check_boxes(config, &dataset, &split)?;

    let detector_config = DetectorConfig {
        manifest: config.base.clone(),
        model_path: config.base_model.clone(),
        device: config.device,
        head_features: true,
        ..Default::default()
    };
    let detector = Detector::new(detector_config)?;
    let base_path = detector.model_path().to_path_buf();
    let bytes = std::fs::read(&base_path).map_err(|e| TrainError::Model {
        path: base_path.clone(),
        reason: e.to_string(),
    })?;
    let base_sha256 =
        sightline_detect::manifest::file_sha256(&base_path).map_err(|e| TrainError::Model {
            path: base_path.clone(),
            reason: e.to_string(),
        })?;
    let model = head::decode(&bytes, &base_path)?;
    let head = Head::find(&model)?;
    let grid = grid_of(&config.base, &head)?;
    if head.classes != config.base.output.num_classes {
        return Err(TrainError::HeadShape(format!(
            "{} class channels, the manifest says {}",
            head.classes, config.base.output.num_classes
        )));
    }
    let taps = collect::level_taps(&detector, &head)?;

    let train_idx: Vec<usize> = (0..dataset.frames.len())
        .filter(|&i| !split.is_validation(&dataset.frames[i].id))
        .collect();
    let val_idx: Vec<usize> = (0..dataset.frames.len())
        .filter(|&i| split.is_validation(&dataset.frames[i].id))
        .collect();
    progress(&format!(
        "{} training images, {} held out for validation ({}% by file-name hash, seed {})",
        train_idx.len(),
        val_idx.len(),
        split.validation_percent,
        split.seed
    ));
    Ok(Prepared {
        dataset,
        split,
        detector,
        model,
        head,
        grid,
        taps,
        train_idx,
        val_idx,
        base_sha256,
    })
}

/// Runs the base model on the training split and gathers each level's samples.
pub(crate) fn collect_samples(
    p: &mut Prepared,
    config: &TrainConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<collect::LevelSamples>, TrainError> {
    let (dataset, grid, train_idx) = (&p.dataset, &p.grid, &p.train_idx);
    let rates: Vec<f64> = grid
        .levels
        .iter()
        .map(|&(gx, gy, _)| {
            (BACKGROUND_PER_LEVEL / (gx * gy * train_idx.len().max(1)) as f64).min(1.0)
        })
        .collect();
    let mut levels = collect::empty_levels(&p.taps);
    for (n, &i) in train_idx.iter().enumerate() {
        let frame = &dataset.frames[i];
        let rgb = collect::load_image(&dataset.images[i])?;
        let labels = labels_in_input(config, frame, &rgb, &config.base);
        collect::add_image(
            &mut p.detector,
            &rgb,
            &labels,
            grid,
            &p.taps,
            &rates,
            |l| collect::Rng::new(config.seed, &frame.id, l),
            &mut levels,
        )?;
        if (n + 1) % 25 == 0 || n + 1 == train_idx.len() {
            progress(&format!("features: {}/{} images", n + 1, train_idx.len()));
        }
    }
    Ok(levels)
}

#[cfg(test)]
#[path = "experiment_tests.rs"]
mod experiment_tests;
