//! Class-aware greedy non-maximum suppression.

use crate::Detection;

/// Intersection over union of two `[x1, y1, x2, y2]` boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Keeps, per class, each box that overlaps no higher-scoring kept box of its class by
/// more than `iou_threshold`, at most `max_per_class` of each class (so a crowd cannot
/// crowd out a stop sign); returns them highest score first. Ties keep input order, so
/// the result is deterministic.
pub fn non_max_suppression(
    mut candidates: Vec<Detection>,
    iou_threshold: f32,
    max_per_class: usize,
) -> Vec<Detection> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for c in candidates {
        let same_class = || kept.iter().filter(|k| k.class == c.class);
        if same_class().count() == max_per_class {
            continue;
        }
        if !same_class().any(|k| iou(&k.bbox, &c.bbox) > iou_threshold) {
            kept.push(c);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Class;

    fn det(class: Class, score: f32, bbox: [f32; 4]) -> Detection {
        Detection { class, score, bbox }
    }

    #[test]
    fn suppresses_overlaps_within_a_class_only() {
        let out = non_max_suppression(
            vec![
                det(Class::Pedestrian, 0.5, [0.0, 0.0, 10.0, 10.0]),
                det(Class::Pedestrian, 0.9, [1.0, 1.0, 11.0, 11.0]),
                det(Class::StopSign, 0.7, [1.0, 1.0, 11.0, 11.0]),
                det(Class::Pedestrian, 0.4, [20.0, 20.0, 30.0, 30.0]),
            ],
            0.65,
            100,
        );
        let scores: Vec<f32> = out.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.7, 0.4]);
    }

    #[test]
    fn iou_of_known_boxes() {
        assert_eq!(iou(&[0.0, 0.0, 2.0, 2.0], &[1.0, 1.0, 3.0, 3.0]), 1.0 / 7.0);
        assert_eq!(iou(&[0.0, 0.0, 1.0, 1.0], &[2.0, 2.0, 3.0, 3.0]), 0.0);
    }

    #[test]
    fn caps_the_number_of_outputs() {
        let many = (0..50)
            .map(|i| {
                det(
                    Class::TrafficLight,
                    i as f32 / 50.0,
                    [i as f32 * 20.0, 0.0, i as f32 * 20.0 + 10.0, 10.0],
                )
            })
            .collect();
        assert_eq!(non_max_suppression(many, 0.65, 7).len(), 7);
    }

    #[test]
    fn the_cap_is_per_class() {
        let mut many: Vec<Detection> = (0..20)
            .map(|i| {
                det(
                    Class::Pedestrian,
                    0.9 - i as f32 / 100.0,
                    [i as f32 * 20.0, 0.0, i as f32 * 20.0 + 10.0, 10.0],
                )
            })
            .collect();
        many.push(det(Class::StopSign, 0.1, [0.0, 0.0, 5.0, 5.0]));
        let kept = non_max_suppression(many, 0.65, 5);
        assert_eq!(kept.len(), 6);
        assert!(kept.iter().any(|d| d.class == Class::StopSign));
    }
}
