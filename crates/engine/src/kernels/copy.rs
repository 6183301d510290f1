//! Strided copy of a rank-4 view: the one kernel behind Slice, Transpose and Concat.
//!
//! `dst[dst_offset + Σ i_d·dst_stride_d] = src[src_offset + Σ i_d·src_stride_d]` for
//! every index `i` of `shape`. Slice is a view with steps in the source strides,
//! Transpose permutes the source strides, Concat copies each input into an offset
//! window of the output.

use super::{cube_count, linear_index, CUBE_SIZE};
use cubecl::prelude::*;
use cubecl::server::Handle;

/// Views of lower rank are padded with leading extent-1 dimensions.
pub const RANK: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StridedView {
    pub offset: usize,
    pub strides: [usize; RANK],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CopyParams {
    pub shape: [usize; RANK],
    pub src: StridedView,
    pub dst: StridedView,
    /// Element counts of the two buffers, for the launch's bounds.
    pub src_len: usize,
    pub dst_len: usize,
}

impl CopyParams {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest element index the view touches in a buffer, if the view is non-empty.
    pub fn last_index(&self, view: &StridedView) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        Some(
            view.offset
                + (0..RANK)
                    .map(|d| (self.shape[d] - 1) * view.strides[d])
                    .sum::<usize>(),
        )
    }
}

/// Shape, strides and offsets are comptime: llvmpipe scalarizes integer division, and
/// division by a constant folds to a multiply.
#[cube(launch_unchecked)]
fn strided_copy_kernel<F: Float>(src: &[F], dst: &mut [F], #[comptime] p: CopyParams) {
    let i = linear_index();
    if i >= comptime!(p.len()) {
        terminate!();
    }
    let x3 = i % comptime!(p.shape[3]);
    let rest = i / comptime!(p.shape[3]);
    let x2 = rest % comptime!(p.shape[2]);
    let rest = rest / comptime!(p.shape[2]);
    let x1 = rest % comptime!(p.shape[1]);
    let x0 = rest / comptime!(p.shape[1]);
    let s = comptime!(p.src.offset)
        + x0 * comptime!(p.src.strides[0])
        + x1 * comptime!(p.src.strides[1])
        + x2 * comptime!(p.src.strides[2])
        + x3 * comptime!(p.src.strides[3]);
    let d = comptime!(p.dst.offset)
        + x0 * comptime!(p.dst.strides[0])
        + x1 * comptime!(p.dst.strides[1])
        + x2 * comptime!(p.dst.strides[2])
        + x3 * comptime!(p.dst.strides[3]);
    dst[d] = src[s];
}

/// Copies the view. The caller must have checked (with [`CopyParams::last_index`]) that
/// both views lie inside their buffers.
pub fn launch(client: &Client, p: &CopyParams, src: &Handle, dst: &Handle) {
    let len = p.len();
    if len == 0 {
        return;
    }
    // SAFETY: the planner checked that both views stay inside their buffers.
    unsafe {
        strided_copy_kernel::launch_unchecked::<f32>(
            client,
            cube_count(len),
            CubeDim::new_1d(CUBE_SIZE),
            BufferArg::from_raw_parts(src.clone(), p.src_len),
            BufferArg::from_raw_parts(dst.clone(), p.dst_len),
            *p,
        )
    }
}

/// Row-major strides of a shape.
pub fn contiguous_strides(shape: [usize; RANK]) -> [usize; RANK] {
    let mut strides = [1; RANK];
    for d in (0..RANK - 1).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{assert_close, random_vec, TestBed};

    fn reference(p: &CopyParams, src: &[f32], dst: &mut [f32]) {
        for i in 0..p.len() {
            let (mut rest, mut s, mut d) = (i, p.src.offset, p.dst.offset);
            for axis in (0..RANK).rev() {
                let c = rest % p.shape[axis];
                rest /= p.shape[axis];
                s += c * p.src.strides[axis];
                d += c * p.dst.strides[axis];
            }
            dst[d] = src[s];
        }
    }

    #[test]
    fn slice_with_steps_transpose_and_concat_window() {
        let bed = TestBed::new();
        // Focus-style slice: [1, 3, 9, 11] -> every other row/column starting at (1, 0).
        let src_shape = [1, 3, 9, 11];
        let ss = contiguous_strides(src_shape);
        let slice = CopyParams {
            shape: [1, 3, 4, 6],
            src: StridedView {
                offset: ss[2],
                strides: [ss[0], ss[1], 2 * ss[2], 2 * ss[3]],
            },
            dst: StridedView {
                offset: 0,
                strides: contiguous_strides([1, 3, 4, 6]),
            },
            src_len: 3 * 9 * 11,
            dst_len: 3 * 4 * 6,
        };
        // Transpose [1, 5, 7] -> [1, 7, 5].
        let transpose = CopyParams {
            shape: [1, 1, 7, 5],
            src: StridedView {
                offset: 0,
                strides: [35, 35, 1, 7],
            },
            dst: StridedView {
                offset: 0,
                strides: contiguous_strides([1, 1, 7, 5]),
            },
            src_len: 35,
            dst_len: 35,
        };
        for p in [slice, transpose] {
            let src = random_vec(p.src_len, 1.0);
            let mut expected = vec![f32::NAN; p.dst_len];
            reference(&p, &src, &mut expected);
            let out = bed.poisoned(p.dst_len);
            launch(&bed.client, &p, &bed.upload(&src), &out);
            assert_close(&bed.download(&out), &expected, &format!("{p:?}"));
        }
        // Concat along axis 1 of two [2, 3, 4] and [2, 5, 4] into [2, 8, 4].
        let (a, b) = (random_vec(24, 1.0), random_vec(40, 1.0));
        let out = bed.poisoned(64);
        let dst_strides = contiguous_strides([1, 2, 8, 4]);
        let mut expected = vec![f32::NAN; 64];
        let mut channel = 0;
        for (part, c) in [(&a, 3usize), (&b, 5usize)] {
            let p = CopyParams {
                shape: [1, 2, c, 4],
                src: StridedView {
                    offset: 0,
                    strides: contiguous_strides([1, 2, c, 4]),
                },
                dst: StridedView {
                    offset: channel * dst_strides[2],
                    strides: dst_strides,
                },
                src_len: part.len(),
                dst_len: 64,
            };
            reference(&p, part, &mut expected);
            launch(&bed.client, &p, &bed.upload(part), &out);
            channel += c;
        }
        assert_close(&bed.download(&out), &expected, "concat");
    }
}
