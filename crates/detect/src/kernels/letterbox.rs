//! Raw interleaved u8 image → letterboxed model input, in one kernel: bilinear resize
//! (OpenCV `INTER_LINEAR` sampling: half-pixel centres, edge clamp, rounded to u8),
//! channel reorder, u8 → f32, planar NCHW layout, constant padding right and below.
//! The source can be a region of the uploaded image (a tile): the kernel reads it in
//! place and samples it as if it had been cut out, edge clamp at the region's border.

use super::{cube_count, CUBE_SIZE};
use crate::manifest::{ChannelOrder, InputSpec};
use crate::{ImageView, PixelFormat, Region};

use cubecl::prelude::*;
use cubecl::server::Handle;

/// Geometry of one letterbox operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Top-left corner of the region read, in image pixels.
    pub src_x: u32,
    pub src_y: u32,
    /// Size of the region read (the whole image unless tiling).
    pub src_width: u32,
    pub src_height: u32,
    /// Bytes between rows of the source.
    pub src_step: u32,
    pub format: PixelFormat,
    pub dst_width: u32,
    pub dst_height: u32,
    /// Size of the scaled image inside the destination (top-left aligned).
    pub resized_width: u32,
    pub resized_height: u32,
    /// Scale factor r = min(dst_w / src_w, dst_h / src_h); boxes are divided by it.
    pub scale: f32,
    pub pad_value: f32,
    /// Output channel order: true for BGR (channel 0 = blue).
    pub bgr: bool,
}

impl Letterbox {
    /// The letterbox of `image` into the model input described by `input`.
    pub fn new(image: &ImageView, input: &InputSpec) -> Letterbox {
        Letterbox::of_region(image, Region::whole(image.width(), image.height()), input)
    }

    /// The letterbox of `region` of `image` (checked by [`Region::check`]).
    pub fn of_region(image: &ImageView, region: Region, input: &InputSpec) -> Letterbox {
        let (src_width, src_height, format) = (region.width, region.height, image.format());
        let src_step = image.step() as u32;
        let (dst_width, dst_height) = (input.width, input.height);
        let (pad_value, bgr) = (
            input.letterbox_pad,
            input.channel_order == ChannelOrder::Bgr,
        );
        // As YOLOX's reference pre-processing: r = min(dst/src) and int(w·r), int(h·r) in
        // float64. In f32, 1238·(416/1238) is 415.99997 and the resized width 415: a
        // one-pixel shift that changes detections on such frames (KITTI has them).
        let scale =
            (dst_width as f64 / src_width as f64).min(dst_height as f64 / src_height as f64);
        let resized_width = ((src_width as f64 * scale) as u32).clamp(1, dst_width);
        let resized_height = ((src_height as f64 * scale) as u32).clamp(1, dst_height);
        let scale = scale as f32;
        Letterbox {
            src_x: region.x,
            src_y: region.y,
            src_width,
            src_height,
            src_step,
            format,
            dst_width,
            dst_height,
            resized_width,
            resized_height,
            scale,
            pad_value,
            bgr,
        }
    }

    pub fn output_len(&self) -> usize {
        3 * self.dst_width as usize * self.dst_height as usize
    }

    /// Source channel feeding output channels 0, 1, 2.
    fn source_channels(&self) -> [u32; 3] {
        let (r, g, b) = match self.format {
            PixelFormat::Rgb8 | PixelFormat::Rgba8 => (0, 1, 2),
            PixelFormat::Bgr8 | PixelFormat::Bgra8 => (2, 1, 0),
            PixelFormat::Mono8 => (0, 0, 0),
        };
        if self.bgr {
            [b, g, r]
        } else {
            [r, g, b]
        }
    }
}

#[cube]
fn load_byte(data: &[u32], index: usize) -> f32 {
    let word = data[index / 4];
    let byte = (word >> (((index % 4) * 8) as u32)) & 255u32;
    f32::cast_from(byte)
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn letterbox_kernel(
    src: &[u32],
    dst: &mut [f32],
    src_x: u32,
    src_y: u32,
    src_width: u32,
    src_height: u32,
    src_step: u32,
    dst_width: u32,
    dst_height: u32,
    resized_width: u32,
    resized_height: u32,
    scale_x: f32,
    scale_y: f32,
    pad_value: f32,
    channel0: u32,
    channel1: u32,
    channel2: u32,
    #[comptime] channels: usize,
) {
    let i = ABSOLUTE_POS;
    let plane = dst_width as usize * dst_height as usize;
    if i >= plane {
        terminate!();
    }
    let x = i % dst_width as usize;
    let y = i / dst_width as usize;
    let mut out0 = pad_value;
    let mut out1 = pad_value;
    let mut out2 = pad_value;
    if x < resized_width as usize && y < resized_height as usize {
        let fx = (f32::cast_from(x) + 0.5) * scale_x - 0.5;
        let fy = (f32::cast_from(y) + 0.5) * scale_y - 0.5;
        let mut x0 = f32::floor(fx);
        let mut y0 = f32::floor(fy);
        let mut ax = fx - x0;
        let mut ay = fy - y0;
        if x0 < 0.0 {
            x0 = 0.0;
            ax = 0.0;
        }
        if y0 < 0.0 {
            y0 = 0.0;
            ay = 0.0;
        }
        let max_x = f32::cast_from(src_width - 1);
        let max_y = f32::cast_from(src_height - 1);
        if x0 >= max_x {
            x0 = max_x;
            ax = 0.0;
        }
        if y0 >= max_y {
            y0 = max_y;
            ay = 0.0;
        }
        let xa = u32::cast_from(x0) as usize;
        let ya = u32::cast_from(y0) as usize;
        let xb = usize::min(xa + 1, src_width as usize - 1);
        let yb = usize::min(ya + 1, src_height as usize - 1);
        // Region coordinates → image coordinates: the offset is added after the clamp.
        let row_a = (src_y as usize + ya) * src_step as usize;
        let row_b = (src_y as usize + yb) * src_step as usize;
        let xa = src_x as usize + xa;
        let xb = src_x as usize + xb;
        let mut values = Array::<f32>::new(3usize);
        #[unroll]
        for k in 0..3usize {
            let mut c = channel0 as usize;
            if k == 1 {
                c = channel1 as usize;
            } else if k == 2 {
                c = channel2 as usize;
            }
            let p00 = load_byte(src, row_a + xa * channels + c);
            let p01 = load_byte(src, row_a + xb * channels + c);
            let p10 = load_byte(src, row_b + xa * channels + c);
            let p11 = load_byte(src, row_b + xb * channels + c);
            let top = p00 + (p01 - p00) * ax;
            let bottom = p10 + (p11 - p10) * ax;
            // Rounded like OpenCV's u8 output, which the reference pipeline feeds the model.
            values[k] = f32::floor(top + (bottom - top) * ay + 0.5);
        }
        out0 = values[0];
        out1 = values[1];
        out2 = values[2];
    }
    dst[i] = out0;
    dst[plane + i] = out1;
    dst[2 * plane + i] = out2;
}

/// Packs image bytes into u32 words (storage buffers hold 32-bit words on every backend).
pub fn pack_bytes(data: &[u8]) -> Vec<u32> {
    data.chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}

/// Runs the letterbox. `src` holds the packed bytes of the image (at least
/// `src_step * (src_y + src_height - 1) + (src_x + src_width) * channels` bytes, checked
/// by [`crate::ImageView::new`] and [`Region::check`]); `dst` holds
/// [`Letterbox::output_len`] f32 values.
pub fn launch(client: &Client, p: &Letterbox, src: &Handle, src_words: usize, dst: &Handle) {
    let plane = p.dst_width as usize * p.dst_height as usize;
    let [c0, c1, c2] = p.source_channels();
    // SAFETY: ImageView::new and Region::check validated the byte extent the kernel
    // reads (the region lies inside the image); the destination
    // is indexed below 3 × plane.
    unsafe {
        letterbox_kernel::launch_unchecked(
            client,
            cube_count(plane),
            CubeDim::new_1d(CUBE_SIZE),
            BufferArg::from_raw_parts(src.clone(), src_words),
            BufferArg::from_raw_parts(dst.clone(), p.output_len()),
            p.src_x,
            p.src_y,
            p.src_width,
            p.src_height,
            p.src_step,
            p.dst_width,
            p.dst_height,
            p.resized_width,
            p.resized_height,
            p.src_width as f32 / p.resized_width as f32,
            p.src_height as f32 / p.resized_height as f32,
            p.pad_value,
            c0,
            c1,
            c2,
            p.format.channels(),
        )
    }
}

/// Plain-Rust reference of the kernel, for tests.
pub fn reference(p: &Letterbox, data: &[u8]) -> Vec<f32> {
    let plane = (p.dst_width * p.dst_height) as usize;
    let mut out = vec![p.pad_value; 3 * plane];
    let (sx, sy) = (
        p.src_width as f32 / p.resized_width as f32,
        p.src_height as f32 / p.resized_height as f32,
    );
    let ch = p.format.channels();
    let clamp = |f: f32, max: usize| -> (usize, f32) {
        let (mut i, mut a) = (f.floor(), f - f.floor());
        if i < 0.0 {
            i = 0.0;
            a = 0.0;
        }
        if i >= max as f32 {
            i = max as f32;
            a = 0.0;
        }
        (i as usize, a)
    };
    for y in 0..p.resized_height as usize {
        for x in 0..p.resized_width as usize {
            let (xa, ax) = clamp((x as f32 + 0.5) * sx - 0.5, p.src_width as usize - 1);
            let (ya, ay) = clamp((y as f32 + 0.5) * sy - 0.5, p.src_height as usize - 1);
            let xb = (xa + 1).min(p.src_width as usize - 1);
            let yb = (ya + 1).min(p.src_height as usize - 1);
            for (k, &c) in p.source_channels().iter().enumerate() {
                let px = |xx: usize, yy: usize| {
                    let (xx, yy) = (p.src_x as usize + xx, p.src_y as usize + yy);
                    data[yy * p.src_step as usize + xx * ch + c as usize] as f32
                };
                let top = px(xa, ya) + (px(xb, ya) - px(xa, ya)) * ax;
                let bottom = px(xa, yb) + (px(xb, yb) - px(xa, yb)) * ax;
                out[k * plane + y * p.dst_width as usize + x] =
                    (top + (bottom - top) * ay + 0.5).floor();
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
    fn resized_size_rounds_like_the_float64_reference() {
        let input = InputSpec {
            width: 416,
            height: 416,
            channel_order: ChannelOrder::Bgr,
            value_range: [0.0, 255.0],
            letterbox_pad: 114.0,
        };
        // (width, height) of KITTI frames -> int(w·r), int(h·r) computed by Python
        for (w, h, rw, rh) in [
            (1238, 374, 416, 125),
            (1242, 375, 416, 125),
            (1224, 370, 416, 125),
            (1241, 376, 416, 126),
        ] {
            let data = vec![0u8; w * h * 3];
            let view =
                ImageView::new(w as u32, h as u32, w * 3, PixelFormat::Rgb8, &data).expect("view");
            let p = Letterbox::new(&view, &input);
            assert_eq!((p.resized_width, p.resized_height), (rw, rh), "{w}x{h}");
        }
    }

    #[test]
    fn matches_reference_for_every_format_odd_sizes_and_regions() {
        let gpu = sightline_engine::DeviceChoice::test_default()
            .open()
            .expect("device");
        let client = gpu.client();
        let (seed, mut rng) = crate::kernels::test_rng();
        let cases = [
            (PixelFormat::Rgb8, 37, 23, 0),
            (PixelFormat::Bgr8, 64, 48, 5),
            (PixelFormat::Rgba8, 31, 57, 3),
            (PixelFormat::Bgra8, 20, 20, 0),
            (PixelFormat::Mono8, 101, 13, 7),
            (PixelFormat::Rgb8, 5, 3, 1),
        ];
        for (format, w, h, extra) in cases {
            let step = w * format.channels() as u32 + extra;
            let data: Vec<u8> = (0..step * h).map(|_| rng.random()).collect();
            let view = ImageView::new(w, h, step as usize, format, &data).expect("view");
            // The whole image, a random region (a tile), and the bottom-right corner
            // pixel alone (the last bytes of the buffer).
            let (rw, rh) = (rng.random_range(1..=w), rng.random_range(1..=h));
            let tile = Region {
                x: rng.random_range(0..=w - rw),
                y: rng.random_range(0..=h - rh),
                width: rw,
                height: rh,
            };
            let corner = Region {
                x: w - 1,
                y: h - 1,
                width: 1,
                height: 1,
            };
            for region in [Region::whole(w, h), tile, corner] {
                region.check(&view).expect("region inside the image");
                for (dw, dh) in [(32u32, 32u32), (64, 40), (16, 24)] {
                    let input = InputSpec {
                        width: dw,
                        height: dh,
                        channel_order: ChannelOrder::Bgr,
                        value_range: [0.0, 255.0],
                        letterbox_pad: 114.0,
                    };
                    let p = Letterbox::of_region(&view, region, &input);
                    let what = format!("{p:?} (SIGHTLINE_TEST_SEED={seed})");
                    let words = pack_bytes(&data);
                    let src = client.create_from_slice(u32::as_bytes(&words));
                    let poisoned = vec![f32::NAN; p.output_len()];
                    let dst = client.create_from_slice(f32::as_bytes(&poisoned));
                    launch(client, &p, &src, words.len(), &dst);
                    let got = f32::from_bytes(&client.read_one(dst).expect("read")).to_vec();
                    let want = reference(&p, &data);
                    assert!(
                        got.iter().all(|v| v.is_finite()),
                        "{what}: unwritten element"
                    );
                    // Rounding to integers can flip by one where the exact value sits at
                    // .5 and the device's fma differs in the last bit; anything else is a
                    // bug.
                    let off: Vec<usize> = (0..got.len())
                        .filter(|&i| (got[i] - want[i]).abs() > 0.0)
                        .collect();
                    assert!(
                        off.iter().all(|&i| (got[i] - want[i]).abs() <= 1.0),
                        "{what}: differs by more than 1"
                    );
                    assert!(
                        off.len() * 1000 <= got.len(),
                        "{what}: {} of {} values differ",
                        off.len(),
                        got.len()
                    );
                }
            }
        }
    }

    #[test]
    fn a_region_reads_what_a_cut_out_copy_holds() {
        // The region's reference against the whole-image reference of a host copy of
        // the region: the offsets and the edge clamp at the region's border.
        let (seed, mut rng) = crate::kernels::test_rng();
        let (w, h, ch) = (50u32, 30u32, 3usize);
        let data: Vec<u8> = (0..w as usize * h as usize * ch)
            .map(|_| rng.random())
            .collect();
        let view = ImageView::new(w, h, w as usize * ch, PixelFormat::Rgb8, &data).expect("view");
        let region = Region {
            x: 7,
            y: 4,
            width: 21,
            height: 17,
        };
        let mut cut = Vec::new();
        for y in region.y..region.y + region.height {
            let row = (y * w + region.x) as usize * ch;
            cut.extend_from_slice(&data[row..row + region.width as usize * ch]);
        }
        let cut_view = ImageView::new(
            region.width,
            region.height,
            region.width as usize * ch,
            PixelFormat::Rgb8,
            &cut,
        )
        .expect("view");
        let input = InputSpec {
            width: 32,
            height: 32,
            channel_order: ChannelOrder::Bgr,
            value_range: [0.0, 255.0],
            letterbox_pad: 114.0,
        };
        let of_region = reference(&Letterbox::of_region(&view, region, &input), &data);
        let of_copy = reference(&Letterbox::new(&cut_view, &input), &cut);
        assert_eq!(of_region, of_copy, "SIGHTLINE_TEST_SEED={seed}");
    }
}
