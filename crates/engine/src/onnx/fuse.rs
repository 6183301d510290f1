//! Graph rewrites that remove launches and whole tensor round trips before planning:
//! activations and residual adds move into the convolution that produces their input,
//! and YOLOX's Focus (space-to-depth by four Slices and a Concat) folds into the stem
//! convolution's weights. Each rewrite keeps the graph's numbers (up to float rounding).

use super::{Graph, Node, Op, ValueId};
use crate::kernels::conv::{Activation, ConvParams};
use crate::kernels::elementwise::ElementwiseOp;

/// All rewrites, in the order that lets each see the previous one's result.
pub(crate) fn fuse(graph: &mut Graph) {
    fuse_silu(graph);
    fuse_sigmoid(graph);
    fuse_residual_add(graph);
    fold_space_to_depth(graph);
    cascade_max_pools(graph);
    remove_dead(graph);
}

/// Same-size max pools of one input (YOLOX's SPP: 5, 9 and 13) as a cascade: a window
/// of `k` is a window of `k - j + 1` over the pool of `j`, exactly (padding never wins
/// the max, so borders agree too). 5 + 5 + 5 windows read 75 values an output where 5 +
/// 9 + 13 read 275.
fn cascade_max_pools(graph: &mut Graph) {
    let same_size = |op: &Op| match op {
        Op::MaxPool(m) => {
            let p = &m.params;
            (p.stride == 1 && p.kernel % 2 == 1 && 2 * p.pad + 1 == p.kernel).then_some(p.kernel)
        }
        _ => None,
    };
    let mut pooled: Vec<ValueId> = graph
        .nodes
        .iter()
        .filter(|n| same_size(&n.op).is_some())
        .map(|n| n.inputs[0])
        .collect();
    pooled.dedup();
    for x in pooled {
        // This input's pools, in execution order; each must be larger than the last.
        let pools: Vec<(usize, usize)> = (0..graph.nodes.len())
            .filter(|&i| graph.nodes[i].inputs[0] == x)
            .filter_map(|i| same_size(&graph.nodes[i].op).map(|k| (i, k)))
            .collect();
        if pools.len() < 2 || pools.windows(2).any(|w| w[1].1 <= w[0].1) {
            continue;
        }
        for w in pools.windows(2) {
            let ((smaller, j), (larger, k)) = (w[0], w[1]);
            let source = graph.nodes[smaller].output;
            let node = &mut graph.nodes[larger];
            if let Op::MaxPool(m) = &mut node.op {
                m.params.kernel = k - j + 1;
                m.params.pad = (k - j) / 2;
            }
            node.inputs[0] = source;
        }
    }
}

fn consumers(graph: &Graph, v: ValueId) -> Vec<usize> {
    graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.inputs.contains(&v))
        .map(|(i, _)| i)
        .collect()
}

fn producer(graph: &Graph, v: ValueId) -> Option<usize> {
    graph.nodes.iter().position(|n| n.output == v)
}

/// The conv producing `x` when `x` has no other reader than `user` and is not the
/// graph's output: then the conv may take over `user`'s work and output.
fn sole_conv_producer(graph: &Graph, x: ValueId, user: usize) -> Option<usize> {
    let p = producer(graph, x)?;
    let only_user = consumers(graph, x) == [user];
    (only_user && x != graph.output && matches!(graph.nodes[p].op, Op::Conv(_))).then_some(p)
}

fn drop_nodes(graph: &mut Graph, removed: &[bool]) {
    let mut i = 0;
    graph.nodes.retain(|_| {
        i += 1;
        !removed[i - 1]
    });
}

/// `y = x * Sigmoid(x)` into the Conv producing `x`, or else into one SiLU kernel.
fn fuse_silu(graph: &mut Graph) {
    let mut removed = vec![false; graph.nodes.len()];
    for sig in 0..graph.nodes.len() {
        if !matches!(graph.nodes[sig].op, Op::Elementwise(ElementwiseOp::Sigmoid)) {
            continue;
        }
        let x = graph.nodes[sig].inputs[0];
        let s = graph.nodes[sig].output;
        let [mul] = consumers(graph, s)[..] else {
            continue;
        };
        let m = &graph.nodes[mul];
        let is_silu = matches!(m.op, Op::Elementwise(ElementwiseOp::Mul))
            && (m.inputs == [x, s] || m.inputs == [s, x])
            && s != graph.output;
        if !is_silu {
            continue;
        }
        let y = m.output;
        let p = producer(graph, x);
        let x_users = consumers(graph, x);
        match p {
            Some(p)
                if x_users.len() == 2
                    && x != graph.output
                    && matches!(&graph.nodes[p].op, Op::Conv(c) if c.params.activation == Activation::None && !c.params.residual) =>
            {
                if let Op::Conv(conv) = &mut graph.nodes[p].op {
                    conv.params.activation = Activation::Silu;
                }
                graph.nodes[p].output = y;
                removed[sig] = true;
                removed[mul] = true;
            }
            _ => {
                graph.nodes[mul].op = Op::Elementwise(ElementwiseOp::Silu);
                graph.nodes[mul].inputs = vec![x];
                removed[sig] = true;
            }
        }
    }
    drop_nodes(graph, &removed);
}

// Indices, not iterators: the loop body reads and rewrites other nodes of the graph.
/// `Sigmoid(Conv(x))` into the conv's epilogue (YOLOX's objectness and class heads).
#[allow(clippy::needless_range_loop)]
fn fuse_sigmoid(graph: &mut Graph) {
    let mut removed = vec![false; graph.nodes.len()];
    for sig in 0..graph.nodes.len() {
        if !matches!(graph.nodes[sig].op, Op::Elementwise(ElementwiseOp::Sigmoid)) {
            continue;
        }
        let x = graph.nodes[sig].inputs[0];
        let Some(p) = sole_conv_producer(graph, x, sig) else {
            continue;
        };
        let Op::Conv(conv) = &mut graph.nodes[p].op else {
            continue;
        };
        if conv.params.activation != Activation::None || conv.params.residual {
            continue;
        }
        conv.params.activation = Activation::Sigmoid;
        graph.nodes[p].output = graph.nodes[sig].output;
        removed[sig] = true;
    }
    drop_nodes(graph, &removed);
}

/// `Add(Conv(x), r)` into the conv's epilogue when `r` is computed before the conv
/// runs (YOLOX's bottleneck shortcut), saving a launch and a read and write.
#[allow(clippy::needless_range_loop)]
fn fuse_residual_add(graph: &mut Graph) {
    let mut removed = vec![false; graph.nodes.len()];
    for add in 0..graph.nodes.len() {
        if !matches!(graph.nodes[add].op, Op::Elementwise(ElementwiseOp::Add)) {
            continue;
        }
        let [a, b] = graph.nodes[add].inputs[..] else {
            continue;
        };
        if a == b {
            continue;
        }
        for (x, r) in [(a, b), (b, a)] {
            let Some(p) = sole_conv_producer(graph, x, add) else {
                continue;
            };
            let ready = r == graph.input || producer(graph, r).is_some_and(|q| q < p);
            let same_shape = graph.values[r].shape == graph.values[x].shape;
            let Op::Conv(conv) = &mut graph.nodes[p].op else {
                continue;
            };
            if !ready || !same_shape || conv.params.residual {
                continue;
            }
            conv.params.residual = true;
            graph.nodes[p].inputs.push(r);
            graph.nodes[p].output = graph.nodes[add].output;
            removed[add] = true;
            break;
        }
    }
    drop_nodes(graph, &removed);
}

/// YOLOX's Focus: `Concat(x[..,::2,::2], x[..,1::2,::2], x[..,::2,1::2], x[..,1::2,1::2])`
/// followed by a k×k stride-1 conv equals one 2k×2k stride-2 conv of `x` with padding
/// doubled: input channel `(dy, dx, c)` at tap `(ky, kx)` reads `x[c][2(y+ky-p)+dy]
/// [2(x+kx-p)+dx]`, tap `(2ky+dy, 2kx+dx)` of the wider kernel. No copy, no slice.
fn fold_space_to_depth(graph: &mut Graph) {
    for conv_at in 0..graph.nodes.len() {
        let Op::Conv(conv) = &graph.nodes[conv_at].op else {
            continue;
        };
        let p = conv.params;
        if p.stride != 1 || p.groups != 1 || p.residual || p.pad_top != p.pad_left {
            continue;
        }
        let cat_value = graph.nodes[conv_at].inputs[0];
        let Some(cat_at) = producer(graph, cat_value) else {
            continue;
        };
        if !matches!(&graph.nodes[cat_at].op, Op::Concat(c) if c.axis == 1)
            || consumers(graph, cat_value) != [conv_at]
            || cat_value == graph.output
        {
            continue;
        }
        let parts: Option<Vec<(ValueId, usize, usize)>> = graph.nodes[cat_at]
            .inputs
            .iter()
            .map(|&v| slice_chain(graph, v))
            .collect();
        let Some(parts) = parts else { continue };
        let source = parts[0].0;
        let shape = &graph.values[source].shape;
        let &[_, channels, h, w] = shape.as_slice() else {
            continue;
        };
        let mut phases: Vec<(usize, usize)> = parts.iter().map(|&(_, dy, dx)| (dy, dx)).collect();
        let distinct = {
            phases.sort_unstable();
            phases.dedup();
            phases.len() == 4
        };
        let fits = parts.iter().all(|&(v, _, _)| v == source)
            && distinct
            && h % 2 == 0
            && w % 2 == 0
            && p.in_channels == 4 * channels;
        if !fits {
            continue;
        }
        let Op::Conv(conv) = &graph.nodes[conv_at].op else {
            continue;
        };
        let (k, k2) = (p.kernel, 2 * p.kernel);
        let mut weight = vec![0f32; p.out_channels * channels * k2 * k2];
        for co in 0..p.out_channels {
            for (seg, &(_, dy, dx)) in parts.iter().enumerate() {
                for c in 0..channels {
                    for ky in 0..k {
                        for kx in 0..k {
                            let from =
                                ((co * p.in_channels + seg * channels + c) * k + ky) * k + kx;
                            let to = ((co * channels + c) * k2 + 2 * ky + dy) * k2 + 2 * kx + dx;
                            weight[to] = conv.weight[from];
                        }
                    }
                }
            }
        }
        let params = ConvParams {
            in_channels: channels,
            in_height: h,
            in_width: w,
            kernel: k2,
            stride: 2,
            pad_top: 2 * p.pad_top,
            pad_left: 2 * p.pad_left,
            ..p
        };
        debug_assert_eq!(params.out_size(), p.out_size());
        let node = &mut graph.nodes[conv_at];
        if let Op::Conv(conv) = &mut node.op {
            conv.params = params;
            conv.weight = weight;
        }
        node.inputs[0] = source;
    }
}

/// `v` as `x[.., dy::2, dx::2]` of a 4-D `x` by a chain of Slices: `(x, dy, dx)`.
fn slice_chain(graph: &Graph, v: ValueId) -> Option<(ValueId, usize, usize)> {
    // (start, step) per axis, composed from the value back to the chain's source.
    let mut start = [0usize; 4];
    let mut step = [1usize; 4];
    let mut at = v;
    while let Some(p) = producer(graph, at) {
        let Node {
            op: Op::Slice(slice),
            inputs,
            ..
        } = &graph.nodes[p]
        else {
            break;
        };
        if slice.axes.len() != 4 {
            return None;
        }
        for (d, a) in slice.axes.iter().enumerate() {
            let a_step = usize::try_from(a.step).ok()?;
            // Slicing the source of what is already sliced: outer view applies last.
            start[d] = a.start + a_step * start[d];
            step[d] *= a_step;
        }
        at = inputs[0];
    }
    if at == v {
        return None;
    }
    let shape = &graph.values[at].shape;
    let out = &graph.values[v].shape;
    let whole = |d: usize| start[d] == 0 && step[d] == 1 && out[d] == shape[d];
    let half = |d: usize| start[d] < 2 && step[d] == 2 && out[d] == shape[d] / 2;
    (shape.len() == 4 && whole(0) && whole(1) && half(2) && half(3))
        .then_some((at, start[2], start[3]))
}

/// Nodes whose output nobody reads (the Focus slices after folding).
fn remove_dead(graph: &mut Graph) {
    loop {
        let removed: Vec<bool> = (0..graph.nodes.len())
            .map(|i| {
                let out = graph.nodes[i].output;
                out != graph.output && consumers(graph, out).is_empty()
            })
            .collect();
        if !removed.contains(&true) {
            return;
        }
        drop_nodes(graph, &removed);
    }
}
