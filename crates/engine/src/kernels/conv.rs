//! 2-D convolution, NCHW, any stride/padding/groups, with a fused epilogue: bias, an
//! activation (SiLU or sigmoid) and an optional residual add. Inputs, outputs and
//! residuals are [`TensorView`]s, so a convolution can read from or write straight into
//! a slice of a Concat's output.
//!
//! Built for a load-bound machine (lavapipe executes a workgroup's lanes as SIMD, and a
//! storage-buffer load whose address differs per lane costs a loop over the lanes):
//! - the output-channel block and the batch come from the workgroup position, so every
//!   weight and bias address is the same for all lanes and llvmpipe loads it once;
//! - no early return and no branch around a load (out-of-range lanes clamp their
//!   position and only skip the store; padding is a select), because llvmpipe takes
//!   the one-load path only outside control flow;
//! - each thread keeps several pixels × output channels in registers, so one gathered
//!   input value feeds many multiply-adds.
//!
//! The same properties (uniform weight reads, no divergence, register tiles) are what a
//! real GPU wants too. `docs/performance.md` records the measurements behind the blocks.

use super::CUBE_SIZE;
use crate::kernels::elementwise::sigmoid;
use cubecl::prelude::*;
use cubecl::server::Handle;

/// Activation applied after bias (and before the residual add, as in YOLOX's
/// `x + SiLU(conv(x))`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Activation {
    #[default]
    None,
    Silu,
    Sigmoid,
}

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
    pub activation: Activation,
    /// Adds a tensor of the output's shape after the activation.
    pub residual: bool,
}

/// Where a `[N, C, H, W]` tensor lives in its buffer: element `(n, c, y, x)` is at
/// `offset + n·batch_stride + c·channel_stride + y·W + x` (each channel's plane is
/// contiguous). A Concat's inputs are views into its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TensorView {
    pub offset: usize,
    pub channel_stride: usize,
    pub batch_stride: usize,
}

impl TensorView {
    pub fn contiguous(channels: usize, plane: usize) -> TensorView {
        TensorView {
            offset: 0,
            channel_stride: plane,
            batch_stride: channels * plane,
        }
    }

    /// One past the last element index of a `[batch, channels, plane]` tensor.
    pub fn end(&self, batch: usize, channels: usize, plane: usize) -> usize {
        self.offset + (batch - 1) * self.batch_stride + (channels - 1) * self.channel_stride + plane
    }

    fn aligned_to(&self, n: usize) -> bool {
        self.offset.is_multiple_of(n)
            && self.channel_stride.is_multiple_of(n)
            && self.batch_stride.is_multiple_of(n)
    }

    /// The same view counted in vectors of `n` elements.
    fn in_vectors(&self, n: usize) -> TensorView {
        TensorView {
            offset: self.offset / n,
            channel_stride: self.channel_stride / n,
            batch_stride: self.batch_stride / n,
        }
    }
}

/// The views of one launch: input, output and (when `residual`) the residual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvViews {
    pub input: TensorView,
    pub output: TensorView,
    pub residual: TensorView,
}

impl ConvViews {
    pub fn contiguous(p: &ConvParams) -> ConvViews {
        let (oh, ow) = p.out_size();
        let out = TensorView::contiguous(p.out_channels, oh * ow);
        ConvViews {
            input: TensorView::contiguous(p.in_channels, p.in_height * p.in_width),
            output: out,
            residual: out,
        }
    }
}

/// The device buffers of one launch.
pub struct ConvBuffers<'a> {
    pub input: &'a Handle,
    /// From [`prepare_weight`].
    pub weight: &'a Handle,
    pub bias: &'a Handle,
    pub residual: Option<&'a Handle>,
    pub output: &'a Handle,
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

    pub fn input_len(&self) -> usize {
        self.batch * self.in_channels * self.in_height * self.in_width
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

    /// The kernel family this convolution belongs to, for per-family timings (each
    /// family has its own kernel, or its own tile, and its own speed).
    pub fn family(&self) -> &'static str {
        if self.is_pointwise() {
            "Conv pointwise"
        } else if self.groups > 1 && self.groups == self.in_channels {
            "Conv depthwise"
        } else if self.groups == 1 && self.in_channels <= 4 {
            "Conv stem"
        } else {
            "Conv dense"
        }
    }

    /// Output channels per workgroup: the largest power of two up to `max` that divides
    /// the channels of one group.
    fn channel_block(&self, max: usize) -> usize {
        let per_group = self.out_channels / self.groups;
        [64, 32, 16, 8, 4, 2, 1]
            .into_iter()
            .find(|&b| b <= max && per_group.is_multiple_of(b))
            .unwrap_or(1)
    }
}

/// Reorders ONNX's `[out, in/groups, k, k]` weights into the layout [`launch`] reads:
/// `[in, out]` for pointwise convolutions, ONNX's own otherwise.
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

/// How a launch is split: which block each thread computes and how the grid covers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Grid {
    /// Output channels per workgroup (`CUBE_POS_Y` picks the block).
    cob: usize,
    /// Pixel blocks (threads) per output-channel block and image.
    blocks: usize,
    /// Workgroups along x per image: `CUBE_POS_Z` is `image · x_chunks + chunk` when
    /// one image needs more than 65 535 workgroups along x.
    cubes_x: usize,
    x_chunks: usize,
}

const MAX_CUBES_X: usize = 32_768;

impl Grid {
    fn new(cob: usize, blocks: usize) -> Grid {
        let cubes = blocks.div_ceil(CUBE_SIZE as usize).max(1);
        let x_chunks = cubes.div_ceil(MAX_CUBES_X);
        Grid {
            cob,
            blocks,
            cubes_x: cubes.min(MAX_CUBES_X),
            x_chunks,
        }
    }

    fn count(&self, p: &ConvParams) -> CubeCount {
        CubeCount::Static(
            self.cubes_x as u32,
            (p.out_channels / self.cob) as u32,
            (p.batch * self.x_chunks) as u32,
        )
    }
}

/// This thread's pixel block (clamped to the last one, so that its loads stay in
/// bounds), whether it is a real one, and its image.
#[cube]
fn block_position(#[comptime] grid: Grid) -> (usize, bool, usize) {
    let chunk = CUBE_POS_Z as usize % comptime!(grid.x_chunks);
    let n = CUBE_POS_Z as usize / comptime!(grid.x_chunks);
    let block = (chunk * comptime!(MAX_CUBES_X) + CUBE_POS_X as usize) * CUBE_DIM_X as usize
        + UNIT_POS_X as usize;
    let valid = block < comptime!(grid.blocks);
    (min(block, comptime!(grid.blocks - 1)), valid, n)
}

#[cube]
fn activate<F: Float, N: Size>(v: Vector<F, N>, #[comptime] act: Activation) -> Vector<F, N> {
    let one = Vector::new(F::new(1.0));
    let mut out = v;
    if comptime!(act == Activation::Silu) {
        out = v * (one / (one + Vector::exp(-v)));
    }
    if comptime!(act == Activation::Sigmoid) {
        out = one / (one + Vector::exp(-v));
    }
    out
}

#[cube]
fn activate_scalar<F: Float>(v: F, #[comptime] act: Activation) -> F {
    let mut out = v;
    if comptime!(act == Activation::Silu) {
        out = v * sigmoid::<F>(v);
    }
    if comptime!(act == Activation::Sigmoid) {
        out = sigmoid::<F>(v);
    }
    out
}

/// Pointwise convolution as `out[co][p] = bias[co] + Σ_ci w[ci][co]·in[ci][p]` over the
/// flattened pixels `p`, `N` pixels per vector: each thread keeps `cob` channels × `pv`
/// vectors in registers, so one gathered input vector feeds `cob` multiply-adds.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn pointwise_kernel<F: Float, N: Size>(
    input: &[Vector<F, N>],
    weight: &[F],
    bias: &[F],
    residual: &[Vector<F, N>],
    output: &mut [Vector<F, N>],
    #[comptime] p: ConvParams,
    #[comptime] views: ConvViews,
    #[comptime] plane: usize,
    #[comptime] pv: usize,
    #[comptime] grid: Grid,
) {
    let (block, valid, n) = block_position(grid);
    let cob = comptime!(grid.cob);
    let cin = comptime!(p.in_channels);
    let cout = comptime!(p.out_channels);
    let co0 = CUBE_POS_Y as usize * cob;
    let p0 = block * pv;

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
    let iv = comptime!(views.input);
    let in_base = comptime!(iv.offset) + n * comptime!(iv.batch_stride);
    for ci in 0..cin {
        let row = in_base + ci * comptime!(iv.channel_stride);
        #[unroll]
        for q in 0..pv {
            vals[q] = input[row + min(p0 + q, comptime!(plane - 1))];
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

    let ov = comptime!(views.output);
    let rv = comptime!(views.residual);
    #[unroll]
    for c in 0..cob {
        let co = co0 + c;
        #[unroll]
        for q in 0..pv {
            let px = min(p0 + q, comptime!(plane - 1));
            let mut v = activate::<F, N>(acc[c * pv + q], comptime!(p.activation));
            if comptime!(p.residual) {
                v += residual[comptime!(rv.offset)
                    + n * comptime!(rv.batch_stride)
                    + co * comptime!(rv.channel_stride)
                    + px];
            }
            if valid && p0 + q < plane {
                output[comptime!(ov.offset)
                    + n * comptime!(ov.batch_stride)
                    + co * comptime!(ov.channel_stride)
                    + px] = v;
            }
        }
    }
}

/// Any other convolution: each thread computes `px` horizontally adjacent output pixels
/// of one row × `cob` output channels (one group's, picked by the workgroup).
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn conv2d_kernel<F: Float>(
    input: &[F],
    weight: &[F],
    bias: &[F],
    residual: &[F],
    output: &mut [F],
    #[comptime] p: ConvParams,
    #[comptime] views: ConvViews,
    #[comptime] px: usize,
    #[comptime] grid: Grid,
) {
    let (block, valid, n) = block_position(grid);
    let out_width = comptime!(p.out_size().1);
    let kernel = comptime!(p.kernel);
    let stride = comptime!(p.stride);
    let h = comptime!(p.in_height);
    let w = comptime!(p.in_width);
    let pad_top = comptime!(p.pad_top);
    let pad_left = comptime!(p.pad_left);
    let cin_g = comptime!(p.in_channels / p.groups);
    let cout_g = comptime!(p.out_channels / p.groups);
    let kk = comptime!(p.kernel * p.kernel);
    let cob = comptime!(grid.cob);
    // Input values one row of the thread's outputs reads per kernel row.
    let span = comptime!((px - 1) * p.stride + p.kernel);

    let x_blocks = comptime!(out_width.div_ceil(px));
    let x0 = (block % x_blocks) * px;
    let oy = block / x_blocks;
    let co0 = CUBE_POS_Y as usize * cob;
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
    let mut vals = Array::<F>::new(span);
    let iv = comptime!(views.input);
    let plane_base = comptime!(iv.offset)
        + n * comptime!(iv.batch_stride)
        + group * comptime!(cin_g * iv.channel_stride);
    for ci in 0..cin_g {
        let in_plane = plane_base + ci * comptime!(iv.channel_stride);
        #[unroll]
        for ky in 0..kernel {
            let yy = oy * stride + ky;
            let y_ok = yy >= pad_top && yy < comptime!(h + pad_top);
            let row = in_plane + (select(y_ok, yy, pad_top) - pad_top) * w;
            #[unroll]
            for j in 0..span {
                let xx = x0 * stride + j;
                let ok = y_ok && xx >= pad_left && xx < comptime!(w + pad_left);
                let v = input[row + (select(ok, xx, pad_left) - pad_left)];
                vals[j] = select(ok, v, F::new(0.0));
            }
            #[unroll]
            for kx in 0..kernel {
                let w_base = (co0 * cin_g + ci) * kk + ky * kernel + kx;
                #[unroll]
                for c in 0..cob {
                    let wv = weight[w_base + c * comptime!(cin_g * kk)];
                    #[unroll]
                    for q in 0..px {
                        acc[c * px + q] += vals[q * stride + kx] * wv;
                    }
                }
            }
        }
    }

    let ov = comptime!(views.output);
    let rv = comptime!(views.residual);
    let y_off = oy * out_width;
    #[unroll]
    for c in 0..cob {
        let co = co0 + c;
        #[unroll]
        for q in 0..px {
            let x = min(x0 + q, comptime!(out_width - 1));
            let mut v = activate_scalar::<F>(acc[c * px + q], comptime!(p.activation));
            if comptime!(p.residual) {
                v += residual[comptime!(rv.offset)
                    + n * comptime!(rv.batch_stride)
                    + co * comptime!(rv.channel_stride)
                    + y_off
                    + x];
            }
            if valid && x0 + q < out_width {
                output[comptime!(ov.offset)
                    + n * comptime!(ov.batch_stride)
                    + co * comptime!(ov.channel_stride)
                    + y_off
                    + x] = v;
            }
        }
    }
}

/// Pointwise block: `cob` output channels × `PIXELS` pixels per thread. Larger blocks
/// (32 × 8, 16 × 8 with 16 × 4 below) were no faster on lavapipe and took minutes of
/// shader compilation at start-up, past Mesa's cache (docs/performance.md).
const POINTWISE_CHANNELS: usize = 8;
const POINTWISE_PIXELS: usize = 8;
/// Other convolutions: up to 8 output channels × 4 pixels of a row per thread.
const CONV_CHANNELS: usize = 8;
const CONV_PIXELS: usize = 4;

/// Launches one convolution. The planner has checked that every view stays inside its
/// buffer (`len_of` each handle's elements), which is what makes the unchecked launch
/// sound.
pub fn launch(client: &Client, p: &ConvParams, views: &ConvViews, buffers: &ConvBuffers) {
    let (oh, ow) = p.out_size();
    let plane = oh * ow;
    let len = |h: &Handle| h.size() as usize / 4;
    // Without a residual the binding still needs a buffer; the input is one the launch
    // already reads and, unlike the bias, holds at least one vector of the vectorized
    // path (a bias of fewer than 4 channels is smaller than the 16 bytes it asks for).
    let residual = buffers.residual.unwrap_or(buffers.input);
    if p.is_pointwise() {
        let all = [views.input, views.output, views.residual];
        let vector = if plane.is_multiple_of(4) && all.iter().all(|v| v.aligned_to(4)) {
            4
        } else {
            1
        };
        let cob = p.channel_block(POINTWISE_CHANNELS);
        let pv = POINTWISE_PIXELS / vector;
        let planev = plane / vector;
        let grid = Grid::new(cob, planev.div_ceil(pv));
        let vviews = ConvViews {
            input: views.input.in_vectors(vector),
            output: views.output.in_vectors(vector),
            residual: views.residual.in_vectors(vector),
        };
        // SAFETY: the planner checked every view against its buffer; loads use clamped
        // positions inside the views, stores are masked to real pixels.
        unsafe {
            pointwise_kernel::launch_unchecked::<f32>(
                client,
                grid.count(p),
                CubeDim::new_1d(CUBE_SIZE),
                vector,
                BufferArg::from_raw_parts(buffers.input.clone(), len(buffers.input) / vector),
                BufferArg::from_raw_parts(buffers.weight.clone(), p.weight_len()),
                BufferArg::from_raw_parts(buffers.bias.clone(), p.out_channels),
                BufferArg::from_raw_parts(residual.clone(), len(residual) / vector),
                BufferArg::from_raw_parts(buffers.output.clone(), len(buffers.output) / vector),
                *p,
                vviews,
                planev,
                pv,
                grid,
            )
        }
        return;
    }
    let cob = p.channel_block(CONV_CHANNELS);
    let px = CONV_PIXELS.min(ow);
    let grid = Grid::new(cob, oh * ow.div_ceil(px));
    // SAFETY: as above; padding positions are selected away, never loaded.
    unsafe {
        conv2d_kernel::launch_unchecked::<f32>(
            client,
            grid.count(p),
            CubeDim::new_1d(CUBE_SIZE),
            BufferArg::from_raw_parts(buffers.input.clone(), len(buffers.input)),
            BufferArg::from_raw_parts(buffers.weight.clone(), p.weight_len()),
            BufferArg::from_raw_parts(buffers.bias.clone(), p.out_channels),
            BufferArg::from_raw_parts(residual.clone(), len(residual)),
            BufferArg::from_raw_parts(buffers.output.clone(), len(buffers.output)),
            *p,
            *views,
            px,
            grid,
        )
    }
}

/// [`launch`] with contiguous tensors, each in its own buffer.
pub fn launch_contiguous(
    client: &Client,
    p: &ConvParams,
    input: &Handle,
    weight: &Handle,
    bias: &Handle,
    output: &Handle,
) {
    let buffers = ConvBuffers {
        input,
        weight,
        bias,
        residual: None,
        output,
    };
    launch(client, p, &ConvViews::contiguous(p), &buffers)
}

#[allow(clippy::needless_range_loop)]
/// Plain-Rust reference used by the tests and by `sightline bench` as a sanity check
/// (contiguous tensors; `residual` has the output's shape when `p.residual`).
pub fn reference(
    p: &ConvParams,
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    residual: &[f32],
) -> Vec<f32> {
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
                    v = match p.activation {
                        Activation::None => v,
                        Activation::Silu => v / (1.0 + (-v).exp()),
                        Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
                    };
                    let o = ((n * p.out_channels + co) * oh + oy) * ow + ox;
                    if p.residual {
                        v += residual[o];
                    }
                    out[o] = v;
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "conv_tests.rs"]
mod tests;
