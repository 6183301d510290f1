//! `sightline eval` without `--detections`: the dataset's images through the
//! perception pipeline (one camera; KITTI frames localized with their own
//! `calib/<frame>.txt` unless `--calibration` is given).

use crate::cmd::setup::{self, CameraArgs, DetectorArgs};
use sightline_eval::{Detection, Skipped};
use sightline_geometry::Calibration;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Detections keyed by image stem.
pub type DetectionsByImage = BTreeMap<String, Vec<Detection>>;

/// Detections per image stem, and the images that could not be read (each named on
/// stderr): the caller leaves those out of the scores rather than count their objects
/// as missed.
pub fn detect(
    images: &[PathBuf],
    kitti_calib: Option<&Path>,
    detector: &DetectorArgs,
    camera: &CameraArgs,
) -> anyhow::Result<(DetectionsByImage, Vec<Skipped>)> {
    let mut dets = BTreeMap::new();
    let mut unreadable = Vec::new();
    if images.is_empty() {
        return Ok((dets, unreadable)); // an empty shard
    }
    // AP wants every detection: 0.001 unless the flags say otherwise.
    let camera = camera.camera(detector, "dataset", false, Some(0.001))?;
    let per_frame = camera.localizer.is_none();
    let mut pipeline = setup::pipeline(detector, vec![camera])?;
    for path in images {
        let image = setup::stem(path);
        if let (true, Some(dir)) = (per_frame, kitti_calib) {
            let calib = dir.join(format!("{image}.txt"));
            let localizer = match calib.is_file() {
                true => Some(kitti_localizer(&calib, path)?),
                false => None,
            };
            if let Some(c) = pipeline.camera_mut(0) {
                c.localizer = localizer;
            }
        }
        let out = match crate::cmd::detect::detect_file(&mut pipeline, path) {
            Ok(out) => out,
            Err(err) => {
                eprintln!("error: {err:#}");
                unreadable.push(Skipped {
                    path: path.clone(),
                    reason: format!("unreadable image: {err:#}"),
                });
                continue;
            }
        };
        let converted = out
            .objects
            .iter()
            .map(|o| {
                let loc = o.localization.as_ref();
                Detection {
                    class: o.detection.class,
                    score: f64::from(o.detection.score),
                    bbox: o.detection.bbox.map(f64::from),
                    position: loc.map(|l| [l.position.x, l.position.y, l.position.z]),
                    range_m: loc.map(|l| l.range_m),
                    state: o.state.map(|s| s.state),
                }
            })
            .collect();
        dets.insert(image, converted);
    }
    Ok((dets, unreadable))
}

/// The localizer of a KITTI frame from its `calib/<frame>.txt`, at the image's size.
fn kitti_localizer(calib: &Path, image: &Path) -> anyhow::Result<sightline_geometry::Localizer> {
    let (width, height) = image::image_dimensions(image)?;
    let calibration = Calibration::from_kitti_cam2(calib, width, height)?;
    sightline_perception::localizer(calibration)
        .map_err(|e| anyhow::anyhow!("{}: {e}", calib.display()))
}
