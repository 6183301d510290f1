//! What `train-head` writes: the model bytes and the manifest that goes beside them.

use crate::train::TrainConfig;
use crate::TrainError;
use sightline_detect::manifest::{ClassSpec, SplitRule, Training};
use sightline_detect::{Class, Manifest};
use std::path::Path;

/// Writes `path` whole or not at all, creating its directory.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::Write {
            path: dir.to_path_buf(),
            source: e,
        })?;
    }
    sightline_types::files::write_atomically(path, |w| w.write_all(bytes)).map_err(|e| {
        TrainError::Write {
            path: path.to_path_buf(),
            source: e,
        }
    })
}

/// The base manifest plus the new classes: after the base's K class channels come k
/// objectness channels, then k class channels (the order [`Head::append`] writes).
pub(crate) fn new_manifest(
    config: &TrainConfig,
    model_path: &Path,
    names: &[Class],
    sha256: &str,
    base_sha256: &str,
    split: SplitRule,
) -> Manifest {
    let mut m = config.base.clone();
    let k = names.len();
    let base_classes = m.output.num_classes;
    m.name = model_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trained".into());
    m.file = model_path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    m.sha256 = vec![sha256.to_string()];
    m.source = format!(
        "written by sightline train-head from {} ({})",
        config.base.name, config.base.source
    );
    m.output.num_classes = base_classes + 2 * k;
    for (j, (name, c)) in names.iter().zip(&config.classes).enumerate() {
        m.classes.push(ClassSpec {
            id: base_classes + k + j,
            name: *name,
            // Replaced by the validation split's best-F1 threshold.
            score_threshold: 0.3,
            objectness: Some(base_classes + j),
            labels: vec![c.label.clone()],
        });
    }
    m.training = Some(Training {
        base_model: config.base.name.clone(),
        base_sha256: base_sha256.to_string(),
        dataset: config.dataset_text.clone(),
        split,
        seed: config.seed,
        command: config.command.clone(),
        validation: Vec::new(),
    });
    m
}
