//! The written model on the held-out images, through the same detector every command
//! uses: COCO AP50 per new class (pycocotools-exact, `sightline-eval`) and the score
//! threshold with the best F1, which becomes the class's `score_threshold`.

use crate::collect;
use crate::train::TrainConfig;
use crate::TrainError;
use sightline_detect::{Class, Detector, DetectorConfig, Manifest};
use sightline_eval::{DatasetKind, EvalOptions, Frame};
use std::path::{Path, PathBuf};

/// One new class on the validation split.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClassResult {
    pub boxes: usize,
    pub ap50: Option<f64>,
    pub threshold: f32,
    pub f1: f32,
}

/// Detections below this are not kept for scoring (AP wants the long tail).
const LOWEST_SCORE: f32 = 0.001;

pub(crate) fn run(
    manifest: &Manifest,
    model: &Path,
    config: &TrainConfig,
    names: &[Class],
    frames: &[(Frame, PathBuf)],
) -> Result<Vec<ClassResult>, TrainError> {
    let mut detector = Detector::new(DetectorConfig {
        manifest: manifest.clone(),
        model_path: Some(model.to_path_buf()),
        device: config.device,
        score_threshold: Some(LOWEST_SCORE),
        ..Default::default()
    })?;
    let mut scored = Vec::with_capacity(frames.len());
    for (frame, path) in frames {
        let rgb = collect::load_image(path)?;
        let found = detector.detect(&collect::view(&rgb)?)?;
        let mut f = frame.clone();
        for g in &mut f.gt {
            g.class = config
                .classes
                .iter()
                .zip(names)
                .find(|(c, _)| g.label.eq_ignore_ascii_case(&c.label))
                .map(|(_, &n)| n);
        }
        f.dets = found
            .into_iter()
            .filter(|d| names.contains(&d.class))
            .map(|d| sightline_eval::Detection {
                class: d.class,
                score: f64::from(d.score),
                bbox: d.bbox.map(f64::from),
                position: None,
                range_m: None,
                state: None,
            })
            .collect();
        scored.push(f);
    }
    sightline_eval::sort_frames(&mut scored);
    let (report, curves) =
        sightline_eval::evaluate(&scored, DatasetKind::Voc, &[], &EvalOptions::default());
    Ok(names
        .iter()
        .map(|c| {
            let r = report.classes.get(c);
            let boxes = r.map_or(0, |r| r.n_gt);
            let (tp, fp) = curves.scores.get(c).cloned().unwrap_or_default();
            let (threshold, f1) = best_f1(&tp, &fp, boxes);
            ClassResult {
                boxes,
                ap50: r.and_then(|r| r.ap50),
                threshold,
                f1,
            }
        })
        .collect())
}

/// The score threshold with the best F1 (IoU 0.5) from the true and false positives'
/// scores; 0.5 when nothing matched (no evidence for any other value).
pub(crate) fn best_f1(tp: &[f64], fp: &[f64], n_gt: usize) -> (f32, f32) {
    let mut all: Vec<(f64, bool)> = tp
        .iter()
        .map(|&s| (s, true))
        .chain(fp.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut hits, mut best) = (0usize, (0.5f32, 0.0f32));
    for (i, &(score, hit)) in all.iter().enumerate() {
        hits += usize::from(hit);
        // Only where the next score differs: a threshold keeps all of equal score.
        if all.get(i + 1).is_some_and(|n| n.0 == score) {
            continue;
        }
        let precision = hits as f64 / (i + 1) as f64;
        let recall = hits as f64 / n_gt.max(1) as f64;
        if precision + recall > 0.0 {
            let f1 = (2.0 * precision * recall / (precision + recall)) as f32;
            if f1 > best.1 {
                best = (score as f32, f1);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_f1_threshold_keeps_the_hits_and_drops_the_tail() {
        // Two hits at 0.9 and 0.8, a miss at 0.7, a hit at 0.2; 3 boxes.
        let (t, f1) = best_f1(&[0.9, 0.8, 0.2], &[0.7], 3);
        // At 0.8: P 1, R 2/3, F1 0.8; at 0.2: P 3/4, R 1, F1 0.857.
        assert_eq!(t, 0.2);
        assert!((f1 - 6.0 / 7.0).abs() < 1e-6, "{f1}");
        let (t, f1) = best_f1(&[0.9], &[0.7, 0.6, 0.5, 0.4], 1);
        assert_eq!((t, f1), (0.9, 1.0));
        assert_eq!(best_f1(&[], &[0.3], 2), (0.5, 0.0));
    }
}
