//! ONNX `Slice` (opsets 10–13: starts/ends/axes/steps as constant inputs; opset 1–9:
//! attributes). Positive and negative steps, clamped ends as the spec says.

use super::{NodeContext, Op, Parsed};
use crate::onnx::attributes;
use crate::EngineError;

/// Per input axis: first index, step, number of elements taken.
#[derive(Debug, Clone)]
pub(crate) struct Slice {
    pub axes: Vec<AxisSlice>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AxisSlice {
    pub start: usize,
    pub step: isize,
    pub len: usize,
}

pub(super) fn parse(ctx: &NodeContext) -> Result<Parsed, EngineError> {
    let (input, shape) = ctx.value(0)?;
    if shape.len() > crate::kernels::copy::RANK {
        return Err(ctx.unsupported(format!(
            "rank {} > {}",
            shape.len(),
            crate::kernels::copy::RANK
        )));
    }
    let (starts, ends, axes, steps) = if ctx.opset >= 10 {
        let starts = ctx
            .const_i64(1)?
            .ok_or_else(|| ctx.unsupported("missing starts"))?;
        let ends = ctx
            .const_i64(2)?
            .ok_or_else(|| ctx.unsupported("missing ends"))?;
        (starts, ends, ctx.const_i64(3)?, ctx.const_i64(4)?)
    } else {
        let get = |n: &str| attributes::ints(ctx.node, n);
        let starts = get("starts").ok_or_else(|| ctx.unsupported("missing starts"))?;
        let ends = get("ends").ok_or_else(|| ctx.unsupported("missing ends"))?;
        (starts, ends, get("axes"), None)
    };
    let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(ctx.unsupported("starts, ends, axes and steps differ in length"));
    }
    let mut per_axis: Vec<AxisSlice> = shape
        .iter()
        .map(|&d| AxisSlice {
            start: 0,
            step: 1,
            len: d,
        })
        .collect();
    for i in 0..starts.len() {
        let axis = ctx.axis(axes[i], shape.len())?;
        if steps[i] <= 0 {
            return Err(ctx.unsupported(format!(
                "step {} on axis {axis}: only positive steps",
                steps[i]
            )));
        }
        per_axis[axis] = axis_slice(shape[axis] as i64, starts[i], ends[i], steps[i])
            .ok_or_else(|| ctx.unsupported(format!("step {} on axis {axis}", steps[i])))?;
    }
    let output_shape = per_axis.iter().map(|a| a.len).collect();
    Ok(Parsed {
        op: Op::Slice(Slice { axes: per_axis }),
        inputs: vec![input],
        output_shape,
    })
}

/// The ONNX clamping rules for one axis; `None` for step 0.
fn axis_slice(dim: i64, start: i64, end: i64, step: i64) -> Option<AxisSlice> {
    if step == 0 {
        return None;
    }
    let norm = |v: i64| if v < 0 { v + dim } else { v };
    let (start, end) = (norm(start), norm(end));
    let (start, end) = if step > 0 {
        (start.clamp(0, dim), end.clamp(0, dim))
    } else {
        (start.clamp(0, dim - 1), end.clamp(-1, dim - 1))
    };
    // `(span - 1) / step + 1`, not `(span + step - 1) / step`: a step near i64::MAX must
    // not overflow.
    let len = if step > 0 {
        if end > start {
            (end - start - 1) / step + 1
        } else {
            0
        }
    } else if start > end {
        (start - end - 1) / step.checked_neg()? + 1
    } else {
        0
    };
    Some(AxisSlice {
        start: start.max(0) as usize,
        step: step as isize,
        len: len as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::axis_slice;

    #[test]
    fn onnx_clamping_rules() {
        let s = |dim, a, b, c| axis_slice(dim, a, b, c).map(|s| (s.start, s.step, s.len));
        assert_eq!(s(416, 0, i64::MAX, 2), Some((0, 2, 208)));
        assert_eq!(s(416, 1, i64::MAX, 2), Some((1, 2, 208)));
        assert_eq!(s(5, 1, i64::MAX, 2), Some((1, 2, 2)));
        assert_eq!(s(10, -3, -1, 1), Some((7, 1, 2)));
        assert_eq!(s(10, -1, i64::MIN, -1), Some((9, -1, 10)));
        assert_eq!(s(10, 8, 2, 1), Some((8, 1, 0)));
        assert_eq!(s(10, 0, 5, 0), None);
        // Regression (issue 13): steps and bounds at the ends of i64 overflowed.
        assert_eq!(
            s(416, 0, i64::MAX, i64::MAX),
            Some((0, i64::MAX as isize, 1))
        );
        assert_eq!(
            s(10, i64::MAX, i64::MIN, -i64::MAX),
            Some((9, -i64::MAX as isize, 1))
        );
        assert_eq!(s(10, 5, 0, i64::MIN), None);
    }
}
