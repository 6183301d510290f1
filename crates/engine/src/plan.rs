//! Planning: where every tensor lives, and the fixed list of launches of one run.
//!
//! - **Placement.** A Concat's inputs are written by their producers straight into
//!   their slice of its output (a [`TensorView`] with an offset and the output's
//!   strides), so Concat launches nothing; Reshape is a view of its input. Where that is
//!   impossible (an input read by an op that needs a dense tensor, or feeding two
//!   Concats) the planner falls back to a strided copy.
//! - **Buffers.** Each tensor that owns storage lives from the first launch writing
//!   into it to the last launch reading from it; buffers are shared between tensors
//!   whose lifetimes do not overlap.
//! - **Checks.** Every view is checked against its buffer here, once, which is what
//!   makes the kernels' unchecked launches sound.

use crate::kernels::conv::ConvParams;
use crate::kernels::conv::{ConvViews, TensorView};
use crate::kernels::copy::{self, CopyParams, StridedView, RANK};
use crate::kernels::elementwise::ElementwiseOp;
use crate::kernels::pool::MaxPoolParams;
use crate::kernels::resize::ResizeParams;
use crate::onnx::{Graph, Op, ValueId};
use crate::EngineError;

/// A tensor that owns a buffer (a value of the graph); others are views into one.
pub(crate) type Owner = ValueId;

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
}

/// Batch, channels and plane size of a shape (`[N, C, rest…]`).
fn split(shape: &[usize]) -> (usize, usize, usize) {
    match shape {
        [] => (1, 1, 1),
        [x] => (1, 1, *x),
        [n, c, rest @ ..] => (*n, *c, rest.iter().product()),
    }
}

fn contiguous(shape: &[usize]) -> TensorView {
    let (_, c, plane) = split(shape);
    TensorView::contiguous(c, plane)
}

fn is_dense(view: &TensorView, shape: &[usize]) -> bool {
    let dense = contiguous(shape);
    let (n, c, _) = split(shape);
    (c == 1 || view.channel_stride == dense.channel_stride)
        && (n == 1 || view.batch_stride == dense.batch_stride)
}

/// `view` of a tensor of `from` re-read as `to` (a Reshape), if that is still a view.
fn reshaped(view: TensorView, from: &[usize], to: &[usize]) -> Option<TensorView> {
    let (fb, fc, _) = split(from);
    let (tb, tc, _) = split(to);
    if (fb, fc) == (tb, tc) && from.len() >= 2 && to.len() >= 2 {
        return Some(view);
    }
    is_dense(&view, from).then(|| TensorView {
        offset: view.offset,
        ..contiguous(to)
    })
}

/// The strided form of a view, for the copy kernel (shape padded to rank 4).
fn strided(view: &TensorView, shape: &[usize]) -> StridedView {
    let mut strides = [0usize; RANK];
    let lead = RANK - shape.len();
    let rank = shape.len();
    for d in 0..rank {
        strides[lead + d] = match d {
            0 if rank >= 2 => view.batch_stride,
            1 if rank >= 2 => view.channel_stride,
            _ => shape[d + 1..].iter().product(),
        };
    }
    StridedView {
        offset: view.offset,
        strides,
    }
}

fn padded(shape: &[usize]) -> [usize; RANK] {
    let mut out = [1; RANK];
    out[RANK - shape.len()..].copy_from_slice(shape);
    out
}

/// Ops that read their inputs through a view (any offset and strides).
fn reads_views(op: &Op) -> bool {
    !matches!(op, Op::Elementwise(_))
}

/// Ops whose kernels write through a view (Concat and Reshape pass it on).
fn writes_views(op: &Op) -> bool {
    !matches!(op, Op::Elementwise(_))
}

pub(crate) fn plan(graph: &Graph) -> Result<Plan, EngineError> {
    let n_values = graph.values.len();
    let shape = |v: ValueId| graph.values[v].shape.as_slice();
    let producer: Vec<Option<usize>> = {
        let mut p = vec![None; n_values];
        for (i, node) in graph.nodes.iter().enumerate() {
            p[node.output] = Some(i);
        }
        p
    };
    let consumers_read_views = |v: ValueId| {
        graph
            .nodes
            .iter()
            .filter(|n| n.inputs.contains(&v))
            .all(|n| reads_views(&n.op))
    };
    let mut home: Vec<Home> = (0..n_values)
        .map(|v| Home {
            owner: v,
            view: contiguous(shape(v)),
        })
        .collect();
    let mut placed = vec![false; n_values];

    // Backwards, so that a Concat's output already has its final home (perhaps inside
    // an outer Concat, as YOLOX's per-level head outputs sit in the final one).
    for node in graph.nodes.iter().rev() {
        match &node.op {
            Op::Concat(c) => {
                let out = home[node.output];
                let out_shape = shape(node.output);
                let mut at = 0;
                for (k, &v) in node.inputs.iter().enumerate() {
                    let offset = match c.axis {
                        0 => Some(at * out.view.batch_stride),
                        1 => Some(at * out.view.channel_stride),
                        2 if out_shape.len() >= 3 => {
                            Some(at * out_shape[3..].iter().product::<usize>())
                        }
                        _ => None,
                    };
                    at += shape(v)[c.axis];
                    let eligible = v != graph.input
                        && v != graph.output
                        && !placed[v]
                        && !node.inputs[..k].contains(&v)
                        && producer[v].is_some_and(|p| writes_views(&graph.nodes[p].op))
                        && consumers_read_views(v);
                    if let (Some(offset), true) = (offset, eligible) {
                        home[v] = Home {
                            owner: out.owner,
                            view: TensorView {
                                offset: out.view.offset + offset,
                                ..out.view
                            },
                        };
                        placed[v] = true;
                    }
                }
            }
            Op::Reshape if placed[node.output] => {
                let input = node.inputs[0];
                let view = reshaped(home[node.output].view, shape(node.output), shape(input));
                let eligible = input != graph.input
                    && !placed[input]
                    && producer[input].is_some_and(|p| writes_views(&graph.nodes[p].op))
                    && consumers_read_views(input);
                if let (Some(view), true) = (view, eligible) {
                    home[input] = Home {
                        owner: home[node.output].owner,
                        view,
                    };
                    placed[input] = true;
                }
            }
            _ => {}
        }
    }

    // Forwards: the launches, with the homes of Reshape outputs that alias.
    let mut steps: Vec<(String, &'static str, Kernel, Vec<Owner>, Owner)> = Vec::new();
    let checked_copy = |shape_: &[usize], src: StridedView, dst: StridedView, src_len, dst_len| {
        let params = CopyParams {
            shape: padded(shape_),
            src,
            dst,
            src_len,
            dst_len,
        };
        let inside =
            |view: &StridedView, len: usize| params.last_index(view).is_none_or(|i| i < len);
        if inside(&params.src, src_len) && inside(&params.dst, dst_len) {
            Ok(params)
        } else {
            Err(EngineError::Malformed(format!(
                "copy {params:?} leaves its buffers"
            )))
        }
    };
    let owner_len = |o: Owner| shape(o).iter().product::<usize>();
    for (i, node) in graph.nodes.iter().enumerate() {
        let out = node.output;
        let name = node.name.clone();
        let op_type = node.op.type_name();
        // The view of `v` as a `[batch, channels, plane]` tensor, checked against its buffer.
        let view_of = |v: ValueId, batch: usize, channels: usize, plane: usize| {
            let h = home[v];
            if h.view.end(batch, channels, plane) > owner_len(h.owner) {
                return Err(EngineError::Malformed(format!(
                    "{op_type} {name:?}: view {:?} leaves its buffer",
                    h.view
                )));
            }
            Ok(h.view)
        };
        let copy_into = |src: Home, src_shape: &[usize], dst: Home, dst_shape: &[usize]| {
            debug_assert_eq!(
                src_shape.iter().product::<usize>(),
                dst_shape.iter().product::<usize>()
            );
            checked_copy(
                dst_shape,
                reshape_strided(&strided(&src.view, src_shape), src_shape, dst_shape)?,
                strided(&dst.view, dst_shape),
                owner_len(src.owner),
                owner_len(dst.owner),
            )
        };
        match &node.op {
            Op::Reshape => {
                let input = node.inputs[0];
                let same_storage = placed[input] && home[input].owner == home[out].owner;
                let needs_copy = if placed[out] {
                    // Placed backwards: a view already, unless its input could not follow.
                    !same_storage
                } else {
                    let alias = reshaped(home[input].view, shape(input), shape(out));
                    let dense_at_start =
                        home[input].view.offset == 0 && is_dense(&home[input].view, shape(input));
                    let may_alias = out != graph.output || dense_at_start;
                    match alias {
                        Some(view)
                            if may_alias && (consumers_read_views(out) || dense_at_start) =>
                        {
                            home[out] = Home {
                                owner: home[input].owner,
                                view,
                            };
                            placed[out] = home[out].owner != out;
                            false
                        }
                        _ => true,
                    }
                };
                if needs_copy {
                    let params = copy_into(home[input], shape(input), home[out], shape(out))
                        .map_err(|_| reshape_error(&name))?;
                    steps.push((
                        name,
                        "Copy",
                        Kernel::Copy(params),
                        vec![home[input].owner],
                        home[out].owner,
                    ));
                }
            }
            Op::Concat(c) => {
                let mut at = 0;
                for &v in &node.inputs {
                    let part_shape = shape(v);
                    if !(placed[v] && home[v].owner == home[out].owner) {
                        let mut dst = strided(&home[out].view, shape(out));
                        let axis = RANK - shape(out).len() + c.axis;
                        dst.offset += at * dst.strides[axis];
                        let params = checked_copy(
                            part_shape,
                            strided(&home[v].view, part_shape),
                            dst,
                            owner_len(home[v].owner),
                            owner_len(home[out].owner),
                        )?;
                        steps.push((
                            name.clone(),
                            "Concat",
                            Kernel::Copy(params),
                            vec![home[v].owner],
                            home[out].owner,
                        ));
                    }
                    at += part_shape[c.axis];
                }
            }
            Op::Slice(_) | Op::Transpose(_) => {
                let input = node.inputs[0];
                let src = source_view(
                    &node.op,
                    strided(&home[input].view, shape(input)),
                    shape(input),
                );
                let params = checked_copy(
                    shape(out),
                    src,
                    strided(&home[out].view, shape(out)),
                    owner_len(home[input].owner),
                    owner_len(home[out].owner),
                )?;
                steps.push((
                    name,
                    op_type,
                    Kernel::Copy(params),
                    vec![home[input].owner],
                    home[out].owner,
                ));
            }
            Op::Conv(conv) => {
                let p = conv.params;
                let (oh, ow) = p.out_size();
                let out_plane = oh * ow;
                let output = view_of(out, p.batch, p.out_channels, out_plane)?;
                let views = ConvViews {
                    input: view_of(
                        node.inputs[0],
                        p.batch,
                        p.in_channels,
                        p.in_height * p.in_width,
                    )?,
                    output,
                    residual: match node.inputs.get(1) {
                        Some(&r) => view_of(r, p.batch, p.out_channels, out_plane)?,
                        None => output,
                    },
                };
                let reads = node.inputs.iter().map(|&v| home[v].owner).collect();
                steps.push((
                    name,
                    op_type,
                    Kernel::Conv {
                        params: p,
                        views,
                        node: i,
                    },
                    reads,
                    home[out].owner,
                ));
            }
            Op::MaxPool(m) => {
                let input = node.inputs[0];
                let p = m.params;
                let (oh, ow) = p.out_size();
                let src = view_of(input, p.batch, p.channels, p.in_height * p.in_width)?;
                let dst = view_of(out, p.batch, p.channels, oh * ow)?;
                steps.push((
                    name,
                    op_type,
                    Kernel::MaxPool {
                        params: p,
                        src,
                        dst,
                    },
                    vec![home[input].owner],
                    home[out].owner,
                ));
            }
            Op::Resize(r) => {
                let input = node.inputs[0];
                let &[batch, channels, in_height, in_width] = shape(input) else {
                    return Err(EngineError::Malformed(format!(
                        "Resize {name:?}: input is not NCHW"
                    )));
                };
                let params = ResizeParams {
                    batch,
                    channels,
                    in_height,
                    in_width,
                    scale_y: r.scale_y,
                    scale_x: r.scale_x,
                };
                let src = view_of(input, batch, channels, in_height * in_width)?;
                let dst = view_of(out, batch, channels, params.out_plane())?;
                steps.push((
                    name,
                    op_type,
                    Kernel::Resize { params, src, dst },
                    vec![home[input].owner],
                    home[out].owner,
                ));
            }
            Op::Elementwise(op) => {
                // Never placed (see `reads_views`): inputs and output are dense own buffers.
                let reads: Vec<Owner> = node.inputs.iter().map(|&v| home[v].owner).collect();
                let dense = node
                    .inputs
                    .iter()
                    .chain([&out])
                    .all(|&v| home[v].view.offset == 0 && home[v].owner == v);
                if !dense {
                    return Err(EngineError::Malformed(format!(
                        "{op_type} {name:?}: operands are not dense tensors"
                    )));
                }
                steps.push((
                    name,
                    op_type,
                    Kernel::Elementwise {
                        op: *op,
                        len: owner_len(out),
                    },
                    reads,
                    out,
                ));
            }
        }
    }

    // Lifetimes of owners, in steps; the graph's input and output live throughout.
    let mut first = vec![usize::MAX; n_values];
    let mut last = vec![0usize; n_values];
    for (s, (_, _, _, reads, write)) in steps.iter().enumerate() {
        first[*write] = first[*write].min(s);
        last[*write] = last[*write].max(s);
        for &r in reads {
            last[r] = last[r].max(s);
            first[r] = first[r].min(s);
        }
    }
    let input_owner = home[graph.input].owner;
    let output_owner = home[graph.output].owner;
    first[input_owner] = 0;
    last[input_owner] = usize::MAX;
    last[output_owner] = usize::MAX;
    if first[output_owner] == usize::MAX {
        first[output_owner] = 0;
    }
    let mut owners: Vec<Owner> = (0..n_values).filter(|&v| first[v] != usize::MAX).collect();
    owners.sort_by_key(|&o| (first[o], o));
    let mut buffer_lens: Vec<usize> = Vec::new();
    let mut busy_until: Vec<usize> = Vec::new();
    let mut buffer_of = vec![usize::MAX; n_values];
    for &o in &owners {
        let len = owner_len(o).max(1);
        // Best fit among buffers whose last reader ran before this owner's first write.
        let free = (0..buffer_lens.len())
            .filter(|&b| busy_until[b] < first[o] && buffer_lens[b] >= len)
            .min_by_key(|&b| buffer_lens[b]);
        let b = free.unwrap_or_else(|| {
            buffer_lens.push(len);
            busy_until.push(0);
            buffer_lens.len() - 1
        });
        busy_until[b] = last[o];
        buffer_of[o] = b;
    }
    // Each tensor is within MAX_TENSOR_VALUES (onnx::limits); their sum need not be.
    let planned_bytes = buffer_lens
        .iter()
        .try_fold(0usize, |sum, &len| sum.checked_add(len.checked_mul(4)?));
    if planned_bytes.is_none_or(|b| b > crate::onnx::limits::MAX_ACTIVATION_BYTES) {
        return Err(EngineError::Malformed(format!(
            "its activations need {} buffers of {} bytes in all, over the limit \
             MAX_ACTIVATION_BYTES = {}",
            buffer_lens.len(),
            planned_bytes.map_or("> 2^64".to_string(), |b| b.to_string()),
            crate::onnx::limits::MAX_ACTIVATION_BYTES
        )));
    }
    let steps = steps
        .into_iter()
        .map(|(name, op_type, kernel, reads, write)| PlannedStep {
            name,
            op_type,
            kernel,
            inputs: reads.iter().map(|&r| buffer_of[r]).collect(),
            output: buffer_of[write],
        })
        .collect();
    Ok(Plan {
        buffer_lens,
        steps,
        input_buffer: buffer_of[input_owner],
        output_buffer: buffer_of[output_owner],
    })
}

fn reshape_error(node: &str) -> EngineError {
    EngineError::Malformed(format!("Reshape {node:?}: cannot copy its input"))
}

/// A dense source read as another shape of the same element count (Reshape's copy).
fn reshape_strided(
    src: &StridedView,
    from: &[usize],
    to: &[usize],
) -> Result<StridedView, EngineError> {
    if from == to {
        return Ok(*src);
    }
    let dense = copy::contiguous_strides(padded(from));
    let lead = RANK - from.len();
    let is_dense = (lead..RANK).all(|d| from[d - lead] == 1 || src.strides[d] == dense[d]);
    if !is_dense {
        return Err(EngineError::Malformed(format!(
            "cannot reshape a strided view of {from:?} to {to:?}"
        )));
    }
    Ok(StridedView {
        offset: src.offset,
        strides: copy::contiguous_strides(padded(to)),
    })
}

/// How Slice and Transpose read their input `view`: offsets and strides encode the
/// slice starts/steps or the permutation.
fn source_view(op: &Op, base: StridedView, in_shape: &[usize]) -> StridedView {
    let lead = RANK - in_shape.len();
    let mut view = base;
    match op {
        Op::Slice(slice) => {
            for (d, a) in slice.axes.iter().enumerate() {
                view.offset += a.start * base.strides[lead + d];
                view.strides[lead + d] = a.step as usize * base.strides[lead + d];
            }
        }
        Op::Transpose(t) => {
            for (d, &p) in t.perm.iter().enumerate() {
                view.strides[lead + d] = base.strides[lead + p];
            }
        }
        _ => {}
    }
    view
}
