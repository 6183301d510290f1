//! A YOLOX-shaped head in an ONNX graph, and the surgery that appends output channels.
//!
//! YOLOX assembles its output per level as `Concat(reg 4, Sigmoid(obj) 1,
//! Sigmoid(cls) K)` on the channel axis, `Reshape [1, 5+K, -1]`, then concatenates the
//! levels on the anchor axis and transposes to `[1, anchors, 5+K]`. [`Head::find`]
//! walks that back from the graph output and names each level's two feature values:
//! the input of `cls_preds` (class branch) and of `reg_preds`/`obj_preds` (box branch).
//!
//! [`Head::append`] adds, per level, one 1×1 Conv + Sigmoid on the box-branch features
//! (an objectness per new class) and one on the class-branch features (a score per new
//! class), concatenated after the existing channels: the row becomes
//! `[reg 4, obj 1, cls K, new obj k, new cls k]`. Nothing that computes the old
//! channels changes, so their values stay bit-identical.

use crate::TrainError;
use prost::Message;
use sightline_engine::proto::{
    self, attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
};

/// One pyramid level of the head.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// Index of the level's channel Concat in the graph's node list.
    concat: usize,
    /// Index of the Reshape that reads it.
    reshape: usize,
    /// Value names of the class-branch and box-branch features.
    pub cls_features: String,
    pub reg_features: String,
    /// Channels of each feature value (64 for YOLOX-Nano).
    pub channels: usize,
}

/// The head of a model: its levels in output order and the output row length.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub levels: Vec<Level>,
    /// Class channels of the base model (80 for COCO).
    pub classes: usize,
    /// Values after the levels meet (their Concat, the output): shapes that change.
    downstream: Vec<String>,
}

/// New channels of one level: per new class, (weights, bias) of its objectness on the
/// box-branch features and of its score on the class-branch features.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelChannels {
    pub objectness: Vec<(Vec<f32>, f32)>,
    pub class: Vec<(Vec<f32>, f32)>,
}

fn graph(model: &proto::ModelProto) -> Result<&proto::GraphProto, TrainError> {
    model
        .graph
        .as_ref()
        .ok_or_else(|| shape("the model has no graph"))
}

fn shape(reason: impl Into<String>) -> TrainError {
    TrainError::HeadShape(reason.into())
}

fn op(node: &proto::NodeProto) -> &str {
    node.op_type.as_deref().unwrap_or("")
}

fn name(node: &proto::NodeProto) -> String {
    node.name.clone().unwrap_or_else(|| "(unnamed)".into())
}

/// The node producing `value`, by index.
fn producer(g: &proto::GraphProto, value: &str) -> Option<usize> {
    g.node
        .iter()
        .position(|n| n.output.iter().any(|o| o == value))
}

fn initializer<'a>(g: &'a proto::GraphProto, value: &str) -> Option<&'a proto::TensorProto> {
    g.initializer
        .iter()
        .find(|t| t.name.as_deref() == Some(value))
}

/// The Conv producing `value` (through a Sigmoid when `through_sigmoid`): its feature
/// input and its weight's `[out, in]` channels.
fn final_conv(
    g: &proto::GraphProto,
    value: &str,
    through_sigmoid: bool,
    what: &str,
) -> Result<(String, usize, usize), TrainError> {
    let mut v = value.to_string();
    if through_sigmoid {
        let s = producer(g, &v).map(|i| &g.node[i]);
        match s {
            Some(n) if op(n) == "Sigmoid" => v = n.input[0].clone(),
            _ => return Err(shape(format!("{what} ({value}) is not a Sigmoid's output"))),
        }
    }
    let conv = producer(g, &v)
        .map(|i| &g.node[i])
        .filter(|n| op(n) == "Conv" && n.input.len() >= 2)
        .ok_or_else(|| shape(format!("{what} ({v}) is not made by a Conv")))?;
    let dims = initializer(g, &conv.input[1])
        .map(|t| t.dims.clone())
        .ok_or_else(|| {
            shape(format!(
                "{what}: Conv {} has no weight initializer",
                name(conv)
            ))
        })?;
    match dims.as_slice() {
        &[out, inp, 1, 1] if out > 0 && inp > 0 => {
            Ok((conv.input[0].clone(), out as usize, inp as usize))
        }
        other => Err(shape(format!(
            "{what}: Conv {} has weight shape {other:?}, expected a 1×1 [out, in, 1, 1]",
            name(conv)
        ))),
    }
}

impl Head {
    /// Finds the head of `model`: graph output ← Transpose ← Concat of levels ← per
    /// level Reshape ← Concat(reg, Sigmoid(obj), Sigmoid(cls)). Anything else is a
    /// [`TrainError::HeadShape`] naming what differs.
    pub fn find(model: &proto::ModelProto) -> Result<Head, TrainError> {
        let g = graph(model)?;
        let [output] = g.output.as_slice() else {
            return Err(shape(format!(
                "{} graph outputs, expected one [1, anchors, 5 + classes]",
                g.output.len()
            )));
        };
        let out_name = output.name.clone().unwrap_or_default();
        let transpose = producer(g, &out_name)
            .map(|i| &g.node[i])
            .filter(|n| op(n) == "Transpose")
            .ok_or_else(|| shape(format!("output {out_name} is not made by a Transpose")))?;
        let levels_concat = producer(g, &transpose.input[0])
            .map(|i| &g.node[i])
            .filter(|n| op(n) == "Concat")
            .ok_or_else(|| shape("the Transpose before the output does not read a Concat"))?;
        let mut levels = Vec::new();
        let mut classes = None;
        for input in &levels_concat.input {
            let reshape = producer(g, input)
                .filter(|&i| op(&g.node[i]) == "Reshape")
                .ok_or_else(|| shape(format!("level {input} is not made by a Reshape")))?;
            let concat = producer(g, &g.node[reshape].input[0])
                .filter(|&i| op(&g.node[i]) == "Concat")
                .ok_or_else(|| {
                    shape(format!(
                        "Reshape {} does not read a channel Concat",
                        name(&g.node[reshape])
                    ))
                })?;
            let parts = &g.node[concat].input;
            let level = name(&g.node[concat]);
            if parts.len() != 3 {
                return Err(shape(format!(
                    "Concat {level} has {} inputs, expected 3 (box, objectness, classes)",
                    parts.len()
                )));
            }
            let (reg_features, reg_out, c1) = final_conv(g, &parts[0], false, "box regression")?;
            let (obj_features, obj_out, c2) = final_conv(g, &parts[1], true, "objectness")?;
            let (cls_features, cls_out, c3) = final_conv(g, &parts[2], true, "class scores")?;
            if reg_out != 4 || obj_out != 1 {
                return Err(shape(format!(
                    "Concat {level}: box {reg_out} and objectness {obj_out} channels, expected 4 and 1"
                )));
            }
            if obj_features != reg_features || c1 != c2 || c1 != c3 {
                return Err(shape(format!(
                    "Concat {level}: objectness and box regression read different features"
                )));
            }
            if *classes.get_or_insert(cls_out) != cls_out {
                return Err(shape(format!(
                    "Concat {level}: {cls_out} classes, other levels differ"
                )));
            }
            levels.push(Level {
                concat,
                reshape,
                cls_features,
                reg_features,
                channels: c1,
            });
        }
        let classes = classes.ok_or_else(|| shape("the output Concat has no levels"))?;
        let downstream = vec![transpose.input[0].clone(), out_name];
        Ok(Head {
            levels,
            classes,
            downstream,
        })
    }

    /// Appends `new` (one entry per level, each with the same number `k` of new
    /// classes) to the model: returns the new model's bytes.
    pub fn append(
        &self,
        mut model: proto::ModelProto,
        new: &[LevelChannels],
    ) -> Result<Vec<u8>, TrainError> {
        if new.len() != self.levels.len() {
            return Err(shape(format!(
                "{} levels of new channels for a head of {}",
                new.len(),
                self.levels.len()
            )));
        }
        let k = new.first().map_or(0, |n| n.class.len());
        let row = 5 + self.classes + 2 * k;
        let g = model
            .graph
            .as_mut()
            .ok_or_else(|| shape("the model has no graph"))?;
        let mut changed = self.downstream.clone();
        // Edits by node index first; the new nodes are inserted after all of them.
        let mut inserts: Vec<(usize, Vec<proto::NodeProto>)> = Vec::new();
        let mut replaced = Vec::new();
        for (l, (level, chans)) in self.levels.iter().zip(new).enumerate() {
            if chans.objectness.len() != k || chans.class.len() != k {
                return Err(shape(format!("level {l}: not {k} new classes")));
            }
            let mut nodes = Vec::new();
            let mut outputs = Vec::new();
            for (what, features, fits) in [
                ("obj", &level.reg_features, &chans.objectness),
                ("cls", &level.cls_features, &chans.class),
            ] {
                let base = format!("sightline_train.l{l}.{what}");
                let mut weight = Vec::with_capacity(k * level.channels);
                for (w, _) in fits.iter() {
                    if w.len() != level.channels {
                        return Err(shape(format!(
                            "level {l}: {} weights for {} feature channels",
                            w.len(),
                            level.channels
                        )));
                    }
                    weight.extend_from_slice(w);
                }
                let bias: Vec<f32> = fits.iter().map(|(_, b)| *b).collect();
                g.initializer.push(float_tensor(
                    &format!("{base}.weight"),
                    &[k as i64, level.channels as i64, 1, 1],
                    &weight,
                ));
                g.initializer
                    .push(float_tensor(&format!("{base}.bias"), &[k as i64], &bias));
                nodes.push(conv_1x1(
                    &format!("{base}.conv"),
                    features,
                    &format!("{base}.weight"),
                    &format!("{base}.bias"),
                    &format!("{base}.logit"),
                ));
                nodes.push(node(
                    "Sigmoid",
                    &format!("{base}.sigmoid"),
                    &[&format!("{base}.logit")],
                    &format!("{base}.out"),
                    vec![],
                ));
                outputs.push(format!("{base}.out"));
            }
            let concat = level.concat;
            g.node[concat].input.extend(outputs);
            changed.extend(g.node[concat].output.clone());
            // The Reshape's target shape gets the longer row.
            let shape_name = format!("sightline_train.l{l}.shape");
            g.initializer
                .push(int_tensor(&shape_name, &[3], &[1, row as i64, -1]));
            replaced.push(std::mem::replace(
                &mut g.node[level.reshape].input[1],
                shape_name,
            ));
            changed.extend(g.node[level.reshape].output.clone());
            inserts.push((concat, nodes));
        }
        // The old target shapes, unless something else reads them (onnxruntime warns
        // about unused initializers).
        g.initializer.retain(|t| {
            let name = t.name.as_deref().unwrap_or("");
            !replaced.iter().any(|r| r == name)
                || g.node.iter().any(|n| n.input.iter().any(|i| i == name))
        });
        // Back to front, so that each insertion leaves the earlier positions valid.
        inserts.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        for (at, nodes) in inserts {
            for (i, n) in nodes.into_iter().enumerate() {
                g.node.insert(at + i, n);
            }
        }
        // Declared shapes downstream of the level Concats are stale: drop them, and
        // state the output's new row length.
        g.value_info
            .retain(|v| !changed.iter().any(|c| Some(c) == v.name.as_ref()));
        if let Some(out) = g.output.first_mut() {
            set_last_dim(out, row as i64);
        }
        Ok(model.encode_to_vec())
    }
}

fn set_last_dim(value: &mut proto::ValueInfoProto, dim: i64) {
    let Some(type_proto::Value::TensorType(t)) =
        value.r#type.as_mut().and_then(|t| t.value.as_mut())
    else {
        return;
    };
    if let Some(last) = t.shape.as_mut().and_then(|s| s.dim.last_mut()) {
        last.value = Some(tensor_shape_proto::dimension::Value::DimValue(dim));
    }
}

fn float_tensor(name: &str, dims: &[i64], values: &[f32]) -> proto::TensorProto {
    proto::TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(DataType::Float as i32),
        raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

fn int_tensor(name: &str, dims: &[i64], values: &[i64]) -> proto::TensorProto {
    proto::TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(DataType::Int64 as i32),
        raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

fn ints(name: &str, values: &[i64]) -> proto::AttributeProto {
    proto::AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..Default::default()
    }
}

fn node(
    op_type: &str,
    name: &str,
    inputs: &[&str],
    output: &str,
    attribute: Vec<proto::AttributeProto>,
) -> proto::NodeProto {
    proto::NodeProto {
        op_type: Some(op_type.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

fn conv_1x1(name: &str, x: &str, w: &str, b: &str, out: &str) -> proto::NodeProto {
    let group = proto::AttributeProto {
        name: Some("group".into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(1),
        ..Default::default()
    };
    node(
        "Conv",
        name,
        &[x, w, b],
        out,
        vec![
            ints("dilations", &[1, 1]),
            group,
            ints("kernel_shape", &[1, 1]),
            ints("pads", &[0, 0, 0, 0]),
            ints("strides", &[1, 1]),
        ],
    )
}

/// Decodes ONNX bytes.
pub fn decode(bytes: &[u8], path: &std::path::Path) -> Result<proto::ModelProto, TrainError> {
    proto::ModelProto::decode(bytes).map_err(|e| TrainError::Model {
        path: path.to_path_buf(),
        reason: format!("not ONNX: {e}"),
    })
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
