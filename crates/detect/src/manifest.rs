//! Model manifests (`models/*.yaml`): which weights file, how to feed it, how to read
//! its output, and how its classes map to Sightline's. A manifest names its classes;
//! names beyond the shipped three (a trained head's) are registered as classes when it
//! is read, and such a class may score with an objectness channel of its own.

use crate::{Class, DetectError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The manifest of the default model, compiled in so the binary works from any directory.
pub const DEFAULT_MANIFEST: &str = include_str!("../../../models/yolox_nano.yaml");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    /// Weights file name, looked up in the model directories.
    pub file: String,
    /// Accepted SHA-256 digests of the weights file (lower-case hex).
    pub sha256: Vec<String>,
    /// Where users obtain the weights.
    pub source: String,
    pub license: String,
    pub input: InputSpec,
    pub output: OutputSpec,
    pub classes: Vec<ClassSpec>,
    pub nms_iou: f32,
    /// Most detections kept per class and frame.
    pub max_detections: usize,
    /// How a trained head was made (`sightline train-head`); absent for shipped models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<Training>,
}

/// Provenance of a model written by `sightline train-head`: enough to redo the fit and
/// to score on the same validation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Training {
    /// The base model's manifest name and weights digest.
    pub base_model: String,
    pub base_sha256: String,
    /// The data set as given (`voc:DIR`, ...).
    pub dataset: String,
    /// Which images were held out (file stem hash; `sightline eval --split`).
    pub split: SplitRule,
    pub seed: u64,
    /// The command line that wrote the model.
    pub command: String,
    /// What the fit measured on the validation split, per new class.
    #[serde(default)]
    pub validation: Vec<ValidationResult>,
}

/// The held-out part: an image is in validation when
/// `fnv1a64(seed as 8 little-endian bytes ++ file stem) % 100 < percent`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitRule {
    pub validation_percent: u32,
    pub seed: u64,
}

impl SplitRule {
    /// Whether the image with this file stem is held out for validation.
    pub fn is_validation(&self, stem: &str) -> bool {
        // FNV-1a: stable across platforms and Rust versions (std's hasher is not).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.seed.to_le_bytes().iter().chain(stem.as_bytes()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h % 100 < u64::from(self.validation_percent)
    }
}

/// One new class's numbers on the validation split, as the fit measured them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationResult {
    pub class: Class,
    pub images: usize,
    pub boxes: usize,
    /// The score threshold with the best F1, written as the class's `score_threshold`.
    pub f1: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub width: u32,
    pub height: u32,
    pub channel_order: ChannelOrder,
    pub value_range: [f32; 2],
    pub letterbox_pad: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub strides: Vec<u32>,
    pub num_classes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassSpec {
    /// Index of the class in the model's output.
    pub id: usize,
    pub name: Class,
    pub score_threshold: f32,
    /// Channel of the class's own objectness (a trained head's class); absent: the
    /// model's shared objectness. Counted like `id`, after the shared objectness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objectness: Option<usize>,
    /// Data set labels of this class (what `sightline eval` maps to it), for classes
    /// the shipped class map does not know.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

impl Manifest {
    pub fn parse(text: &str, origin: &str) -> Result<Manifest, DetectError> {
        let manifest: Manifest = serde_yaml::from_str(text).map_err(|e| DetectError::Manifest {
            origin: origin.to_string(),
            reason: e.to_string(),
        })?;
        manifest.validate(origin)?;
        Ok(manifest)
    }

    /// Reads a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, DetectError> {
        let text = std::fs::read_to_string(path).map_err(|e| DetectError::Manifest {
            origin: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Manifest::parse(&text, &path.display().to_string())
    }

    /// The manifest that goes with `model`: `explicit` if given, else `NAME.yaml` beside
    /// `NAME.onnx` when there is one, else the default model's.
    pub fn for_model(
        model: Option<&Path>,
        explicit: Option<&Path>,
    ) -> Result<Manifest, DetectError> {
        if let Some(path) = explicit {
            return Manifest::load(path);
        }
        if let Some(beside) = model
            .map(|m| m.with_extension("yaml"))
            .filter(|p| p.is_file())
        {
            return Manifest::load(&beside);
        }
        Ok(Manifest::default_model())
    }

    pub fn default_model() -> Manifest {
        Manifest::parse(DEFAULT_MANIFEST, "models/yolox_nano.yaml")
            .expect("the compiled-in manifest is valid")
    }

    fn validate(&self, origin: &str) -> Result<(), DetectError> {
        let bad = |reason: String| {
            Err(DetectError::Manifest {
                origin: origin.to_string(),
                reason,
            })
        };
        if self.input.width == 0 || self.input.height == 0 {
            return bad("input width/height must be positive".into());
        }
        if self.output.strides.is_empty()
            || self.output.strides.iter().any(|&s| {
                s == 0
                    || !self.input.width.is_multiple_of(s)
                    || !self.input.height.is_multiple_of(s)
            })
        {
            return bad(format!(
                "strides {:?} must divide the input size",
                self.output.strides
            ));
        }
        let levels = crate::kernels::decode::MAX_LEVELS;
        if self.output.strides.len() > levels {
            return bad(format!(
                "{} strides {:?}: decoding supports at most {levels} output levels",
                self.output.strides.len(),
                self.output.strides
            ));
        }
        // The letterbox kernel feeds raw pixel values; a model trained on [0, 1] or on
        // normalised input would get wrong numbers, not an error, so refuse it here.
        if self.input.value_range != [0.0, 255.0] {
            return bad(format!(
                "value_range {:?}: only [0, 255] (raw pixel values) is supported",
                self.input.value_range
            ));
        }
        if let Some(c) = self
            .classes
            .iter()
            .find(|c| !(0.0..=1.0).contains(&c.score_threshold))
        {
            return bad(format!(
                "class {}: score_threshold {} outside [0, 1]",
                c.name, c.score_threshold
            ));
        }
        if let Some(c) = self
            .classes
            .iter()
            .find(|c| c.id >= self.output.num_classes)
        {
            return bad(format!(
                "class id {} >= num_classes {}",
                c.id, self.output.num_classes
            ));
        }
        if let Some((c, o)) = self.classes.iter().find_map(|c| {
            c.objectness
                .filter(|&o| o >= self.output.num_classes)
                .map(|o| (c, o))
        }) {
            return bad(format!(
                "class {}: objectness channel {o} >= num_classes {}",
                c.name, self.output.num_classes
            ));
        }
        for (i, c) in self.classes.iter().enumerate() {
            if self.classes[..i].iter().any(|d| d.name == c.name) {
                return bad(format!("class {} is listed twice", c.name));
            }
            if let Some(o) = c.objectness {
                if o == c.id || self.classes.iter().any(|d| d.id == o) {
                    return bad(format!(
                        "class {}: objectness channel {o} is also a class score channel",
                        c.name
                    ));
                }
            }
        }
        if self.classes.is_empty() {
            return bad("no classes".into());
        }
        if !(0.0..=1.0).contains(&self.nms_iou) {
            return bad(format!("nms_iou {} outside [0, 1]", self.nms_iou));
        }
        Ok(())
    }

    /// Finds and verifies the weights: `explicit` (from `--model`), else
    /// `$SIGHTLINE_MODELS/<file>`, else `../shared/models/<file>`.
    pub fn locate_weights(&self, explicit: Option<&Path>) -> Result<PathBuf, DetectError> {
        let candidates: Vec<PathBuf> = match explicit {
            Some(p) => vec![p.to_path_buf()],
            None => {
                let mut dirs = Vec::new();
                if let Some(d) = std::env::var_os("SIGHTLINE_MODELS") {
                    dirs.push(PathBuf::from(d));
                }
                dirs.push(PathBuf::from("../shared/models"));
                dirs.into_iter().map(|d| d.join(&self.file)).collect()
            }
        };
        let Some(path) = candidates.iter().find(|p| p.is_file()) else {
            return Err(DetectError::ModelMissing {
                looked: candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                file: self.file.clone(),
                source_url: self.source.clone(),
            });
        };
        let bytes = std::fs::read(path).map_err(|e| DetectError::ModelMissing {
            looked: format!("{} ({e})", path.display()),
            file: self.file.clone(),
            source_url: self.source.clone(),
        })?;
        let digest = sha256_hex(&bytes);
        if !self.sha256.iter().any(|d| d.eq_ignore_ascii_case(&digest)) {
            return Err(DetectError::ModelChecksum {
                path: path.clone(),
                actual: digest,
                expected: self.sha256.join(" or "),
                source_url: self.source.clone(),
            });
        }
        Ok(path.clone())
    }
}

/// The SHA-256 of a file, lower-case hex: what the manifest's `sha256` lists, and the
/// model version exports record.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    Ok(sha256_hex(&std::fs::read(path)?))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_manifest_maps_the_three_classes() {
        let m = Manifest::default_model();
        let ids: Vec<(usize, Class)> = m.classes.iter().map(|c| (c.id, c.name)).collect();
        assert_eq!(
            ids,
            vec![
                (0, Class::Pedestrian),
                (9, Class::TrafficLight),
                (11, Class::StopSign)
            ]
        );
        assert_eq!(m.input.letterbox_pad, 114.0);
    }

    #[test]
    fn bad_manifests_name_the_problem() {
        let text = DEFAULT_MANIFEST.replace("num_classes: 80", "num_classes: 5");
        let err = Manifest::parse(&text, "test.yaml").unwrap_err().to_string();
        assert!(
            err.contains("test.yaml") && err.contains("class id 9"),
            "{err}"
        );
        // Any well-formed name is a class now (a trained head's); a malformed one or a
        // repeated one is not.
        let text = DEFAULT_MANIFEST.replace("name: pedestrian", "name: Cyclist!");
        let err = Manifest::parse(&text, "test.yaml").unwrap_err().to_string();
        assert!(err.contains("Cyclist!"), "{err}");
        let text = DEFAULT_MANIFEST.replace("name: pedestrian", "name: stop_sign");
        let err = Manifest::parse(&text, "test.yaml").unwrap_err().to_string();
        assert!(err.contains("stop_sign is listed twice"), "{err}");
        let text = DEFAULT_MANIFEST.replace(
            "name: stop_sign, score_threshold: 0.3 }",
            "name: stop_sign, score_threshold: 0.3, objectness: 9 }",
        );
        let err = Manifest::parse(&text, "test.yaml").unwrap_err().to_string();
        assert!(err.contains("objectness channel 9"), "{err}");
        // Regressions (issue 13): both were accepted and then ignored.
        let text = DEFAULT_MANIFEST.replace("strides: [8, 16, 32]", "strides: [8, 8, 8, 8, 8]");
        let err = Manifest::parse(&text, "test.yaml").unwrap_err().to_string();
        assert!(err.contains("at most 4 output levels"), "{err}");
        let text = DEFAULT_MANIFEST.replace("value_range: [0, 255]", "value_range: [0, 1]");
        let err = Manifest::parse(&text, "test.yaml").unwrap_err().to_string();
        assert!(err.contains("value_range [0.0, 1.0]"), "{err}");
    }

    #[test]
    fn missing_and_wrong_weights_say_where_to_get_them() {
        let m = Manifest::default_model();
        let dir = std::env::temp_dir().join(format!("sightline-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = m
            .locate_weights(Some(&dir.join("nope.onnx")))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("nope.onnx") && missing.contains("releases/download"),
            "{missing}"
        );
        let wrong = dir.join("yolox_nano.onnx");
        std::fs::write(&wrong, b"not a model").unwrap();
        let err = m.locate_weights(Some(&wrong)).unwrap_err().to_string();
        assert!(
            err.contains("sha256") && err.contains("releases/download"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
