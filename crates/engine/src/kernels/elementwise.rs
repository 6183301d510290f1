//! Element-wise ops on equally shaped tensors: Add, Mul, Sigmoid, SiLU.
//!
//! One generic kernel serves all of them; the op is a comptime value so each op
//! compiles to straight-line code.

use super::{cube_count, linear_index, CUBE_SIZE};
use cubecl::prelude::*;
use cubecl::server::Handle;

/// Which element-wise function to apply. Unary ops ignore the second operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementwiseOp {
    Add,
    Mul,
    Sigmoid,
    Silu,
}

impl ElementwiseOp {
    pub fn is_binary(self) -> bool {
        matches!(self, ElementwiseOp::Add | ElementwiseOp::Mul)
    }

    fn code(self) -> u32 {
        match self {
            ElementwiseOp::Add => 0,
            ElementwiseOp::Mul => 1,
            ElementwiseOp::Sigmoid => 2,
            ElementwiseOp::Silu => 3,
        }
    }
}

#[cube]
pub(crate) fn sigmoid<F: Float>(x: F) -> F {
    F::new(1.0f32) / (F::new(1.0f32) + F::exp(-x))
}

#[cube(launch_unchecked)]
fn elementwise_kernel<F: Float>(a: &[F], b: &[F], output: &mut [F], len: u32, #[comptime] op: u32) {
    let i = linear_index();
    if i < len as usize {
        let x = a[i];
        if comptime!(op == 0) {
            output[i] = x + b[i];
        } else if comptime!(op == 1) {
            output[i] = x * b[i];
        } else if comptime!(op == 2) {
            output[i] = sigmoid::<F>(x);
        } else {
            output[i] = x * sigmoid::<F>(x);
        }
    }
}

/// `output[i] = op(a[i], b[i])` for `len` elements. For unary ops `b` may be any buffer
/// (it is bound but not read).
pub fn launch(
    client: &Client,
    op: ElementwiseOp,
    a: &Handle,
    b: &Handle,
    output: &Handle,
    len: usize,
) {
    // SAFETY: every index is checked against `len`, and the caller guarantees that all
    // three buffers hold at least `len` f32 values (the planner sizes them so).
    unsafe {
        elementwise_kernel::launch_unchecked::<f32>(
            client,
            cube_count(len),
            CubeDim::new_1d(CUBE_SIZE),
            BufferArg::from_raw_parts(a.clone(), len),
            BufferArg::from_raw_parts(b.clone(), len),
            BufferArg::from_raw_parts(output.clone(), len),
            len as u32,
            op.code(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{assert_close, random_vec, TestBed};

    fn reference(op: ElementwiseOp, a: &[f32], b: &[f32]) -> Vec<f32> {
        let s = |x: f32| 1.0 / (1.0 + (-(x as f64)).exp()) as f32;
        a.iter()
            .zip(b)
            .map(|(&x, &y)| match op {
                ElementwiseOp::Add => x + y,
                ElementwiseOp::Mul => x * y,
                ElementwiseOp::Sigmoid => s(x),
                ElementwiseOp::Silu => x * s(x),
            })
            .collect()
    }

    #[test]
    fn every_op_matches_cpu_reference() {
        let bed = TestBed::new();
        for op in [
            ElementwiseOp::Add,
            ElementwiseOp::Mul,
            ElementwiseOp::Sigmoid,
            ElementwiseOp::Silu,
        ] {
            for len in [1usize, 63, 64, 1000, 70_001] {
                let a = random_vec(len, 8.0);
                let b = random_vec(len, 8.0);
                let (ha, hb) = (bed.upload(&a), bed.upload(&b));
                let out = bed.poisoned(len);
                launch(&bed.client, op, &ha, &hb, &out, len);
                assert_close(
                    &bed.download(&out),
                    &reference(op, &a, &b),
                    &format!("{op:?} len {len}"),
                );
            }
        }
    }
}
