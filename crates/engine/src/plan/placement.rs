//! Placement: the home of every value, and which Concat inputs and Reshapes need no
//! launch of their own because their producer already wrote them where they belong.

use super::{Home, Owner};
use crate::kernels::conv::TensorView;
use crate::onnx::{Graph, Op, ValueId};

pub(super) struct Placement {
    homes: Vec<Home>,
    /// Per node: a Reshape whose output is a view of its input's storage.
    reshape_is_view: Vec<bool>,
    /// Per node: for a Concat, the inputs its producer writes into their slot.
    concat_in_place: Vec<Vec<bool>>,
}

impl Placement {
    pub fn home(&self, v: ValueId) -> Home {
        self.homes[v]
    }

    pub fn owner(&self, v: ValueId) -> Owner {
        self.homes[v].owner
    }

    pub fn reshape_is_view(&self, node: usize) -> bool {
        self.reshape_is_view[node]
    }

    pub fn concat_in_place(&self, node: usize, slot: usize) -> bool {
        self.concat_in_place[node]
            .get(slot)
            .copied()
            .unwrap_or(false)
    }
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

/// Ops that read their inputs through a view (any offset and strides).
fn reads_views(op: &Op) -> bool {
    !matches!(op, Op::Elementwise(_))
}

/// Ops whose kernels write through a view (Concat and Reshape pass it on).
fn writes_views(op: &Op) -> bool {
    !matches!(op, Op::Elementwise(_))
}

pub(super) fn place(graph: &Graph) -> Placement {
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
    // Decided where a value is placed, never from owners alone: a value may sit in the
    // same buffer as a slot or Reshape output and still be somewhere else in it (a
    // Concat of one value twice, a value feeding two Concats nested in a third).
    let mut reshape_is_view = vec![false; graph.nodes.len()];
    let mut concat_in_place: Vec<Vec<bool>> = graph
        .nodes
        .iter()
        .map(|node| match node.op {
            Op::Concat(_) => vec![false; node.inputs.len()],
            _ => Vec::new(),
        })
        .collect();

    // Backwards, so that a Concat's output already has its final home (perhaps inside
    // an outer Concat, as YOLOX's per-level head outputs sit in the final one).
    for (i, node) in graph.nodes.iter().enumerate().rev() {
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
                        concat_in_place[i][k] = true;
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
                    reshape_is_view[i] = true;
                }
            }
            _ => {}
        }
    }

    // Forwards: a Reshape not placed above may still alias its input where it is.
    for (i, node) in graph.nodes.iter().enumerate() {
        // One placed backwards is a view exactly when its input followed it there.
        if !matches!(node.op, Op::Reshape) || placed[node.output] {
            continue;
        }
        let (input, out) = (node.inputs[0], node.output);
        let dense_at_start =
            home[input].view.offset == 0 && is_dense(&home[input].view, shape(input));
        // The graph's output is read back from the start of its buffer.
        let may_alias = out != graph.output || dense_at_start;
        let alias = reshaped(home[input].view, shape(input), shape(out))
            .filter(|_| may_alias && (consumers_read_views(out) || dense_at_start));
        if let Some(view) = alias {
            home[out] = Home {
                owner: home[input].owner,
                view,
            };
            reshape_is_view[i] = true;
        }
    }
    Placement {
        homes: home,
        reshape_is_view,
        concat_in_place,
    }
}
