//! ONNX `Add`, `Mul` (opsets 7–14) on equally shaped inputs, and `Sigmoid` (6–13).
//! Broadcasting is not supported: the graphs we run never need it, and refusing it at
//! load is better than a silent wrong answer.

use super::{NodeContext, Op, Parsed};
use crate::kernels::elementwise::ElementwiseOp;
use crate::EngineError;

pub(super) fn parse(ctx: &NodeContext, op: ElementwiseOp) -> Result<Parsed, EngineError> {
    let (a, shape) = ctx.value(0)?;
    let mut inputs = vec![a];
    if op.is_binary() {
        let (b, other) = ctx.value(1)?;
        if other != shape {
            return Err(ctx.unsupported(format!(
                "operand shapes {shape:?} and {other:?} differ (broadcasting is not supported)"
            )));
        }
        inputs.push(b);
    }
    Ok(Parsed {
        op: Op::Elementwise(op),
        inputs,
        output_shape: shape.to_vec(),
    })
}
