//! Max pooling, NCHW, square window, symmetric padding (padding never wins the max).

use super::{conv::TensorView, cube_count, linear_index, CUBE_SIZE};
use cubecl::prelude::*;
use cubecl::server::Handle;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaxPoolParams {
    pub batch: usize,
    pub channels: usize,
    pub in_height: usize,
    pub in_width: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad: usize,
}

impl MaxPoolParams {
    pub fn out_size(&self) -> (usize, usize) {
        let out = |size: usize| (size + 2 * self.pad - self.kernel) / self.stride + 1;
        (out(self.in_height), out(self.in_width))
    }

    pub fn output_len(&self) -> usize {
        let (oh, ow) = self.out_size();
        self.batch * self.channels * oh * ow
    }
}

/// One thread per output element; the window is read branch-free (positions outside
/// the image are clamped and selected away), which keeps llvmpipe's loads simple.
#[cube(launch_unchecked)]
fn max_pool_kernel<F: Float>(
    input: &[F],
    output: &mut [F],
    #[comptime] p: MaxPoolParams,
    #[comptime] src: TensorView,
    #[comptime] dst: TensorView,
) {
    let i = linear_index();
    let len = comptime!(p.output_len());
    let valid = i < len;
    let i = min(i, comptime!(len - 1));
    let (out_height, out_width) = comptime!(p.out_size());
    let h = comptime!(p.in_height);
    let w = comptime!(p.in_width);
    let pad = comptime!(p.pad);
    let ox = i % out_width;
    let oy = (i / out_width) % out_height;
    let plane = i / comptime!(out_width * out_height);
    let c = plane % comptime!(p.channels);
    let n = plane / comptime!(p.channels);
    let base =
        comptime!(src.offset) + n * comptime!(src.batch_stride) + c * comptime!(src.channel_stride);
    let mut best = F::min_value();
    #[unroll]
    for ky in 0..comptime!(p.kernel) {
        let yy = oy * comptime!(p.stride) + ky;
        let y_ok = yy >= pad && yy < comptime!(h + pad);
        let row = base + (select(y_ok, yy, pad) - pad) * w;
        #[unroll]
        for kx in 0..comptime!(p.kernel) {
            let xx = ox * comptime!(p.stride) + kx;
            let ok = y_ok && xx >= pad && xx < comptime!(w + pad);
            let v = input[row + (select(ok, xx, pad) - pad)];
            best = select(ok, F::max(best, v), best);
        }
    }
    if valid {
        output[comptime!(dst.offset)
            + n * comptime!(dst.batch_stride)
            + c * comptime!(dst.channel_stride)
            + oy * out_width
            + ox] = best;
    }
}

/// Pools `src` (a view of `input`) into `dst` (a view of `output`); the planner has
/// checked both views against their buffers.
pub fn launch(
    client: &Client,
    p: &MaxPoolParams,
    src: &TensorView,
    input: &Handle,
    dst: &TensorView,
    output: &Handle,
) {
    let len = p.output_len();
    // SAFETY: the planner checked pad < kernel, a non-empty output and both views;
    // every load is at a clamped position inside the source view.
    unsafe {
        max_pool_kernel::launch_unchecked::<f32>(
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

    fn reference(p: &MaxPoolParams, input: &[f32]) -> Vec<f32> {
        let (oh, ow) = p.out_size();
        let mut out = Vec::with_capacity(p.output_len());
        for plane in 0..p.batch * p.channels {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut best = f32::NEG_INFINITY;
                    for ky in 0..p.kernel {
                        for kx in 0..p.kernel {
                            let iy = (oy * p.stride + ky) as isize - p.pad as isize;
                            let ix = (ox * p.stride + kx) as isize - p.pad as isize;
                            if iy >= 0
                                && ix >= 0
                                && (iy as usize) < p.in_height
                                && (ix as usize) < p.in_width
                            {
                                best = best.max(
                                    input[(plane * p.in_height + iy as usize) * p.in_width
                                        + ix as usize],
                                );
                            }
                        }
                    }
                    out.push(best);
                }
            }
        }
        out
    }

    #[test]
    fn spp_windows_and_strided() {
        let bed = TestBed::new();
        for (batch, channels, h, w, kernel, stride, pad) in [
            (1, 5, 13, 13, 5, 1, 2),
            (1, 3, 13, 11, 9, 1, 4),
            (2, 2, 14, 13, 13, 1, 6),
            (2, 4, 9, 10, 3, 2, 1),
            (1, 1, 8, 8, 2, 2, 0),
        ] {
            let planes = batch * channels;
            let p = MaxPoolParams {
                batch,
                channels,
                in_height: h,
                in_width: w,
                kernel,
                stride,
                pad,
            };
            let input = random_vec(planes * h * w, 10.0);
            let out = bed.poisoned(p.output_len());
            let (oh, ow) = p.out_size();
            launch(
                &bed.client,
                &p,
                &TensorView::contiguous(channels, h * w),
                &bed.upload(&input),
                &TensorView::contiguous(channels, oh * ow),
                &out,
            );
            assert_close(
                &bed.download(&out),
                &reference(&p, &input),
                &format!("{p:?}"),
            );
        }
    }

    /// The rewrite `onnx::fuse` makes of SPP: pools of 5 run on the device one after
    /// another give the direct 9- and 13-windows, borders included.
    #[test]
    fn cascaded_pools_equal_the_large_windows() {
        let bed = TestBed::new();
        let (channels, h, w) = (3, 13, 11);
        let pool = |kernel: usize| MaxPoolParams {
            batch: 1,
            channels,
            in_height: h,
            in_width: w,
            kernel,
            stride: 1,
            pad: kernel / 2,
        };
        let view = TensorView::contiguous(channels, h * w);
        let input = random_vec(channels * h * w, 10.0);
        let mut current = bed.poisoned(channels * h * w);
        launch(
            &bed.client,
            &pool(5),
            &view,
            &bed.upload(&input),
            &view,
            &current,
        );
        for direct in [9, 13] {
            let out = bed.poisoned(channels * h * w);
            launch(&bed.client, &pool(5), &view, &current, &view, &out);
            assert_close(
                &bed.download(&out),
                &reference(&pool(direct), &input),
                &format!("5-window cascade for {direct}"),
            );
            current = out;
        }
    }
}
