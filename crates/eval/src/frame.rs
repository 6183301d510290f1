//! The per-frame raw material every metric is computed from: ground truth and detections.
//!
//! A frame is also the unit of sharding: a shard file is a list of frames, and a report
//! is a pure function of the frames sorted by id, which is why merged shards reproduce a
//! single run exactly.

use serde::{Deserialize, Serialize};

use crate::class::Class;
use sightline_types::LightState;

/// One labeled object of a frame, in image pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GtObject {
    /// The dataset's own label (KITTI type, VOC name, COCO category name, YOLO id).
    pub label: String,
    /// The Sightline class the label maps to; `None` for labels that are not scored.
    pub class: Option<Class>,
    /// `[x1, y1, x2, y2]`.
    #[serde(rename = "box")]
    pub bbox: [f64; 4],
    /// Area for COCO's area ranges: COCO JSON's `area` when given, else the box area.
    pub area: f64,
    /// COCO `iscrowd`: ignored, and matched by intersection over detection area.
    #[serde(default, skip_serializing_if = "is_false")]
    pub iscrowd: bool,
    /// Ignored without crowd semantics (VOC `difficult`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore: bool,
    /// KITTI `label_2` attributes, for difficulty filtering and range error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kitti: Option<KittiAttrs>,
    /// A traffic light's labelled state (YOLO sets whose names are states).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<LightState>,
}

/// The KITTI label columns the metrics use.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KittiAttrs {
    /// 0 (in image) … 1 (leaving it).
    pub truncated: f64,
    /// 0 visible, 1 partly, 2 largely occluded, 3 unknown.
    pub occluded: i32,
    /// Bottom centre in camera coordinates (x right, y down, z forward), metres.
    pub location: [f64; 3],
}

/// One detection of a frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub class: Class,
    pub score: f64,
    /// `[x1, y1, x2, y2]`.
    #[serde(rename = "box")]
    pub bbox: [f64; 4],
    /// Localized position in `base_link` (x forward, y left, z up), if the detector had a
    /// calibration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<[f64; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_m: Option<f64>,
    /// A traffic light's classified state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<LightState>,
}

/// Ground truth and detections of one image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// The image file stem; detections refer to frames by it.
    pub id: String,
    pub gt: Vec<GtObject>,
    pub dets: Vec<Detection>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `[x1, y1, x2, y2]` → `[x, y, w, h]` as pycocotools' inputs are built.
pub(crate) fn xywh(b: &[f64; 4]) -> [f64; 4] {
    [b[0], b[1], b[2] - b[0], b[3] - b[1]]
}
