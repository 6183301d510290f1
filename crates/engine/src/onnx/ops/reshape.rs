//! ONNX `Reshape` (opsets 5–14) with a constant target shape (0 copies a dimension,
//! one -1 is inferred, `allowzero` 0). The output aliases the input buffer.

use super::{NodeContext, Op, Parsed};
use crate::EngineError;

pub(super) fn parse(ctx: &NodeContext) -> Result<Parsed, EngineError> {
    let (input, shape) = ctx.value(0)?;
    let target = ctx
        .const_i64(1)?
        .ok_or_else(|| ctx.unsupported("missing shape"))?;
    if crate::onnx::attributes::int(ctx.node, "allowzero").unwrap_or(0) != 0 {
        return Err(ctx.unsupported("allowzero 1"));
    }
    let total: usize = shape.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            0 => out.push(*shape.get(i).ok_or_else(|| {
                ctx.unsupported(format!("shape {target:?}: 0 beyond input rank"))
            })?),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            t if t > 0 => out.push(usize::try_from(t).unwrap_or(usize::MAX)),
            _ => return Err(ctx.unsupported(format!("shape {target:?}"))),
        }
    }
    let known = crate::onnx::limits::values(&out)
        .map_err(|e| ctx.unsupported(format!("shape {target:?}: {e}")))?;
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(ctx.unsupported(format!("cannot reshape {shape:?} to {target:?}")));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(ctx.unsupported(format!(
            "cannot reshape {shape:?} ({total} values) to {target:?}"
        )));
    }
    Ok(Parsed {
        op: Op::Reshape,
        inputs: vec![input],
        output_shape: out,
    })
}
