//! Which anchors stand for a labelled box: YOLOX's centre prior and the frozen box
//! regression's IoU. An anchor is a candidate for a box when its centre lies inside the
//! box and within `radius` strides of the box's centre; of the candidates, the `k`
//! with the best IoU between their (frozen, base-model) predicted box and the label are
//! positives, with `k` = the sum of the ten best IoUs, at least 1 (SimOTA's dynamic k).
//! The new channels then learn "here is a speed-limit sign" on anchors whose boxes
//! already fit it, so the base model's box regression can be kept.

/// Grid cells per level: `(gx, gy, stride)`, anchors numbered level by level, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub levels: Vec<(usize, usize, f32)>,
}

impl Grid {
    pub fn anchors(&self) -> usize {
        self.levels.iter().map(|&(gx, gy, _)| gx * gy).sum()
    }

    /// `(level, centre x, centre y, stride)` of every anchor, in order.
    pub fn centres(&self) -> Vec<(usize, f32, f32, f32)> {
        let mut out = Vec::with_capacity(self.anchors());
        for (l, &(gx, gy, s)) in self.levels.iter().enumerate() {
            for y in 0..gy {
                for x in 0..gx {
                    out.push((l, (x as f32 + 0.5) * s, (y as f32 + 0.5) * s, s));
                }
            }
        }
        out
    }
}

/// The base model's predicted box of each anchor from its raw output rows
/// (`row_len` values each: cx, cy, w, h in grid units), `[x1, y1, x2, y2]` in input
/// pixels.
pub fn predicted_boxes(grid: &Grid, raw: &[f32], row_len: usize) -> Vec<[f32; 4]> {
    let mut out = Vec::with_capacity(grid.anchors());
    for &(gx, gy, s) in &grid.levels {
        for y in 0..gy {
            for x in 0..gx {
                let r = &raw[out.len() * row_len..];
                let (cx, cy) = ((r[0] + x as f32) * s, (r[1] + y as f32) * s);
                let (hw, hh) = (r[2].exp() * s * 0.5, r[3].exp() * s * 0.5);
                out.push([cx - hw, cy - hh, cx + hw, cy + hh]);
            }
        }
    }
    out
}

pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// The positive anchors of `label` (input pixels) among `centres`, given each anchor's
/// predicted box. A box too small to hold any anchor centre gets the anchor nearest its
/// centre on the finest level, so every labelled box teaches something.
pub fn positives(
    centres: &[(usize, f32, f32, f32)],
    predicted: &[[f32; 4]],
    label: &[f32; 4],
    radius: f32,
) -> Vec<usize> {
    let (bx, by) = ((label[0] + label[2]) * 0.5, (label[1] + label[3]) * 0.5);
    let mut candidates: Vec<(usize, f32)> = centres
        .iter()
        .enumerate()
        .filter(|(_, &(_, x, y, s))| {
            x > label[0]
                && x < label[2]
                && y > label[1]
                && y < label[3]
                && (x - bx).abs() < radius * s
                && (y - by).abs() < radius * s
        })
        .map(|(i, _)| (i, iou(&predicted[i], label)))
        .collect();
    if candidates.is_empty() {
        let nearest = centres
            .iter()
            .enumerate()
            .filter(|(_, c)| c.0 == 0)
            .min_by(|a, b| {
                let d = |c: &(usize, f32, f32, f32)| (c.1 - bx).powi(2) + (c.2 - by).powi(2);
                d(a.1).total_cmp(&d(b.1))
            });
        return nearest.map(|(i, _)| vec![i]).unwrap_or_default();
    }
    // Best IoU first; ties by anchor index so the order never depends on the sort.
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let top: f32 = candidates.iter().take(10).map(|c| c.1).sum();
    let k = (top as usize).max(1);
    candidates.into_iter().take(k).map(|(i, _)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        Grid {
            levels: vec![(8, 8, 8.0), (4, 4, 16.0)],
        }
    }

    /// Raw rows whose predicted box is the anchor's cell grown to `size` pixels.
    fn raw_of(grid: &Grid, size: f32) -> Vec<f32> {
        let mut raw = Vec::new();
        for &(gx, gy, s) in &grid.levels {
            for _ in 0..gx * gy {
                raw.extend([0.5, 0.5, (size / s).ln(), (size / s).ln(), 0.0, 0.0]);
            }
        }
        raw
    }

    #[test]
    fn positives_sit_inside_the_box_near_its_centre() {
        let g = grid();
        let raw = raw_of(&g, 24.0);
        let pred = predicted_boxes(&g, &raw, 6);
        let centres = g.centres();
        let label = [16.0, 16.0, 40.0, 40.0];
        let pos = positives(&centres, &pred, &label, 2.5);
        assert!(!pos.is_empty());
        for &i in &pos {
            let (_, x, y, _) = centres[i];
            assert!(x > 16.0 && x < 40.0 && y > 16.0 && y < 40.0, "{i}: {x},{y}");
        }
        // The best-fitting anchor (predicted box = label) is among them.
        let best = centres
            .iter()
            .position(|c| c.0 == 0 && c.1 == 28.0 && c.2 == 28.0)
            .unwrap();
        assert!(pos.contains(&best), "{pos:?}");
    }

    #[test]
    fn a_box_without_anchor_centres_gets_the_nearest_fine_anchor() {
        let g = grid();
        let pred = predicted_boxes(&g, &raw_of(&g, 8.0), 6);
        let pos = positives(&g.centres(), &pred, &[9.0, 9.0, 11.0, 11.0], 2.5);
        assert_eq!(pos, vec![9], "the anchor centred at (12, 12)");
    }

    #[test]
    fn iou_of_known_boxes() {
        assert_eq!(iou(&[0.0, 0.0, 2.0, 2.0], &[1.0, 0.0, 3.0, 2.0]), 2.0 / 6.0);
        assert_eq!(iou(&[0.0, 0.0, 1.0, 1.0], &[2.0, 2.0, 3.0, 3.0]), 0.0);
    }
}
