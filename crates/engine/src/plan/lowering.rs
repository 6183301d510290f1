//! Lowering: each op as the kernel launches that compute it through the views chosen
//! by placement, every view checked against the buffer it points into.

use super::placement::Placement;
use super::{Home, Kernel, Owner};
use crate::kernels::conv::ConvViews;
use crate::kernels::copy::{self, CopyParams, StridedView, RANK};
use crate::kernels::resize::ResizeParams;
use crate::onnx::{Graph, Op, ValueId};
use crate::EngineError;

/// A launch, reading and writing owners (buffers are assigned later).
pub(super) struct LoweredStep {
    pub name: String,
    pub op_type: &'static str,
    pub kernel: Kernel,
    pub reads: Vec<Owner>,
    pub write: Owner,
}

/// The strided form of a view, for the copy kernel (shape padded to rank 4).
fn strided(view: &crate::kernels::conv::TensorView, shape: &[usize]) -> StridedView {
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

/// A copy whose every index is checked against both buffers' lengths.
fn checked_copy(
    shape: &[usize],
    src: StridedView,
    dst: StridedView,
    src_len: usize,
    dst_len: usize,
) -> Result<CopyParams, EngineError> {
    let params = CopyParams {
        shape: padded(shape),
        src,
        dst,
        src_len,
        dst_len,
    };
    let inside = |view: &StridedView, len: usize| params.last_index(view).is_none_or(|i| i < len);
    if inside(&params.src, src_len) && inside(&params.dst, dst_len) {
        Ok(params)
    } else {
        Err(EngineError::Malformed(format!(
            "copy {params:?} leaves its buffers"
        )))
    }
}

pub(super) fn lower(graph: &Graph, placement: &Placement) -> Result<Vec<LoweredStep>, EngineError> {
    let shape = |v: ValueId| graph.values[v].shape.as_slice();
    let home = |v: ValueId| placement.home(v);
    let owner_len = |o: Owner| shape(o).iter().product::<usize>();
    let mut steps = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let out = node.output;
        let name = node.name.clone();
        let op_type = node.op.type_name();
        // The view of `v` as a `[batch, channels, plane]` tensor, checked against its buffer.
        let view_of = |v: ValueId, batch: usize, channels: usize, plane: usize| {
            let h = home(v);
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
                if !placement.reshape_is_view(i) {
                    let params = copy_into(home(input), shape(input), home(out), shape(out))
                        .map_err(|_| reshape_error(&name))?;
                    steps.push(LoweredStep {
                        name,
                        op_type: "Copy",
                        kernel: Kernel::Copy(params),
                        reads: vec![home(input).owner],
                        write: home(out).owner,
                    });
                }
            }
            Op::Concat(c) => {
                let mut at = 0;
                for (slot, &v) in node.inputs.iter().enumerate() {
                    let part_shape = shape(v);
                    if !placement.concat_in_place(i, slot) {
                        let mut dst = strided(&home(out).view, shape(out));
                        let axis = RANK - shape(out).len() + c.axis;
                        dst.offset += at * dst.strides[axis];
                        let params = checked_copy(
                            part_shape,
                            strided(&home(v).view, part_shape),
                            dst,
                            owner_len(home(v).owner),
                            owner_len(home(out).owner),
                        )?;
                        steps.push(LoweredStep {
                            name: name.clone(),
                            op_type: "Concat",
                            kernel: Kernel::Copy(params),
                            reads: vec![home(v).owner],
                            write: home(out).owner,
                        });
                    }
                    at += part_shape[c.axis];
                }
            }
            Op::Slice(_) | Op::Transpose(_) => {
                let input = node.inputs[0];
                let src = source_view(
                    &node.op,
                    strided(&home(input).view, shape(input)),
                    shape(input),
                );
                let params = checked_copy(
                    shape(out),
                    src,
                    strided(&home(out).view, shape(out)),
                    owner_len(home(input).owner),
                    owner_len(home(out).owner),
                )?;
                steps.push(LoweredStep {
                    name,
                    op_type,
                    kernel: Kernel::Copy(params),
                    reads: vec![home(input).owner],
                    write: home(out).owner,
                });
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
                steps.push(LoweredStep {
                    name,
                    op_type,
                    kernel: Kernel::Conv {
                        params: p,
                        views,
                        node: i,
                    },
                    reads: node.inputs.iter().map(|&v| home(v).owner).collect(),
                    write: home(out).owner,
                });
            }
            Op::MaxPool(m) => {
                let input = node.inputs[0];
                let p = m.params;
                let (oh, ow) = p.out_size();
                let src = view_of(input, p.batch, p.channels, p.in_height * p.in_width)?;
                let dst = view_of(out, p.batch, p.channels, oh * ow)?;
                steps.push(LoweredStep {
                    name,
                    op_type,
                    kernel: Kernel::MaxPool {
                        params: p,
                        src,
                        dst,
                    },
                    reads: vec![home(input).owner],
                    write: home(out).owner,
                });
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
                steps.push(LoweredStep {
                    name,
                    op_type,
                    kernel: Kernel::Resize { params, src, dst },
                    reads: vec![home(input).owner],
                    write: home(out).owner,
                });
            }
            Op::Elementwise(op) => {
                // Never placed (placement's `reads_views`): operands are dense own buffers.
                let dense = node
                    .inputs
                    .iter()
                    .chain([&out])
                    .all(|&v| home(v).view.offset == 0 && home(v).owner == v);
                if !dense {
                    return Err(EngineError::Malformed(format!(
                        "{op_type} {name:?}: operands are not dense tensors"
                    )));
                }
                steps.push(LoweredStep {
                    name,
                    op_type,
                    kernel: Kernel::Elementwise {
                        op: *op,
                        len: owner_len(out),
                    },
                    reads: node.inputs.iter().map(|&v| home(v).owner).collect(),
                    write: out,
                });
            }
        }
    }
    Ok(steps)
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
