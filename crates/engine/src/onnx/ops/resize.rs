//! ONNX `Resize` (opsets 11–13) in the one form detectors use for upsampling: mode
//! `nearest`, `coordinate_transformation_mode` `asymmetric`, `nearest_mode` `floor`,
//! integer scales on H and W given as constants (scales or sizes), 1 on N and C.

use super::{NodeContext, Op, Parsed};
use crate::onnx::attributes;
use crate::EngineError;

#[derive(Debug, Clone)]
pub(crate) struct Resize {
    pub scale_y: usize,
    pub scale_x: usize,
}

pub(super) fn parse(ctx: &NodeContext) -> Result<Parsed, EngineError> {
    let node = ctx.node;
    let (input, shape) = ctx.value(0)?;
    let &[n, c, h, w] = shape else {
        return Err(ctx.unsupported(format!("input shape {shape:?} is not NCHW")));
    };
    let want = |name: &str, expected: &str, default: &str| {
        let v = attributes::string(node, name).unwrap_or_else(|| default.to_string());
        if v == expected {
            Ok(())
        } else {
            Err(ctx.unsupported(format!("{name} {v:?} (only {expected:?} is supported)")))
        }
    };
    want("mode", "nearest", "nearest")?;
    want("coordinate_transformation_mode", "asymmetric", "half_pixel")?;
    want("nearest_mode", "floor", "round_prefer_floor")?;
    // Opset 11+: X, roi, scales, sizes. Opset 10: X, scales.
    let scales_index = if ctx.opset >= 11 { 2 } else { 1 };
    let scales = ctx
        .const_f32(scales_index)?
        .map(|t| t.data)
        .unwrap_or_default();
    let factors: Vec<f32> = if !scales.is_empty() {
        scales
    } else if let Some(sizes) = ctx.const_i64(3)? {
        sizes
            .iter()
            .zip(shape)
            .map(|(&s, &d)| s as f32 / d as f32)
            .collect()
    } else {
        return Err(ctx.unsupported("neither scales nor sizes given"));
    };
    // Bounded before the cast: `f as usize` saturates, and 1e30 × h would overflow.
    let integer = |f: f32| {
        (f >= 1.0 && f <= crate::onnx::limits::MAX_DIM as f32 && f.fract() == 0.0)
            .then_some(f as usize)
    };
    match factors.as_slice() {
        [a, b, sy, sx] if *a == 1.0 && *b == 1.0 => match (integer(*sy), integer(*sx)) {
            (Some(scale_y), Some(scale_x)) => Ok(Parsed {
                op: Op::Resize(Resize { scale_y, scale_x }),
                inputs: vec![input],
                output_shape: vec![n, c, h * scale_y, w * scale_x],
            }),
            _ => Err(ctx.unsupported(format!("scales {factors:?}: only integer upsampling"))),
        },
        _ => Err(ctx.unsupported(format!("scales {factors:?}: only H and W may be scaled"))),
    }
}
