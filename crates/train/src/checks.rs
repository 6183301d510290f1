//! Input checks of `train-head`, all made before the model loads: the output path, the
//! new class names, and that each new class has boxes to fit on.

use crate::train::TrainConfig;
use crate::TrainError;
use sightline_detect::manifest::SplitRule;
use sightline_detect::Class;
use sightline_eval::Dataset;
use std::path::{Path, PathBuf};

/// `DIR/NAME.onnx` and `DIR/NAME.yaml`; appended, not `with_extension`, since NAME may
/// hold a dot (`yolox_nano.v2`).
pub(crate) fn out_paths(out: &Path) -> Result<(PathBuf, PathBuf), TrainError> {
    let stem = out
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty() && s != "." && s != "..")
        .ok_or_else(|| TrainError::Out {
            path: out.to_path_buf(),
            reason: "expected DIR/NAME".into(),
        })?;
    Ok((
        out.with_file_name(format!("{stem}.onnx")),
        out.with_file_name(format!("{stem}.yaml")),
    ))
}

/// New names must be new: not a class of the base model, not given twice.
pub(crate) fn check_classes(config: &TrainConfig) -> Result<Vec<Class>, TrainError> {
    if config.classes.is_empty() {
        return Err(TrainError::ClassSpec {
            spec: String::new(),
            reason: "no --class given".into(),
        });
    }
    let mut names = Vec::new();
    for c in &config.classes {
        let class = Class::register(&c.name).map_err(|e| TrainError::ClassSpec {
            spec: c.name.clone(),
            reason: e.to_string(),
        })?;
        if config.base.classes.iter().any(|b| b.name == class) || class.is_builtin() {
            return Err(TrainError::ClassExists {
                name: c.name.clone(),
            });
        }
        if names.contains(&class) {
            return Err(TrainError::ClassSpec {
                spec: c.name.clone(),
                reason: "given twice".into(),
            });
        }
        names.push(class);
    }
    if names.len() > 16 {
        return Err(TrainError::ClassSpec {
            spec: format!("{} classes", names.len()),
            reason: "at most 16 new classes at once".into(),
        });
    }
    Ok(names)
}

pub(crate) fn matches(label: &str, wanted: &str) -> bool {
    label.eq_ignore_ascii_case(wanted)
}

/// Every new class has boxes, and some of them in the training split.
pub(crate) fn check_boxes(
    config: &TrainConfig,
    dataset: &Dataset,
    split: &SplitRule,
) -> Result<(), TrainError> {
    for c in &config.classes {
        let (mut train, mut total) = (0, 0);
        for f in &dataset.frames {
            let n = f.gt.iter().filter(|g| matches(&g.label, &c.label)).count();
            total += n;
            if !split.is_validation(&f.id) {
                train += n;
            }
        }
        if total == 0 {
            let mut seen: Vec<&str> = dataset
                .frames
                .iter()
                .flat_map(|f| f.gt.iter().map(|g| g.label.as_str()))
                .collect();
            seen.sort_unstable();
            seen.dedup();
            return Err(TrainError::NoBoxes {
                name: c.name.clone(),
                label: c.label.clone(),
                dataset: config.dataset_text.clone(),
                seen: if seen.is_empty() {
                    "none".into()
                } else {
                    seen.join(", ")
                },
            });
        }
        if train == 0 {
            return Err(TrainError::NoTrainingBoxes {
                name: c.name.clone(),
                label: c.label.clone(),
                boxes: total,
            });
        }
    }
    Ok(())
}
