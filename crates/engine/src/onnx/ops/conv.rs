//! ONNX `Conv` (opsets 1, 11): 2-D, NCHW, square kernel, equal strides and symmetric
//! padding, any group count, optional bias, dilation 1, `auto_pad` NOTSET.

use super::{NodeContext, Op, Parsed};
use crate::kernels::conv::{Activation, ConvParams};
use crate::onnx::attributes;
use crate::EngineError;

#[derive(Debug, Clone)]
pub(crate) struct Conv {
    pub params: ConvParams,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Conv {
    /// The op type with its fused epilogue, for timings and per-op tables.
    pub fn type_name(&self) -> &'static str {
        match (self.params.activation, self.params.residual) {
            (Activation::None, false) => "Conv",
            (Activation::None, true) => "Conv+Add",
            (Activation::Silu, false) => "Conv+SiLU",
            (Activation::Silu, true) => "Conv+SiLU+Add",
            (Activation::Sigmoid, false) => "Conv+Sigmoid",
            (Activation::Sigmoid, true) => "Conv+Sigmoid+Add",
        }
    }
}

pub(super) fn parse(ctx: &NodeContext) -> Result<Parsed, EngineError> {
    let node = ctx.node;
    let (input, shape) = ctx.value(0)?;
    let &[batch, in_channels, in_height, in_width] = shape else {
        return Err(ctx.unsupported(format!("input shape {shape:?} is not NCHW")));
    };
    let weight = ctx
        .const_f32(1)?
        .ok_or_else(|| ctx.unsupported("weight must be a constant"))?;
    let &[out_channels, in_per_group, kh, kw] = weight.dims.as_slice() else {
        return Err(ctx.unsupported(format!("weight shape {:?} is not 4-D", weight.dims)));
    };
    let groups = attributes::int(node, "group").unwrap_or(1);
    let groups = usize::try_from(groups)
        .ok()
        .filter(|&g| g > 0)
        .ok_or_else(|| ctx.unsupported(format!("group {groups}")))?;
    if in_channels % groups != 0
        || out_channels % groups != 0
        || in_channels / groups != in_per_group
    {
        return Err(ctx.unsupported(format!(
            "{in_channels} input channels, {out_channels} output channels and weight {:?} do not fit group {groups}",
            weight.dims
        )));
    }
    if kh == 0 {
        return Err(ctx.unsupported(format!("weight {:?} has an empty kernel", weight.dims)));
    }
    if kh != kw {
        return Err(ctx.unsupported(format!(
            "kernel {kh}x{kw}: only square kernels are supported"
        )));
    }
    if let Some(ks) = attributes::ints(node, "kernel_shape") {
        if ks != [kh as i64, kw as i64] {
            return Err(ctx.unsupported(format!(
                "kernel_shape {ks:?} disagrees with weight {:?}",
                weight.dims
            )));
        }
    }
    if attributes::ints(node, "dilations").is_some_and(|d| d.iter().any(|&x| x != 1)) {
        return Err(ctx.unsupported("dilations other than 1"));
    }
    if attributes::string(node, "auto_pad").is_some_and(|p| p != "NOTSET") {
        return Err(ctx.unsupported("auto_pad other than NOTSET; export with explicit pads"));
    }
    let strides = attributes::ints(node, "strides").unwrap_or(vec![1, 1]);
    let stride = match strides.as_slice() {
        [s, t] if s == t && *s > 0 => {
            crate::onnx::limits::dim(*s, "stride").map_err(|e| ctx.unsupported(e))?
        }
        _ => {
            return Err(ctx.unsupported(format!("strides {strides:?}: only equal positive strides")))
        }
    };
    let pads = attributes::ints(node, "pads").unwrap_or(vec![0; 4]);
    let (pad_top, pad_left) = match pads.as_slice() {
        [t, l, b, r] if t == b && l == r => {
            let pad = |v: i64| crate::onnx::limits::dim(v, "pad").map_err(|e| ctx.unsupported(e));
            (pad(*t)?, pad(*l)?)
        }
        _ => return Err(ctx.unsupported(format!("pads {pads:?}: only symmetric padding"))),
    };
    if in_height + 2 * pad_top < kh || in_width + 2 * pad_left < kw {
        return Err(ctx.unsupported(format!(
            "kernel {kh}x{kw} larger than padded input {shape:?}"
        )));
    }
    let bias = match ctx.const_f32(2)? {
        Some(b) if b.data.len() == out_channels => b.data,
        Some(b) => {
            return Err(ctx.unsupported(format!(
                "bias has {} values for {out_channels} channels",
                b.data.len()
            )))
        }
        None => vec![0.0; out_channels],
    };
    let params = ConvParams {
        batch,
        in_channels,
        in_height,
        in_width,
        out_channels,
        kernel: kh,
        stride,
        pad_top,
        pad_left,
        groups,
        activation: Activation::None,
        residual: false,
    };
    let (oh, ow) = params.out_size();
    Ok(Parsed {
        op: Op::Conv(Conv {
            params,
            weight: weight.data,
            bias,
        }),
        inputs: vec![input],
        output_shape: vec![batch, out_channels, oh, ow],
    })
}
