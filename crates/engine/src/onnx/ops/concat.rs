//! ONNX `Concat` (opsets 4–13) of runtime tensors along any axis.

use super::{NodeContext, Op, Parsed};
use crate::EngineError;

#[derive(Debug, Clone)]
pub(crate) struct Concat {
    pub axis: usize,
}

pub(super) fn parse(ctx: &NodeContext) -> Result<Parsed, EngineError> {
    let axis = crate::onnx::attributes::int(ctx.node, "axis")
        .ok_or_else(|| ctx.unsupported("missing attribute axis"))?;
    let (first, shape) = ctx.value(0)?;
    if shape.len() > crate::kernels::copy::RANK {
        return Err(ctx.unsupported(format!(
            "rank {} > {}",
            shape.len(),
            crate::kernels::copy::RANK
        )));
    }
    let axis = ctx.axis(axis, shape.len())?;
    let mut output_shape = shape.to_vec();
    output_shape[axis] = 0;
    let mut inputs = vec![first];
    for i in 0..ctx.node.input.len() {
        let (id, s) = ctx.value(i)?;
        let agrees = s.len() == shape.len() && (0..s.len()).all(|d| d == axis || s[d] == shape[d]);
        if !agrees {
            return Err(ctx.unsupported(format!(
                "input {i} shape {s:?} does not fit {shape:?} on axis {axis}"
            )));
        }
        if i > 0 {
            inputs.push(id);
        }
        output_shape[axis] += s[axis];
    }
    Ok(Parsed {
        op: Op::Concat(Concat { axis }),
        inputs,
        output_shape,
    })
}
