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

    /// A 3×3 depthwise convolution, pad 1, stride 1 or 2 ([`depthwise_rows_kernel`]).
    fn is_depthwise_3x3(&self) -> bool {
        self.groups == self.in_channels
            && self.out_channels == self.in_channels
            && self.kernel == 3
            && self.pad_top == 1
            && self.pad_left == 1
            && (self.stride == 1 || self.stride == 2)
    }

    /// The vector width [`depthwise_rows_kernel`] reads input rows in: 4 where rows and
    /// views are whole `vec4`s and tiles of `tile` start on one, 1 otherwise.
    fn depthwise_input_lanes(&self, views: &ConvViews, tile: ConvTile) -> usize {
        if self.in_width.is_multiple_of(4) && tile.px.is_multiple_of(4) && views.input.aligned_to(4)
        {
            4
        } else {
            1
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
    /// Threads per workgroup: fewer than [`CUBE_SIZE`] when an image has fewer blocks,
    /// because llvmpipe runs every lane of a workgroup, real or not.
    cube_size: usize,
}

const MAX_CUBES_X: usize = 32_768;

impl Grid {
    fn new(cob: usize, blocks: usize) -> Grid {
        // At least 8 lanes: one SIMD row of a 256-bit llvmpipe.
        let cube_size = blocks.next_power_of_two().clamp(8, CUBE_SIZE as usize);
        let cubes = blocks.div_ceil(cube_size).max(1);
        let x_chunks = cubes.div_ceil(MAX_CUBES_X);
        Grid {
            cob,
            blocks,
            cubes_x: cubes.min(MAX_CUBES_X),
            x_chunks,
            cube_size,
        }
    }

    fn dim(&self) -> CubeDim {
        CubeDim::new_1d(self.cube_size as u32)
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
    block_at(comptime!(grid.blocks), comptime!(grid.x_chunks))
}

/// [`block_position`] for a launch whose block count arrives at run time: `blocks`
/// per image, `x_chunks` workgroups along z per image ([`Grid`]).
#[cube]
fn block_at(blocks: usize, x_chunks: usize) -> (usize, bool, usize) {
    let chunk = CUBE_POS_Z as usize % x_chunks;
    let n = CUBE_POS_Z as usize / x_chunks;
    let block = (chunk * comptime!(MAX_CUBES_X) + CUBE_POS_X as usize) * CUBE_DIM_X as usize
        + UNIT_POS_X as usize;
    let valid = block < blocks;
    (min(block, blocks - 1), valid, n)
}

#[cube]
fn activate<F: Float, N: Size>(v: Vector<F, N>, #[comptime] act: Activation) -> Vector<F, N> {
    let one = Vector::new(F::new(1.0f32));
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
///
/// Shapes and views are run-time values (`PointwiseShape`), unlike the other kernels:
/// the pointwise loop has no division in it for a constant to save, and one compiled
/// kernel then serves every pointwise layer of an activation, instead of YOLOX-Nano's
/// 82 shader compilations at start-up (seconds even with Mesa's cache warm).
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn pointwise_kernel<F: Float, N: Size, W: Size>(
    input: &[Vector<F, N>],
    weight: &[Vector<F, W>],
    bias: &[F],
    residual: &[Vector<F, N>],
    output: &mut [Vector<F, N>],
    shape: &PointwiseShape,
    #[comptime] activation: Activation,
    #[comptime] has_residual: bool,
    #[comptime] pv: usize,
    #[comptime] cob: usize,
    #[comptime] wlanes: usize,
) {
    let (block, valid, n) = block_at(shape.blocks as usize, shape.x_chunks as usize);
    let plane = shape.plane as usize;
    let cout = shape.cout as usize;
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
    let in_base = shape.input.offset as usize + n * shape.input.batch_stride as usize;
    let in_cs = shape.input.channel_stride as usize;
    for ci in 0..shape.cin as usize {
        let row = in_base + ci * in_cs;
        #[unroll]
        for q in 0..pv {
            vals[q] = input[row + min(p0 + q, plane - 1)];
        }
        // One uniform load brings `W` channels' weights; their lanes are split in
        // registers.
        let w_row = (ci * cout + co0) / wlanes;
        #[unroll]
        for cw in 0..comptime!(cob / wlanes) {
            let wv = weight[w_row + cw];
            #[unroll]
            for k in 0..wlanes {
                let w = Vector::new(wv.extract(k));
                #[unroll]
                for q in 0..pv {
                    acc[(cw * wlanes + k) * pv + q] += vals[q] * w;
                }
            }
        }
    }

    let out_base = shape.output.offset as usize + n * shape.output.batch_stride as usize;
    let res_base = shape.residual.offset as usize + n * shape.residual.batch_stride as usize;
    #[unroll]
    for c in 0..cob {
        let co = co0 + c;
        #[unroll]
        for q in 0..pv {
            let px = min(p0 + q, plane - 1);
            let mut v = activate::<F, N>(acc[c * pv + q], activation);
            if comptime!(has_residual) {
                v += residual[res_base + co * shape.residual.channel_stride as usize + px];
            }
            if valid && p0 + q < plane {
                output[out_base + co * shape.output.channel_stride as usize + px] = v;
            }
        }
    }
}

/// A [`TensorView`] as a kernel's run-time argument, counted in vectors.
#[derive(CubeLaunch, CubeType, Clone, Copy)]
struct ViewShape {
    offset: u32,
    channel_stride: u32,
    batch_stride: u32,
}

/// The run-time shape of one pointwise launch (`pointwise_kernel`).
#[derive(CubeLaunch, CubeType, Clone, Copy)]
struct PointwiseShape {
    cin: u32,
    cout: u32,
    /// Pixels per channel, in vectors.
    plane: u32,
    /// Pixel blocks (threads) per output-channel block and image.
    blocks: u32,
    /// Workgroups along z per image (see [`Grid`]).
    x_chunks: u32,
    input: ViewShape,
    output: ViewShape,
    residual: ViewShape,
}

/// Loads the `span` input values of input row `yy` (padded coordinates) that a tile
/// starting at output column `x0` reads; padding reads as zero.
#[cube]
#[allow(clippy::too_many_arguments)]
fn gather_row<F: Float>(
    input: &[F],
    vals: &mut Array<F>,
    in_plane: usize,
    yy: usize,
    x0: usize,
    #[comptime] p: ConvParams,
    #[comptime] span: usize,
) {
    let pad_top = comptime!(p.pad_top);
    let pad_left = comptime!(p.pad_left);
    let y_ok = yy >= pad_top && yy < comptime!(p.in_height + p.pad_top);
    let row = in_plane + (select(y_ok, yy, pad_top) - pad_top) * comptime!(p.in_width);
    #[unroll]
    for j in 0..span {
        let xx = x0 * comptime!(p.stride) + j;
        let ok = y_ok && xx >= pad_left && xx < comptime!(p.in_width + p.pad_left);
        let v = input[row + (select(ok, xx, pad_left) - pad_left)];
        vals[j] = select(ok, v, F::new(0.0f32));
    }
}

/// Adds one kernel row's products to output row `o` of the tile: `w_base` is the
/// weight index of the first output channel's kernel row.
#[cube]
#[allow(clippy::too_many_arguments)]
fn accumulate_row<F: Float>(
    weight: &[F],
    vals: &Array<F>,
    acc: &mut Array<F>,
    w_base: usize,
    #[comptime] p: ConvParams,
    #[comptime] cob: usize,
    #[comptime] tile: ConvTile,
    #[comptime] o: usize,
) {
    let tile_len = comptime!(tile.rows * tile.px);
    let weights_per_channel = comptime!(p.in_channels / p.groups * p.kernel * p.kernel);
    #[unroll]
    for kx in 0..comptime!(p.kernel) {
        #[unroll]
        for c in 0..cob {
            let wv = weight[w_base + kx + c * weights_per_channel];
            #[unroll]
            for q in 0..comptime!(tile.px) {
                acc[c * tile_len + o * comptime!(tile.px) + q] +=
                    vals[q * comptime!(p.stride) + kx] * wv;
            }
        }
    }
}

/// Any other convolution: each thread computes a tile of `rows` × `px` output pixels ×
/// `cob` output channels (one group's, picked by the workgroup). Each input row the
/// tile touches is gathered once and serves every output row and kernel row that
/// reads it, which is what keeps a depthwise convolution (one channel, nine
/// multiply-adds per output) from being all loads.
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
    #[comptime] tile: ConvTile,
    #[comptime] grid: Grid,
) {
    let (block, valid, n) = block_position(grid);
    let (out_height, out_width) = comptime!(p.out_size());
    let kernel = comptime!(p.kernel);
    let stride = comptime!(p.stride);
    let cin_g = comptime!(p.in_channels / p.groups);
    let cout_g = comptime!(p.out_channels / p.groups);
    let kk = comptime!(p.kernel * p.kernel);
    let cob = comptime!(grid.cob);
    let px = comptime!(tile.px);
    let rows = comptime!(tile.rows);
    let tile_len = comptime!(tile.rows * tile.px);
    // Input values one output row reads per kernel row, and input rows per tile.
    let span = comptime!((tile.px - 1) * p.stride + p.kernel);
    let in_rows = comptime!((tile.rows - 1) * p.stride + p.kernel);

    let x_blocks = comptime!(out_width.div_ceil(tile.px));
    let x0 = (block % x_blocks) * px;
    let oy0 = (block / x_blocks) * rows;
    let co0 = CUBE_POS_Y as usize * cob;
    let group = co0 / cout_g;

    let mut acc = Array::<F>::new(comptime!(grid.cob * tile.rows * tile.px));
    #[unroll]
    for c in 0..cob {
        let b = bias[co0 + c];
        #[unroll]
        for t in 0..tile_len {
            acc[c * tile_len + t] = b;
        }
    }
    let mut vals = Array::<F>::new(span);
    let iv = comptime!(views.input);
    let plane_base = comptime!(iv.offset)
        + n * comptime!(iv.batch_stride)
        + group * comptime!(cin_g * iv.channel_stride);
    for ci in 0..cin_g {
        let in_plane = plane_base + ci * comptime!(iv.channel_stride);
        // A one-row tile reads each input row for one kernel row only: a loop keeps the
        // shader small (the 6×6 stem unrolled is a shader of seconds to compile).
        if comptime!(tile.rows == 1) {
            for ky in 0..kernel {
                gather_row::<F>(input, &mut vals, in_plane, oy0 * stride + ky, x0, p, span);
                let w_base = (co0 * cin_g + ci) * kk + ky * kernel;
                accumulate_row::<F>(weight, &vals, &mut acc, w_base, p, cob, tile, 0usize);
            }
        }
        #[unroll]
        for r in 0..comptime!(if tile.rows == 1 { 0 } else { in_rows }) {
            gather_row::<F>(input, &mut vals, in_plane, oy0 * stride + r, x0, p, span);
            // Output row `o` reads this input row with kernel row `r - o·stride`.
            #[unroll]
            for o in 0..rows {
                if comptime!(r >= o * stride && r - o * stride < kernel) {
                    let ky = comptime!(r - o * stride);
                    let w_base = (co0 * cin_g + ci) * kk + ky * kernel;
                    accumulate_row::<F>(weight, &vals, &mut acc, w_base, p, cob, tile, o);
                }
            }
        }
    }

    let ov = comptime!(views.output);
    let rv = comptime!(views.residual);
    #[unroll]
    for c in 0..cob {
        let co = co0 + c;
        #[unroll]
        for o in 0..rows {
            let y = min(oy0 + o, comptime!(out_height - 1));
            #[unroll]
            for q in 0..px {
                let x = min(x0 + q, comptime!(out_width - 1));
                let at = y * out_width + x;
                let mut v =
                    activate_scalar::<F>(acc[c * tile_len + o * px + q], comptime!(p.activation));
                if comptime!(p.residual) {
                    v += residual[comptime!(rv.offset)
                        + n * comptime!(rv.batch_stride)
                        + co * comptime!(rv.channel_stride)
                        + at];
                }
                if valid && x0 + q < out_width && oy0 + o < out_height {
                    output[comptime!(ov.offset)
                        + n * comptime!(ov.batch_stride)
                        + co * comptime!(ov.channel_stride)
                        + at] = v;
                }
            }
        }
    }
}

/// A 3×3 depthwise convolution (pad 1, stride 1 or 2), its rows read as vectors of
/// `in_lanes` (`N`): `vec4`s where the width and views are multiples of 4, a quarter
/// of the gathered loads of [`conv2d_kernel`], which is what a depthwise convolution's
/// time is made of on a load-bound machine; scalars otherwise, so that every depthwise
/// layer runs on this one run-time-shaped kernel instead of compiling a shader of its
/// own at start-up.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn depthwise_rows_kernel<F: Float, N: Size, M: Size>(
    input: &[Vector<F, N>],
    weight: &[F],
    bias: &[F],
    residual: &[Vector<F, M>],
    output: &mut [Vector<F, M>],
    shape: &DepthwiseShape,
    #[comptime] stride: usize,
    #[comptime] activation: Activation,
    #[comptime] has_residual: bool,
    #[comptime] tile: ConvTile,
    #[comptime] in_lanes: usize,
    #[comptime] out_lanes: usize,
) {
    let (block, valid, n) = block_at(shape.blocks as usize, shape.x_chunks as usize);
    let out_height = shape.out_height as usize;
    let out_width = shape.out_width as usize;
    let h = shape.in_height as usize;
    let wv = shape.in_width_vectors as usize;
    let px = comptime!(tile.px);
    let rows = comptime!(tile.rows);
    let tile_len = comptime!(tile.rows * tile.px);
    let span = comptime!((tile.px - 1) * stride + 3);
    let in_rows = comptime!((tile.rows - 1) * stride + 3);
    // Value `j` of a row is input column `x0·stride − 1 + j`: lane `(j + L − 1) % L` of
    // vector `(j + L − 1) / L` counted from column `x0·stride − L`, for `L` = `in_lanes`.
    let vecs = comptime!((span + in_lanes - 2) / in_lanes + 1);

    let x_blocks = shape.x_blocks as usize;
    let x0 = (block % x_blocks) * px;
    let oy0 = (block / x_blocks) * rows;
    let c = CUBE_POS_Y as usize;
    // The vector holding the tile's first input column (`px` is a multiple of `L`).
    let v_first = x0 * stride / in_lanes;

    let mut acc = Array::<F>::new(comptime!(tile.rows * tile.px));
    let b = bias[c];
    #[unroll]
    for t in 0..tile_len {
        acc[t] = b;
    }
    let mut wts = Array::<F>::new(9usize);
    #[unroll]
    for k in 0..9usize {
        wts[k] = weight[c * 9 + k];
    }
    let mut vals = Array::<F>::new(span);
    let in_plane = shape.input.offset as usize
        + n * shape.input.batch_stride as usize
        + c * shape.input.channel_stride as usize;
    #[unroll]
    for r in 0..in_rows {
        let yy = oy0 * stride + r;
        let y_ok = yy >= 1 && yy < h + 1;
        let row = in_plane + (select(y_ok, yy, 1) - 1) * wv;
        #[unroll]
        for k in 0..vecs {
            // Vector `k` starts at column x0·stride − L + L·k, i.e. vector v_first − 1 + k.
            let vx = v_first + k;
            let ok = y_ok && vx >= 1 && vx < wv + 1;
            let v = input[row + select(ok, vx, 1) - 1];
            #[unroll]
            for lane in 0..in_lanes {
                let j = comptime!(in_lanes * k + lane);
                if comptime!(j + 1 >= in_lanes && j + 1 - in_lanes < span) {
                    vals[comptime!(j + 1 - in_lanes)] = select(ok, v.extract(lane), F::new(0.0f32));
                }
            }
        }
        #[unroll]
        for o in 0..rows {
            if comptime!(r >= o * stride && r - o * stride < 3) {
                let ky = comptime!(r - o * stride);
                #[unroll]
                for kx in 0..3usize {
                    let wk = wts[comptime!(ky * 3 + kx)];
                    #[unroll]
                    for q in 0..px {
                        acc[o * px + q] += vals[q * stride + kx] * wk;
                    }
                }
            }
        }
    }

    // Stores are per-lane loops too: `out_lanes` adjacent outputs go out as one vector
    // when the output rows are whole vectors (`M` = 4), one by one otherwise.
    #[unroll]
    for o in 0..rows {
        let y = min(oy0 + o, out_height - 1);
        #[unroll]
        for q in 0..comptime!(tile.px / out_lanes) {
            let x = min(x0 + q * out_lanes, out_width - out_lanes);
            let at = (y * out_width + x) / out_lanes;
            let mut v = Vector::<F, M>::empty();
            #[unroll]
            for lane in 0..out_lanes {
                v.insert(lane, acc[o * px + q * out_lanes + lane]);
            }
            v = activate::<F, M>(v, activation);
            if comptime!(has_residual) {
                v += residual[shape.residual.offset as usize
                    + n * shape.residual.batch_stride as usize
                    + c * shape.residual.channel_stride as usize
                    + at];
            }
            if valid && x0 + q * out_lanes < out_width && oy0 + o < out_height {
                output[shape.output.offset as usize
                    + n * shape.output.batch_stride as usize
                    + c * shape.output.channel_stride as usize
                    + at] = v;
            }
        }
    }
}

/// The run-time shape of one `depthwise_rows_kernel` launch; views counted in vectors
/// (the input's of the launch's input lanes, the output's and residual's of its output
/// lanes).
#[derive(CubeLaunch, CubeType, Clone, Copy)]
struct DepthwiseShape {
    in_height: u32,
    in_width_vectors: u32,
    out_height: u32,
    out_width: u32,
    /// Tiles along a row.
    x_blocks: u32,
    blocks: u32,
    x_chunks: u32,
    input: ViewShape,
    output: ViewShape,
    residual: ViewShape,
}

/// Output pixels per thread of [`conv2d_kernel`]: `rows` rows of `px` adjacent pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ConvTile {
    rows: usize,
    px: usize,
}

// Thread tiles, from a release sweep in `kernel_probe` against the lavapipe notes'
// kernel (docs/performance.md, "Engine v2 kernels"): larger tiles were no faster there
// and cost shader-compilation time at start-up.
/// Pointwise: output channels × pixels (4 vectors of 4 where the plane allows).
const POINTWISE_CHANNELS: usize = 16;
const POINTWISE_PIXELS: usize = 16;
/// Dense and stem convolutions: output channels × a tile of rows × pixels. A dense 3×3
/// at 4 rows ran ~1.5× faster but its shader took 9 s to compile on every start (Mesa's
/// cache does not skip that part); 2 rows: ~1× the notes' kernel, 1.7–1.9 s.
const CONV_CHANNELS: usize = 16;
const CONV_TILE: ConvTile = ConvTile { rows: 2, px: 8 };
/// Depthwise convolutions: one channel × a tile of rows × pixels.
const DEPTHWISE_TILE: ConvTile = ConvTile { rows: 4, px: 8 };

/// Output channels and pixel tile of a thread for any other convolution.
fn conv_blocks(p: &ConvParams) -> (usize, ConvTile) {
    let (oh, ow) = p.out_size();
    let depthwise = p.in_channels / p.groups == 1;
    let (cob, rows, px) = if depthwise {
        (1, DEPTHWISE_TILE.rows, DEPTHWISE_TILE.px)
    } else {
        // Rows × kernel² bounded so that a large kernel (the stem's 6×6 with Focus
        // folded in) does not unroll into a shader that takes minutes to compile.
        let rows = CONV_TILE.rows.min((36 / (p.kernel * p.kernel)).max(1));
        (CONV_CHANNELS, rows, CONV_TILE.px)
    };
    (
        p.channel_block(cob),
        ConvTile {
            rows: rows.min(oh),
            // A depthwise tile keeps whole vectors of a row (`depthwise_input_lanes`).
            px: px.min(if depthwise {
                ow.next_multiple_of(4)
            } else {
                ow
            }),
        },
    )
}

/// A view as a kernel's run-time argument, counted in vectors of `lanes`.
fn view_shape(v: &TensorView, lanes: usize) -> ViewShapeLaunch {
    let v = v.in_vectors(lanes);
    ViewShapeLaunch::new(
        v.offset as u32,
        v.channel_stride as u32,
        v.batch_stride as u32,
    )
}

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
        let wlanes = if cob.is_multiple_of(4) { 4 } else { 1 };
        let planev = plane / vector;
        let grid = Grid::new(cob, planev.div_ceil(pv));
        let view = |v: &TensorView| view_shape(v, vector);
        let shape = PointwiseShapeLaunch::new(
            p.in_channels as u32,
            p.out_channels as u32,
            planev as u32,
            grid.blocks as u32,
            grid.x_chunks as u32,
            view(&views.input),
            view(&views.output),
            view(&views.residual),
        );
        // SAFETY: the planner checked every view against its buffer; loads use clamped
        // positions inside the views, stores are masked to real pixels.
        unsafe {
            pointwise_kernel::launch_unchecked::<f32>(
                client,
                grid.count(p),
                grid.dim(),
                vector,
                wlanes,
                BufferArg::from_raw_parts(buffers.input.clone(), len(buffers.input) / vector),
                BufferArg::from_raw_parts(buffers.weight.clone(), p.weight_len() / wlanes),
                BufferArg::from_raw_parts(buffers.bias.clone(), p.out_channels),
                BufferArg::from_raw_parts(residual.clone(), len(residual) / vector),
                BufferArg::from_raw_parts(buffers.output.clone(), len(buffers.output) / vector),
                shape,
                p.activation,
                p.residual,
                pv,
                cob,
                wlanes,
            )
        }
        return;
    }
    let (cob, tile) = conv_blocks(p);
    let grid = Grid::new(cob, oh.div_ceil(tile.rows) * ow.div_ceil(tile.px));
    if p.is_depthwise_3x3() {
        let in_lanes = p.depthwise_input_lanes(views, tile);
        let out_lanes =
            if ow.is_multiple_of(4) && views.output.aligned_to(4) && views.residual.aligned_to(4) {
                4
            } else {
                1
            };
        // SAFETY: as above; vectors outside a row are selected away, never loaded, and
        // rows are whole vectors.
        unsafe {
            depthwise_rows_kernel::launch_unchecked::<f32>(
                client,
                grid.count(p),
                grid.dim(),
                in_lanes,
                out_lanes,
                BufferArg::from_raw_parts(buffers.input.clone(), len(buffers.input) / in_lanes),
                BufferArg::from_raw_parts(buffers.weight.clone(), p.weight_len()),
                BufferArg::from_raw_parts(buffers.bias.clone(), p.out_channels),
                BufferArg::from_raw_parts(residual.clone(), len(residual) / out_lanes),
                BufferArg::from_raw_parts(buffers.output.clone(), len(buffers.output) / out_lanes),
                DepthwiseShapeLaunch::new(
                    p.in_height as u32,
                    (p.in_width / in_lanes) as u32,
                    oh as u32,
                    ow as u32,
                    ow.div_ceil(tile.px) as u32,
                    grid.blocks as u32,
                    grid.x_chunks as u32,
                    view_shape(&views.input, in_lanes),
                    view_shape(&views.output, out_lanes),
                    view_shape(&views.residual, out_lanes),
                ),
                p.stride,
                p.activation,
                p.residual,
                tile,
                in_lanes,
                out_lanes,
            )
        }
        return;
    }
    // SAFETY: as above; padding positions are selected away, never loaded.
    unsafe {
        conv2d_kernel::launch_unchecked::<f32>(
            client,
            grid.count(p),
            grid.dim(),
            BufferArg::from_raw_parts(buffers.input.clone(), len(buffers.input)),
            BufferArg::from_raw_parts(buffers.weight.clone(), p.weight_len()),
            BufferArg::from_raw_parts(buffers.bias.clone(), p.out_channels),
            BufferArg::from_raw_parts(residual.clone(), len(residual)),
            BufferArg::from_raw_parts(buffers.output.clone(), len(buffers.output)),
            *p,
            *views,
            tile,
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
