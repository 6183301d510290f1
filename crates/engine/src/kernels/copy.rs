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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StridedView {
    pub offset: usize,
    pub strides: [usize; RANK],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn strided_copy_kernel<F: Float>(
    src: &[F],
    dst: &mut [F],
    meta: &[u32],
    src_offset: u32,
    dst_offset: u32,
    len: u32,
) {
    let i = linear_index();
    if i >= len as usize {
        terminate!();
    }
    let mut rest = i;
    let mut s = src_offset as usize;
    let mut d = dst_offset as usize;
    #[unroll]
    for k in 0..RANK {
        let axis = RANK - 1 - k;
        let extent = meta[axis] as usize;
        let coord = rest % extent;
        rest /= extent;
        s += coord * meta[RANK + axis] as usize;
        d += coord * meta[2 * RANK + axis] as usize;
    }
    dst[d] = src[s];
}

/// Uploads the shape and strides of `p` once, for every later [`launch`] of it.
pub fn upload_meta(client: &Client, p: &CopyParams) -> Handle {
    let meta: Vec<u32> = p
        .shape
        .iter()
        .chain(&p.src.strides)
        .chain(&p.dst.strides)
        .map(|&x| x as u32)
        .collect();
    client.create_from_slice(u32::as_bytes(&meta))
}

/// Copies the view; `meta` comes from [`upload_meta`] of the same `p`. The caller must
/// have checked (with [`CopyParams::last_index`]) that both views lie inside their buffers.
pub fn launch(client: &Client, p: &CopyParams, meta: &Handle, src: &Handle, dst: &Handle) {
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
            BufferArg::from_raw_parts(meta.clone(), 3 * RANK),
            p.src.offset as u32,
            p.dst.offset as u32,
            len as u32,
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
            launch(
                &bed.client,
                &p,
                &upload_meta(&bed.client, &p),
                &bed.upload(&src),
                &out,
            );
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
            launch(
                &bed.client,
                &p,
                &upload_meta(&bed.client, &p),
                &bed.upload(part),
                &out,
            );
            channel += c;
        }
        assert_close(&bed.download(&out), &expected, "concat");
    }
}
