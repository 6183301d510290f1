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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

    /// A 1×1, stride-1, unpadded, ungrouped convolution: a matrix product over the
    /// flattened pixels, which gets its own vectorized kernel.
    pub fn is_pointwise(&self) -> bool {
        self.kernel == 1
            && self.stride == 1
            && self.pad_top == 0
            && self.pad_left == 0
            && self.groups == 1
    }

    /// Output channels per thread: the largest power of two up to `max` that divides
    /// the channels of one group.
    fn channel_block(&self, max: usize) -> usize {
        let per_group = self.out_channels / self.groups;
        [16, 8, 4, 2, 1]
            .into_iter()
            .find(|&b| b <= max && per_group.is_multiple_of(b))
            .unwrap_or(1)
    }

    /// Pixels per thread along x: wide for depthwise convolutions, whose single output
    /// channel per group leaves only pixels to reuse loads across.
    fn pixel_block(&self) -> usize {
        if self.channel_block(16) == 1 {
            8
        } else {
            4
        }
    }

    /// Pixels per vector in the pointwise kernel: 4 when every channel plane starts on
    /// a 4-float boundary.
    fn pointwise_vector(&self) -> usize {
        if (self.in_height * self.in_width).is_multiple_of(4) {
            4
        } else {
            1
        }
    }
}

/// Reorders ONNX's `[out, in/groups, k, k]` weights into the layout [`launch`] reads:
/// `[in, out]` for pointwise convolutions (a thread's output channels adjacent), ONNX's
/// own otherwise.
pub fn prepare_weight(p: &ConvParams, onnx_weight: &[f32]) -> Vec<f32> {
    if !p.is_pointwise() {
        return onnx_weight.to_vec();
    }
    let (cin, cout) = (p.in_channels, p.out_channels);
    let mut out = vec![0f32; cin * cout];
    for co in 0..cout {
        for ci in 0..cin {
            out[ci * cout + co] = onnx_weight[co * cin + ci];
        }
    }
    out
}

/// Pointwise convolution as `out[co][p] = bias[co] + Σ_ci w[ci][co]·in[ci][p]` over the
/// flattened pixels `p`, `N` pixels per vector: each thread keeps `cob` channels × `pv`
/// vectors in registers, so one input vector feeds `cob` multiply-adds and one weight
/// `pv·N`. Shapes are comptime so that llvmpipe's index arithmetic folds to constants.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn pointwise_kernel<F: Float, N: Size>(
    input: &[Vector<F, N>],
    weight: &[F],
    bias: &[F],
    output: &mut [Vector<F, N>],
    #[comptime] cin: usize,
    #[comptime] cout: usize,
    #[comptime] plane: usize,
    #[comptime] cob: usize,
    #[comptime] pv: usize,
    #[comptime] threads: usize,
    #[comptime] silu: bool,
) {
    let thread = linear_index();
    if thread >= threads {
        terminate!();
    }
    let p_blocks = comptime!(plane.div_ceil(pv));
    let p0 = (thread % p_blocks) * pv;
    let rest = thread / p_blocks;
    let c_blocks = comptime!(cout / cob);
    let co0 = (rest % c_blocks) * cob;
    let n = rest / c_blocks;

    let mut acc = Array::<Vector<F, N>>::new(comptime!(cob * pv));
    #[unroll]
    for c in 0..cob {
        let b = Vector::new(bias[co0 + c]);
        #[unroll]
        for q in 0..pv {
            acc[c * pv + q] = b;
        }
    }
    let mut vals = Array::<Vector<F, N>>::new(pv);
    let in_base = n * comptime!(cin * plane) + p0;
    for ci in 0..cin {
        let row = in_base + ci * plane;
        #[unroll]
        for q in 0..pv {
            if comptime!(plane.is_multiple_of(pv)) {
                vals[q] = input[row + q];
            } else {
                let mut v = Vector::new(F::new(0.0));
                if p0 + q < plane {
                    v = input[row + q];
                }
                vals[q] = v;
            }
        }
        let w_row = ci * cout + co0;
        #[unroll]
        for c in 0..cob {
            let w = Vector::new(weight[w_row + c]);
            #[unroll]
            for q in 0..pv {
                acc[c * pv + q] += vals[q] * w;
            }
        }
    }

    let one = Vector::new(F::new(1.0));
    #[unroll]
    for c in 0..cob {
        let base = (n * cout + co0 + c) * plane + p0;
        #[unroll]
        for q in 0..pv {
            if p0 + q < plane {
                let mut v = acc[c * pv + q];
                if comptime!(silu) {
                    v = v * (one / (one + Vector::exp(-v)));
                }
                output[base + q] = v;
            }
        }
    }
}

/// Any other convolution, NCHW, each thread `px` horizontally adjacent output pixels ×
/// `cob` output channels. Shapes are comptime (see [`pointwise_kernel`]).
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn conv2d_kernel<F: Float>(
    input: &[F],
    weight: &[F],
    bias: &[F],
    output: &mut [F],
    #[comptime] p: ConvParams,
    #[comptime] out_height: usize,
    #[comptime] out_width: usize,
    #[comptime] cob: usize,
    #[comptime] px: usize,
    #[comptime] threads: usize,
) {
    let thread = linear_index();
    if thread >= threads {
        terminate!();
    }
    let kernel = comptime!(p.kernel);
    let stride = comptime!(p.stride);
    let h = comptime!(p.in_height);
    let w = comptime!(p.in_width);
    let pad_top = comptime!(p.pad_top);
    let pad_left = comptime!(p.pad_left);
    let cin_g = comptime!(p.in_channels / p.groups);
    let cout_g = comptime!(p.out_channels / p.groups);
    let out_channels = comptime!(p.out_channels);
    let kk = comptime!(p.kernel * p.kernel);

    let x_blocks = comptime!(out_width.div_ceil(px));
    let x0 = (thread % x_blocks) * px;
    let rest = thread / x_blocks;
    let oy = rest % out_height;
    let rest = rest / out_height;
    let c_blocks = comptime!(out_channels / cob);
    let co0 = (rest % c_blocks) * cob;
    let n = rest / c_blocks;
    let group = co0 / cout_g;

    let mut acc = Array::<F>::new(comptime!(cob * px));
    #[unroll]
    for c in 0..cob {
        let b = bias[co0 + c];
        #[unroll]
        for q in 0..px {
            acc[c * px + q] = b;
        }
    }
    let mut vals = Array::<F>::new(px);

    let plane_base = (n * comptime!(p.in_channels) + group * cin_g) * comptime!(h * w);
    for ci in 0..cin_g {
        let in_plane = plane_base + ci * comptime!(h * w);
        #[unroll]
        for ky in 0..kernel {
            let yy = oy * stride + ky;
            if yy >= pad_top && yy < comptime!(h + pad_top) {
                let row = in_plane + (yy - pad_top) * w;
                #[unroll]
                for kx in 0..kernel {
                    #[unroll]
                    for q in 0..px {
                        let xx = (x0 + q) * stride + kx;
                        let mut v = F::new(0.0);
                        if xx >= pad_left && xx < comptime!(w + pad_left) {
                            v = input[row + xx - pad_left];
                        }
                        vals[q] = v;
                    }
                    let w_base = (co0 * cin_g + ci) * kk + ky * kernel + kx;
                    #[unroll]
                    for c in 0..cob {
                        let wv = weight[w_base + c * comptime!(cin_g * kk)];
                        #[unroll]
                        for q in 0..px {
                            acc[c * px + q] += vals[q] * wv;
                        }
                    }
                }
            }
        }
    }

    let plane = comptime!(out_height * out_width);
    #[unroll]
    for c in 0..cob {
        let base = (n * out_channels + co0 + c) * plane + oy * out_width;
        #[unroll]
        for q in 0..px {
            if x0 + q < out_width {
                let mut v = acc[c * px + q];
                if comptime!(p.silu) {
                    v = v * sigmoid::<F>(v);
                }
                output[base + x0 + q] = v;
            }
        }
    }
}

/// Launches one convolution. `weight` comes from [`prepare_weight`], `bias` has
/// `out_channels` values; `output` must hold [`ConvParams::output_len`] values.
pub fn launch(
    client: &Client,
    p: &ConvParams,
    input: &Handle,
    weight: &Handle,
    bias: &Handle,
    output: &Handle,
) {
    let input_len = p.batch * p.in_channels * p.in_height * p.in_width;
    if p.is_pointwise() {
        let vector = p.pointwise_vector();
        let plane = p.in_height * p.in_width / vector;
        // 8 channels × 16 pixels per thread; a sweep on a loaded machine did not settle
        // the best block (docs/performance.md).
        let cob = p.channel_block(8);
        let pv = 16 / vector;
        let threads = p.batch * (p.out_channels / cob) * plane.div_ceil(pv);
        // SAFETY: the planner checked the shapes; every index is below the lengths
        // passed here (vector counts: plane sizes are multiples of `vector`).
        unsafe {
            pointwise_kernel::launch_unchecked::<f32>(
                client,
                cube_count(threads),
                CubeDim::new_1d(CUBE_SIZE),
                vector,
                BufferArg::from_raw_parts(input.clone(), input_len / vector),
                BufferArg::from_raw_parts(weight.clone(), p.weight_len()),
                BufferArg::from_raw_parts(bias.clone(), p.out_channels),
                BufferArg::from_raw_parts(output.clone(), p.output_len() / vector),
                p.in_channels,
                p.out_channels,
                plane,
                cob,
                pv,
                threads,
                p.silu,
            )
        }
        return;
    }
    let (oh, ow) = p.out_size();
    let cob = p.channel_block(16);
    let px = p.pixel_block();
    let threads = p.batch * (p.out_channels / cob) * oh * ow.div_ceil(px);
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
            *p,
            oh,
            ow,
            cob,
            px,
            threads,
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
            &bed.upload(&prepare_weight(&p, &weight)),
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
        // planes of 4k pixels take the vectorized path, with and without a partial block
        check(&bed, params(12, 8, 10, 20, 1, 1, 0, 1));
        check(
            &bed,
            ConvParams {
                silu: true,
                batch: 2,
                ..params(7, 6, 6, 12, 1, 1, 0, 1)
            },
        );
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
