//! KITTI 2D object detection AP for pedestrians, following the official devkit
//! (`devkit_object/cpp/evaluate_object.cpp`: `cleanData`, `computeStatistics`,
//! `getThresholds`, `eval_class`).
//!
//! Difficulties (easy / moderate / hard): min box height 40 / 25 / 25 px, max occlusion
//! 0 / 1 / 2, max truncation 0.15 / 0.30 / 0.50. Pedestrian ground truth outside the
//! difficulty, and `Person_sitting` (the neighbouring class), is ignored: a detection
//! may match it but it is neither TP nor FN. Detections lower than the min height
//! (height truncated to an integer, as the devkit's `int32_t`) are ignored. Detections
//! that match nothing but overlap a `DontCare` region by more than 0.5 of their own area
//! are not false positives. Matching needs IoU > 0.5 (strict). Precision is sampled at
//! 41 recall steps chosen by `getThresholds`, made monotone from the right; AP_R40 (the
//! devkit's number since 2019) averages points 1..=40, AP_R11 points 0, 4, …, 40.
//!
//! One deliberate difference: only pedestrian detections are passed in. The devkit also
//! lets a too-small detection of *another* class be assigned to a pedestrian (it marks
//! every short detection "ignored", whatever its class), which is a known quirk.

use serde::{Deserialize, Serialize};

/// Number of recall sample points (`N_SAMPLE_PTS`).
const N_SAMPLE_PTS: usize = 41;
const MIN_OVERLAP: f64 = 0.5;

/// What a ground-truth row is to the evaluated class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KittiRole {
    /// The evaluated class (`Pedestrian`).
    Target,
    /// The neighbouring class (`Person_sitting`): never FN, may absorb a detection.
    Neighbor,
    /// A `DontCare` region.
    DontCare,
    /// Any other class: plays no part.
    Other,
}

/// A KITTI ground-truth row as the metric sees it.
#[derive(Clone, Copy, Debug)]
pub struct KittiGt {
    pub role: KittiRole,
    pub bbox: [f64; 4],
    pub truncated: f64,
    pub occluded: i32,
}

/// A detection of the evaluated class.
#[derive(Clone, Copy, Debug)]
pub struct KittiDet {
    pub bbox: [f64; 4],
    pub score: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Difficulty {
    Easy,
    Moderate,
    Hard,
}

impl Difficulty {
    pub const ALL: [Difficulty; 3] = [Difficulty::Easy, Difficulty::Moderate, Difficulty::Hard];
    fn limits(self) -> (f64, i32, f64) {
        match self {
            Difficulty::Easy => (40.0, 0, 0.15),
            Difficulty::Moderate => (25.0, 1, 0.30),
            Difficulty::Hard => (25.0, 2, 0.50),
        }
    }
}

/// AP of one difficulty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KittiAp {
    pub ap_r40: f64,
    pub ap_r11: f64,
    /// Ground truth counted (recall denominator).
    pub n_gt: usize,
    /// The 41 sampled precision values.
    pub precision: Vec<f64>,
}

/// `boxoverlap`: IoU (`union = true`) or intersection over the detection's area.
fn overlap(d: &[f64; 4], g: &[f64; 4], union: bool) -> f64 {
    let w = d[2].min(g[2]) - d[0].max(g[0]);
    let h = d[3].min(g[3]) - d[1].max(g[1]);
    if w <= 0.0 || h <= 0.0 {
        return 0.0;
    }
    let inter = w * h;
    let da = (d[2] - d[0]) * (d[3] - d[1]);
    if union {
        let ga = (g[2] - g[0]) * (g[3] - g[1]);
        inter / (da + ga - inter)
    } else {
        inter / da
    }
}

/// `ignored_gt` (-1 / 0 / 1) and `ignored_det` of one frame, and its n_gt.
fn clean(gts: &[KittiGt], dets: &[KittiDet], d: Difficulty) -> (Vec<i8>, Vec<i8>, usize) {
    let (min_h, max_occ, max_trunc) = d.limits();
    let mut n_gt = 0;
    let ig_gt = gts
        .iter()
        .map(|g| {
            let height = g.bbox[3] - g.bbox[1];
            let ignore = g.occluded > max_occ || g.truncated > max_trunc || height < min_h;
            match g.role {
                KittiRole::Target if !ignore => {
                    n_gt += 1;
                    0
                }
                KittiRole::Target | KittiRole::Neighbor => 1,
                _ => -1,
            }
        })
        .collect();
    let ig_det = dets
        .iter()
        .map(|det| {
            let height = (det.bbox[1] - det.bbox[3]).abs().trunc();
            if height < min_h {
                1
            } else {
                0
            }
        })
        .collect();
    (ig_gt, ig_det, n_gt)
}

#[derive(Default, Clone, Copy)]
struct Stat {
    tp: usize,
    fp: usize,
    fn_: usize,
}

/// `computeStatistics`. Without `thresh`, returns the scores of true positives.
fn statistics(
    gts: &[KittiGt],
    dets: &[KittiDet],
    ig_gt: &[i8],
    ig_det: &[i8],
    thresh: Option<f64>,
    tp_scores: &mut Vec<f64>,
) -> Stat {
    const NO_DETECTION: f64 = -10_000_000.0;
    let compute_fp = thresh.is_some();
    let mut st = Stat::default();
    let mut assigned = vec![false; dets.len()];
    let below: Vec<bool> = dets
        .iter()
        .map(|d| thresh.is_some_and(|t| d.score < t))
        .collect();
    for (i, g) in gts.iter().enumerate() {
        if ig_gt[i] == -1 {
            continue;
        }
        let mut det_idx: Option<usize> = None;
        let mut valid = NO_DETECTION;
        let mut max_iou = 0.0;
        let mut assigned_ignored = false;
        for (j, d) in dets.iter().enumerate() {
            if ig_det[j] == -1 || assigned[j] || below[j] {
                continue;
            }
            let o = overlap(&d.bbox, &g.bbox, true);
            if !compute_fp && o > MIN_OVERLAP && d.score > valid {
                det_idx = Some(j);
                valid = d.score;
            } else if compute_fp
                && o > MIN_OVERLAP
                && (o > max_iou || assigned_ignored)
                && ig_det[j] == 0
            {
                max_iou = o;
                det_idx = Some(j);
                valid = 1.0;
                assigned_ignored = false;
            } else if compute_fp && o > MIN_OVERLAP && valid == NO_DETECTION && ig_det[j] == 1 {
                det_idx = Some(j);
                valid = 1.0;
                assigned_ignored = true;
            }
        }
        match det_idx {
            None if ig_gt[i] == 0 => st.fn_ += 1,
            None => {}
            Some(j) if ig_gt[i] == 1 || ig_det[j] == 1 => assigned[j] = true,
            Some(j) => {
                st.tp += 1;
                tp_scores.push(dets[j].score);
                assigned[j] = true;
            }
        }
    }
    if compute_fp {
        st.fp = (0..dets.len())
            .filter(|&j| !(assigned[j] || ig_det[j] != 0 || below[j]))
            .count();
        let mut nstuff = 0;
        for dc in gts.iter().filter(|g| g.role == KittiRole::DontCare) {
            for (j, d) in dets.iter().enumerate() {
                if assigned[j] || ig_det[j] != 0 || below[j] {
                    continue;
                }
                if overlap(&d.bbox, &dc.bbox, false) > MIN_OVERLAP {
                    assigned[j] = true;
                    nstuff += 1;
                }
            }
        }
        st.fp -= nstuff;
    }
    st
}

/// `getThresholds`: the TP scores at which recall crosses each of the 41 steps.
fn thresholds(mut v: Vec<f64>, n_gt: usize) -> Vec<f64> {
    v.sort_by(|a, b| b.total_cmp(a));
    let n = n_gt as f64;
    let mut t = Vec::new();
    let mut current = 0.0;
    for i in 0..v.len() {
        let l = (i + 1) as f64 / n;
        let r = if i + 1 < v.len() {
            (i + 2) as f64 / n
        } else {
            l
        };
        if (r - current) < (current - l) && i + 1 < v.len() {
            continue;
        }
        current += 1.0 / (N_SAMPLE_PTS as f64 - 1.0);
        t.push(v[i]);
    }
    t
}

/// `eval_class` for one difficulty over all frames (each: ground truth, detections).
/// `None` when no ground truth counts at this difficulty.
pub fn evaluate(frames: &[(Vec<KittiGt>, Vec<KittiDet>)], d: Difficulty) -> Option<KittiAp> {
    let cleaned: Vec<_> = frames.iter().map(|(g, dt)| clean(g, dt, d)).collect();
    let n_gt: usize = cleaned.iter().map(|c| c.2).sum();
    if n_gt == 0 {
        return None;
    }
    let mut v = Vec::new();
    for ((g, dt), (ig, id, _)) in frames.iter().zip(&cleaned) {
        statistics(g, dt, ig, id, None, &mut v);
    }
    let thr = thresholds(v, n_gt);
    let mut precision = vec![0.0; N_SAMPLE_PTS];
    let mut scratch = Vec::new();
    for (k, &t) in thr.iter().enumerate().take(N_SAMPLE_PTS) {
        let mut tot = Stat::default();
        for ((g, dt), (ig, id, _)) in frames.iter().zip(&cleaned) {
            let s = statistics(g, dt, ig, id, Some(t), &mut scratch);
            tot.tp += s.tp;
            tot.fp += s.fp;
            tot.fn_ += s.fn_;
        }
        let n = tot.tp + tot.fp;
        precision[k] = if n == 0 {
            0.0
        } else {
            tot.tp as f64 / n as f64
        };
    }
    for i in 0..N_SAMPLE_PTS {
        precision[i] = precision[i..].iter().copied().fold(f64::MIN, f64::max);
    }
    let ap_r40 = precision[1..].iter().sum::<f64>() / 40.0;
    let ap_r11 = precision.iter().step_by(4).sum::<f64>() / 11.0;
    Some(KittiAp {
        ap_r40,
        ap_r11,
        n_gt,
        precision,
    })
}
