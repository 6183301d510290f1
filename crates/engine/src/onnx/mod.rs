//! ONNX → [`Graph`]: decode the protobuf, parse every node into a typed op, infer
//! shapes, and fuse Conv + SiLU. Everything that can be wrong with a model is found
//! here, at load time, and named by node, op type and opset.

mod attributes;
mod fuse;
pub(crate) mod limits;
pub(crate) mod ops;

use crate::proto::{self, tensor_proto::DataType, type_proto};
use crate::EngineError;
pub(crate) use ops::Op;
use std::collections::HashMap;

/// A value flowing between nodes: its index in [`Graph::values`].
pub(crate) type ValueId = usize;

pub(crate) struct Value {
    /// The ONNX value's name (a fused node's value is its last op's output).
    pub name: String,
    pub shape: Vec<usize>,
}

pub(crate) struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub output: ValueId,
}

/// A checked, shape-inferred graph with one input and one output, in execution order.
pub(crate) struct Graph {
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    pub input: ValueId,
    pub output: ValueId,
}

/// Constant tensors (initializers and `Constant` nodes), as f32 or i64.
pub(crate) struct Constants<'a> {
    tensors: HashMap<&'a str, &'a proto::TensorProto>,
}

#[derive(Debug, Clone)]
pub(crate) struct ConstTensor<T> {
    pub dims: Vec<usize>,
    pub data: Vec<T>,
}

impl<'a> Constants<'a> {
    pub fn get(&self, name: &str) -> Option<&'a proto::TensorProto> {
        self.tensors.get(name).copied()
    }

    pub fn f32(&self, name: &str) -> Result<Option<ConstTensor<f32>>, String> {
        let Some(t) = self.get(name) else {
            return Ok(None);
        };
        let dims = dims_of(t)?;
        let data: Vec<f32> = match t.data_type() {
            dt if dt == DataType::Float as i32 => match &t.raw_data {
                Some(raw) if !raw.is_empty() => raw
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                _ => t.float_data.clone(),
            },
            other => {
                return Err(format!(
                    "constant {name:?} has data type {other}, expected float"
                ))
            }
        };
        check_count(name, &dims, data.len())?;
        Ok(Some(ConstTensor { dims, data }))
    }

    pub fn i64(&self, name: &str) -> Result<Option<ConstTensor<i64>>, String> {
        let Some(t) = self.get(name) else {
            return Ok(None);
        };
        let dims = dims_of(t)?;
        let data: Vec<i64> = match t.data_type() {
            dt if dt == DataType::Int64 as i32 => match &t.raw_data {
                Some(raw) if !raw.is_empty() => raw
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                    .collect(),
                _ => t.int64_data.clone(),
            },
            dt if dt == DataType::Int32 as i32 => t.int32_data.iter().map(|&v| v as i64).collect(),
            other => {
                return Err(format!(
                    "constant {name:?} has data type {other}, expected int64"
                ))
            }
        };
        check_count(name, &dims, data.len())?;
        Ok(Some(ConstTensor { dims, data }))
    }
}

fn dims_of(t: &proto::TensorProto) -> Result<Vec<usize>, String> {
    if t.data_location() == proto::tensor_proto::DataLocation::External {
        return Err(format!(
            "constant {:?} uses external data, which is not supported",
            t.name()
        ));
    }
    let dims = t
        .dims
        .iter()
        .map(|&d| {
            usize::try_from(d)
                .map_err(|_| format!("constant {:?} has negative dimension {d}", t.name()))
        })
        .collect::<Result<Vec<usize>, String>>()?;
    limits::values(&dims).map_err(|e| format!("constant {:?}: {e}", t.name()))?;
    Ok(dims)
}

fn check_count(name: &str, dims: &[usize], len: usize) -> Result<(), String> {
    // `dims_of` has checked the product.
    let expected: usize = dims.iter().product();
    if expected != len {
        return Err(format!(
            "constant {name:?} has {len} values for shape {dims:?}"
        ));
    }
    Ok(())
}

/// Parses and checks a decoded model.
pub(crate) fn build_graph(model: &proto::ModelProto) -> Result<Graph, EngineError> {
    let malformed = |s: String| EngineError::Malformed(s);
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain().is_empty() || o.domain() == "ai.onnx")
        .map(|o| o.version())
        .ok_or_else(|| malformed("no opset import for the default ONNX domain".into()))?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| malformed("model has no graph".into()))?;

    let mut constants = Constants {
        tensors: HashMap::new(),
    };
    for t in &graph.initializer {
        constants.tensors.insert(t.name(), t);
    }
    for node in &graph.node {
        if node.op_type() == "Constant" {
            let tensor = node
                .attribute
                .iter()
                .find(|a| a.name() == "value")
                .and_then(|a| a.t.as_ref())
                .ok_or_else(|| {
                    malformed(format!(
                        "Constant node {:?} has no tensor `value`",
                        node.name()
                    ))
                })?;
            let out = node.output.first().ok_or_else(|| {
                malformed(format!("Constant node {:?} has no output", node.name()))
            })?;
            constants.tensors.insert(out.as_str(), tensor);
        }
    }

    let runtime_inputs: Vec<&proto::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| constants.get(i.name()).is_none())
        .collect();
    let [input] = runtime_inputs.as_slice() else {
        return Err(malformed(format!(
            "expected exactly one runtime input, found {}",
            runtime_inputs.len()
        )));
    };
    let [output] = graph.output.as_slice() else {
        return Err(malformed(format!(
            "expected exactly one output, found {}",
            graph.output.len()
        )));
    };

    let mut values = vec![Value {
        name: input.name().to_string(),
        shape: static_shape(input)?,
    }];
    let mut by_name: HashMap<String, ValueId> = HashMap::from([(input.name().to_string(), 0)]);
    let mut nodes = Vec::new();
    for node in &graph.node {
        if node.op_type() == "Constant" {
            continue;
        }
        let ctx = ops::NodeContext {
            node,
            opset,
            constants: &constants,
            values: &values,
            by_name: &by_name,
        };
        let parsed = ops::parse(&ctx)?;
        limits::values(&parsed.output_shape)
            .map_err(|e| ctx.unsupported(format!("output: {e}")))?;
        let [out_name] = node.output.as_slice() else {
            return Err(ctx.unsupported(format!(
                "has {} outputs; only single-output nodes are supported",
                node.output.len()
            )));
        };
        let output = values.len();
        values.push(Value {
            name: out_name.clone(),
            shape: parsed.output_shape,
        });
        by_name.insert(out_name.clone(), output);
        nodes.push(Node {
            name: node.name().to_string(),
            op: parsed.op,
            inputs: parsed.inputs,
            output,
        });
    }
    let output = *by_name.get(output.name()).ok_or_else(|| {
        malformed(format!(
            "graph output {:?} is produced by no node",
            output.name()
        ))
    })?;
    let mut graph = Graph {
        values,
        nodes,
        input: 0,
        output,
    };
    fuse::fuse(&mut graph);
    Ok(graph)
}

fn static_shape(info: &proto::ValueInfoProto) -> Result<Vec<usize>, EngineError> {
    let bad = |why: &str| EngineError::Malformed(format!("input {:?}: {why}", info.name()));
    let Some(type_proto::Value::TensorType(tensor)) =
        info.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(bad("not a tensor"));
    };
    if tensor.elem_type() != DataType::Float as i32 {
        return Err(bad("element type is not float32"));
    }
    let shape = tensor.shape.as_ref().ok_or_else(|| bad("no shape"))?;
    let dims = shape
        .dim
        .iter()
        .map(|d| match d.value {
            Some(proto::tensor_shape_proto::dimension::Value::DimValue(v)) if v > 0 => {
                limits::dim(v, "dimension").map_err(|e| bad(&e))
            }
            _ => Err(bad(
                "dynamic dimensions are not supported; export with a fixed input size",
            )),
        })
        .collect::<Result<Vec<usize>, EngineError>>()?;
    limits::values(&dims).map_err(|e| bad(&e))?;
    Ok(dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{
        attribute_proto::AttributeType, tensor_shape_proto, type_proto, AttributeProto,
    };

    fn value_info(name: &str, shape: &[i64]) -> proto::ValueInfoProto {
        let dim = shape
            .iter()
            .map(|&d| tensor_shape_proto::Dimension {
                value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
                ..Default::default()
            })
            .collect();
        proto::ValueInfoProto {
            name: Some(name.into()),
            r#type: Some(proto::TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: Some(DataType::Float as i32),
                    shape: Some(proto::TensorShapeProto { dim }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn node(
        op: &str,
        name: &str,
        inputs: &[&str],
        output: &str,
        attributes: Vec<AttributeProto>,
    ) -> proto::NodeProto {
        proto::NodeProto {
            op_type: Some(op.into()),
            name: Some(name.into()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            attribute: attributes,
            ..Default::default()
        }
    }

    fn model(nodes: Vec<proto::NodeProto>, output: &str) -> proto::ModelProto {
        proto::ModelProto {
            opset_import: vec![proto::OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(13),
            }],
            graph: Some(proto::GraphProto {
                node: nodes,
                input: vec![value_info("x", &[1, 4, 8, 8])],
                output: vec![value_info(output, &[])],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn error_of(m: &proto::ModelProto) -> String {
        match build_graph(m) {
            Ok(_) => panic!("model was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn unsupported_op_names_op_node_and_opset() {
        let m = model(
            vec![
                node("Sigmoid", "s", &["x"], "y", vec![]),
                node("Gemm", "head/fc", &["y"], "z", vec![]),
            ],
            "z",
        );
        let err = error_of(&m);
        assert!(
            err.contains("Gemm") && err.contains("head/fc") && err.contains("opset 13"),
            "{err}"
        );
    }

    #[test]
    fn unsupported_attribute_is_refused_at_load() {
        let pads = AttributeProto {
            name: Some("pads".into()),
            r#type: Some(AttributeType::Ints as i32),
            ints: vec![1, 1, 2, 2],
            ..Default::default()
        };
        let kernel = AttributeProto {
            name: Some("kernel_shape".into()),
            r#type: Some(AttributeType::Ints as i32),
            ints: vec![3, 3],
            ..Default::default()
        };
        let m = model(
            vec![node("MaxPool", "pool7", &["x"], "y", vec![pads, kernel])],
            "y",
        );
        let err = error_of(&m);
        assert!(
            err.contains("MaxPool") && err.contains("pool7") && err.contains("pads"),
            "{err}"
        );
    }

    #[test]
    fn broadcasting_and_missing_inputs_are_refused() {
        let m = model(
            vec![node("Add", "add1", &["x", "nowhere"], "y", vec![])],
            "y",
        );
        let err = error_of(&m);
        assert!(err.contains("add1") && err.contains("nowhere"), "{err}");
    }

    fn ints(name: &str, values: &[i64]) -> AttributeProto {
        AttributeProto {
            name: Some(name.into()),
            r#type: Some(AttributeType::Ints as i32),
            ints: values.to_vec(),
            ..Default::default()
        }
    }

    fn float_tensor(name: &str, dims: &[i64], data: Vec<f32>) -> proto::TensorProto {
        proto::TensorProto {
            name: Some(name.into()),
            dims: dims.to_vec(),
            data_type: Some(DataType::Float as i32),
            float_data: data,
            ..Default::default()
        }
    }

    fn int_tensor(name: &str, data: &[i64]) -> proto::TensorProto {
        proto::TensorProto {
            name: Some(name.into()),
            dims: vec![data.len() as i64],
            data_type: Some(DataType::Int64 as i32),
            int64_data: data.to_vec(),
            ..Default::default()
        }
    }

    fn with_initializers(
        mut m: proto::ModelProto,
        tensors: Vec<proto::TensorProto>,
    ) -> proto::ModelProto {
        m.graph.as_mut().expect("graph").initializer = tensors;
        m
    }

    // Regressions for issue 13: shapes and attributes from a hostile model overflowed or
    // sized allocations unchecked (debug builds panicked, release wrapped).

    #[test]
    fn an_initializer_too_large_to_count_is_refused() {
        let m = with_initializers(
            model(vec![node("Conv", "c", &["x", "w"], "y", vec![])], "y"),
            vec![float_tensor("w", &[1 << 33, 1 << 33], vec![])],
        );
        let err = error_of(&m);
        assert!(err.contains("\"w\"") && err.contains("MAX_DIM"), "{err}");
    }

    #[test]
    fn a_conv_weight_with_a_zero_kernel_and_no_data_is_refused() {
        // 2^40 output channels of 0×0 kernels: no values, so the count matched; the bias
        // would have been 2^40 zeros.
        let m = with_initializers(
            model(vec![node("Conv", "c", &["x", "w"], "y", vec![])], "y"),
            vec![float_tensor("w", &[1 << 40, 4, 0, 0], vec![])],
        );
        assert!(error_of(&m).contains("MAX_DIM"), "{}", error_of(&m));
        let m = with_initializers(
            model(vec![node("Conv", "c", &["x", "w"], "y", vec![])], "y"),
            vec![float_tensor("w", &[8, 4, 0, 0], vec![])],
        );
        assert!(error_of(&m).contains("empty kernel"), "{}", error_of(&m));
    }

    #[test]
    fn huge_pads_strides_and_windows_are_refused() {
        let conv = |attrs| {
            with_initializers(
                model(vec![node("Conv", "c", &["x", "w"], "y", attrs)], "y"),
                vec![float_tensor("w", &[8, 4, 3, 3], vec![0.5; 8 * 4 * 9])],
            )
        };
        let big = i64::MAX;
        let err = error_of(&conv(vec![ints("pads", &[big, big, big, big])]));
        assert!(err.contains("pad") && err.contains("MAX_DIM"), "{err}");
        let err = error_of(&conv(vec![ints("strides", &[big, big])]));
        assert!(err.contains("stride") && err.contains("MAX_DIM"), "{err}");
        let pool = |attrs| model(vec![node("MaxPool", "p", &["x"], "y", attrs)], "y");
        let err = error_of(&pool(vec![
            ints("kernel_shape", &[big, big]),
            ints("pads", &[big - 1, big - 1, big - 1, big - 1]),
        ]));
        assert!(
            err.contains("kernel_shape") && err.contains("MAX_DIM"),
            "{err}"
        );
    }

    #[test]
    fn huge_resize_scales_and_reshape_products_are_refused() {
        let string = |name: &str, value: &str| AttributeProto {
            name: Some(name.into()),
            r#type: Some(AttributeType::String as i32),
            s: Some(value.as_bytes().to_vec()),
            ..Default::default()
        };
        let resize_attrs = vec![
            string("coordinate_transformation_mode", "asymmetric"),
            string("nearest_mode", "floor"),
        ];
        let m = with_initializers(
            model(
                vec![node("Resize", "r", &["x", "", "s"], "y", resize_attrs)],
                "y",
            ),
            vec![float_tensor("s", &[4], vec![1.0, 1.0, 1e30, 1e30])],
        );
        let err = error_of(&m);
        assert!(
            err.contains("Resize") && err.contains("integer upsampling"),
            "{err}"
        );
        let m = with_initializers(
            model(vec![node("Reshape", "r", &["x", "s"], "y", vec![])], "y"),
            vec![int_tensor("s", &[1 << 31, 1 << 31, 4, -1])],
        );
        let err = error_of(&m);
        assert!(err.contains("Reshape") && err.contains("MAX_DIM"), "{err}");
    }

    #[test]
    fn tensors_under_the_limit_that_add_up_past_it_are_refused_at_planning() {
        // Four 1-GiB tensors alive at once (each within MAX_TENSOR_VALUES).
        let mut m = model(
            vec![
                node("Concat", "c", &["x", "x", "x", "x"], "c", vec![]),
                node("Add", "a1", &["c", "c"], "a1", vec![]),
                node("Add", "a2", &["a1", "c"], "a2", vec![]),
                node("Add", "a3", &["a2", "a1"], "a3", vec![]),
                node("Add", "a4", &["a3", "c"], "y", vec![]),
            ],
            "y",
        );
        let graph = m.graph.as_mut().expect("graph");
        graph.input = vec![value_info("x", &[1, 1024, 1024, 64])];
        graph.node[0].attribute = vec![AttributeProto {
            name: Some("axis".into()),
            r#type: Some(AttributeType::Int as i32),
            i: Some(1),
            ..Default::default()
        }];
        let graph = build_graph(&m).expect("every tensor is within the limit");
        let err = match crate::plan::plan(&graph) {
            Ok(_) => panic!("planned more than MAX_ACTIVATION_BYTES"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("MAX_ACTIVATION_BYTES"), "{err}");
    }

    #[test]
    fn arbitrary_bytes_are_an_error_not_a_panic() {
        use crate::kernels::testing;
        for len in [0, 1, 7, 64, 1000] {
            for _ in 0..50 {
                let bytes = testing::random_bytes(len);
                assert!(
                    crate::check_model_bytes(&bytes).is_err(),
                    "SIGHTLINE_TEST_SEED={}: {bytes:?} was accepted",
                    testing::seed()
                );
            }
        }
    }

    #[test]
    fn spp_pools_become_a_cascade_of_fives() {
        let pool = |name: &str, k: i64| {
            node(
                "MaxPool",
                name,
                &["x"],
                name,
                vec![
                    ints("kernel_shape", &[k, k]),
                    ints("pads", &[k / 2, k / 2, k / 2, k / 2]),
                    ints("strides", &[1, 1]),
                ],
            )
        };
        let mut concat = node("Concat", "cat", &["x", "p5", "p9", "p13"], "y", vec![]);
        concat.attribute = vec![AttributeProto {
            name: Some("axis".into()),
            r#type: Some(AttributeType::Int as i32),
            i: Some(1),
            ..Default::default()
        }];
        let m = model(
            vec![pool("p5", 5), pool("p9", 9), pool("p13", 13), concat],
            "y",
        );
        let graph = build_graph(&m).expect("graph");
        let pools: Vec<(usize, usize, ValueId)> = graph
            .nodes
            .iter()
            .filter_map(|n| match &n.op {
                Op::MaxPool(p) => Some((p.params.kernel, p.params.pad, n.inputs[0])),
                _ => None,
            })
            .collect();
        let outputs: Vec<ValueId> = graph.nodes.iter().map(|n| n.output).collect();
        assert_eq!(
            pools,
            vec![(5, 2, graph.input), (5, 2, outputs[0]), (5, 2, outputs[1])]
        );
    }

    #[test]
    fn sigmoid_times_input_fuses_into_silu() {
        let m = model(
            vec![
                node("Sigmoid", "s", &["x"], "sx", vec![]),
                node("Mul", "m", &["x", "sx"], "y", vec![]),
            ],
            "y",
        );
        let graph = build_graph(&m).expect("graph");
        assert_eq!(graph.nodes.len(), 1);
        assert_eq!(graph.nodes[0].op.type_name(), "SiLU");
    }
}
