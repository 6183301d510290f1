//! "AP@0.5, 101-point, greedy matching by score": the textbook definition used for the
//! reference table in `shared/README.md`.
//!
//! All detections of a class, over all images, are sorted by score (stable, frames in
//! id order); each takes the still-unmatched ground truth of its image with the highest
//! IoU if that IoU ≥ 0.5 (TP), else counts as FP. Precision is made monotone from the
//! right and read at recall 0, 0.01, …, 1. Unlike pycocotools there is no per-image cap
//! of 100 detections and nothing is ignored; on data without crowds and with ≤ 100
//! detections per image and class the two are the same number.

use crate::frame::{xywh, Frame};
use crate::Class;

fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let w = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let h = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    if w <= 0.0 || h <= 0.0 {
        return 0.0;
    }
    let i = w * h;
    i / (a[2] * a[3] + b[2] * b[3] - i)
}

/// AP@0.5 of `class`, `None` without ground truth.
pub fn ap50(frames: &[Frame], class: Class) -> Option<f64> {
    let n_gt = frames
        .iter()
        .flat_map(|f| &f.gt)
        .filter(|g| g.class == Some(class))
        .count();
    if n_gt == 0 {
        return None;
    }
    let mut dets: Vec<(usize, usize)> = Vec::new();
    for (fi, f) in frames.iter().enumerate() {
        for (di, d) in f.dets.iter().enumerate() {
            if d.class == class {
                dets.push((fi, di));
            }
        }
    }
    dets.sort_by(|a, b| {
        frames[b.0].dets[b.1]
            .score
            .total_cmp(&frames[a.0].dets[a.1].score)
    });
    let mut taken: Vec<Vec<bool>> = frames.iter().map(|f| vec![false; f.gt.len()]).collect();
    let (mut tp, mut fp) = (0usize, 0usize);
    let (mut rc, mut pr) = (Vec::new(), Vec::new());
    for (fi, di) in dets {
        let d = xywh(&frames[fi].dets[di].bbox);
        let mut best: Option<(usize, f64)> = None;
        for (gi, g) in frames[fi].gt.iter().enumerate() {
            if g.class != Some(class) || taken[fi][gi] {
                continue;
            }
            let o = iou(&d, &xywh(&g.bbox));
            if o >= 0.5 && best.is_none_or(|(_, b)| o > b) {
                best = Some((gi, o));
            }
        }
        match best {
            Some((gi, _)) => {
                taken[fi][gi] = true;
                tp += 1;
            }
            None => fp += 1,
        }
        rc.push(tp as f64 / n_gt as f64);
        pr.push(tp as f64 / (tp + fp) as f64);
    }
    for i in (1..pr.len()).rev() {
        pr[i - 1] = pr[i - 1].max(pr[i]);
    }
    let sum: f64 = (0..=100)
        .map(|k| {
            let r = k as f64 / 100.0;
            let i = rc.partition_point(|&x| x < r);
            pr.get(i).copied().unwrap_or(0.0)
        })
        .sum();
    Some(sum / 101.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Detection, GtObject};
    use crate::metrics::coco::{accumulate, evaluate_image, CocoParams};

    fn frame(id: &str, gts: &[[f64; 4]], dets: &[([f64; 4], f64)]) -> Frame {
        Frame {
            id: id.into(),
            gt: gts
                .iter()
                .map(|&b| GtObject {
                    label: "person".into(),
                    class: Some(Class::Pedestrian),
                    bbox: b,
                    area: (b[2] - b[0]) * (b[3] - b[1]),
                    iscrowd: false,
                    ignore: false,
                    kitti: None,
                    state: None,
                })
                .collect(),
            dets: dets
                .iter()
                .map(|&(b, score)| Detection {
                    class: Class::Pedestrian,
                    score,
                    bbox: b,
                    position: None,
                    range_m: None,
                    state: None,
                })
                .collect(),
        }
    }

    #[test]
    fn equals_pycocotools_ap50_without_crowds_or_caps() {
        let frames = vec![
            frame(
                "a",
                &[[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]],
                &[
                    ([1.0, 0.0, 11.0, 10.0], 0.9),
                    ([0.0, 0.0, 10.0, 10.0], 0.8), // duplicate: FP
                    ([22.0, 0.0, 32.0, 10.0], 0.3),
                ],
            ),
            frame(
                "b",
                &[[0.0, 0.0, 5.0, 5.0]],
                &[([50.0, 50.0, 60.0, 60.0], 0.7)],
            ),
        ];
        let p = CocoParams::default();
        let evals: Vec<_> = frames
            .iter()
            .filter_map(|f| evaluate_image(&f.gt, &f.dets, Class::Pedestrian, &p))
            .collect();
        let coco = accumulate(&evals, &p).unwrap().ap_at(0);
        let greedy = ap50(&frames, Class::Pedestrian).unwrap();
        // by score: T(1/3, 1) F F T(2/3, 1/2): envelope 1 to r 1/3, 1/2 to 2/3, 0 after.
        let want = (34.0 * 1.0 + 33.0 * 0.5) / 101.0;
        assert!((greedy - want).abs() < 1e-12, "{greedy} vs {want}");
        assert!((coco - greedy).abs() < 1e-12, "{coco} vs {greedy}");
    }
}
