//! Traffic-light colour masses on the device: each light's box, in the image already
//! uploaded for the letterbox, is sampled on a fixed grid of [`LONG`] × [`SHORT`] points
//! (nearest pixel, integer arithmetic so the host reference picks the same pixels). Each
//! sample goes to HSV; a sample that is saturated and bright enough and whose hue is
//! red, yellow or green adds `s · v²` to that colour's mass of its row along the box's
//! long axis. One thread per (box, row); the host weighs the rows by where a lamp of
//! that colour sits in the housing and decides (see `crate::tl_state`).
//!
//! Output per box: `LONG` rows of `[red, yellow, green]` mass.

use super::{cube_count, CUBE_SIZE};
use cubecl::prelude::*;
use cubecl::server::Handle;

/// Sample rows along the long axis of a box (where the lamps sit).
pub const LONG: usize = 32;
/// Samples per row, across the box.
pub const SHORT: usize = 16;
/// Values per row: the red, yellow and green mass.
pub const COLOURS: usize = 3;
/// Output values per box.
pub const PER_BOX: usize = LONG * COLOURS;

/// The colour masks: HSV thresholds, hue in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Masks {
    /// Minimum saturation (0..1) and value (0..1) of a lit sample.
    pub min_saturation: f32,
    pub min_value: f32,
    /// Red is hue ≥ `red_from` or < `yellow_from` (it wraps through 0).
    pub red_from: f32,
    /// Yellow is `yellow_from` ≤ hue < `yellow_to`.
    pub yellow_from: f32,
    pub yellow_to: f32,
    /// Green (traffic greens are cyan-ish) is `green_from` ≤ hue < `green_to`.
    pub green_from: f32,
    pub green_to: f32,
}

/// One box to sample, in whole pixels inside the image: `[x, y, width, height]`, both
/// sizes at least 1.
pub type PixelBox = [u32; 4];

/// The source image as the letterbox sees it: packed bytes, row step, bytes per pixel
/// and the byte offsets of red, green and blue within a pixel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Source {
    pub step: u32,
    pub channels: u32,
    pub rgb: [u32; 3],
}

#[cube]
fn load_unit(data: &[u32], index: u32) -> f32 {
    let word = data[(index / 4) as usize];
    let byte = (word >> ((index % 4) * 8)) & 255u32;
    f32::cast_from(byte) / 255.0
}

/// Pixel `p` of a row of `n` samples over `size` pixels starting at `origin`: the
/// nearest pixel to the sample's centre, `origin + (2p + 1) · size / 2n`.
#[cube]
fn sample_at(origin: u32, size: u32, p: u32, n: u32) -> u32 {
    origin + ((2 * p + 1) * size) / (2 * n)
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn tl_state_kernel(
    src: &[u32],
    boxes: &[u32],
    out: &mut [f32],
    first_box: u32,
    rows: u32,
    step: u32,
    channels: u32,
    red_offset: u32,
    green_offset: u32,
    blue_offset: u32,
    min_saturation: f32,
    min_value: f32,
    red_from: f32,
    yellow_from: f32,
    yellow_to: f32,
    green_from: f32,
    green_to: f32,
) {
    let t = ABSOLUTE_POS as u32;
    if t >= rows {
        terminate!();
    }
    let long = LONG as u32;
    let short = SHORT as u32;
    let b = first_box + t / long;
    let row = t % long;
    let bx = boxes[(b * 4) as usize];
    let by = boxes[(b * 4 + 1) as usize];
    let bw = boxes[(b * 4 + 2) as usize];
    let bh = boxes[(b * 4 + 3) as usize];
    let vertical = bh >= bw;
    let mut red = 0.0f32;
    let mut yellow = 0.0f32;
    let mut green = 0.0f32;
    for across in 0..short {
        let mut x = sample_at(bx, bw, across, short);
        let mut y = sample_at(by, bh, row, long);
        if !vertical {
            x = sample_at(bx, bw, row, long);
            y = sample_at(by, bh, across, short);
        }
        let base = y * step + x * channels;
        let r = load_unit(src, base + red_offset);
        let g = load_unit(src, base + green_offset);
        let bl = load_unit(src, base + blue_offset);
        let hi = f32::max(r, f32::max(g, bl));
        let lo = f32::min(r, f32::min(g, bl));
        let d = hi - lo;
        let mut s = 0.0f32;
        if hi > 0.0 {
            s = d / hi;
        }
        let mut h = 0.0f32;
        if d > 0.0 {
            if hi == r {
                h = 60.0 * (g - bl) / d;
            } else if hi == g {
                h = 60.0 * (bl - r) / d + 120.0;
            } else {
                h = 60.0 * (r - g) / d + 240.0;
            }
        }
        if h < 0.0 {
            h += 360.0;
        }
        if s >= min_saturation && hi >= min_value {
            let mass = s * hi * hi;
            if h >= red_from || h < yellow_from {
                red += mass;
            } else if h < yellow_to {
                yellow += mass;
            } else if h >= green_from && h < green_to {
                green += mass;
            }
        }
    }
    let o = ((b * long + row) * 3) as usize;
    out[o] = red;
    out[o + 1] = yellow;
    out[o + 2] = green;
}

/// Colour masses of boxes `first..first + count` of `boxes` (uploaded as 4 u32 each)
/// in one image, into `out` (at least `(first + count) · PER_BOX` f32).
///
/// The caller guarantees that every box lies inside the image `src` holds (checked by
/// `crate::tl_state`, which builds the boxes from clipped detections).
#[allow(clippy::too_many_arguments)]
pub fn launch(
    client: &Client,
    src: &Handle,
    src_words: usize,
    source: &Source,
    boxes: &Handle,
    total_boxes: usize,
    first: usize,
    count: usize,
    masks: &Masks,
    out: &Handle,
) {
    let rows = count * LONG;
    // SAFETY: the boxes lie inside the image (see above), so every byte read is below
    // step · height; rows index boxes below first + count ≤ total_boxes.
    unsafe {
        tl_state_kernel::launch_unchecked(
            client,
            cube_count(rows),
            CubeDim::new_1d(CUBE_SIZE),
            BufferArg::from_raw_parts(src.clone(), src_words),
            BufferArg::from_raw_parts(boxes.clone(), total_boxes * 4),
            BufferArg::from_raw_parts(out.clone(), total_boxes * PER_BOX),
            first as u32,
            rows as u32,
            source.step,
            source.channels,
            source.rgb[0],
            source.rgb[1],
            source.rgb[2],
            masks.min_saturation,
            masks.min_value,
            masks.red_from,
            masks.yellow_from,
            masks.yellow_to,
            masks.green_from,
            masks.green_to,
        )
    }
}

/// Plain-Rust reference of the kernel for one box: `PER_BOX` masses.
pub fn reference(data: &[u8], source: &Source, bbox: PixelBox, masks: &Masks) -> Vec<f32> {
    let [bx, by, bw, bh] = bbox;
    let vertical = bh >= bw;
    let at = |origin: u32, size: u32, p: u32, n: u32| origin + (2 * p + 1) * size / (2 * n);
    let mut out = vec![0.0f32; PER_BOX];
    for row in 0..LONG as u32 {
        for across in 0..SHORT as u32 {
            let (x, y) = if vertical {
                (
                    at(bx, bw, across, SHORT as u32),
                    at(by, bh, row, LONG as u32),
                )
            } else {
                (
                    at(bx, bw, row, LONG as u32),
                    at(by, bh, across, SHORT as u32),
                )
            };
            let base = (y * source.step + x * source.channels) as usize;
            let [r, g, b] = source.rgb.map(|c| data[base + c as usize] as f32 / 255.0);
            let (h, s, v) = hsv(r, g, b);
            if s < masks.min_saturation || v < masks.min_value {
                continue;
            }
            let colour = if h >= masks.red_from || h < masks.yellow_from {
                0
            } else if h < masks.yellow_to {
                1
            } else if h >= masks.green_from && h < masks.green_to {
                2
            } else {
                continue;
            };
            out[row as usize * COLOURS + colour] += s * v * v;
        }
    }
    out
}

/// Hue in degrees `[0, 360)`, saturation and value in `[0, 1]`, as the kernel computes.
fn hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let hi = r.max(g).max(b);
    let lo = r.min(g).min(b);
    let d = hi - lo;
    let s = if hi > 0.0 { d / hi } else { 0.0 };
    let mut h = if d <= 0.0 {
        0.0
    } else if hi == r {
        60.0 * (g - b) / d
    } else if hi == g {
        60.0 * (b - r) / d + 120.0
    } else {
        60.0 * (r - g) / d + 240.0
    };
    if h < 0.0 {
        h += 360.0;
    }
    (h, s, hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tl_state::{pixel_box, source, MASKS};
    use crate::{ImageView, PixelFormat};
    use rand::{Rng, SeedableRng};

    fn crops_dir() -> std::path::PathBuf {
        let shared = std::env::var_os("SIGHTLINE_SHARED")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into());
        let dir = shared.join("data/tl-state");
        assert!(
            dir.is_dir(),
            "{} missing: the shared data must be at ../shared or $SIGHTLINE_SHARED",
            dir.display()
        );
        dir
    }

    /// Real crops of each state (a seeded pick), whole and as random sub-boxes, upright
    /// and sideways, as rgb8 and bgra8: the kernel's masses equal the reference's.
    #[test]
    fn masses_match_the_reference_on_real_crops() {
        let seed: u64 = std::env::var("SIGHTLINE_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| rand::rng().random());
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let gpu = sightline_engine::DeviceChoice::test_default()
            .open()
            .expect("device");
        let client = gpu.client();
        let mut checked = 0;
        for state in ["red", "yellow", "green"] {
            // The image files only (the shared folders hold a .DS_Store too), sorted.
            let files = sightline_types::images::list(&crops_dir().join(state)).expect("crops");
            for _ in 0..4 {
                let path = &files[rng.random_range(0..files.len())];
                let rgb = image::open(path).expect("crop").to_rgb8();
                let (w, h) = rgb.dimensions();
                for format in [PixelFormat::Rgb8, PixelFormat::Bgra8] {
                    let data: Vec<u8> = match format {
                        PixelFormat::Rgb8 => rgb.as_raw().clone(),
                        _ => rgb.pixels().flat_map(|p| [p[2], p[1], p[0], 255]).collect(),
                    };
                    let step = w as usize * format.channels();
                    let view = ImageView::new(w, h, step, format, &data).expect("view");
                    // The whole crop, a random sub-box, and a sideways strip.
                    let mut boxes = vec![[0.0, 0.0, w as f32, h as f32]];
                    let x0 = rng.random_range(0.0..w as f32 / 3.0);
                    let y0 = rng.random_range(0.0..h as f32 / 3.0);
                    boxes.push([x0, y0, w as f32 - x0 / 2.0, h as f32 - y0 / 2.0]);
                    boxes.push([0.0, y0, w as f32, y0 + (w as f32 / 3.0).max(1.0)]);
                    let pixel: Vec<PixelBox> = boxes
                        .iter()
                        .map(|&b| pixel_box(b, w, h).expect("inside"))
                        .collect();
                    let flat: Vec<u32> = pixel.iter().flatten().copied().collect();
                    let words = crate::kernels::letterbox::pack_bytes(&data);
                    let src = client.create_from_slice(u32::as_bytes(&words));
                    let boxes_h = client.create_from_slice(u32::as_bytes(&flat));
                    let n = pixel.len();
                    let out = client.create_from_slice(f32::as_bytes(&vec![f32::NAN; n * PER_BOX]));
                    let src_desc = source(&view);
                    // Two launches (the first box, then the rest) as the detector does
                    // per image: each writes only its own boxes.
                    launch(
                        client,
                        &src,
                        words.len(),
                        &src_desc,
                        &boxes_h,
                        n,
                        0,
                        1,
                        &MASKS,
                        &out,
                    );
                    launch(
                        client,
                        &src,
                        words.len(),
                        &src_desc,
                        &boxes_h,
                        n,
                        1,
                        n - 1,
                        &MASKS,
                        &out,
                    );
                    let got = f32::from_bytes(&client.read_one(out).expect("read")).to_vec();
                    let what =
                        format!("{} {format:?} (SIGHTLINE_TEST_SEED={seed})", path.display());
                    assert!(
                        got.iter().all(|v| v.is_finite()),
                        "{what}: unwritten element"
                    );
                    for (k, &b) in pixel.iter().enumerate() {
                        let want = reference(&data, &src_desc, b, &MASKS);
                        let part = &got[k * PER_BOX..(k + 1) * PER_BOX];
                        for (i, (g, r)) in part.iter().zip(&want).enumerate() {
                            assert!(
                                (g - r).abs() <= 1e-4 * (1.0 + r.abs()),
                                "{what}: box {b:?} row {} colour {}: kernel {g}, reference {r}",
                                i / COLOURS,
                                i % COLOURS
                            );
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 3 * 4 * 2 * 3);
    }
}
