//! A camera's set-up, validated once, the same for the node, replay, detect, bench and
//! eval: its calibration (and localizer), the per-class score thresholds, the frame of
//! its 3D results, and whether to draw a debug image.

use crate::tiling::Tiling;
use sightline_detect::{Class, Manifest};
use sightline_geometry::{Calibration, Localizer, Priors};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a camera could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error("calibration {path}: {reason}")]
    Calibration { path: PathBuf, reason: String },
    #[error("threshold {spec:?}: {reason}")]
    Threshold { spec: String, reason: String },
    #[error("base frame {0:?} is not a tf frame id")]
    BaseFrame(String),
}

/// The score a detection needs, per class.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    per_class: BTreeMap<Class, f32>,
    /// `--score-threshold`: every class not set one by one, including classes a model's
    /// manifest names later ([`Thresholds::complete`]).
    every: Option<f32>,
}

impl Default for Thresholds {
    /// The default model manifest's thresholds.
    fn default() -> Self {
        let mut t = Thresholds {
            per_class: BTreeMap::new(),
            every: None,
        };
        t.complete(&Manifest::default_model());
        t
    }
}

impl Thresholds {
    /// The same threshold for every class.
    pub fn all(value: f32) -> Result<Thresholds, CameraError> {
        let value = unit("all classes", value)?;
        Ok(Thresholds {
            per_class: Class::known().into_iter().map(|c| (c, value)).collect(),
            every: Some(value),
        })
    }

    /// Gives each class of `manifest` that has no threshold yet the one for every class
    /// if set, else the manifest's: a trained model's classes get its thresholds.
    pub fn complete(&mut self, manifest: &Manifest) {
        for c in &manifest.classes {
            let value = self.every.unwrap_or(c.score_threshold);
            self.per_class.entry(c.name).or_insert(value);
        }
    }

    /// Sets one class's threshold.
    pub fn set(&mut self, class: Class, value: f32) -> Result<(), CameraError> {
        self.per_class.insert(class, unit(class.as_str(), value)?);
        Ok(())
    }

    /// Applies `class=value` (the `--threshold` flag).
    pub fn apply(&mut self, spec: &str) -> Result<(), CameraError> {
        let bad = |reason: String| CameraError::Threshold {
            spec: spec.into(),
            reason,
        };
        let (name, value) = spec
            .split_once('=')
            .ok_or_else(|| bad("expected CLASS=SCORE, e.g. pedestrian=0.4".into()))?;
        let class = Class::from_name(name.trim())
            .ok_or_else(|| bad(format!("unknown class {name:?} ({})", Class::known_names())))?;
        let value: f32 = value
            .trim()
            .parse()
            .map_err(|_| bad(format!("{value:?} is not a number")))?;
        self.set(class, value)
    }

    pub fn get(&self, class: Class) -> f32 {
        self.per_class
            .get(&class)
            .copied()
            .or(self.every)
            .unwrap_or(0.0)
    }

    /// The lowest threshold: the detector's own cut, before the per-class one.
    pub fn min(&self) -> f32 {
        self.per_class
            .values()
            .copied()
            .chain(self.every)
            .fold(1.0, f32::min)
    }

    pub fn iter(&self) -> impl Iterator<Item = (Class, f32)> + '_ {
        self.per_class.iter().map(|(&c, &v)| (c, v))
    }
}

fn unit(what: &str, value: f32) -> Result<f32, CameraError> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(CameraError::Threshold {
            spec: what.into(),
            reason: format!("{value} is outside [0, 1]"),
        })
    }
}

/// The default frame of 3D results (REP-103).
pub const BASE_LINK: &str = "base_link";

/// Checks a tf frame id (no leading slash, no whitespace).
pub fn check_base_frame(frame: &str) -> Result<(), CameraError> {
    if frame.is_empty() || frame.starts_with('/') || frame.contains(char::is_whitespace) {
        return Err(CameraError::BaseFrame(frame.into()));
    }
    Ok(())
}

/// One camera, set up.
#[derive(Debug, Clone)]
pub struct Camera {
    /// The camera's name in logs and diagnostics (a ROS namespace, a bag topic, a path).
    pub name: String,
    /// `None`: 2D only.
    pub localizer: Option<Localizer>,
    pub thresholds: Thresholds,
    /// Frame of the 3D results; the frame the calibration's mount is given in.
    pub base_frame: String,
    /// Draw the detections into a debug image.
    pub draw: bool,
    /// Tiles the model sees besides the whole frame.
    pub tiling: Tiling,
}

impl Camera {
    /// A camera without calibration (2D only), the manifest's thresholds, `base_link`.
    pub fn new(name: impl Into<String>) -> Camera {
        Camera {
            name: name.into(),
            localizer: None,
            thresholds: Thresholds::default(),
            base_frame: BASE_LINK.into(),
            draw: false,
            tiling: Tiling::Off,
        }
    }

    /// Loads a calibration YAML (camera_info + mount) with the default priors.
    pub fn calibrated(mut self, path: &Path) -> Result<Camera, CameraError> {
        let bad = |reason: String| CameraError::Calibration {
            path: path.to_path_buf(),
            reason,
        };
        let calibration = Calibration::load(path).map_err(|e| bad(e.to_string()))?;
        self.localizer = Some(localizer(calibration).map_err(bad)?);
        Ok(self)
    }
}

/// A calibration with the default priors.
pub fn localizer(calibration: Calibration) -> Result<Localizer, String> {
    Localizer::new(calibration, Priors::default()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_one_rule() {
        let defaults = Thresholds::default();
        for spec in Manifest::default_model().classes {
            assert_eq!(defaults.get(spec.name), spec.score_threshold);
        }
        let mut t = Thresholds::all(0.2).unwrap();
        t.apply("pedestrian=0.4").unwrap();
        assert_eq!(t.get(Class::Pedestrian), 0.4);
        assert_eq!(t.get(Class::StopSign), 0.2);
        assert_eq!(t.min(), 0.2);
        let err = |spec: &str| t.clone().apply(spec).unwrap_err().to_string();
        assert!(err("car=0.3").contains("unknown class"));
        assert!(err("pedestrian").contains("CLASS=SCORE"));
        assert!(err("pedestrian=1.5").contains("outside [0, 1]"));
        assert!(err("pedestrian=x").contains("not a number"));
        assert!(Thresholds::all(-0.1).is_err());
    }

    #[test]
    fn base_frames_are_tf_ids() {
        assert!(check_base_frame("base_link").is_ok());
        for bad in ["", "/base_link", "base link"] {
            assert!(check_base_frame(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_missing_calibration_names_its_path() {
        let err = Camera::new("front")
            .calibrated(Path::new("/no/such.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/no/such.yaml"), "{err}");
    }
}
