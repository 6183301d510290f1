//! ONNX `MaxPool` (opsets 1–12): 2-D, square window, equal strides, symmetric padding,
//! `ceil_mode` 0, dilation 1, single output (no indices).

use super::{NodeContext, Op, Parsed};
use crate::kernels::pool::MaxPoolParams;
use crate::onnx::{attributes, limits};
use crate::EngineError;

#[derive(Debug, Clone)]
pub(crate) struct MaxPool {
    pub params: MaxPoolParams,
}

pub(super) fn parse(ctx: &NodeContext) -> Result<Parsed, EngineError> {
    let node = ctx.node;
    let (input, shape) = ctx.value(0)?;
    let &[n, c, h, w] = shape else {
        return Err(ctx.unsupported(format!("input shape {shape:?} is not NCHW")));
    };
    let kernel = match attributes::ints(node, "kernel_shape").as_deref() {
        Some([a, b]) if a == b && *a > 0 => {
            limits::dim(*a, "kernel_shape").map_err(|e| ctx.unsupported(e))?
        }
        other => {
            return Err(ctx.unsupported(format!("kernel_shape {other:?}: only square 2-D windows")))
        }
    };
    let stride = match attributes::ints(node, "strides").as_deref() {
        None => 1,
        Some([a, b]) if a == b && *a > 0 => {
            limits::dim(*a, "stride").map_err(|e| ctx.unsupported(e))?
        }
        Some(other) => return Err(ctx.unsupported(format!("strides {other:?}"))),
    };
    let pad = match attributes::ints(node, "pads").as_deref() {
        None => 0,
        Some([t, l, b, r]) if t == l && l == b && b == r && *t >= 0 && (*t as usize) < kernel => {
            *t as usize
        }
        Some(other) => {
            return Err(ctx.unsupported(format!(
                "pads {other:?}: only equal padding smaller than the window"
            )))
        }
    };
    if attributes::int(node, "ceil_mode").unwrap_or(0) != 0 {
        return Err(ctx.unsupported("ceil_mode 1"));
    }
    if attributes::ints(node, "dilations").is_some_and(|d| d.iter().any(|&x| x != 1)) {
        return Err(ctx.unsupported("dilations other than 1"));
    }
    if attributes::string(node, "auto_pad").is_some_and(|p| p != "NOTSET") {
        return Err(ctx.unsupported("auto_pad other than NOTSET"));
    }
    if h + 2 * pad < kernel || w + 2 * pad < kernel {
        return Err(ctx.unsupported(format!(
            "window {kernel} larger than padded input {shape:?}"
        )));
    }
    let params = MaxPoolParams {
        batch: n,
        channels: c,
        in_height: h,
        in_width: w,
        kernel,
        stride,
        pad,
    };
    let (oh, ow) = params.out_size();
    Ok(Parsed {
        op: Op::MaxPool(MaxPool { params }),
        inputs: vec![input],
        output_shape: vec![n, c, oh, ow],
    })
}
