//! Max pooling, NCHW, square window, symmetric padding (padding never wins the max).

use super::{cube_count, linear_index, CUBE_SIZE};
use cubecl::prelude::*;
use cubecl::server::Handle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPoolParams {
    /// batch × channels: pooling treats every plane alike.
    pub planes: usize,
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
        self.planes * oh * ow
    }
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn max_pool_kernel<F: Float>(
    input: &[F],
    output: &mut [F],
    in_height: u32,
    in_width: u32,
    out_height: u32,
    out_width: u32,
    pad: u32,
    len: u32,
    #[comptime] kernel: usize,
    #[comptime] stride: usize,
) {
    let i = linear_index();
    if i >= len as usize {
        terminate!();
    }
    let ox = i % out_width as usize;
    let oy = (i / out_width as usize) % out_height as usize;
    let plane = i / (out_width as usize * out_height as usize);
    let h = in_height as usize;
    let w = in_width as usize;
    let base = plane * h * w;
    let mut best = F::min_value();
    #[unroll]
    for ky in 0..kernel {
        let yy = oy * stride + ky;
        if yy >= pad as usize && yy - (pad as usize) < h {
            let row = base + (yy - pad as usize) * w;
            #[unroll]
            for kx in 0..kernel {
                let xx = ox * stride + kx;
                if xx >= pad as usize && xx - (pad as usize) < w {
                    best = F::max(best, input[row + xx - pad as usize]);
                }
            }
        }
    }
    output[i] = best;
}

pub fn launch(client: &Client, p: &MaxPoolParams, input: &Handle, output: &Handle) {
    let (oh, ow) = p.out_size();
    let len = p.output_len();
    // SAFETY: the planner checked pad < kernel and non-empty output; all indices are
    // bounds-checked against the planes' extent passed here.
    unsafe {
        max_pool_kernel::launch_unchecked::<f32>(
            client,
            cube_count(len),
            CubeDim::new_1d(CUBE_SIZE),
            BufferArg::from_raw_parts(input.clone(), p.planes * p.in_height * p.in_width),
            BufferArg::from_raw_parts(output.clone(), len),
            p.in_height as u32,
            p.in_width as u32,
            oh as u32,
            ow as u32,
            p.pad as u32,
            len as u32,
            p.kernel,
            p.stride,
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
        for plane in 0..p.planes {
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
        for (planes, h, w, kernel, stride, pad) in [
            (5, 13, 13, 5, 1, 2),
            (3, 13, 11, 9, 1, 4),
            (2, 14, 13, 13, 1, 6),
            (4, 9, 10, 3, 2, 1),
            (1, 8, 8, 2, 2, 0),
        ] {
            let p = MaxPoolParams {
                planes,
                in_height: h,
                in_width: w,
                kernel,
                stride,
                pad,
            };
            let input = random_vec(planes * h * w, 10.0);
            let out = bed.poisoned(p.output_len());
            launch(&bed.client, &p, &bed.upload(&input), &out);
            assert_close(
                &bed.download(&out),
                &reference(&p, &input),
                &format!("{p:?}"),
            );
        }
    }
}
