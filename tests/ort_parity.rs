//! The raw model output of our engine on real images equals onnxruntime's on the same
//! input tensor: |Δ| ≤ 1e-3 on score columns and ≤ 1e-2 on box columns.

mod common;

use common::{onnxruntime_outputs, rgb_image, rgb_view, shared_dir, write_onnxruntime_input};
use sightline_detect::{Detector, DetectorConfig};

#[test]
fn raw_output_matches_onnxruntime_on_real_images() {
    let shared = shared_dir();
    let images = [
        "data/coco128-val2017/images/000000000139.jpg",
        "data/coco128-val2017/images/000000000724.jpg",
        "data/roadsign/images/road0.png",
        "data/roadsign/images/road12.png",
        "data/kitti-tiny/image_2/000000.jpg",
        "data/kitti-tiny/image_2/000003.jpg",
    ];
    let model = shared.join("models/yolox_nano.onnx");
    let config = DetectorConfig {
        model_path: Some(model.clone()),
        ..Default::default()
    };
    let mut detector = Detector::new(config).expect("detector");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ours = Vec::new();
    for (i, rel) in images.iter().enumerate() {
        let path = shared.join(rel);
        let rgb = rgb_image(&path);
        let (input, output) = detector.run_raw(&rgb_view(&rgb)).expect("run");
        write_onnxruntime_input(dir.path(), i, &input);
        ours.push(output);
    }
    let references = onnxruntime_outputs(&model, dir.path(), ours.len());
    for (i, (output, reference)) in ours.iter().zip(&references).enumerate() {
        assert_eq!(reference.len(), output.len(), "{}: output size", images[i]);
        let (mut max_box, mut max_score) = (0f32, 0f32);
        for (k, (a, b)) in output.iter().zip(reference).enumerate() {
            let d = (a - b).abs();
            assert!(d.is_finite(), "{}: element {k} is {a}", images[i]);
            if k % 85 < 4 {
                max_box = max_box.max(d);
            } else {
                max_score = max_score.max(d);
            }
        }
        eprintln!(
            "{}: max |Δ| box {max_box:.2e}, score {max_score:.2e}",
            images[i]
        );
        assert!(
            max_box <= 1e-2,
            "{}: box columns differ by {max_box}",
            images[i]
        );
        assert!(
            max_score <= 1e-3,
            "{}: score columns differ by {max_score}",
            images[i]
        );
    }
}

/// The planner's promise: Concat inputs are written in place, the Focus slices fold
/// into the stem, sigmoids and residual adds into conv epilogues — so no launch of the
/// model only moves data or applies an element-wise op.
#[test]
fn model_launches_no_copies_or_elementwise_ops() {
    let config = DetectorConfig {
        model_path: Some(shared_dir().join("models/yolox_nano.onnx")),
        ..Default::default()
    };
    let detector = Detector::new(config).expect("detector");
    let steps = detector.model().run_timed().expect("run");
    let moved: Vec<String> = steps
        .iter()
        .filter(|s| !s.op_type.starts_with("Conv") && s.op_type != "MaxPool")
        .filter(|s| s.op_type != "Resize" && s.op_type != "Transpose")
        .map(|s| format!("{} {}", s.op_type, s.node))
        .collect();
    assert!(moved.is_empty(), "launches that only move data: {moved:?}");
    // 113 convolutions, 3 max-pools, 2 upsamplings and the head's transpose.
    assert_eq!(steps.len(), 119, "launches per run");
}
