//! Pre-labels for annotation tools: the detector's boxes per image, written as CVAT for
//! images 1.1 XML, Label Studio tasks with `predictions`, YOLO txt with an Ultralytics
//! `data.yaml`, or COCO JSON — each laid out so the tool imports it unedited. The writer
//! of each format sits beside its reader in `dataset/`, so a round trip is one file.
//!
//! Every format refers to images in `<out>/images/` by file name; the caller writes them.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::dataset::{coco, cvat, labelstudio, yolo};
use crate::error::{EvalError, Result};
use crate::frame::Detection;

/// One image and its pre-labels (pixels of the image, scores and light states kept).
#[derive(Clone, Debug, PartialEq)]
pub struct LabelImage {
    /// File name inside `<out>/images/`; its stem is the frame id every reader uses.
    pub file_name: String,
    pub width: u32,
    pub height: u32,
    pub objects: Vec<Detection>,
}

/// What every format records about where the pre-labels came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportInfo {
    /// `<manifest name>@sha256:<digest of the weights>` (Label Studio's `model_version`).
    pub model_version: String,
}

/// The formats `sightline label` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExportFormat {
    Cvat,
    LabelStudio,
    Yolo,
    Coco,
}

impl FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cvat" => Ok(ExportFormat::Cvat),
            "labelstudio" => Ok(ExportFormat::LabelStudio),
            "yolo" => Ok(ExportFormat::Yolo),
            "coco" => Ok(ExportFormat::Coco),
            _ => Err(format!(
                "unknown format {s:?} (cvat, labelstudio, yolo, coco)"
            )),
        }
    }
}

impl ExportFormat {
    /// The file `--dataset` (or the tool) is pointed at, relative to the output folder.
    pub fn entry_file(self) -> &'static str {
        match self {
            ExportFormat::Cvat => "annotations.xml",
            ExportFormat::LabelStudio => "tasks.json",
            ExportFormat::Yolo => "data.yaml",
            ExportFormat::Coco => "annotations/instances_default.json",
        }
    }
}

/// Writes `images`' labels in `format` into `out` (which holds `images/`); returns the
/// files written.
pub fn write(
    out: &Path,
    format: ExportFormat,
    images: &[LabelImage],
    info: &ExportInfo,
) -> Result<Vec<PathBuf>> {
    match format {
        ExportFormat::Cvat => cvat::write(out, images, info),
        ExportFormat::LabelStudio => labelstudio::write(out, images, info),
        ExportFormat::Yolo => yolo::write(out, images),
        ExportFormat::Coco => coco::write(out, images, info),
    }
}

/// Writes a whole file, naming it on failure.
pub(crate) fn write_file(path: &Path, contents: &[u8]) -> Result<PathBuf> {
    std::fs::write(path, contents).map_err(|e| EvalError::io(path, e))?;
    Ok(path.to_path_buf())
}
