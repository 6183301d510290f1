//! 2-D convolution, NCHW, any stride/padding/groups, with an optional fused SiLU.
//!
//! Each thread computes `px` horizontally adjacent output pixels × `cob` output
//! channels, so every loaded input value feeds `cob` multiply-adds and every loaded
//! weight feeds `px`. On lavapipe (and on GPUs) speed is governed by loads, and this
//! register blocking is what makes the difference (see docs/performance.md).

use super::{cube_count, linear_index, CUBE_SIZE};
use crate::kernels::elementwise::sigmoid;
use cubecl::prelude::*;
use cubecl::server::Handle;

/// Shape and hyper-parameters of one convolution; validated by the planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvParams {
    pub batch: usize,
    pub in_channels: usize,
    pub in_height: usize,
    pub in_width: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub groups: usize,
    pub silu: bool,
}

impl ConvParams {
    /// Output height and width for `pad_bottom`/`pad_right` equal to `pad_top`/`pad_left`
    /// (the only padding the planner accepts).
    pub fn out_size(&self) -> (usize, usize) {
        let out = |size: usize, pad: usize| (size + 2 * pad - self.kernel) / self.stride + 1;
        (
            out(self.in_height, self.pad_top),
            out(self.in_width, self.pad_left),
        )
    }

    pub fn output_len(&self) -> usize {
        let (oh, ow) = self.out_size();
        self.batch * self.out_channels * oh * ow
    }

    pub fn weight_len(&self) -> usize {
        self.out_channels * (self.in_channels / self.groups) * self.kernel * self.kernel
    }

    /// Multiply-adds × 2.
    pub fn flops(&self) -> f64 {
        2.0 * self.output_len() as f64
            * (self.in_channels / self.groups * self.kernel * self.kernel) as f64
    }

    /// Output channels per thread: the largest of 16, 8, 4, 2, 1 that divides the
    /// channels of one group.
    fn channel_block(&self) -> usize {
        let per_group = self.out_channels / self.groups;
        [16, 8, 4, 2, 1]
            .into_iter()
            .find(|&b| per_group.is_multiple_of(b))
            .unwrap_or(1)
    }

    /// Pixels per thread along x: wide for depthwise convolutions, whose single output
    /// channel per group leaves only pixels to reuse loads across.
    fn pixel_block(&self) -> usize {
        if self.channel_block() == 1 {
            8
        } else {
            4
        }
    }
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn conv2d_kernel<F: Float>(
    input: &[F],
    weight: &[F],
    bias: &[F],
    output: &mut [F],
    in_channels_per_group: u32,
    in_height: u32,
    in_width: u32,
    out_channels: u32,
    out_channels_per_group: u32,
    out_height: u32,
    out_width: u32,
    pad_top: u32,
    pad_left: u32,
    threads: u32,
    #[comptime] kernel: usize,
    #[comptime] stride: usize,
    #[comptime] cob: usize,
    #[comptime] px: usize,
    #[comptime] silu: bool,
) {
    let thread = linear_index();
    if thread >= threads as usize {
        terminate!();
    }
    let x_blocks = (out_width as usize).div_ceil(px);
    let xb = thread % x_blocks;
    let rest = thread / x_blocks;
    let oy = rest % out_height as usize;
    let rest = rest / out_height as usize;
    let c_blocks = out_channels as usize / cob;
    let co0 = (rest % c_blocks) * cob;
    let n = rest / c_blocks;
    let x0 = xb * px;

    let cin_g = in_channels_per_group as usize;
    let group = co0 / out_channels_per_group as usize;
    let h = in_height as usize;
    let w = in_width as usize;
    let in_channels = cin_g * (out_channels as usize / out_channels_per_group as usize);
    let kk = comptime!(kernel * kernel);

    let mut acc = Array::<F>::new(comptime!(cob * px));
    #[unroll]
    for c in 0..cob {
        let b = bias[co0 + c];
        #[unroll]
        for p in 0..px {
            acc[c * px + p] = b;
        }
    }
    let mut vals = Array::<F>::new(px);

    for ci in 0..cin_g {
        let in_plane = (n * in_channels + group * cin_g + ci) * h * w;
        #[unroll]
        for ky in 0..kernel {
            let yy = oy * stride + ky;
            if yy >= pad_top as usize && yy - (pad_top as usize) < h {
                let row = in_plane + (yy - pad_top as usize) * w;
                #[unroll]
                for kx in 0..kernel {
                    #[unroll]
                    for p in 0..px {
                        let xx = (x0 + p) * stride + kx;
                        let mut v = F::new(0.0);
                        if xx >= pad_left as usize && xx - (pad_left as usize) < w {
                            v = input[row + xx - pad_left as usize];
                        }
                        vals[p] = v;
                    }
                    let w_base = (co0 * cin_g + ci) * kk + ky * kernel + kx;
                    #[unroll]
                    for c in 0..cob {
                        let wv = weight[w_base + c * cin_g * kk];
                        #[unroll]
                        for p in 0..px {
                            acc[c * px + p] += vals[p] * wv;
                        }
                    }
                }
            }
        }
    }

    let plane = out_height as usize * out_width as usize;
    #[unroll]
    for c in 0..cob {
        let base = (n * out_channels as usize + co0 + c) * plane + oy * out_width as usize;
        #[unroll]
        for p in 0..px {
            if x0 + p < out_width as usize {
                let mut v = acc[c * px + p];
                if comptime!(silu) {
                    v = v * sigmoid::<F>(v);
                }
                output[base + x0 + p] = v;
            }
        }
    }
}

/// Launches one convolution. `weight` is ONNX's `[out, in/groups, k, k]`, `bias` has
/// `out_channels` values; `output` must hold [`ConvParams::output_len`] values.
pub fn launch(
    client: &Client,
    p: &ConvParams,
    input: &Handle,
    weight: &Handle,
    bias: &Handle,
    output: &Handle,
) {
    let (oh, ow) = p.out_size();
    let cob = p.channel_block();
    let px = p.pixel_block();
    let threads = p.batch * (p.out_channels / cob) * oh * ow.div_ceil(px);
    let input_len = p.batch * p.in_channels * p.in_height * p.in_width;
    // SAFETY: the planner checked the shapes (channels divisible by groups, padding
    // symmetric, output non-empty), so every index the kernel forms is inside the
    // buffers, whose lengths are passed here exactly.
    unsafe {
        conv2d_kernel::launch_unchecked::<f32>(
            client,
            cube_count(threads),
            CubeDim::new_1d(CUBE_SIZE),
            BufferArg::from_raw_parts(input.clone(), input_len),
            BufferArg::from_raw_parts(weight.clone(), p.weight_len()),
            BufferArg::from_raw_parts(bias.clone(), p.out_channels),
            BufferArg::from_raw_parts(output.clone(), p.output_len()),
            (p.in_channels / p.groups) as u32,
            p.in_height as u32,
            p.in_width as u32,
            p.out_channels as u32,
            (p.out_channels / p.groups) as u32,
            oh as u32,
            ow as u32,
            p.pad_top as u32,
            p.pad_left as u32,
            threads as u32,
            p.kernel,
            p.stride,
            cob,
            px,
            p.silu,
        )
    }
}

/// Plain-Rust reference used by the tests and by `sightline bench` as a sanity check.
pub fn reference(p: &ConvParams, input: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
    let (oh, ow) = p.out_size();
    let cin_g = p.in_channels / p.groups;
    let cout_g = p.out_channels / p.groups;
    let mut out = vec![0f32; p.output_len()];
    for n in 0..p.batch {
        for co in 0..p.out_channels {
            let g = co / cout_g;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = bias[co] as f64;
                    for ci in 0..cin_g {
                        for ky in 0..p.kernel {
                            for kx in 0..p.kernel {
                                let iy = (oy * p.stride + ky) as isize - p.pad_top as isize;
                                let ix = (ox * p.stride + kx) as isize - p.pad_left as isize;
                                if iy < 0
                                    || ix < 0
                                    || iy >= p.in_height as isize
                                    || ix >= p.in_width as isize
                                {
                                    continue;
                                }
                                let xi = ((n * p.in_channels + g * cin_g + ci) * p.in_height
                                    + iy as usize)
                                    * p.in_width
                                    + ix as usize;
                                let wi = ((co * cin_g + ci) * p.kernel + ky) * p.kernel + kx;
                                acc += input[xi] as f64 * weight[wi] as f64;
                            }
                        }
                    }
                    let mut v = acc as f32;
                    if p.silu {
                        v *= 1.0 / (1.0 + (-v).exp());
                    }
                    out[((n * p.out_channels + co) * oh + oy) * ow + ox] = v;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{assert_close, random_vec, TestBed};

    fn check(bed: &TestBed, p: ConvParams) {
        let input = random_vec(p.batch * p.in_channels * p.in_height * p.in_width, 1.0);
        let weight = random_vec(p.weight_len(), 0.5);
        let bias = random_vec(p.out_channels, 0.5);
        let out = bed.poisoned(p.output_len());
        launch(
            &bed.client,
            &p,
            &bed.upload(&input),
            &bed.upload(&weight),
            &bed.upload(&bias),
            &out,
        );
        assert_close(
            &bed.download(&out),
            &reference(&p, &input, &weight, &bias),
            &format!("{p:?}"),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn params(
        cin: usize,
        h: usize,
        w: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        groups: usize,
    ) -> ConvParams {
        ConvParams {
            batch: 1,
            in_channels: cin,
            in_height: h,
            in_width: w,
            out_channels: cout,
            kernel,
            stride,
            pad_top: pad,
            pad_left: pad,
            groups,
            silu: false,
        }
    }

    #[test]
    fn pointwise_odd_sizes() {
        let bed = TestBed::new();
        check(&bed, params(3, 7, 9, 5, 1, 1, 0, 1));
        check(&bed, params(16, 13, 13, 24, 1, 1, 0, 1));
        check(
            &bed,
            ConvParams {
                silu: true,
                batch: 2,
                ..params(8, 5, 11, 8, 1, 1, 0, 1)
            },
        );
    }

    #[test]
    fn dense_3x3_stride_and_padding() {
        let bed = TestBed::new();
        check(&bed, params(12, 17, 15, 16, 3, 1, 1, 1));
        check(&bed, params(4, 16, 19, 6, 3, 2, 1, 1));
        check(&bed, params(3, 9, 10, 7, 3, 1, 0, 1));
        check(
            &bed,
            ConvParams {
                silu: true,
                ..params(5, 11, 6, 4, 5, 2, 2, 1)
            },
        );
    }

    #[test]
    fn grouped_and_depthwise() {
        let bed = TestBed::new();
        check(&bed, params(16, 13, 14, 16, 3, 1, 1, 16));
        check(
            &bed,
            ConvParams {
                silu: true,
                ..params(24, 15, 9, 24, 3, 2, 1, 24)
            },
        );
        check(&bed, params(12, 8, 7, 18, 3, 1, 1, 3));
    }
}
