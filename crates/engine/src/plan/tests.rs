//! Planner tests: small synthetic graphs run end to end on the test device (every
//! buffer poisoned with NaN first) against a host interpreter of the same graph, and
//! buffer sharing checked without a device.

use super::buffers::{share_buffers, Lifetime, Need};
use super::plan;
use crate::device::DeviceChoice;
use crate::kernels::conv::{Activation, ConvParams};
use crate::kernels::elementwise::ElementwiseOp;
use crate::kernels::testing::{assert_close, random_bytes, random_vec, seed};
use crate::onnx::ops::{Concat, Conv};
use crate::onnx::{Graph, Node, Op, Value, ValueId};

/// Builds a [`Graph`] node by node, with the shapes the ONNX loader would infer.
pub(super) struct GraphBuilder {
    values: Vec<Value>,
    nodes: Vec<Node>,
}

impl GraphBuilder {
    /// A graph whose input (value 0) has `shape`.
    pub(super) fn new(shape: &[usize]) -> (GraphBuilder, ValueId) {
        let builder = GraphBuilder {
            values: vec![Value {
                name: "input".into(),
                shape: shape.to_vec(),
            }],
            nodes: Vec::new(),
        };
        (builder, 0)
    }

    fn shape(&self, v: ValueId) -> &[usize] {
        &self.values[v].shape
    }

    fn push(&mut self, op: Op, inputs: &[ValueId], shape: Vec<usize>) -> ValueId {
        let output = self.values.len();
        self.values.push(Value {
            name: format!("v{output}"),
            shape,
        });
        self.nodes.push(Node {
            name: format!("{}{}", op.type_name(), self.nodes.len()),
            op,
            inputs: inputs.to_vec(),
            output,
        });
        output
    }

    /// A 1×1 convolution with random weights and bias.
    pub(super) fn conv(&mut self, x: ValueId, out_channels: usize) -> ValueId {
        let &[batch, in_channels, in_height, in_width] = self.shape(x) else {
            panic!("conv input {:?} is not NCHW", self.shape(x));
        };
        let params = ConvParams {
            batch,
            in_channels,
            in_height,
            in_width,
            out_channels,
            kernel: 1,
            stride: 1,
            pad_top: 0,
            pad_left: 0,
            groups: 1,
            activation: Activation::None,
            residual: false,
        };
        let conv = Conv {
            params,
            weight: random_vec(out_channels * in_channels, 0.5),
            bias: random_vec(out_channels, 0.5),
        };
        let shape = vec![batch, out_channels, in_height, in_width];
        self.push(Op::Conv(conv), &[x], shape)
    }

    pub(super) fn concat(&mut self, parts: &[ValueId], axis: usize) -> ValueId {
        let mut shape = self.shape(parts[0]).to_vec();
        shape[axis] = parts.iter().map(|&p| self.shape(p)[axis]).sum();
        self.push(Op::Concat(Concat { axis }), parts, shape)
    }

    pub(super) fn reshape(&mut self, x: ValueId, shape: &[usize]) -> ValueId {
        let count = |s: &[usize]| s.iter().product::<usize>();
        assert_eq!(count(self.shape(x)), count(shape), "reshape to {shape:?}");
        self.push(Op::Reshape, &[x], shape.to_vec())
    }

    pub(super) fn sigmoid(&mut self, x: ValueId) -> ValueId {
        let shape = self.shape(x).to_vec();
        self.push(Op::Elementwise(ElementwiseOp::Sigmoid), &[x], shape)
    }

    pub(super) fn finish(self, output: ValueId) -> Graph {
        Graph {
            values: self.values,
            nodes: self.nodes,
            input: 0,
            output,
        }
    }
}

/// The graph's output evaluated on the host.
fn host_run(graph: &Graph, input: &[f32]) -> Vec<f32> {
    let mut values = host_values(graph, input);
    std::mem::take(&mut values[graph.output])
}

/// The graph evaluated on the host, every value a dense tensor of its own.
pub(super) fn host_values(graph: &Graph, input: &[f32]) -> Vec<Vec<f32>> {
    let mut values: Vec<Vec<f32>> = vec![Vec::new(); graph.values.len()];
    values[graph.input] = input.to_vec();
    for node in &graph.nodes {
        let x = &values[node.inputs[0]];
        let result = match &node.op {
            Op::Conv(conv) => {
                let p = &conv.params;
                assert_eq!((p.kernel, p.groups), (1, 1), "host conv is 1×1 only");
                let plane = p.in_height * p.in_width;
                let mut out = vec![0f32; p.batch * p.out_channels * plane];
                for n in 0..p.batch {
                    for co in 0..p.out_channels {
                        for i in 0..plane {
                            let dot: f32 = (0..p.in_channels)
                                .map(|ci| {
                                    conv.weight[co * p.in_channels + ci]
                                        * x[(n * p.in_channels + ci) * plane + i]
                                })
                                .sum();
                            out[(n * p.out_channels + co) * plane + i] = conv.bias[co] + dot;
                        }
                    }
                }
                out
            }
            Op::Concat(c) => {
                let out_shape = &graph.values[node.output].shape;
                let outer: usize = out_shape[..c.axis].iter().product();
                let mut out = Vec::with_capacity(out_shape.iter().product());
                for o in 0..outer {
                    for &part in &node.inputs {
                        let inner: usize = graph.values[part].shape[c.axis..].iter().product();
                        out.extend_from_slice(&values[part][o * inner..(o + 1) * inner]);
                    }
                }
                out
            }
            Op::Reshape => x.clone(),
            Op::Elementwise(ElementwiseOp::Sigmoid) => {
                x.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect()
            }
            other => panic!("no host reference for {}", other.type_name()),
        };
        values[node.output] = result;
    }
    values
}

/// Plans and runs `graph` on the test device with every buffer poisoned and a random
/// input, and compares its output with [`host_run`]: a wrong placement reads or
/// writes the wrong elements, and an element nothing writes stays NaN.
fn check_on_device(graph: &Graph, what: &str) {
    let gpu = DeviceChoice::test_default()
        .open()
        .expect("planner tests need a cubecl device (install mesa-vulkan-drivers)");
    let mut model = crate::exec::load_plan(graph, &gpu, &[]).expect("the graph plans");
    model.poison_buffers();
    let input = random_vec(model.input_len(), 1.0);
    model
        .write_input(&input)
        .expect("input of the graph's size");
    model.run();
    let got = model.read_output().expect("read back");
    assert_close(&got, &host_run(graph, &input), what);
}

/// The op types of the planned launches, in order.
fn launches(graph: &Graph) -> Vec<&'static str> {
    plan(graph)
        .expect("the graph plans")
        .steps
        .iter()
        .map(|s| s.op_type)
        .collect()
}

#[test]
fn a_concat_of_one_value_twice_fills_both_slots() {
    // A computed value is written into one slot by its producer, copied into the other.
    let (mut g, x) = GraphBuilder::new(&[1, 3, 4, 4]);
    let a = g.conv(x, 4);
    let out = g.concat(&[a, a], 1);
    let graph = g.finish(out);
    assert_eq!(launches(&graph), ["Conv", "Concat"]);
    check_on_device(&graph, "Concat(conv(x), conv(x))");

    // The graph's input is never placed: both slots are copies.
    let (mut g, x) = GraphBuilder::new(&[1, 3, 4, 4]);
    let out = g.concat(&[x, x], 2);
    let graph = g.finish(out);
    assert_eq!(launches(&graph), ["Concat", "Concat"]);
    check_on_device(&graph, "Concat(x, x)");
}

#[test]
fn a_concat_inside_a_concat_is_written_in_place() {
    // The inner Concat (channels) sits in the second slot of the outer one (rows), so
    // its inputs are written at an offset, with the outer tensor's channel stride.
    let (mut g, x) = GraphBuilder::new(&[1, 3, 4, 4]);
    let a = g.conv(x, 4);
    let b = g.conv(x, 4);
    let c = g.conv(x, 8);
    let inner = g.concat(&[a, b], 1);
    let out = g.concat(&[c, inner], 2);
    let graph = g.finish(out);
    assert_eq!(launches(&graph), ["Conv", "Conv", "Conv"]);
    check_on_device(&graph, "Concat(c, Concat(a, b))");
}

#[test]
fn a_reshape_of_a_placed_value_reads_it_where_it_lives() {
    // `b` lives in the second half of `cat`; its Reshape is a view there, read by a conv.
    let (mut g, x) = GraphBuilder::new(&[1, 3, 4, 4]);
    let a = g.conv(x, 4);
    let b = g.conv(x, 4);
    let cat = g.concat(&[a, b], 1);
    let rb = g.reshape(b, &[1, 4, 2, 8]);
    let d = g.conv(rb, 4);
    let rcat = g.reshape(cat, &[1, 8, 2, 8]);
    let out = g.concat(&[rcat, d], 1);
    let graph = g.finish(out);
    assert_eq!(launches(&graph), ["Conv", "Conv", "Conv"]);
    check_on_device(&graph, "reshape of a placed value");

    // `b` feeds `cat` and, through a Reshape, the outer Concat: the Reshape places it
    // in the outer Concat, and `cat` gets a copy.
    let (mut g, x) = GraphBuilder::new(&[1, 3, 4, 4]);
    let a = g.conv(x, 4);
    let b = g.conv(x, 4);
    let cat = g.concat(&[a, b], 1);
    let rb = g.reshape(b, &[1, 4, 16]);
    let rcat = g.reshape(cat, &[1, 8, 16]);
    let out = g.concat(&[rcat, rb], 1);
    let graph = g.finish(out);
    assert_eq!(launches(&graph), ["Conv", "Conv", "Concat"]);
    check_on_device(&graph, "a value placed by its Reshape and read by a Concat");
}

#[test]
fn a_reshape_next_to_its_input_in_one_concat_is_copied() {
    // Placed in the same buffer as its input but in another slot: not a view.
    let (mut g, x) = GraphBuilder::new(&[1, 3, 4, 4]);
    let a = g.conv(x, 4);
    let ra = g.reshape(a, &[1, 4, 4, 4]);
    let out = g.concat(&[a, ra], 1);
    let graph = g.finish(out);
    assert_eq!(launches(&graph), ["Conv", "Copy"]);
    check_on_device(&graph, "Concat(a, Reshape(a))");
}

#[test]
fn values_that_cannot_be_placed_are_copied() {
    // `a` is also read by a Sigmoid, which needs it dense; Sigmoid writes dense too.
    let (mut g, x) = GraphBuilder::new(&[1, 3, 4, 4]);
    let a = g.conv(x, 4);
    let s = g.sigmoid(a);
    let out = g.concat(&[a, s], 1);
    let graph = g.finish(out);
    assert_eq!(launches(&graph), ["Conv", "Sigmoid", "Concat", "Concat"]);
    check_on_device(&graph, "Concat(a, sigmoid(a))");

    // A Reshape of a placed value read by a Sigmoid: a strided copy to a dense tensor.
    let (mut g, x) = GraphBuilder::new(&[1, 3, 4, 4]);
    let a = g.conv(x, 4);
    let b = g.conv(x, 4);
    let cat = g.concat(&[a, b], 1);
    let rb = g.reshape(b, &[1, 64]);
    let s = g.sigmoid(rb);
    let rs = g.reshape(s, &[1, 4, 4, 4]);
    let out = g.concat(&[cat, rs], 1);
    let graph = g.finish(out);
    assert_eq!(
        launches(&graph),
        ["Conv", "Conv", "Copy", "Sigmoid", "Copy"]
    );
    check_on_device(&graph, "sigmoid of a reshaped placed value");

    // `a` feeds two Concats that both sit in the outer one: it is written into the
    // second and copied into the first.
    let (mut g, x) = GraphBuilder::new(&[1, 3, 4, 4]);
    let a = g.conv(x, 4);
    let b = g.conv(x, 4);
    let c = g.conv(x, 4);
    let first = g.concat(&[a, b], 1);
    let second = g.concat(&[a, c], 1);
    let out = g.concat(&[first, second], 1);
    let graph = g.finish(out);
    assert_eq!(launches(&graph), ["Conv", "Conv", "Conv", "Concat"]);
    check_on_device(&graph, "a value feeding two Concats");
}

/// A number in `0..n` from the seeded test generator.
fn below(n: usize) -> usize {
    let bytes = random_bytes(2);
    usize::from(u16::from_le_bytes([bytes[0], bytes[1]])) % n
}

/// Both alive during some launch (lifetimes are inclusive).
fn overlap(a: Lifetime, b: Lifetime) -> bool {
    a.first <= b.last && b.first <= a.last
}

#[test]
fn overlapping_lifetimes_never_share_a_buffer() {
    for _ in 0..500 {
        let needs: Vec<Option<Need>> = (0..1 + below(12))
            .map(|_| {
                let first = below(10);
                (below(4) != 0).then(|| Need {
                    len: below(64),
                    lifetime: Lifetime {
                        first,
                        last: first + below(4),
                    },
                })
            })
            .collect();
        let assignment = share_buffers(&needs);
        let what = format!("{needs:?} (SIGHTLINE_TEST_SEED={})", seed());
        for (i, need) in needs.iter().enumerate() {
            let Some(need) = need else { continue };
            let buffer = assignment.buffer_of[i];
            assert!(assignment.buffer_lens[buffer] >= need.len, "{what}");
            for (j, other) in needs.iter().enumerate().skip(i + 1) {
                if other.is_some_and(|o| overlap(o.lifetime, need.lifetime)) {
                    assert_ne!(buffer, assignment.buffer_of[j], "{i} and {j} in {what}");
                }
            }
        }
    }
}

#[test]
fn tensors_alive_at_different_times_share_a_buffer() {
    let need = |len, first, last| {
        Some(Need {
            len,
            lifetime: Lifetime { first, last },
        })
    };
    // 0 and 2 never coexist; 1 overlaps both; 3 is first written where 2 is last read.
    let needs = [need(8, 0, 1), need(4, 1, 2), need(8, 2, 3), need(8, 3, 4)];
    let assignment = share_buffers(&needs);
    let b = &assignment.buffer_of;
    assert_eq!(b[0], b[2], "{b:?}");
    assert_ne!(b[1], b[0], "{b:?}");
    assert_ne!(b[3], b[2], "{b:?}");
    assert_eq!(
        assignment.buffer_lens.len(),
        3,
        "{:?}",
        assignment.buffer_lens
    );
}
