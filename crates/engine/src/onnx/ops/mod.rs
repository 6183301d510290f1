//! One file per supported ONNX op: attribute parsing into a typed config, validation,
//! and shape inference. Execution lives in `crate::exec` and `crate::kernels`.

mod concat;
mod conv;
mod elementwise;
mod max_pool;
mod reshape;
mod resize;
mod slice;
mod transpose;

pub(crate) use concat::Concat;
pub(crate) use conv::Conv;
pub(crate) use max_pool::MaxPool;
pub(crate) use resize::Resize;
pub(crate) use slice::Slice;
pub(crate) use transpose::Transpose;

use super::{Constants, Value, ValueId};
use crate::kernels::elementwise::ElementwiseOp;
use crate::proto::NodeProto;
use crate::EngineError;
use std::collections::HashMap;

pub(crate) const SUPPORTED: &str =
    "Add, Concat, Constant, Conv, MaxPool, Mul, Reshape, Resize, Sigmoid, Slice, Transpose";

/// A parsed node.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Conv(Conv),
    Elementwise(ElementwiseOp),
    Concat(Concat),
    Slice(Slice),
    MaxPool(MaxPool),
    Resize(Resize),
    /// Only changes the shape: the output aliases the input's buffer.
    Reshape,
    Transpose(Transpose),
}

impl Op {
    pub fn type_name(&self) -> &'static str {
        match self {
            Op::Conv(c) => c.type_name(),
            Op::Elementwise(ElementwiseOp::Add) => "Add",
            Op::Elementwise(ElementwiseOp::Mul) => "Mul",
            Op::Elementwise(ElementwiseOp::Sigmoid) => "Sigmoid",
            Op::Elementwise(ElementwiseOp::Silu) => "SiLU",
            Op::Concat(_) => "Concat",
            Op::Slice(_) => "Slice",
            Op::MaxPool(_) => "MaxPool",
            Op::Resize(_) => "Resize",
            Op::Reshape => "Reshape",
            Op::Transpose(_) => "Transpose",
        }
    }
}

pub(crate) struct Parsed {
    pub op: Op,
    /// Runtime (non-constant) inputs, in the order the op uses them.
    pub inputs: Vec<ValueId>,
    pub output_shape: Vec<usize>,
}

/// What an op parser may look at.
pub(crate) struct NodeContext<'a> {
    pub node: &'a NodeProto,
    pub opset: i64,
    pub constants: &'a Constants<'a>,
    pub values: &'a [Value],
    pub by_name: &'a HashMap<String, ValueId>,
}

impl NodeContext<'_> {
    /// An error naming this node, its op type and the opset.
    pub fn unsupported(&self, reason: impl Into<String>) -> EngineError {
        EngineError::Unsupported {
            op_type: self.node.op_type().to_string(),
            node: self.node.name().to_string(),
            opset: self.opset,
            reason: reason.into(),
        }
    }

    /// The runtime value feeding input `index`, with its shape.
    pub fn value(&self, index: usize) -> Result<(ValueId, &[usize]), EngineError> {
        let name = self
            .node
            .input
            .get(index)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| self.unsupported(format!("missing input {index}")))?;
        let id = *self.by_name.get(name).ok_or_else(|| {
            self.unsupported(format!(
                "input {name:?} is neither a constant nor computed earlier"
            ))
        })?;
        Ok((id, &self.values[id].shape))
    }

    /// Constant int64 input `index` (e.g. Slice starts, Reshape shape); `None` if absent.
    pub fn const_i64(&self, index: usize) -> Result<Option<Vec<i64>>, EngineError> {
        let Some(name) = self.node.input.get(index).filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        match self.constants.i64(name).map_err(|e| self.unsupported(e))? {
            Some(t) => Ok(Some(t.data)),
            None => Err(self.unsupported(format!("input {index} ({name:?}) must be a constant"))),
        }
    }

    /// Constant float input `index`; `None` if absent.
    pub fn const_f32(&self, index: usize) -> Result<Option<super::ConstTensor<f32>>, EngineError> {
        let Some(name) = self.node.input.get(index).filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        match self.constants.f32(name).map_err(|e| self.unsupported(e))? {
            Some(t) => Ok(Some(t)),
            None => Err(self.unsupported(format!("input {index} ({name:?}) must be a constant"))),
        }
    }

    /// Normalizes a possibly negative axis against `rank`.
    pub fn axis(&self, axis: i64, rank: usize) -> Result<usize, EngineError> {
        let a = if axis < 0 { axis + rank as i64 } else { axis };
        usize::try_from(a)
            .ok()
            .filter(|&a| a < rank)
            .ok_or_else(|| self.unsupported(format!("axis {axis} out of range for rank {rank}")))
    }
}

pub(crate) fn parse(ctx: &NodeContext) -> Result<Parsed, EngineError> {
    let domain = ctx.node.domain();
    if !(domain.is_empty() || domain == "ai.onnx") {
        return Err(unsupported_op(ctx));
    }
    match ctx.node.op_type() {
        "Conv" => conv::parse(ctx),
        "Add" => elementwise::parse(ctx, ElementwiseOp::Add),
        "Mul" => elementwise::parse(ctx, ElementwiseOp::Mul),
        "Sigmoid" => elementwise::parse(ctx, ElementwiseOp::Sigmoid),
        "Concat" => concat::parse(ctx),
        "Slice" => slice::parse(ctx),
        "MaxPool" => max_pool::parse(ctx),
        "Resize" => resize::parse(ctx),
        "Reshape" => reshape::parse(ctx),
        "Transpose" => transpose::parse(ctx),
        _ => Err(unsupported_op(ctx)),
    }
}

fn unsupported_op(ctx: &NodeContext) -> EngineError {
    let domain = ctx.node.domain();
    let op_type = if domain.is_empty() {
        ctx.node.op_type().to_string()
    } else {
        format!("{domain}::{}", ctx.node.op_type())
    };
    EngineError::UnsupportedOp {
        op_type,
        node: ctx.node.name().to_string(),
        opset: ctx.opset,
        supported: SUPPORTED,
    }
}
