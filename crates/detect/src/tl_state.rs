//! The state of each detected traffic light, from the image already on the device: the
//! colour masses of its box (kernel `kernels::tl_state`), weighed on the host by where
//! that colour's lamp sits in the housing, in the spirit of Autoware's HSV
//! `traffic_light_classifier`.
//!
//! The rule (tuned on the tuning half of `../shared/data/tl-state`, see
//! `docs/accuracy.md`):
//! - a box whose short side is under [`MIN_SHORT_PX`] or long side under
//!   [`MIN_LONG_PX`] pixels is [`LightState::Unknown`] (score 0): too few pixels per lamp;
//! - in an upright housing (taller than wide) the red lamp is on top, yellow in the
//!   middle, green below: mass of a colour outside its lamp's zone ([`Zones`]) counts
//!   less (glare, reflections, a red-brown housing, an amber lamp whose hue leans red).
//!   Sideways housings put red left in some countries and right in others: no zones
//!   there;
//! - the colour with the most mass wins if its mass is at least [`MIN_LIT_MASS`] per
//!   sample (an unlit or grey light has none: unknown), with `state_score` its share of
//!   the three masses.

use crate::kernels::tl_state::{self as kernel, Masks, PixelBox, Source, LONG, PER_BOX, SHORT};
use crate::{DetectError, Detector, ImageView, PixelFormat};
use cubecl::prelude::*;
use cubecl::server::Handle;
use sightline_types::{LightReading, LightState};

/// Boxes narrower than this (pixels, the short side) are too small to judge.
pub const MIN_SHORT_PX: f32 = 5.0;
/// Boxes shorter than this (pixels, the long side) are too small to judge.
pub const MIN_LONG_PX: f32 = 12.0;
/// Where each lamp sits in an upright housing, as a fraction of its height from the top,
/// and what a colour's mass outside its zone counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Zones {
    /// Red counts fully above this.
    pub red_to: f32,
    /// Yellow counts fully between this and `1 - yellow_from`.
    pub yellow_from: f32,
    /// Green counts fully below this.
    pub green_from: f32,
    /// Weight of red or green mass outside its zone.
    pub off_weight: f32,
    /// Weight of yellow mass outside its zone (the middle lamp's glow reaches far).
    pub yellow_off_weight: f32,
}

/// The zones, tuned on the tuning half of the crops.
pub const ZONES: Zones = Zones {
    red_to: 0.4,
    yellow_from: 0.2,
    green_from: 0.5,
    off_weight: 0.1,
    yellow_off_weight: 0.3,
};
/// Least mass (`s · v²` summed over lit samples, per sample) of the winning colour.
pub const MIN_LIT_MASS: f32 = 0.001;

/// The HSV masks, tuned on the tuning half of the crops.
pub const MASKS: Masks = Masks {
    min_saturation: 0.04,
    min_value: 0.4,
    red_from: 320.0,
    yellow_from: 10.0,
    yellow_to: 50.0,
    green_from: 150.0,
    green_to: 200.0,
};

/// The state from one box's `PER_BOX` colour masses (kernel output or reference).
pub fn decide(masses: &[f32], upright: bool) -> LightReading {
    let mut total = [0.0f32; 3];
    let z = ZONES;
    for (row, m) in masses.chunks_exact(3).enumerate() {
        let at = (row as f32 + 0.5) / (LONG as f32);
        let weight = |inside: bool, off: f32| if inside || !upright { 1.0 } else { off };
        total[0] += m[0] * weight(at < z.red_to, z.off_weight);
        let middle = at > z.yellow_from && at < 1.0 - z.yellow_from;
        total[1] += m[1] * weight(middle, z.yellow_off_weight);
        total[2] += m[2] * weight(at > z.green_from, z.off_weight);
    }
    let samples = (LONG * SHORT) as f32;
    let (best, mass) = total
        .iter()
        .copied()
        .enumerate()
        .fold((0, f32::MIN), |a, (i, m)| if m > a.1 { (i, m) } else { a });
    let sum: f32 = total.iter().sum();
    if mass / samples < MIN_LIT_MASS || sum <= 0.0 {
        return LightReading {
            state: LightState::Unknown,
            score: 0.0,
        };
    }
    LightReading {
        state: LightState::LIT[best],
        score: mass / sum,
    }
}

/// Whether a box `[x1, y1, x2, y2]` is large enough to judge.
pub fn large_enough(bbox: [f32; 4]) -> bool {
    let (w, h) = (bbox[2] - bbox[0], bbox[3] - bbox[1]);
    w.min(h) >= MIN_SHORT_PX && w.max(h) >= MIN_LONG_PX
}

/// The whole pixels a box covers inside a `width` × `height` image (`None` when it
/// covers none).
pub fn pixel_box(bbox: [f32; 4], width: u32, height: u32) -> Option<PixelBox> {
    let clip = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
    let (x0, y0) = (clip(bbox[0].floor(), width), clip(bbox[1].floor(), height));
    let (x1, y1) = (clip(bbox[2].ceil(), width), clip(bbox[3].ceil(), height));
    (x1 > x0 && y1 > y0).then(|| [x0, y0, x1 - x0, y1 - y0])
}

/// Where red, green and blue are within a pixel of `format` (mono: all three the same
/// byte, so no sample has a hue and every light is unknown).
pub fn source(image: &ImageView) -> Source {
    let rgb = match image.format() {
        PixelFormat::Rgb8 | PixelFormat::Rgba8 => [0, 1, 2],
        PixelFormat::Bgr8 | PixelFormat::Bgra8 => [2, 1, 0],
        PixelFormat::Mono8 => [0, 0, 0],
    };
    Source {
        step: image.step() as u32,
        channels: image.format().channels() as u32,
        rgb,
    }
}

/// The state of one box on the host: the plain-Rust reference of the kernel and
/// [`decide`], for the detector-free pipeline and the tests.
pub fn classify_host(image: &ImageView, bbox: [f32; 4]) -> LightReading {
    let unknown = LightReading {
        state: LightState::Unknown,
        score: 0.0,
    };
    if !large_enough(bbox) {
        return unknown;
    }
    match pixel_box(bbox, image.width(), image.height()) {
        Some(b) => decide(
            &kernel::reference(image.data(), &source(image), b, &MASKS),
            b[3] >= b[2],
        ),
        None => unknown,
    }
}

/// The masses buffer, kept for the next call (grown to a power of two of boxes).
#[derive(Default)]
pub(crate) struct StateBuffers {
    capacity: usize,
    masses: Option<Handle>,
}

impl Detector {
    /// The state of each light `(image, [x1, y1, x2, y2])`, where `image` indexes
    /// `images`, the images of the last [`Detector::detect_batch`] or
    /// [`Detector::detect_timed`] call (their bytes are still on the device). One launch
    /// per image with lights, one read back.
    pub fn light_states(
        &mut self,
        images: &[ImageView],
        lights: &[(usize, [f32; 4])],
    ) -> Result<Vec<LightReading>, DetectError> {
        let unknown = LightReading {
            state: LightState::Unknown,
            score: 0.0,
        };
        let mut readings = vec![unknown; lights.len()];
        // Boxes to sample, grouped by image: (light index, image, pixel box).
        let mut jobs: Vec<(usize, usize, PixelBox)> = Vec::new();
        for (i, &(image, bbox)) in lights.iter().enumerate() {
            let view = images.get(image).ok_or_else(|| {
                DetectError::Device(format!(
                    "light {i} names image {image} of a batch of {}",
                    images.len()
                ))
            })?;
            if image >= self.sources.len() {
                return Err(DetectError::Device(format!(
                    "light {i} names image {image}, but the last batch uploaded {}",
                    self.sources.len()
                )));
            }
            if !large_enough(bbox) {
                continue;
            }
            if let Some(b) = pixel_box(bbox, view.width(), view.height()) {
                // The kernel reads unchecked: the box's last pixel must be inside the bytes
                // uploaded for this image (a view of another size would not be).
                let src = source(view);
                let end = (b[1] + b[3] - 1) as usize * src.step as usize
                    + (b[0] + b[2]) as usize * src.channels as usize;
                if end > self.sources[image].1 * 4 {
                    return Err(DetectError::Device(format!(
                        "light {i}: box {b:?} reaches past the {} bytes uploaded for image {image}",
                        self.sources[image].1 * 4
                    )));
                }
                jobs.push((i, image, b));
            }
        }
        if jobs.is_empty() {
            return Ok(readings);
        }
        jobs.sort_by_key(|&(_, image, _)| image);
        let client = self.gpu().client().clone();
        let n = jobs.len();
        let flat: Vec<u32> = jobs.iter().flat_map(|&(_, _, b)| b).collect();
        let buffers = &mut self.state_buffers;
        if buffers.capacity < n {
            buffers.capacity = n.next_power_of_two();
            buffers.masses = Some(client.empty(buffers.capacity * PER_BOX * 4));
        }
        let mut padded = flat;
        padded.resize(buffers.capacity * 4, 0);
        let boxes = client.create_from_slice(u32::as_bytes(&padded));
        let Some(masses) = buffers.masses.clone() else {
            return Err(DetectError::Device("no traffic-light buffer".into()));
        };
        let mut first = 0;
        while first < n {
            let image = jobs[first].1;
            let count = jobs[first..].iter().take_while(|j| j.1 == image).count();
            let (src, words) = &self.sources[image];
            kernel::launch(
                &client,
                src,
                *words,
                &source(&images[image]),
                &boxes,
                buffers.capacity,
                first,
                count,
                &MASKS,
                &masses,
            );
            first += count;
        }
        let bytes = client
            .read_one(masses)
            .map_err(|e| DetectError::Device(format!("reading traffic-light masses: {e:?}")))?;
        let values = f32::from_bytes(&bytes);
        for (k, &(i, _, b)) in jobs.iter().enumerate() {
            readings[i] = decide(&values[k * PER_BOX..(k + 1) * PER_BOX], b[3] >= b[2]);
        }
        Ok(readings)
    }

    /// The state of each box `[x1, y1, x2, y2]` of an image that is not on the device
    /// yet (eval's crops): uploads it, then as [`Detector::light_states`].
    pub fn light_states_of(
        &mut self,
        image: &ImageView,
        boxes: &[[f32; 4]],
    ) -> Result<Vec<LightReading>, DetectError> {
        self.sources = vec![crate::detector::upload(self.gpu().client(), image)];
        let lights: Vec<(usize, [f32; 4])> = boxes.iter().map(|&b| (0, b)).collect();
        self.light_states(std::slice::from_ref(image), &lights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn light(colour: [u8; 3], lamp_rows: std::ops::Range<u32>) -> Vec<u8> {
        // A 20×60 dark housing with one lit lamp.
        let mut data = vec![30u8; 20 * 60 * 3];
        for y in lamp_rows {
            for x in 5..15 {
                let i = ((y * 20 + x) * 3) as usize;
                data[i..i + 3].copy_from_slice(&colour);
            }
        }
        data
    }

    fn state(data: &[u8], bbox: [f32; 4]) -> LightState {
        let view = ImageView::new(20, 60, 60, PixelFormat::Rgb8, data).expect("view");
        classify_host(&view, bbox).state
    }

    #[test]
    fn lamps_by_colour_and_small_or_grey_boxes_are_unknown() {
        let whole = [0.0, 0.0, 20.0, 60.0];
        assert_eq!(state(&light([250, 40, 60], 5..15), whole), LightState::Red);
        assert_eq!(
            state(&light([250, 190, 40], 25..35), whole),
            LightState::Yellow
        );
        assert_eq!(
            state(&light([40, 240, 200], 45..55), whole),
            LightState::Green
        );
        assert_eq!(
            state(&light([200, 200, 200], 5..15), whole),
            LightState::Unknown
        );
        let red = light([250, 40, 60], 5..15);
        assert_eq!(state(&red, [5.0, 0.0, 9.9, 60.0]), LightState::Unknown);
        assert_eq!(state(&red, [4.0, 3.0, 15.9, 14.0]), LightState::Unknown);
        assert_eq!(state(&red, [5.0, 0.0, 10.0, 12.0]), LightState::Red);
    }
}
