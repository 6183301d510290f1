//! YOLOX output decoding on the device: grid + stride box decoding, objectness × class
//! score for the classes Sightline reports (a class a trained head added has its own
//! objectness channel; the others share the model's), score thresholding, and mapping back to
//! original-image pixels (divided by the letterbox scale, shifted by the region's
//! corner when the pass saw a tile). One thread per anchor point. Boxes are not clipped to the
//! image here: NMS compares the unclipped boxes, as YOLOX and its reference do.
//!
//! Output per anchor: `[x1, y1, x2, y2, score_0, …, score_{k-1}]`, where a score below
//! its class threshold is written as 0 so the host only sorts survivors.

use super::{cube_count, CUBE_SIZE};

use cubecl::prelude::*;
use cubecl::server::Handle;

/// Output levels (strides) the decode kernel's metadata holds.
pub const MAX_LEVELS: usize = 4;

/// Decoding parameters for one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeParams {
    /// Grid cells per level along x and y, with the level's stride (at most
    /// [`MAX_LEVELS`]; the manifest is checked against it).
    pub levels: Vec<(u32, u32, u32)>,
    /// Values per anchor in the model output: 4 box + 1 objectness + classes.
    pub row_len: u32,
    /// Each reported class: which channels score it, and its threshold.
    pub classes: Vec<DecodeClass>,
    /// Letterbox scale r; boxes are divided by it.
    pub scale: f32,
    /// Corner of the region the pass saw, in image pixels; added to boxes after scaling.
    pub offset: [f32; 2],
}

/// One reported class: `score = objectness × class`, each a channel of the model's
/// output row after the box and the shared objectness (channel `k` is value `5 + k`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeClass {
    /// The class score's channel.
    pub id: u32,
    /// The class's own objectness channel; `None`: the shared one (value 4).
    pub objectness: Option<u32>,
    pub threshold: f32,
}

impl DecodeClass {
    /// Where in the row the two factors are: (class score, objectness).
    fn columns(&self) -> (u32, u32) {
        (5 + self.id, self.objectness.map_or(4, |o| 5 + o))
    }
}

/// Metadata words per class: class column, objectness column, threshold bits.
const CLASS_WORDS: usize = 3;

impl DecodeParams {
    pub fn anchors(&self) -> usize {
        self.levels
            .iter()
            .map(|&(gx, gy, _)| (gx * gy) as usize)
            .sum()
    }

    pub fn out_row_len(&self) -> usize {
        4 + self.classes.len()
    }

    pub fn output_len(&self) -> usize {
        self.anchors() * self.out_row_len()
    }

    /// `[gx, gy, stride, first_anchor]` per level (padded to 4 levels), then
    /// `[class_column, objectness_column, threshold_bits]` per class, as one u32
    /// metadata buffer.
    fn meta(&self) -> Vec<u32> {
        let mut meta = Vec::with_capacity(16 + CLASS_WORDS * self.classes.len());
        let mut first = 0;
        for l in 0..MAX_LEVELS {
            match self.levels.get(l) {
                Some(&(gx, gy, stride)) => {
                    meta.extend([gx, gy, stride, first]);
                    first += gx * gy;
                }
                None => meta.extend([0, 0, 0, u32::MAX]),
            }
        }
        for c in &self.classes {
            let (class, objectness) = c.columns();
            meta.extend([class, objectness, c.threshold.to_bits()]);
        }
        meta
    }
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn decode_kernel(
    raw: &[f32],
    meta: &[u32],
    out: &mut [f32],
    anchors: u32,
    row_len: u32,
    inv_scale: f32,
    offset_x: f32,
    offset_y: f32,
    #[comptime] num_classes: usize,
) {
    let a = ABSOLUTE_POS as u32;
    if a >= anchors {
        terminate!();
    }
    // Find the level: the last one whose first anchor is <= a.
    let mut level = 0u32;
    #[unroll]
    for l in 1..4u32 {
        if a >= meta[(l * 4 + 3) as usize] {
            level = l;
        }
    }
    let gx = meta[(level * 4) as usize];
    let stride = f32::cast_from(meta[(level * 4 + 2) as usize]);
    let local = a - meta[(level * 4 + 3) as usize];
    let cell_x = f32::cast_from(local % gx);
    let cell_y = f32::cast_from(local / gx);

    let base = (a * row_len) as usize;
    let cx = (raw[base] + cell_x) * stride;
    let cy = (raw[base + 1] + cell_y) * stride;
    let half_w = f32::exp(raw[base + 2]) * stride * 0.5;
    let half_h = f32::exp(raw[base + 3]) * stride * 0.5;

    let o = (a as usize) * comptime!(4 + num_classes);
    out[o] = (cx - half_w) * inv_scale + offset_x;
    out[o + 1] = (cy - half_h) * inv_scale + offset_y;
    out[o + 2] = (cx + half_w) * inv_scale + offset_x;
    out[o + 3] = (cy + half_h) * inv_scale + offset_y;
    #[unroll]
    for k in 0..num_classes {
        let column = meta[16 + 3 * k];
        let objectness = raw[base + meta[16 + 3 * k + 1] as usize];
        let threshold = f32::reinterpret(meta[16 + 3 * k + 2]);
        let score = objectness * raw[base + column as usize];
        let mut kept = 0.0;
        if score >= threshold {
            kept = score;
        }
        out[o + 4 + k] = kept;
    }
}

/// Uploads the per-model metadata once.
pub fn upload_meta(client: &Client, p: &DecodeParams) -> Handle {
    client.create_from_slice(u32::as_bytes(&p.meta()))
}

/// Decodes `raw` (the model output, `anchors × row_len` values) into `out`
/// ([`DecodeParams::output_len`] values). `meta` comes from [`upload_meta`].
pub fn launch(client: &Client, p: &DecodeParams, raw: &Handle, meta: &Handle, out: &Handle) {
    let anchors = p.anchors();
    // SAFETY: the detector checked that the model output holds anchors × row_len values
    // and that every class and objectness channel < row_len - 5.
    unsafe {
        decode_kernel::launch_unchecked(
            client,
            cube_count(anchors),
            CubeDim::new_1d(CUBE_SIZE),
            BufferArg::from_raw_parts(raw.clone(), anchors * p.row_len as usize),
            BufferArg::from_raw_parts(meta.clone(), 16 + CLASS_WORDS * p.classes.len()),
            BufferArg::from_raw_parts(out.clone(), p.output_len()),
            anchors as u32,
            p.row_len,
            1.0 / p.scale,
            p.offset[0],
            p.offset[1],
            p.classes.len(),
        )
    }
}

/// Plain-Rust reference of the kernel.
pub fn reference(p: &DecodeParams, raw: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(p.output_len());
    for &(gx, gy, stride) in &p.levels {
        for cy in 0..gy {
            for cx in 0..gx {
                let a = out.len() / p.out_row_len();
                let r = &raw[a * p.row_len as usize..];
                let s = stride as f32;
                let (x, y) = ((r[0] + cx as f32) * s, (r[1] + cy as f32) * s);
                let (hw, hh) = (r[2].exp() * s * 0.5, r[3].exp() * s * 0.5);
                let inv = 1.0 / p.scale;
                let [ox, oy] = p.offset;
                out.push((x - hw) * inv + ox);
                out.push((y - hh) * inv + oy);
                out.push((x + hw) * inv + ox);
                out.push((y + hh) * inv + oy);
                for c in &p.classes {
                    let (class, objectness) = c.columns();
                    let score = r[objectness as usize] * r[class as usize];
                    out.push(if score >= c.threshold { score } else { 0.0 });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn a_class_with_its_own_objectness_ignores_the_shared_one() {
        // One anchor: box zeros, shared objectness 1.0, class 0 at 0.9, then the trained
        // class's own objectness 0.5 (channel 1) and score 0.8 (channel 2).
        let p = DecodeParams {
            levels: vec![(1, 1, 8)],
            row_len: 8,
            classes: vec![
                DecodeClass {
                    id: 0,
                    objectness: None,
                    threshold: 0.0,
                },
                DecodeClass {
                    id: 2,
                    objectness: Some(1),
                    threshold: 0.0,
                },
            ],
            scale: 1.0,
            offset: [0.0, 0.0],
        };
        let out = reference(&p, &[0.0, 0.0, 0.0, 0.0, 1.0, 0.9, 0.5, 0.8]);
        assert_eq!(out[4..], [0.9, 0.5 * 0.8]);
    }

    #[test]
    fn matches_reference() {
        let gpu = sightline_engine::DeviceChoice::test_default()
            .open()
            .expect("device");
        let client = gpu.client();
        let (seed, mut rng) = crate::kernels::test_rng();
        for (levels, scale, offset) in [
            (
                vec![(52, 52, 8), (26, 26, 16), (13, 13, 32)],
                0.65f32,
                [0.0, 0.0],
            ),
            (vec![(10, 6, 8), (5, 3, 16)], 1.3, [0.0, 0.0]),
            // A tile's pass: native scale, shifted by the tile's corner.
            (
                vec![(52, 52, 8), (26, 26, 16), (13, 13, 32)],
                1.0,
                [275.0, 17.0],
            ),
        ] {
            let class = |id, objectness, threshold| DecodeClass {
                id,
                objectness,
                threshold,
            };
            // The last two: a trained head's class (channel 81) with its own objectness
            // (channel 80), as `sightline train-head` appends them.
            let p = DecodeParams {
                levels,
                row_len: 87,
                classes: vec![
                    class(0, None, 0.3),
                    class(9, None, 0.05),
                    class(11, None, 0.0),
                    class(81, Some(80), 0.1),
                ],
                scale,
                offset,
            };
            let raw: Vec<f32> = (0..p.anchors() * 87)
                .map(|i| {
                    if i % 87 < 4 {
                        rng.random_range(-2.0..2.0)
                    } else {
                        rng.random_range(0.0..1.0)
                    }
                })
                .collect();
            let raw_h = client.create_from_slice(f32::as_bytes(&raw));
            let out = client.create_from_slice(f32::as_bytes(&vec![f32::NAN; p.output_len()]));
            launch(client, &p, &raw_h, &upload_meta(client, &p), &out);
            let got = f32::from_bytes(&client.read_one(out).expect("read")).to_vec();
            let want = reference(&p, &raw);
            let what = format!("{offset:?} (SIGHTLINE_TEST_SEED={seed})");
            assert!(
                got.iter().all(|v| v.is_finite()),
                "{what}: unwritten element"
            );
            let (mut diff, mut norm) = (0f64, 0f64);
            for (g, w) in got.iter().zip(&want) {
                diff += ((g - w) as f64).powi(2);
                norm += (*w as f64).powi(2);
            }
            assert!(
                (diff / norm).sqrt() < 1e-5,
                "{what}: relative L2 error {}",
                (diff / norm).sqrt()
            );
        }
    }
}
