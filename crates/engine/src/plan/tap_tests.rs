//! Taps: the values found by graph structure, and read back after a run equal to the
//! host reference although the planner shares buffers around them.

use super::tests::{host_values, GraphBuilder};
use crate::device::DeviceChoice;
use crate::kernels::testing::{assert_close, random_vec};
use crate::onnx::{Graph, ValueId};
use crate::taps::{self, Tap};

/// Values of the miniature detector [`mini_detector`] builds.
struct MiniDetector {
    graph: Graph,
    /// Each level's neck output (what the head reads).
    necks: [ValueId; 2],
    /// Each level's classification and box features (inputs of the last convolutions).
    features: [ValueId; 4],
}

/// A YOLOX-shaped graph: a backbone, two neck outputs (the first also feeding the
/// second, as a PAN's bottom-up path does), and per level a stem, a two-convolution
/// class branch and a one-convolution box branch ending in 1×1 predictions that a
/// Concat gathers.
fn mini_detector() -> MiniDetector {
    let (mut g, x) = GraphBuilder::new(&[1, 3, 6, 6]);
    let backbone = g.conv(x, 4);
    let neck0 = g.conv(backbone, 4);
    let neck1 = g.conv(neck0, 8);
    let mut levels = Vec::new();
    let mut features = Vec::new();
    for neck in [neck0, neck1] {
        let stem = g.conv(neck, 8);
        let cls_hidden = g.conv(stem, 4);
        let cls_feat = g.conv(cls_hidden, 4);
        let reg_feat = g.conv(stem, 4);
        // YOLOX's widths: 3 classes, 4 box values, 1 objectness.
        let cls = g.conv(cls_feat, 3);
        let reg = g.conv(reg_feat, 4);
        let obj = g.conv(reg_feat, 1);
        let (obj, cls) = (g.sigmoid(obj), g.sigmoid(cls));
        levels.push(g.concat(&[reg, obj, cls], 1));
        features.extend([cls_feat, reg_feat]);
    }
    let out = g.concat(&levels, 1);
    MiniDetector {
        graph: g.finish(out),
        necks: [neck0, neck1],
        features: [features[0], features[1], features[2], features[3]],
    }
}

#[test]
fn taps_are_found_by_the_shape_of_the_head() {
    let mini = mini_detector();
    let found = |tap| -> Vec<ValueId> {
        taps::find(&mini.graph, &[tap])
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    };
    let mut features = mini.features.to_vec();
    features.sort_unstable();
    assert_eq!(found(Tap::FinalConvInputs), features);
    assert_eq!(found(Tap::HeadRoots), mini.necks);
}

#[test]
fn a_tapped_value_reads_back_as_the_host_computes_it() {
    let gpu = DeviceChoice::test_default()
        .open()
        .expect("tap tests need a cubecl device (install mesa-vulkan-drivers)");
    let mini = mini_detector();
    let mut model =
        crate::exec::load_plan(&mini.graph, &gpu, &[Tap::HeadRoots, Tap::FinalConvInputs])
            .expect("the graph plans");
    model.poison_buffers();
    let input = random_vec(model.input_len(), 1.0);
    model
        .write_input(&input)
        .expect("input of the graph's size");
    model.run();
    let host = host_values(&mini.graph, &input);
    let expected: Vec<ValueId> = taps::find(&mini.graph, &[Tap::HeadRoots, Tap::FinalConvInputs])
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(model.taps().count(), expected.len());
    for (i, value) in expected.into_iter().enumerate() {
        let got = model.read_tap(i).expect("read back");
        assert_close(&got, &host[value], &format!("tap {i} (value {value})"));
    }
    // Pooling: the mean of each channel of the first neck output.
    let means = crate::channel_means(&host[mini.necks[0]], &[1, 4, 6, 6]);
    let first: f32 = host[mini.necks[0]][..36].iter().sum::<f32>() / 36.0;
    assert_eq!(means.len(), 4);
    assert!((means[0] - first).abs() < 1e-5);
}

#[test]
fn a_tapped_value_inside_a_concat_is_gathered_from_its_slot() {
    // `feature` feeds the final convolution and is also the second slot of the output
    // Concat, so its producer writes it at an offset inside the Concat's buffer.
    let (mut g, x) = GraphBuilder::new(&[1, 4, 4, 4]);
    let feature = g.conv(x, 4);
    let prediction = g.conv(feature, 4);
    let out = g.concat(&[prediction, feature], 1);
    let graph = g.finish(out);
    assert_eq!(
        taps::find(&graph, &[Tap::FinalConvInputs]),
        [(Tap::FinalConvInputs, feature)]
    );
    let plan = super::plan_keeping(&graph, &[feature]).expect("the graph plans");
    assert_ne!(plan.kept[0].1.offset, 0, "the value sits in its slot");

    let gpu = DeviceChoice::test_default()
        .open()
        .expect("tap tests need a cubecl device (install mesa-vulkan-drivers)");
    let mut model =
        crate::exec::load_plan(&graph, &gpu, &[Tap::FinalConvInputs]).expect("the graph plans");
    model.poison_buffers();
    let input = random_vec(model.input_len(), 1.0);
    model
        .write_input(&input)
        .expect("input of the graph's size");
    model.run();
    let got = model.read_tap(0).expect("read back");
    assert_close(
        &got,
        &host_values(&graph, &input)[feature],
        "tap in a Concat slot",
    );
}
