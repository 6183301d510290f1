//! Nearest-neighbour upsampling by integer factors (ONNX Resize, `nearest`, `asymmetric`,
//! `floor`): `out[y, x] = in[y / sy, x / sx]`.

use super::{conv::TensorView, cube_count, linear_index, CUBE_SIZE};
use cubecl::prelude::*;
use cubecl::server::Handle;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResizeParams {
    pub batch: usize,
    pub channels: usize,
    pub in_height: usize,
    pub in_width: usize,
    pub scale_y: usize,
    pub scale_x: usize,
}

impl ResizeParams {
    pub fn out_plane(&self) -> usize {
        self.in_height * self.scale_y * self.in_width * self.scale_x
    }

    pub fn output_len(&self) -> usize {
        self.batch * self.channels * self.out_plane()
    }
}

#[cube(launch_unchecked)]
fn resize_nearest_kernel<F: Float>(
    input: &[F],
    output: &mut [F],
    #[comptime] p: ResizeParams,
    #[comptime] src: TensorView,
    #[comptime] dst: TensorView,
) {
    let i = linear_index();
    let len = comptime!(p.output_len());
    let valid = i < len;
    let i = min(i, comptime!(len - 1));
    let out_width = comptime!(p.in_width * p.scale_x);
    let out_height = comptime!(p.in_height * p.scale_y);
    let ox = i % out_width;
    let oy = (i / out_width) % out_height;
    let plane = i / comptime!(out_width * out_height);
    let c = plane % comptime!(p.channels);
    let n = plane / comptime!(p.channels);
    let s = comptime!(src.offset)
        + n * comptime!(src.batch_stride)
        + c * comptime!(src.channel_stride)
        + (oy / comptime!(p.scale_y)) * comptime!(p.in_width)
        + ox / comptime!(p.scale_x);
    let v = input[s];
    if valid {
        output[comptime!(dst.offset)
            + n * comptime!(dst.batch_stride)
            + c * comptime!(dst.channel_stride)
            + oy * out_width
            + ox] = v;
    }
}

/// Upsamples `src` (a view of `input`) into `dst` (a view of `output`); the planner has
/// checked both views against their buffers.
pub fn launch(
    client: &Client,
    p: &ResizeParams,
    src: &TensorView,
    input: &Handle,
    dst: &TensorView,
    output: &Handle,
) {
    let len = p.output_len();
    // SAFETY: oy / scale_y < in_height and ox / scale_x < in_width by construction, and
    // the planner checked both views.
    unsafe {
        resize_nearest_kernel::launch_unchecked::<f32>(
            client,
            cube_count(len),
            CubeDim::new_1d(CUBE_SIZE),
            BufferArg::from_raw_parts(input.clone(), input.size() as usize / 4),
            BufferArg::from_raw_parts(output.clone(), output.size() as usize / 4),
            *p,
            *src,
            *dst,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{assert_close, random_vec, TestBed};

    #[test]
    fn integer_upsampling() {
        let bed = TestBed::new();
        for (planes, h, w, sy, sx) in [(3, 13, 13, 2, 2), (2, 5, 7, 3, 1), (1, 1, 1, 4, 4)] {
            let p = ResizeParams {
                batch: 1,
                channels: planes,
                in_height: h,
                in_width: w,
                scale_y: sy,
                scale_x: sx,
            };
            let input = random_vec(planes * h * w, 1.0);
            let mut expected = Vec::new();
            for c in 0..planes {
                for y in 0..h * sy {
                    for x in 0..w * sx {
                        expected.push(input[(c * h + y / sy) * w + x / sx]);
                    }
                }
            }
            let out = bed.poisoned(p.output_len());
            launch(
                &bed.client,
                &p,
                &TensorView::contiguous(planes, h * w),
                &bed.upload(&input),
                &TensorView::contiguous(planes, p.out_plane()),
                &out,
            );
            assert_close(&bed.download(&out), &expected, &format!("{p:?}"));
        }
    }
}
