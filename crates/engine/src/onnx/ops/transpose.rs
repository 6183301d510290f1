//! ONNX `Transpose` (opsets 1–13) of tensors up to rank 4.

use super::{NodeContext, Op, Parsed};
use crate::kernels::copy::RANK;
use crate::EngineError;

#[derive(Debug, Clone)]
pub(crate) struct Transpose {
    pub perm: Vec<usize>,
}

pub(super) fn parse(ctx: &NodeContext) -> Result<Parsed, EngineError> {
    let (input, shape) = ctx.value(0)?;
    let rank = shape.len();
    if rank > RANK {
        return Err(ctx.unsupported(format!("rank {rank} > {RANK}")));
    }
    let perm: Vec<usize> = match crate::onnx::attributes::ints(ctx.node, "perm") {
        Some(p) => p
            .iter()
            .map(|&a| ctx.axis(a, rank))
            .collect::<Result<_, _>>()?,
        None => (0..rank).rev().collect(),
    };
    let mut seen = vec![false; rank];
    for &a in &perm {
        seen[a] = true;
    }
    if perm.len() != rank || seen.contains(&false) {
        return Err(ctx.unsupported(format!("perm {perm:?} is not a permutation of rank {rank}")));
    }
    let output_shape = perm.iter().map(|&a| shape[a]).collect();
    Ok(Parsed {
        op: Op::Transpose(Transpose { perm }),
        inputs: vec![input],
        output_shape,
    })
}
