//! Graph surgery on a small YOLOX-shaped head built here: two levels on a 1×2×4×4
//! input (box-branch features = the input, class-branch features = its sigmoid; the
//! second level reads the first's predictions again), 3 classes. As in YOLOX, both
//! level Concats come before both Reshapes.

use super::*;
use sightline_engine::proto::{
    tensor_shape_proto::{dimension, Dimension},
    type_proto, OperatorSetIdProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

fn value(name: &str, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(dimension::Value::DimValue(d)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn attr_int(name: &str, v: i64) -> proto::AttributeProto {
    proto::AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(v),
        ..Default::default()
    }
}

/// The small head; `classes` class channels, and `parts` of the level Concat's inputs
/// kept (3 = the real shape).
pub(crate) fn small_model(classes: i64, parts: usize) -> proto::ModelProto {
    let mut g = proto::GraphProto {
        name: Some("small".into()),
        input: vec![value("x", &[1, 2, 4, 4])],
        output: vec![value("output", &[1, 32, 5 + classes])],
        ..Default::default()
    };
    let weights = |n: &str, out: i64, seed: f32| {
        let w: Vec<f32> = (0..out * 2)
            .map(|i| seed * (i as f32 - 1.5) / 4.0)
            .collect();
        let b: Vec<f32> = (0..out).map(|i| seed * 0.1 * i as f32).collect();
        [
            float_tensor(&format!("{n}.w"), &[out, 2, 1, 1], &w),
            float_tensor(&format!("{n}.b"), &[out], &b),
        ]
    };
    g.initializer.extend(weights("reg", 4, 1.0));
    g.initializer.extend(weights("obj", 1, -0.5));
    g.initializer.extend(weights("cls", classes, 0.7));
    g.initializer
        .push(int_tensor("shape", &[3], &[1, 5 + classes, -1]));
    g.node = vec![
        node("Sigmoid", "cls_feat", &["x"], "xc", vec![]),
        conv_1x1("reg_preds", "x", "reg.w", "reg.b", "reg"),
        conv_1x1("obj_preds", "x", "obj.w", "obj.b", "obj_logit"),
        node("Sigmoid", "obj_sig", &["obj_logit"], "obj", vec![]),
        conv_1x1("cls_preds", "xc", "cls.w", "cls.b", "cls_logit"),
        node("Sigmoid", "cls_sig", &["cls_logit"], "cls", vec![]),
        node(
            "Concat",
            "level0",
            &["reg", "obj", "cls"][..parts],
            "l0",
            vec![attr_int("axis", 1)],
        ),
        node(
            "Concat",
            "level1",
            &["reg", "obj", "cls"],
            "l1",
            vec![attr_int("axis", 1)],
        ),
        node("Reshape", "reshape0", &["l0", "shape"], "r0", vec![]),
        node("Reshape", "reshape1", &["l1", "shape"], "r1", vec![]),
        node(
            "Concat",
            "levels",
            &["r0", "r1"],
            "all",
            vec![attr_int("axis", 2)],
        ),
        node(
            "Transpose",
            "out",
            &["all"],
            "output",
            vec![ints("perm", &[0, 2, 1])],
        ),
    ];
    g.value_info.push(value("l0", &[1, 5 + classes, 4, 4]));
    proto::ModelProto {
        ir_version: Some(7),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(11),
        }],
        graph: Some(g),
        ..Default::default()
    }
}

#[test]
fn finds_the_level_and_its_two_feature_values() {
    let head = Head::find(&small_model(3, 3)).unwrap();
    assert_eq!(head.classes, 3);
    assert_eq!(head.levels.len(), 2);
    assert_eq!(head.levels[0].reg_features, "x");
    assert_eq!(head.levels[0].cls_features, "xc");
    assert_eq!(head.levels[0].channels, 2);
}

#[test]
fn appended_channels_follow_the_old_ones_and_the_engine_accepts_the_graph() {
    let model = small_model(3, 3);
    let head = Head::find(&model).unwrap();
    let new = LevelChannels {
        objectness: vec![(vec![1.0, 2.0], 0.5), (vec![3.0, 4.0], 0.25)],
        class: vec![(vec![-1.0, 0.0], 0.0), (vec![0.5, 0.5], -1.0)],
    };
    let bytes = head.append(model.clone(), &[new.clone(), new]).unwrap();
    sightline_engine::check_model_bytes(&bytes).unwrap();
    let written = proto::ModelProto::decode(bytes.as_slice()).unwrap();
    let g = written.graph.as_ref().unwrap();
    // The old nodes are all there, unchanged but for the Concat's extra inputs and the
    // Reshape's new shape.
    let old = model.graph.as_ref().unwrap();
    for n in &old.node {
        let same = g.node.iter().find(|m| m.name == n.name).unwrap();
        match n.name.as_deref() {
            Some("level0") => {
                assert_eq!(same.input[..3], n.input[..]);
                assert_eq!(
                    same.input[3..],
                    ["sightline_train.l0.obj.out", "sightline_train.l0.cls.out"]
                );
            }
            Some("level1") => assert_eq!(same.input.len(), 5),
            Some("reshape0") => assert_eq!(same.input[1], "sightline_train.l0.shape"),
            Some("reshape1") => assert_eq!(same.input[1], "sightline_train.l1.shape"),
            _ => assert_eq!(same, n),
        }
    }
    // New nodes run before the Concat that reads them.
    let at = |name: &str| g.node.iter().position(|m| m.name.as_deref() == Some(name));
    assert!(at("sightline_train.l0.cls.sigmoid") < at("level0"));
    assert!(at("level0") < at("sightline_train.l1.obj.conv"));
    assert!(at("sightline_train.l1.cls.sigmoid") < at("level1"));
    assert!(at("sightline_train.l0.obj.conv") < at("sightline_train.l0.obj.sigmoid"));
    // Box-branch features feed the objectness, class-branch features the score.
    assert_eq!(
        g.node[at("sightline_train.l0.obj.conv").unwrap()].input[0],
        "x"
    );
    assert_eq!(
        g.node[at("sightline_train.l0.cls.conv").unwrap()].input[0],
        "xc"
    );
    let w = g
        .initializer
        .iter()
        .find(|t| t.name.as_deref() == Some("sightline_train.l0.obj.weight"))
        .unwrap();
    assert_eq!(w.dims, [2, 2, 1, 1]);
    let shape = g
        .initializer
        .iter()
        .find(|t| t.name.as_deref() == Some("sightline_train.l0.shape"))
        .unwrap();
    let dims: Vec<i64> = shape
        .raw_data
        .as_ref()
        .unwrap()
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(dims, [1, 5 + 3 + 4, -1]);
    assert!(
        g.initializer
            .iter()
            .all(|t| t.name.as_deref() != Some("shape")),
        "the replaced target shape is left behind"
    );
    // The stale declared shape is gone, the output says 12.
    assert!(g.value_info.iter().all(|v| v.name.as_deref() != Some("l0")));
    let Some(type_proto::Value::TensorType(t)) =
        g.output[0].r#type.as_ref().unwrap().value.as_ref()
    else {
        panic!("output type")
    };
    assert_eq!(
        t.shape.as_ref().unwrap().dim[2].value,
        Some(dimension::Value::DimValue(12))
    );
}

#[test]
fn a_head_of_another_shape_is_named() {
    let err = Head::find(&small_model(3, 2)).unwrap_err().to_string();
    assert!(
        err.contains("expected shape") && err.contains("level0") && err.contains("2 inputs"),
        "{err}"
    );
    let mut model = small_model(3, 3);
    let g = model.graph.as_mut().unwrap();
    // The objectness without its sigmoid.
    g.node[6].input[1] = "obj_logit".into();
    let err = Head::find(&model).unwrap_err().to_string();
    assert!(err.contains("objectness (obj_logit)"), "{err}");
    let mut model = small_model(3, 3);
    model
        .graph
        .as_mut()
        .unwrap()
        .output
        .push(value("extra", &[1]));
    let err = Head::find(&model).unwrap_err().to_string();
    assert!(err.contains("2 graph outputs"), "{err}");
}

#[test]
fn wrong_weight_counts_are_refused() {
    let model = small_model(3, 3);
    let head = Head::find(&model).unwrap();
    let bad = LevelChannels {
        objectness: vec![(vec![1.0, 2.0, 3.0], 0.0)],
        class: vec![(vec![1.0, 2.0, 3.0], 0.0)],
    };
    let err = head
        .append(model, &[bad.clone(), bad])
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 weights for 2 feature channels"), "{err}");
}
