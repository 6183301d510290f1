//! Taps: intermediate values of the graph that a caller reads back after a run (an
//! image embedding from the backbone, the features a retrained head would take),
//! found by the graph's structure rather than by node names, which differ per export.
//!
//! The planner keeps a tapped value's buffer to itself from its first write on
//! (`plan::buffers`), so it still holds the value when the run has finished.

use crate::onnx::{Graph, Op, ValueId};

/// Which intermediate values to keep readable after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tap {
    /// The inputs of the final convolutions: the convolutions after which no other
    /// convolution runs on the way to the output (in a detector, the head's last 1×1
    /// convolutions: YOLOX's `cls_preds`, `reg_preds`, `obj_preds` of each level).
    FinalConvInputs,
    /// Where the head starts on each level: from each final convolution's input, back
    /// through its chain of convolutions to the value where the head's branches split
    /// (read by two or more convolutions that are not final), then through the
    /// convolution that made that value (the level's stem) to its input. In YOLOX that
    /// is the neck's output of each level (`pan_out2`, `pan_out1`, `pan_out0`).
    HeadRoots,
}

/// One tapped value: the node that produces it and its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapInfo {
    pub tap: Tap,
    /// The producing node's name (the graph's input is named `input`).
    pub producer: String,
    /// The ONNX value's name: what another runtime asked for this value returns it.
    pub value: String,
    pub shape: Vec<usize>,
}

/// The readers of every value, by node index.
fn consumers(graph: &Graph) -> Vec<Vec<usize>> {
    let mut readers = vec![Vec::new(); graph.values.len()];
    for (i, node) in graph.nodes.iter().enumerate() {
        for &v in &node.inputs {
            if !readers[v].contains(&i) {
                readers[v].push(i);
            }
        }
    }
    readers
}

fn is_conv(graph: &Graph, node: usize) -> bool {
    matches!(graph.nodes[node].op, Op::Conv(_))
}

/// Per node: whether it is a convolution with no convolution after it.
fn final_convs(graph: &Graph, readers: &[Vec<usize>]) -> Vec<bool> {
    let n = graph.nodes.len();
    // Nodes are in execution order, so every reader comes later: one backward pass.
    let mut conv_after = vec![false; n];
    for i in (0..n).rev() {
        conv_after[i] = readers[graph.nodes[i].output]
            .iter()
            .any(|&r| is_conv(graph, r) || conv_after[r]);
    }
    (0..n)
        .map(|i| is_conv(graph, i) && !conv_after[i])
        .collect()
}

fn final_conv_inputs(graph: &Graph, finals: &[bool]) -> Vec<ValueId> {
    let mut inputs = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        if finals[i] && !inputs.contains(&node.inputs[0]) {
            inputs.push(node.inputs[0]);
        }
    }
    inputs
}

/// See [`Tap::HeadRoots`].
fn head_root(graph: &Graph, start: ValueId, readers: &[Vec<usize>], finals: &[bool]) -> ValueId {
    let producer = |v: ValueId| graph.nodes.iter().position(|n| n.output == v);
    let mut v = start;
    loop {
        let branches = readers[v].iter().filter(|&&r| !finals[r]).count();
        let Some(p) = producer(v) else { return v };
        if !is_conv(graph, p) {
            return v;
        }
        // The split: the stem made this value; its input is what the head reads.
        let input = graph.nodes[p].inputs[0];
        if branches >= 2 {
            return input;
        }
        v = input;
    }
}

/// The values `taps` select, in execution order, without repeats.
pub(crate) fn find(graph: &Graph, taps: &[Tap]) -> Vec<(Tap, ValueId)> {
    let readers = consumers(graph);
    let finals = final_convs(graph, &readers);
    let heads = final_conv_inputs(graph, &finals);
    let mut found: Vec<(Tap, ValueId)> = Vec::new();
    for &tap in taps {
        let values: Vec<ValueId> = match tap {
            Tap::FinalConvInputs => heads.clone(),
            Tap::HeadRoots => heads
                .iter()
                .map(|&h| head_root(graph, h, &readers, &finals))
                .collect(),
        };
        let mut values: Vec<ValueId> = values
            .into_iter()
            .filter(|v| !found.contains(&(tap, *v)))
            .collect();
        values.sort_unstable();
        values.dedup();
        found.extend(values.into_iter().map(|v| (tap, v)));
    }
    found
}

/// The describing half of a tap, for [`crate::Model::taps`].
pub(crate) fn info(graph: &Graph, tap: Tap, value: ValueId) -> TapInfo {
    let producer = graph
        .nodes
        .iter()
        .find(|n| n.output == value)
        .map_or_else(|| "input".to_string(), |n| n.name.clone());
    TapInfo {
        tap,
        producer,
        value: graph.values[value].name.clone(),
        shape: graph.values[value].shape.clone(),
    }
}

/// Global average pooling on the host: the mean of each channel of an `[N, C, …]`
/// tensor, `N × C` values (batch-major).
pub fn channel_means(values: &[f32], shape: &[usize]) -> Vec<f32> {
    let (batch, channels) = match shape {
        [] => (1, 1),
        [c] => (1, *c),
        [n, c, ..] => (*n, *c),
    };
    let plane = shape.iter().skip(2).product::<usize>().max(1);
    (0..batch * channels)
        .map(|bc| {
            let slice = values.get(bc * plane..(bc + 1) * plane).unwrap_or(&[]);
            slice.iter().map(|&x| f64::from(x)).sum::<f64>() as f32 / plane as f32
        })
        .collect()
}
