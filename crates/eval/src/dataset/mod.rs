//! Labeled datasets: KITTI, YOLO txt (COCO ids), Pascal VOC XML, COCO JSON, CVAT for
//! images XML and Label Studio JSON, read into [`Frame`]s with ground truth mapped to
//! Sightline classes. The four formats `sightline label` exports also have their writer
//! here, beside the reader ([`crate::export`]).
//!
//! Malformed labels are errors naming the file and line (or field); an image whose
//! header cannot be read is reported in [`Dataset::skipped`] and left out.

pub(crate) mod coco;
pub(crate) mod cvat;
mod kitti;
pub(crate) mod labelstudio;
mod voc;
pub(crate) mod yolo;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::class::ClassMap;
use crate::error::{EvalError, Result};
use crate::frame::Frame;

/// The label formats we read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    Kitti,
    Yolo,
    Voc,
    Coco,
    Cvat,
    #[serde(rename = "labelstudio")]
    LabelStudio,
}

/// `kitti:DIR`, `yolo:DIR`, `voc:DIR`, `coco:FILE`, `cvat:FILE.xml` or
/// `labelstudio:FILE.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetSpec {
    pub kind: DatasetKind,
    pub path: PathBuf,
}

const KINDS: &str =
    "expected kitti:DIR, yolo:DIR, voc:DIR, coco:FILE, cvat:FILE.xml or labelstudio:FILE.json";

impl FromStr for DatasetSpec {
    type Err = EvalError;
    fn from_str(s: &str) -> Result<Self> {
        let err = |msg: &str| EvalError::Spec {
            spec: s.to_string(),
            msg: msg.to_string(),
        };
        let (kind, path) = s.split_once(':').ok_or_else(|| err(KINDS))?;
        let kind = match kind {
            "kitti" => DatasetKind::Kitti,
            "yolo" => DatasetKind::Yolo,
            "voc" => DatasetKind::Voc,
            "coco" => DatasetKind::Coco,
            "cvat" => DatasetKind::Cvat,
            "labelstudio" => DatasetKind::LabelStudio,
            _ => return Err(err(KINDS)),
        };
        if path.is_empty() {
            return Err(err("missing path"));
        }
        Ok(DatasetSpec {
            kind,
            path: PathBuf::from(path),
        })
    }
}

/// An image left out, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// A dataset's frames (sorted by id, without detections) and the images left out.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub kind: DatasetKind,
    pub frames: Vec<Frame>,
    /// Image file of each frame, same order as `frames`.
    pub images: Vec<PathBuf>,
    pub skipped: Vec<Skipped>,
}

impl Dataset {
    /// Reads the dataset `spec` points at.
    pub fn load(spec: &DatasetSpec, map: &ClassMap) -> Result<Dataset> {
        let mut items = match spec.kind {
            DatasetKind::Kitti => kitti::load(&spec.path, map)?,
            DatasetKind::Yolo => yolo::load(&spec.path, map)?,
            DatasetKind::Voc => voc::load(&spec.path, map)?,
            DatasetKind::Coco => coco::load(&spec.path, map)?,
            DatasetKind::Cvat => cvat::load(&spec.path, map)?,
            DatasetKind::LabelStudio => labelstudio::load(&spec.path, map)?,
        };
        items.loaded.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        for w in items.loaded.windows(2) {
            if w[0].0.id == w[1].0.id {
                return Err(EvalError::field(
                    &w[1].1,
                    "image",
                    format!("two images share the id {:?}", w[1].0.id),
                ));
            }
        }
        for s in &items.skipped {
            tracing::warn!(path = %s.path.display(), reason = %s.reason, "image skipped");
        }
        let (frames, images) = items.loaded.into_iter().unzip();
        Ok(Dataset {
            kind: spec.kind,
            frames,
            images,
            skipped: items.skipped,
        })
    }
}

/// What a reader returns: frames with their image files, and skipped images.
#[derive(Default)]
struct Loaded {
    loaded: Vec<(Frame, PathBuf)>,
    skipped: Vec<Skipped>,
}

impl Loaded {
    /// Keeps the frame `name` (its id is the file stem) when its image's header can be
    /// read; otherwise lists the image as skipped, with the reason.
    fn push_if_readable(&mut self, name: &str, gt: Vec<crate::frame::GtObject>, image: PathBuf) {
        if let Err(reason) = image_size(&image) {
            self.skipped.push(Skipped {
                path: image,
                reason,
            });
            return;
        }
        let frame = Frame {
            id: stem(Path::new(name)),
            gt,
            dets: Vec::new(),
        };
        self.loaded.push((frame, image));
    }
}

/// Image files directly in `dir`, sorted (the rule `sightline detect` lists by too).
fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    sightline_types::images::list(dir).map_err(|e| EvalError::io(dir, e))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Width and height from the image header, or why it cannot be read.
fn image_size(path: &Path) -> std::result::Result<(u32, u32), String> {
    image::image_dimensions(path).map_err(|e| e.to_string())
}

/// Reads a text file; `None` when it does not exist (an image without labels).
fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(EvalError::io(path, e)),
    }
}

fn parse_f64(tok: &str, what: &str) -> std::result::Result<f64, String> {
    match tok.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("{what}: not a finite number: {tok:?}")),
    }
}

/// Tolerance for a box edge past the image border: tools round to 0.01 px or a
/// percentage, so half a pixel is rounding, more is a box outside its image.
const EDGE_TOLERANCE_PX: f64 = 0.5;

/// Whether `[x1, y1, x2, y2]` is a box inside a `width`×`height` image.
fn check_inside(b: &[f64; 4], (width, height): (u32, u32)) -> std::result::Result<(), String> {
    let (w, h, t) = (f64::from(width), f64::from(height), EDGE_TOLERANCE_PX);
    if b[2] < b[0] || b[3] < b[1] {
        return Err(format!("{b:?} has x2 < x1 or y2 < y1"));
    }
    if b[0] < -t || b[1] < -t || b[2] > w + t || b[3] > h + t {
        return Err(format!("{b:?} is outside the {width}x{height} image"));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::export::LabelImage;
    use crate::frame::Detection;
    use sightline_types::{Class, LightState};

    /// Two pre-labelled 32×24 images; only the first is written to `dir/images`.
    pub(crate) fn sample_images(dir: &Path) -> Vec<LabelImage> {
        std::fs::create_dir_all(dir.join("images")).unwrap();
        image::RgbImage::new(32, 24)
            .save(dir.join("images/cam__1_000000002.png"))
            .unwrap();
        let det = |class, bbox, state| Detection {
            class,
            score: 0.75,
            bbox,
            position: None,
            range_m: None,
            state,
        };
        vec![
            LabelImage {
                file_name: "cam__1_000000002.png".into(),
                width: 32,
                height: 24,
                objects: vec![
                    det(Class::Pedestrian, [1.5, 2.25, 10.0, 20.0], None),
                    det(
                        Class::TrafficLight,
                        [20.0, 0.0, 24.0, 12.0],
                        Some(LightState::Red),
                    ),
                ],
            },
            LabelImage {
                file_name: "gone.png".into(),
                width: 32,
                height: 24,
                objects: vec![det(Class::StopSign, [0.0, 0.0, 8.0, 8.0], None)],
            },
        ]
    }

    #[test]
    fn boxes_inside_with_rounding_pass_and_outside_fail() {
        assert!(check_inside(&[0.0, 0.0, 32.0, 24.0], (32, 24)).is_ok());
        assert!(check_inside(&[-0.3, 0.0, 32.4, 24.0], (32, 24)).is_ok());
        assert!(check_inside(&[0.0, 0.0, 33.0, 24.0], (32, 24)).is_err());
        assert!(check_inside(&[5.0, 0.0, 4.0, 24.0], (32, 24)).is_err());
    }

    #[test]
    fn spec_parses_and_rejects() {
        let s: DatasetSpec = "kitti:/a/b".parse().unwrap();
        assert_eq!(s.kind, DatasetKind::Kitti);
        assert_eq!(s.path, PathBuf::from("/a/b"));
        assert!("coco:".parse::<DatasetSpec>().is_err());
        assert!("pascal:x".parse::<DatasetSpec>().is_err());
        let s: DatasetSpec = "labelstudio:t.json".parse().unwrap();
        assert_eq!(s.kind, DatasetKind::LabelStudio);
        assert!("x".parse::<DatasetSpec>().is_err());
    }
}
