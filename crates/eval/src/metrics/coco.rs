//! COCO average precision, computed exactly as pycocotools' `COCOeval` (bbox) does.
//!
//! Reference: pycocotools `cocoeval.py` (`evaluateImg`, `accumulate`, `summarize`) and
//! `maskApi.c` (`bbIou`). Per class, per image: detections are sorted by score with a
//! stable sort and cut to `maxDets` (100); ground truth marked ignore (crowd, or area
//! outside the range) sorts last; each detection, best first, takes the unmatched
//! ground truth of highest IoU ≥ t (crowds may be matched many times, a detection on a
//! regular match never moves to an ignored one). Over all images (in id order) the
//! detections are stably sorted by score again, precision is made monotone from the
//! right and read at the 101 recall points 0, 0.01, …, 1 (`searchsorted`, left); AP is
//! the mean over the 10 IoU thresholds 0.5:0.05:0.95 and the 101 points, AP50 the mean
//! at t = 0.5. A class with no non-ignored ground truth has no AP (pycocotools: -1).

use crate::frame::xywh;
use crate::frame::{Detection, GtObject};

/// `np.linspace(start, stop, num)`: `i * step + start`, last point exactly `stop`.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

/// pycocotools' `Params` for bbox, restricted to one area range and one `maxDets`.
#[derive(Clone, Debug)]
pub struct CocoParams {
    pub iou_thrs: Vec<f64>,
    pub rec_thrs: Vec<f64>,
    pub max_det: usize,
    pub area_rng: [f64; 2],
}

impl Default for CocoParams {
    /// iouThrs .5:.05:.95, recThrs 0:.01:1, maxDets 100, areaRng "all" = [0, 1e5²].
    fn default() -> Self {
        CocoParams {
            iou_thrs: linspace(0.5, 0.95, 10),
            rec_thrs: linspace(0.0, 1.0, 101),
            max_det: 100,
            area_rng: [0.0, 1e5 * 1e5],
        }
    }
}

/// `bbIou` from `maskApi.c` on `[x, y, w, h]` boxes; crowd: intersection / detection area.
fn bb_iou(d: &[f64; 4], g: &[f64; 4], crowd: bool) -> f64 {
    let w = (d[2] + d[0]).min(g[2] + g[0]) - d[0].max(g[0]);
    if w <= 0.0 {
        return 0.0;
    }
    let h = (d[3] + d[1]).min(g[3] + g[1]) - d[1].max(g[1]);
    if h <= 0.0 {
        return 0.0;
    }
    let i = w * h;
    let da = d[2] * d[3];
    let u = if crowd { da } else { da + g[2] * g[3] - i };
    i / u
}

/// `evaluateImg` for one (image, class): the matching result of its detections.
#[derive(Clone, Debug, Default)]
pub struct ImageEval {
    /// Scores of the kept detections, best first.
    pub dt_scores: Vec<f64>,
    /// Index into the frame's detection list, per kept detection.
    pub dt_index: Vec<usize>,
    /// `[t][d]`: index into the frame's ground-truth list of the match, if any.
    pub dt_match: Vec<Vec<Option<usize>>>,
    /// `[t][d]`: detection ignored (matched to ignored gt, or unmatched outside the area).
    pub dt_ignore: Vec<Vec<bool>>,
    /// Per ground truth of the class: ignored.
    pub gt_ignore: Vec<bool>,
}

/// Matches one image's detections of `class` to its ground truth of `class`.
///
/// Returns `None` when there is neither (pycocotools skips such images).
pub fn evaluate_image(
    gts: &[GtObject],
    dets: &[Detection],
    class: crate::Class,
    p: &CocoParams,
) -> Option<ImageEval> {
    let g_idx: Vec<usize> = (0..gts.len())
        .filter(|&i| gts[i].class == Some(class))
        .collect();
    let mut d_idx: Vec<usize> = (0..dets.len())
        .filter(|&i| dets[i].class == class)
        .collect();
    if g_idx.is_empty() && d_idx.is_empty() {
        return None;
    }
    let in_rng = |a: f64| a >= p.area_rng[0] && a <= p.area_rng[1];
    let ignore_of = |g: &GtObject| g.ignore || g.iscrowd || !in_rng(g.area);
    // Stable sorts, as numpy's mergesort: detections by -score, ground truth ignore-last.
    d_idx.sort_by(|&a, &b| dets[b].score.total_cmp(&dets[a].score));
    d_idx.truncate(p.max_det);
    let mut g_sorted = g_idx.clone();
    g_sorted.sort_by_key(|&i| ignore_of(&gts[i]));
    let gt_ig: Vec<bool> = g_sorted.iter().map(|&i| ignore_of(&gts[i])).collect();
    let g_boxes: Vec<[f64; 4]> = g_sorted.iter().map(|&i| xywh(&gts[i].bbox)).collect();
    let crowd: Vec<bool> = g_sorted.iter().map(|&i| gts[i].iscrowd).collect();
    let ious: Vec<Vec<f64>> = d_idx
        .iter()
        .map(|&d| {
            let db = xywh(&dets[d].bbox);
            g_boxes
                .iter()
                .zip(&crowd)
                .map(|(g, &c)| bb_iou(&db, g, c))
                .collect()
        })
        .collect();

    let (t_n, g_n, d_n) = (p.iou_thrs.len(), g_sorted.len(), d_idx.len());
    let mut dt_match = vec![vec![None; d_n]; t_n];
    let mut dt_ignore = vec![vec![false; d_n]; t_n];
    for (ti, &t) in p.iou_thrs.iter().enumerate() {
        let mut gt_taken = vec![false; g_n];
        for di in 0..d_n {
            let mut iou = t.min(1.0 - 1e-10);
            let mut m: Option<usize> = None;
            for gi in 0..g_n {
                if gt_taken[gi] && !crowd[gi] {
                    continue;
                }
                if let Some(mi) = m {
                    if !gt_ig[mi] && gt_ig[gi] {
                        break;
                    }
                }
                if ious[di][gi] < iou {
                    continue;
                }
                iou = ious[di][gi];
                m = Some(gi);
            }
            if let Some(mi) = m {
                dt_ignore[ti][di] = gt_ig[mi];
                dt_match[ti][di] = Some(g_sorted[mi]);
                gt_taken[mi] = true;
            }
        }
    }
    // Unmatched detections outside the area range are ignored.
    for ti in 0..t_n {
        for (di, &d) in d_idx.iter().enumerate() {
            let b = xywh(&dets[d].bbox);
            if dt_match[ti][di].is_none() && !in_rng(b[2] * b[3]) {
                dt_ignore[ti][di] = true;
            }
        }
    }
    Some(ImageEval {
        dt_scores: d_idx.iter().map(|&d| dets[d].score).collect(),
        dt_index: d_idx,
        dt_match,
        dt_ignore,
        gt_ignore: gt_ig,
    })
}

/// `accumulate` for one class: precision at each recall threshold, per IoU threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassAp {
    /// `[t][r]` interpolated precision.
    pub precision: Vec<Vec<f64>>,
    /// `[t]` recall reached with all detections.
    pub recall: Vec<f64>,
    /// Number of non-ignored ground truth boxes.
    pub n_gt: usize,
}

impl ClassAp {
    /// AP@[.5:.95]: mean over all thresholds and recall points.
    pub fn ap(&self) -> f64 {
        let n: usize = self.precision.iter().map(Vec::len).sum();
        self.precision.iter().flatten().sum::<f64>() / n as f64
    }

    /// AP at IoU threshold index `t` (0 → 0.5, 5 → 0.75).
    pub fn ap_at(&self, t: usize) -> f64 {
        let row = &self.precision[t];
        row.iter().sum::<f64>() / row.len() as f64
    }
}

/// Accumulates image results (in image-id order). `None` when the class has no
/// non-ignored ground truth (pycocotools reports -1).
pub fn accumulate<'a>(
    images: impl IntoIterator<Item = &'a ImageEval>,
    p: &CocoParams,
) -> Option<ClassAp> {
    let images: Vec<&ImageEval> = images.into_iter().collect();
    let n_gt = images
        .iter()
        .flat_map(|e| &e.gt_ignore)
        .filter(|&&ig| !ig)
        .count();
    if n_gt == 0 {
        return None;
    }
    let mut scores = Vec::new();
    let mut pos = Vec::new(); // (image, detection) per concatenated entry
    for (ii, e) in images.iter().enumerate() {
        let m = e.dt_scores.len().min(p.max_det);
        for di in 0..m {
            scores.push(e.dt_scores[di]);
            pos.push((ii, di));
        }
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let eps = f64::EPSILON; // np.spacing(1)
    let mut precision = Vec::with_capacity(p.iou_thrs.len());
    let mut recall = Vec::with_capacity(p.iou_thrs.len());
    for t in 0..p.iou_thrs.len() {
        let (mut tp, mut fp) = (0usize, 0usize);
        let mut rc = Vec::with_capacity(order.len());
        let mut pr = Vec::with_capacity(order.len());
        for &k in &order {
            let (ii, di) = pos[k];
            if images[ii].dt_ignore[t][di] {
                // neither tp nor fp: cumulative sums stay
            } else if images[ii].dt_match[t][di].is_some() {
                tp += 1;
            } else {
                fp += 1;
            }
            rc.push(tp as f64 / n_gt as f64);
            pr.push(tp as f64 / (fp as f64 + tp as f64 + eps));
        }
        recall.push(rc.last().copied().unwrap_or(0.0));
        for i in (1..pr.len()).rev() {
            if pr[i] > pr[i - 1] {
                pr[i - 1] = pr[i];
            }
        }
        let q: Vec<f64> = p
            .rec_thrs
            .iter()
            .map(|&r| {
                let i = rc.partition_point(|&x| x < r);
                pr.get(i).copied().unwrap_or(0.0)
            })
            .collect();
        precision.push(q);
    }
    Some(ClassAp {
        precision,
        recall,
        n_gt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Class;

    fn gt(b: [f64; 4]) -> GtObject {
        GtObject {
            label: "person".into(),
            class: Some(Class::Pedestrian),
            bbox: b,
            area: (b[2] - b[0]) * (b[3] - b[1]),
            iscrowd: false,
            ignore: false,
            kitti: None,
            state: None,
        }
    }
    fn det(b: [f64; 4], score: f64) -> Detection {
        Detection {
            class: Class::Pedestrian,
            score,
            bbox: b,
            position: None,
            range_m: None,
            state: None,
        }
    }

    #[test]
    fn linspace_matches_numpy_endpoints() {
        let t = linspace(0.5, 0.95, 10);
        assert_eq!(t[0], 0.5);
        assert_eq!(t[9], 0.95);
        assert!((t[5] - 0.75).abs() < 1e-15);
        assert_eq!(linspace(0.0, 1.0, 101)[100], 1.0);
    }

    #[test]
    fn one_perfect_and_one_false_positive() {
        // gt A matched exactly by the best detection; a lower false positive elsewhere:
        // precision is 1 up to recall 1 at every IoU, so AP = 1.
        let p = CocoParams::default();
        let g = vec![gt([0.0, 0.0, 10.0, 10.0])];
        let d = vec![
            det([50.0, 50.0, 60.0, 60.0], 0.1),
            det([0.0, 0.0, 10.0, 10.0], 0.9),
        ];
        let e = evaluate_image(&g, &d, Class::Pedestrian, &p).unwrap();
        assert_eq!(e.dt_index, vec![1, 0]);
        let ap = accumulate([&e], &p).unwrap();
        assert!((ap.ap() - 1.0).abs() < 1e-12); // tp / (tp + fp + eps), as pycocotools
                                                // If the false positive scores higher, precision at recall 1 is 1/2.
        let d2 = vec![
            det([50.0, 50.0, 60.0, 60.0], 0.95),
            det([0.0, 0.0, 10.0, 10.0], 0.9),
        ];
        let e2 = evaluate_image(&g, &d2, Class::Pedestrian, &p).unwrap();
        let ap2 = accumulate([&e2], &p).unwrap();
        assert!((ap2.ap_at(0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn crowd_absorbs_detections_without_counting() {
        let p = CocoParams::default();
        let mut crowd = gt([0.0, 0.0, 100.0, 100.0]);
        crowd.iscrowd = true;
        let g = vec![crowd, gt([200.0, 200.0, 210.0, 210.0])];
        let d = vec![
            det([10.0, 10.0, 20.0, 20.0], 0.99), // inside crowd: IoU = 1 w.r.t. det area
            det([200.0, 200.0, 210.0, 210.0], 0.5),
        ];
        let e = evaluate_image(&g, &d, Class::Pedestrian, &p).unwrap();
        assert!(e.dt_ignore[0][0]);
        let ap = accumulate([&e], &p).unwrap();
        assert_eq!(ap.n_gt, 1);
        assert!((ap.ap() - 1.0).abs() < 1e-12); // tp / (tp + fp + eps), as pycocotools
    }

    #[test]
    fn no_ground_truth_has_no_ap() {
        let p = CocoParams::default();
        let e = evaluate_image(
            &[],
            &[det([0.0, 0.0, 1.0, 1.0], 0.5)],
            Class::Pedestrian,
            &p,
        )
        .unwrap();
        assert!(accumulate([&e], &p).is_none());
    }
}
