//! From training images to fit samples: the base model runs on each image, its head
//! features are read back per level, and each anchor becomes a sample of that level's
//! fits when it is a positive of a new class, lies near any labelled box (the hard
//! negatives: other signs, the box's surroundings), or is drawn at random from the rest
//! (seeded per image; weighted by the inverse of its draw rate, so the fit still sees
//! the background in its true proportion).

use crate::assign::{self, Grid};
use crate::fit::Samples;
use crate::head::Head;
use crate::TrainError;
use sightline_detect::{Detector, ImageView, PixelFormat};
use std::path::Path;

/// Where one level's features are among the detector's taps.
#[derive(Debug, Clone)]
pub(crate) struct LevelTaps {
    pub cls: usize,
    pub reg: usize,
    pub channels: usize,
}

/// One level's samples: both branches' features of the same anchors, a bit per new
/// class for "positive of that class", and each sample's weight.
#[derive(Debug, Clone)]
pub(crate) struct LevelSamples {
    pub cls: Samples,
    pub reg: Samples,
    pub labels: Vec<u32>,
    /// A positive's box in the base model's raw box parametrisation (cell offset x, y,
    /// log width, log height in strides): what an own box regression would fit.
    pub targets: Vec<[f32; 4]>,
}

impl LevelSamples {
    fn new(channels: usize) -> LevelSamples {
        LevelSamples {
            cls: Samples::new(channels),
            reg: Samples::new(channels),
            labels: Vec::new(),
            targets: Vec::new(),
        }
    }

    /// Both branches' samples with labels "positive of class `class`".
    pub fn for_class(&self, class: usize) -> (Samples, Samples) {
        let y: Vec<bool> = self.labels.iter().map(|m| m & (1 << class) != 0).collect();
        let mut cls = self.cls.clone();
        let mut reg = self.reg.clone();
        cls.y.clone_from(&y);
        reg.y = y;
        (cls, reg)
    }

    pub fn positives(&self, class: usize) -> usize {
        self.labels
            .iter()
            .filter(|m| *m & (1 << class) != 0)
            .count()
    }
}

/// Maps each head level to its two feature taps.
pub(crate) fn level_taps(detector: &Detector, head: &Head) -> Result<Vec<LevelTaps>, TrainError> {
    let taps: Vec<_> = detector.model().taps().cloned().collect();
    head.levels
        .iter()
        .map(|level| {
            let find = |value: &str| {
                taps.iter().position(|t| t.value == value).ok_or_else(|| {
                    TrainError::HeadShape(format!(
                        "the engine's final-convolution taps do not include {value}"
                    ))
                })
            };
            Ok(LevelTaps {
                cls: find(&level.cls_features)?,
                reg: find(&level.reg_features)?,
                channels: level.channels,
            })
        })
        .collect()
}

/// An image file decoded by the pipeline's one rule.
pub(crate) fn load_image(path: &Path) -> Result<image::RgbImage, TrainError> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::Image {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    sightline_types::pixels::decode(&bytes).map_err(|e| TrainError::Image {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

pub(crate) fn view(rgb: &image::RgbImage) -> Result<ImageView<'_>, TrainError> {
    Ok(ImageView::new(
        rgb.width(),
        rgb.height(),
        rgb.width() as usize * 3,
        PixelFormat::Rgb8,
        rgb.as_raw(),
    )?)
}

/// splitmix64: a small, fixed generator, so a seed means the same draws everywhere.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, stem: &str, level: usize) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in stem.bytes().chain((level as u64).to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Rng(seed ^ h)
    }

    /// Uniform in [0, 1).
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One training image's labels in input pixels: per new class its boxes, and every
/// labelled box of any label (for the hard negatives).
pub(crate) struct ImageLabels {
    pub per_class: Vec<Vec<[f32; 4]>>,
    pub all: Vec<[f32; 4]>,
}

/// Collects the samples of one image into `levels`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn add_image(
    detector: &mut Detector,
    rgb: &image::RgbImage,
    labels: &ImageLabels,
    grid: &Grid,
    taps: &[LevelTaps],
    rates: &[f64],
    rng_of: impl Fn(usize) -> Rng,
    levels: &mut [LevelSamples],
) -> Result<(), TrainError> {
    let raw = detector.run_output(&view(rgb)?)?;
    let row_len = raw.len() / grid.anchors().max(1);
    let predicted = assign::predicted_boxes(grid, &raw, row_len);
    let centres = grid.centres();
    let mut mask = vec![0u32; grid.anchors()];
    let mut assigned: Vec<Option<[f32; 4]>> = vec![None; grid.anchors()];
    for (class, boxes) in labels.per_class.iter().enumerate() {
        for b in boxes {
            for a in assign::positives(&centres, &predicted, b, 2.5) {
                mask[a] |= 1 << class;
                assigned[a] = Some(*b);
            }
        }
    }
    // "Near a box": the box grown to twice its size around its centre.
    let near = |x: f32, y: f32| {
        labels.all.iter().any(|b| {
            let (w, h) = (b[2] - b[0], b[3] - b[1]);
            x > b[0] - w * 0.5 && x < b[2] + w * 0.5 && y > b[1] - h * 0.5 && y < b[3] + h * 0.5
        })
    };
    let mut first = 0;
    for (l, &(gx, gy, stride)) in grid.levels.iter().enumerate() {
        let plane = gx * gy;
        let lt = &taps[l];
        let cls = detector.model().read_tap(lt.cls)?;
        let reg = detector.model().read_tap(lt.reg)?;
        if cls.len() != lt.channels * plane || reg.len() != lt.channels * plane {
            return Err(TrainError::HeadShape(format!(
                "level {l}: features of {} values, expected {} channels × {gx}×{gy}",
                cls.len(),
                lt.channels
            )));
        }
        let mut rng = rng_of(l);
        let mut xc = vec![0f32; lt.channels];
        let mut xr = vec![0f32; lt.channels];
        for p in 0..plane {
            let a = first + p;
            let (_, x, y, _) = centres[a];
            // Every anchor draws, kept or not, so one anchor's fate never shifts another's.
            let draw = rng.next();
            let weight = if mask[a] != 0 || near(x, y) {
                1.0
            } else if draw < rates[l] {
                (1.0 / rates[l]) as f32
            } else {
                continue;
            };
            for c in 0..lt.channels {
                xc[c] = cls[c * plane + p];
                xr[c] = reg[c * plane + p];
            }
            let s = &mut levels[l];
            s.cls.push(&xc, false, weight);
            s.reg.push(&xr, false, weight);
            s.labels.push(mask[a]);
            s.targets.push(assigned[a].map_or([0.0; 4], |b| {
                let (cell_x, cell_y) = ((p % gx) as f32, (p / gx) as f32);
                [
                    (b[0] + b[2]) * 0.5 / stride - cell_x,
                    (b[1] + b[3]) * 0.5 / stride - cell_y,
                    ((b[2] - b[0]).max(1.0) / stride).ln(),
                    ((b[3] - b[1]).max(1.0) / stride).ln(),
                ]
            }));
        }
        first += plane;
    }
    Ok(())
}

pub(crate) fn empty_levels(taps: &[LevelTaps]) -> Vec<LevelSamples> {
    taps.iter().map(|t| LevelSamples::new(t.channels)).collect()
}
