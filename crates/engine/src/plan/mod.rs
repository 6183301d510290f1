//! Planning: where every tensor lives, and the fixed list of launches of one run.
//!
//! Three phases, one file each:
//!
//! - **Placement** ([`placement`]). A Concat's inputs are written by their producers
//!   straight into their slice of its output (a [`TensorView`] with an offset and the
//!   output's strides), so Concat launches nothing; Reshape is a view of its input.
//!   Where that is impossible (an input read by an op that needs a dense tensor, or
//!   feeding two Concats) the planner falls back to a strided copy.
//! - **Lowering** ([`lowering`]). Each op becomes the [`Kernel`] launches that compute
//!   it through those views. Every view is checked against its buffer here, once,
//!   which is what makes the kernels' unchecked launches sound.
//! - **Buffers** ([`buffers`]). Each tensor that owns storage lives from the first
//!   launch writing into it to the last launch reading from it; buffers are shared
//!   between tensors whose lifetimes do not overlap; a value kept for reading back
//!   (`crate::taps`) lives to the end of the run.

mod buffers;
mod lowering;
mod placement;
#[cfg(test)]
mod tap_tests;
#[cfg(test)]
mod tests;

use crate::kernels::conv::{ConvParams, ConvViews, TensorView};
use crate::kernels::copy::CopyParams;
use crate::kernels::elementwise::ElementwiseOp;
use crate::kernels::pool::MaxPoolParams;
use crate::kernels::resize::ResizeParams;
use crate::onnx::{Graph, ValueId};
use crate::EngineError;

/// A tensor that owns a buffer (a value of the graph); others are views into one.
pub(crate) type Owner = ValueId;

/// Where a value lives: a view into the storage of `owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Home {
    owner: Owner,
    view: TensorView,
}

pub(crate) enum Kernel {
    Conv {
        params: ConvParams,
        views: ConvViews,
        /// Index into the graph's nodes, for the weights.
        node: usize,
    },
    Elementwise {
        op: ElementwiseOp,
        len: usize,
    },
    Copy(CopyParams),
    MaxPool {
        params: MaxPoolParams,
        src: TensorView,
        dst: TensorView,
    },
    Resize {
        params: ResizeParams,
        src: TensorView,
        dst: TensorView,
    },
}

pub(crate) struct PlannedStep {
    pub name: String,
    pub op_type: &'static str,
    pub kernel: Kernel,
    /// Buffers read, in the kernel's order.
    pub inputs: Vec<usize>,
    pub output: usize,
}

pub(crate) struct Plan {
    /// f32 capacity of each buffer.
    pub buffer_lens: Vec<usize>,
    pub steps: Vec<PlannedStep>,
    pub input_buffer: usize,
    pub output_buffer: usize,
    /// Per value asked to be kept: its buffer and where in it the value lives.
    pub kept: Vec<(usize, TensorView)>,
}

pub(crate) fn plan(graph: &Graph) -> Result<Plan, EngineError> {
    plan_keeping(graph, &[])
}

/// [`plan`], with `keep`'s values left intact in their buffers after a run (no later
/// tensor shares their storage), for reading back intermediate values.
pub(crate) fn plan_keeping(graph: &Graph, keep: &[ValueId]) -> Result<Plan, EngineError> {
    let placement = placement::place(graph);
    let steps = lowering::lower(graph, &placement)?;
    buffers::assign(graph, &placement, steps, keep)
}
