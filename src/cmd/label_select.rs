//! Choosing what to label: `--select N` (near-duplicates dropped by the detector's own
//! image embedding, the rest ranked by how unsure the detector was) and the manifest
//! that says why each frame was chosen.

use sightline_detect::{Class, LightState};

/// Frames whose embeddings are closer than this (cosine distance, 1 − cos) are
/// near-duplicates. On YOLOX-Nano's pooled stride-32 neck features (docs/labeling.md,
/// "Choosing what to label"): a repeated frame is at 0, one with σ = 3 noise added at
/// ≤ 0.0006, while the closest distinct `kitti-tiny` frames are at 0.0051 (the same
/// road a little further on) and 0.0093 (the same wall, the pedestrian elsewhere).
pub const DEFAULT_MIN_DISTANCE: f32 = 0.002;

/// One box as the ranking sees it.
#[derive(Debug, Clone, Copy)]
pub struct Box {
    pub class: Class,
    pub score: f32,
    /// The class's threshold the box passed.
    pub threshold: f32,
    pub state: Option<LightState>,
}

/// One frame offered for selection.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub image: String,
    pub embedding: Vec<f32>,
    pub boxes: Vec<Box>,
}

/// Why a frame ranks where it does; the sum is its uncertainty.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Components {
    /// 1 for a box right at its class's threshold, falling to 0 at score 1: the
    /// frame's least sure box.
    pub near_threshold: f32,
    /// 1 if a traffic light's state is `unknown`.
    pub unknown_light: f32,
    /// 1 − the share of all boxes of the run that its rarest class has.
    pub rare_class: f32,
}

impl Components {
    pub fn total(&self) -> f32 {
        self.near_threshold + self.unknown_light + self.rare_class
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Neighbour {
    pub image: String,
    pub distance: f32,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Chosen {
    pub image: String,
    /// 1 = the most useful.
    pub rank: usize,
    pub uncertainty: f32,
    pub components: Components,
    /// The closest other chosen frame (none when only one is chosen).
    pub nearest_kept: Option<Neighbour>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Duplicate {
    pub image: String,
    /// The kept frame it is a near-duplicate of (the first within the distance, in
    /// rank order), and how far from it.
    pub duplicate_of: String,
    pub distance: f32,
}

/// The outcome of `--select`: written as `selection.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Selection {
    pub method: &'static str,
    pub requested: usize,
    pub min_cosine_distance: f32,
    pub embedding: &'static str,
    pub candidates: usize,
    pub chosen: Vec<Chosen>,
    pub near_duplicates: Vec<Duplicate>,
    /// Distinct frames left out because `requested` were chosen before them.
    pub not_chosen: Vec<String>,
}

/// 1 − cos(a, b); 1 for an all-zero vector (nothing to compare).
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let norms = norm(a) * norm(b);
    if norms == 0.0 {
        return 1.0;
    }
    (1.0 - dot / norms).max(0.0) as f32
}

fn components(frame: &Candidate, class_share: &dyn Fn(Class) -> f32) -> Components {
    let near_threshold = frame
        .boxes
        .iter()
        .map(|b| 1.0 - ((b.score - b.threshold) / (1.0 - b.threshold).max(1e-6)).clamp(0.0, 1.0))
        .fold(0.0, f32::max);
    let unknown_light = if frame
        .boxes
        .iter()
        .any(|b| b.state == Some(LightState::Unknown))
    {
        1.0
    } else {
        0.0
    };
    let rare_class = frame
        .boxes
        .iter()
        .map(|b| 1.0 - class_share(b.class))
        .fold(0.0, f32::max);
    Components {
        near_threshold,
        unknown_light,
        rare_class,
    }
}

/// Ranks every frame by uncertainty (ties: the earlier frame first), then walks that
/// order keeping a frame only if it is at least `min_distance` from every frame kept
/// so far, and chooses the first `count` kept. Every frame ends up chosen, a
/// near-duplicate of a kept one, or not chosen.
pub fn select(frames: &[Candidate], count: usize, min_distance: f32) -> Selection {
    let total_boxes = frames.iter().map(|f| f.boxes.len()).sum::<usize>().max(1);
    let share = |class: Class| {
        let n = frames
            .iter()
            .flat_map(|f| &f.boxes)
            .filter(|b| b.class == class)
            .count();
        n as f32 / total_boxes as f32
    };
    let scored: Vec<Components> = frames.iter().map(|f| components(f, &share)).collect();
    let mut order: Vec<usize> = (0..frames.len()).collect();
    order.sort_by(|&a, &b| {
        scored[b]
            .total()
            .total_cmp(&scored[a].total())
            .then(a.cmp(&b))
    });

    let mut kept: Vec<usize> = Vec::new();
    let mut near_duplicates = Vec::new();
    for &i in &order {
        let close = kept
            .iter()
            .map(|&k| {
                (
                    k,
                    cosine_distance(&frames[i].embedding, &frames[k].embedding),
                )
            })
            .find(|&(_, d)| d < min_distance);
        match close {
            Some((k, distance)) => near_duplicates.push(Duplicate {
                image: frames[i].image.clone(),
                duplicate_of: frames[k].image.clone(),
                distance,
            }),
            None => kept.push(i),
        }
    }
    let (chosen_ids, rest) = kept.split_at(count.min(kept.len()));
    let chosen = chosen_ids
        .iter()
        .enumerate()
        .map(|(rank, &i)| {
            let nearest_kept = chosen_ids
                .iter()
                .filter(|&&k| k != i)
                .map(|&k| Neighbour {
                    image: frames[k].image.clone(),
                    distance: cosine_distance(&frames[i].embedding, &frames[k].embedding),
                })
                .min_by(|a, b| a.distance.total_cmp(&b.distance));
            Chosen {
                image: frames[i].image.clone(),
                rank: rank + 1,
                uncertainty: scored[i].total(),
                components: scored[i],
                nearest_kept,
            }
        })
        .collect();
    Selection {
        method: "select",
        requested: count,
        min_cosine_distance: min_distance,
        embedding: "detector backbone: mean per channel of the deepest value the head reads \
                    (YOLOX: stride-32 neck output)",
        candidates: frames.len(),
        chosen,
        near_duplicates,
        not_chosen: rest.iter().map(|&i| frames[i].image.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(image: &str, embedding: &[f32], boxes: &[(Class, f32)]) -> Candidate {
        Candidate {
            image: image.into(),
            embedding: embedding.to_vec(),
            boxes: boxes
                .iter()
                .map(|&(class, score)| Box {
                    class,
                    score,
                    threshold: 0.3,
                    state: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_repeated_frame_is_dropped_as_a_duplicate_of_the_kept_one() {
        let frames = [
            frame("a", &[1.0, 0.0], &[(Class::Pedestrian, 0.9)]),
            frame("a-copy", &[1.0, 0.0001], &[(Class::Pedestrian, 0.9)]),
            frame("b", &[0.0, 1.0], &[(Class::Pedestrian, 0.9)]),
        ];
        let s = select(&frames, 10, DEFAULT_MIN_DISTANCE);
        let chosen: Vec<&str> = s.chosen.iter().map(|c| c.image.as_str()).collect();
        assert_eq!(chosen, ["a", "b"]);
        assert_eq!(s.near_duplicates.len(), 1);
        assert_eq!(s.near_duplicates[0].image, "a-copy");
        assert_eq!(s.near_duplicates[0].duplicate_of, "a");
        let nearest = s.chosen[0].nearest_kept.as_ref().expect("two chosen");
        assert_eq!((nearest.image.as_str(), nearest.distance), ("b", 1.0));
    }

    #[test]
    fn unsure_unknown_and_rare_rank_first() {
        let mut light = frame("light", &[0.0, 0.0, 1.0], &[(Class::TrafficLight, 0.9)]);
        light.boxes[0].state = Some(LightState::Unknown);
        let frames = [
            frame("sure", &[1.0, 0.0, 0.0], &[(Class::Pedestrian, 0.95)]),
            frame("unsure", &[0.0, 1.0, 0.0], &[(Class::Pedestrian, 0.31)]),
            light,
        ];
        let s = select(&frames, 2, DEFAULT_MIN_DISTANCE);
        let chosen: Vec<&str> = s.chosen.iter().map(|c| c.image.as_str()).collect();
        // light: unknown 1 + rare 2/3 + near 1/7; unsure: near ≈ 0.99 + rare 1/3.
        assert_eq!(chosen, ["light", "unsure"]);
        assert_eq!(s.not_chosen, ["sure"]);
        assert!(s.chosen[1].components.near_threshold > 0.95);
    }

    #[test]
    fn cosine_distance_ignores_scale() {
        assert!(cosine_distance(&[1.0, 2.0], &[2.0, 4.0]) < 1e-6);
        assert_eq!(cosine_distance(&[0.0, 0.0], &[1.0, 0.0]), 1.0);
    }
}
