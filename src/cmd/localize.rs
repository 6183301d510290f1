//! Joins detections with the camera calibration: box → position in base_link.

use anyhow::Context;
use sightline_detect::{Class, Detection};
use sightline_geometry::{Calibration, Localization, Localizer, Priors, TargetKind};
use std::path::Path;

pub fn target_kind(class: Class) -> TargetKind {
    match class {
        Class::Pedestrian => TargetKind::Pedestrian,
        Class::StopSign => TargetKind::StopSign,
        Class::TrafficLight => TargetKind::TrafficLight,
    }
}

/// Loads a calibration YAML into a localizer with the default priors.
pub fn load(path: &Path) -> anyhow::Result<Localizer> {
    let calibration = Calibration::load(path)?;
    Localizer::new(calibration, Priors::default())
        .with_context(|| format!("priors for {}", path.display()))
}

/// The localizer of a KITTI frame from its `calib/<frame>.txt`.
pub fn kitti_frame(calib: &Path, width: u32, height: u32) -> anyhow::Result<Localizer> {
    let calibration = Calibration::from_kitti_cam2(calib, width, height)?;
    Ok(Localizer::new(calibration, Priors::default())?)
}

/// The position of one detection, or `None` (logged) when geometry gives no answer,
/// e.g. a box above the horizon for the ground-plane method.
pub fn locate(localizer: &Localizer, d: &Detection) -> Option<Localization> {
    match localizer.localize(target_kind(d.class), d.bbox.map(f64::from)) {
        Ok(l) => Some(l),
        Err(err) => {
            tracing::debug!("not localized: {}", sightline_bag::with_causes(&err));
            None
        }
    }
}
