//! From frames to a [`Report`]: COCO AP, operating-point precision/recall, KITTI
//! difficulties and range error. A pure function of the frames sorted by id.

use crate::light_state::{StateReport, StateSample};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::class::Class;
use crate::dataset::{DatasetKind, Skipped};
use crate::frame::Frame;
use crate::metrics::coco::{self, CocoParams};
use crate::metrics::kitti::{self, Difficulty, KittiAp, KittiDet, KittiGt, KittiRole};
use crate::metrics::range::{self, RangeReport};

/// Knobs of an evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalOptions {
    /// Operating threshold for precision, recall, F1 and range error (default 0.3).
    pub operating_threshold: f64,
    /// Classes scored at a threshold of their own instead: a model's manifest chooses
    /// each class's score threshold (a trained class's, on its validation split, can be
    /// far from 0.3), and the operating point should be the one the model runs at.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub class_thresholds: BTreeMap<Class, f64>,
}

impl EvalOptions {
    /// The operating threshold `class` is scored at.
    pub fn threshold(&self, class: Class) -> f64 {
        self.class_thresholds
            .get(&class)
            .copied()
            .unwrap_or(self.operating_threshold)
    }
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            operating_threshold: 0.3,
            class_thresholds: BTreeMap::new(),
        }
    }
}

/// Per-class numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// Non-ignored ground truth boxes.
    pub n_gt: usize,
    pub n_det: usize,
    /// COCO AP@[.5:.95] (pycocotools, area all, maxDets 100); null without ground truth.
    pub ap: Option<f64>,
    /// COCO AP@0.5.
    pub ap50: Option<f64>,
    /// COCO AP@0.75.
    pub ap75: Option<f64>,
    /// The score threshold of the operating point below (`EvalOptions::threshold`).
    #[serde(default)]
    pub operating_threshold: f64,
    /// At the operating threshold, IoU ≥ 0.5, greedy by score.
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub tp: usize,
    pub fp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
    pub fp_per_image: f64,
    /// Interpolated precision at recall 0, 0.01, …, 1 (IoU 0.5), for the PR curve.
    pub pr_curve: Vec<f64>,
}

/// The evaluation result written as `report.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub dataset: DatasetKind,
    pub n_frames: usize,
    pub operating_threshold: f64,
    pub classes: BTreeMap<Class, ClassReport>,
    /// KITTI devkit AP per class and difficulty (KITTI datasets only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kitti: Option<BTreeMap<Class, BTreeMap<Difficulty, Option<KittiAp>>>>,
    /// Range error of matched detections where 3D labels exist.
    pub range_error: BTreeMap<Class, RangeReport>,
    /// State accuracy of the matched traffic lights (data sets with labelled states).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_light_state: Option<StateReport>,
    pub skipped: Vec<Skipped>,
}

/// Raw series behind the plots (not serialized).
#[derive(Clone, Debug, Default)]
pub struct Curves {
    /// Per class: scores of detections that are TP / FP at IoU 0.5.
    pub scores: BTreeMap<Class, (Vec<f64>, Vec<f64>)>,
    /// Per class: (true range m, relative error) of matched, localized detections.
    pub range: BTreeMap<Class, Vec<(f64, f64)>>,
}

/// Scores `frames` (sorted by id; see [`crate::sort_frames`]).
pub fn evaluate(
    frames: &[Frame],
    kind: DatasetKind,
    skipped: &[Skipped],
    opts: &EvalOptions,
) -> (Report, Curves) {
    let p = CocoParams::default();
    let op = CocoParams {
        iou_thrs: vec![0.5],
        max_det: usize::MAX,
        ..CocoParams::default()
    };
    let mut classes = BTreeMap::new();
    let mut curves = Curves::default();
    let mut range_error = BTreeMap::new();
    let mut states = Vec::new();
    for class in Class::known() {
        let evals: Vec<_> = frames
            .iter()
            .filter_map(|f| coco::evaluate_image(&f.gt, &f.dets, class, &p))
            .collect();
        let acc = coco::accumulate(&evals, &p);
        let (mut s_tp, mut s_fp) = (Vec::new(), Vec::new());
        for e in &evals {
            for (di, &s) in e.dt_scores.iter().enumerate() {
                if !e.dt_ignore[0][di] {
                    if e.dt_match[0][di].is_some() {
                        &mut s_tp
                    } else {
                        &mut s_fp
                    }
                    .push(s);
                }
            }
        }
        curves.scores.insert(class, (s_tp, s_fp));

        // Operating point: detections above the threshold, no per-image cap.
        let (mut tp, mut fp, mut n_gt, mut n_det) = (0, 0, 0, 0);
        let mut pairs = Vec::new();
        let mut n_unlocalized = 0;
        for f in frames {
            n_det += f.dets.iter().filter(|d| d.class == class).count();
            let kept: Vec<_> = f
                .dets
                .iter()
                .filter(|d| d.score >= opts.threshold(d.class))
                .cloned()
                .collect();
            let Some(e) = coco::evaluate_image(&f.gt, &kept, class, &op) else {
                continue;
            };
            n_gt += e.gt_ignore.iter().filter(|&&ig| !ig).count();
            for (di, m) in e.dt_match[0].iter().enumerate() {
                if e.dt_ignore[0][di] {
                    continue;
                }
                let Some(gi) = m else {
                    fp += 1;
                    continue;
                };
                tp += 1;
                let det = &kept[e.dt_index[di]];
                if let (Some(truth), Some(got)) = (f.gt[*gi].state, det.state) {
                    states.push(StateSample {
                        source: format!("{}#{gi}", f.id).into(),
                        truth,
                        got,
                        score: 0.0,
                    });
                }
                if let Some(k) = &f.gt[*gi].kitti {
                    match range::det_range(&kept[e.dt_index[di]]) {
                        Some(r) => pairs.push((range::true_range(k), r)),
                        None => n_unlocalized += 1,
                    }
                }
            }
        }
        if !pairs.is_empty() || n_unlocalized > 0 {
            range_error.insert(class, range::report(&pairs, n_unlocalized));
            if !pairs.is_empty() {
                let pts = pairs.iter().map(|&(t, r)| (t, (r - t).abs() / t)).collect();
                curves.range.insert(class, pts);
            }
        }
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (precision, recall) = (ratio(tp, tp + fp), ratio(tp, n_gt));
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        classes.insert(
            class,
            ClassReport {
                n_gt,
                n_det,
                ap: acc.as_ref().map(|a| a.ap()),
                ap50: acc.as_ref().map(|a| a.ap_at(0)),
                ap75: acc.as_ref().map(|a| a.ap_at(5)),
                operating_threshold: opts.threshold(class),
                precision,
                recall,
                f1,
                tp,
                fp,
                fn_: n_gt - tp,
                fp_per_image: ratio(fp, frames.len()),
                pr_curve: acc.map(|a| a.precision[0].clone()).unwrap_or_default(),
            },
        );
    }
    let kitti = (kind == DatasetKind::Kitti).then(|| {
        let mut m = BTreeMap::new();
        m.insert(Class::Pedestrian, kitti_aps(frames, Class::Pedestrian));
        m
    });
    let report = Report {
        dataset: kind,
        n_frames: frames.len(),
        operating_threshold: opts.operating_threshold,
        classes,
        kitti,
        range_error,
        traffic_light_state: StateReport::new(&states),
        skipped: skipped.to_vec(),
    };
    (report, curves)
}

/// KITTI devkit AP per difficulty. `Person_sitting` is the pedestrian's neighbour class.
fn kitti_aps(frames: &[Frame], class: Class) -> BTreeMap<Difficulty, Option<KittiAp>> {
    let input: Vec<(Vec<KittiGt>, Vec<KittiDet>)> = frames
        .iter()
        .map(|f| {
            let gts =
                f.gt.iter()
                    .map(|g| {
                        let role = if g.class == Some(class) {
                            KittiRole::Target
                        } else if class == Class::Pedestrian
                            && g.label.eq_ignore_ascii_case("Person_sitting")
                        {
                            KittiRole::Neighbor
                        } else if g.label.eq_ignore_ascii_case("DontCare") {
                            KittiRole::DontCare
                        } else {
                            KittiRole::Other
                        };
                        let k = g.kitti.unwrap_or(crate::frame::KittiAttrs {
                            truncated: 0.0,
                            occluded: 0,
                            location: [0.0; 3],
                        });
                        KittiGt {
                            role,
                            bbox: g.bbox,
                            truncated: k.truncated,
                            occluded: k.occluded,
                        }
                    })
                    .collect();
            let dets = f
                .dets
                .iter()
                .filter(|d| d.class == class)
                .map(|d| KittiDet {
                    bbox: d.bbox,
                    score: d.score,
                })
                .collect();
            (gts, dets)
        })
        .collect();
    Difficulty::ALL
        .into_iter()
        .map(|d| (d, kitti::evaluate(&input, d)))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::{Class, DatasetKind, Detection, EvalOptions, Frame, GtObject};

    #[test]
    fn a_class_threshold_moves_only_that_class_operating_point() {
        let gt = |class, bbox: [f64; 4]| GtObject {
            label: "0".into(),
            class: Some(class),
            bbox,
            area: (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]),
            iscrowd: false,
            ignore: false,
            kitti: None,
            state: None,
        };
        let det = |class, bbox, score| Detection {
            class,
            score,
            bbox,
            position: None,
            range_m: None,
            state: None,
        };
        let (a, b) = ([10.0, 10.0, 20.0, 40.0], [50.0, 10.0, 60.0, 40.0]);
        // Both found, both at a score below the default operating threshold.
        let frames = [Frame {
            id: "f".into(),
            gt: vec![gt(Class::StopSign, a), gt(Class::Pedestrian, b)],
            dets: vec![det(Class::StopSign, a, 0.1), det(Class::Pedestrian, b, 0.1)],
        }];
        let recall = |opts: &EvalOptions| {
            let (report, _) = crate::evaluate(&frames, DatasetKind::Yolo, &[], opts);
            let of = |c| {
                let r = &report.classes[&c];
                (r.recall, r.operating_threshold)
            };
            (of(Class::StopSign), of(Class::Pedestrian))
        };
        assert_eq!(recall(&EvalOptions::default()), ((0.0, 0.3), (0.0, 0.3)));
        let own = EvalOptions {
            class_thresholds: [(Class::StopSign, 0.05)].into_iter().collect(),
            ..EvalOptions::default()
        };
        assert_eq!(recall(&own), ((1.0, 0.05), (0.0, 0.3)));
    }
}
