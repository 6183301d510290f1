//! The engine's taps on the real model: `Tap::HeadRoots` finds YOLOX-Nano's three neck
//! outputs (64, 128, 256 channels at strides 8, 16, 32), and the values read back after
//! a run equal onnxruntime's for the same ONNX values on the same input tensor.

mod common;

use common::{python, rgb_image, rgb_view, shared_dir, write_onnxruntime_input};
use sightline_detect::{Detector, DetectorConfig};
use std::process::Command;

#[test]
fn head_roots_are_the_neck_outputs_and_match_onnxruntime() {
    let shared = shared_dir();
    let model = shared.join("models/yolox_nano.onnx");
    let config = DetectorConfig {
        model_path: Some(model.clone()),
        embedding: true,
        ..Default::default()
    };
    let mut detector = Detector::new(config).expect("detector");
    let shapes: Vec<Vec<usize>> = detector.model().taps().map(|t| t.shape.clone()).collect();
    assert_eq!(
        shapes,
        [
            vec![1, 64, 52, 52],
            vec![1, 128, 26, 26],
            vec![1, 256, 13, 13]
        ]
    );

    let path = shared.join("data/kitti-tiny/image_2/000003.jpg");
    let rgb = rgb_image(&path);
    let view = rgb_view(&rgb);
    let (input, _) = detector.run_raw(&view).expect("run");
    let dir = tempfile::tempdir().expect("tempdir");
    write_onnxruntime_input(dir.path(), 0, &input);
    let names: Vec<String> = detector.model().taps().map(|t| t.value.clone()).collect();
    let status = Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ort_taps.py"))
        .arg(&model)
        .arg(dir.path())
        .args(&names)
        .status()
        .expect("run python");
    assert!(status.success(), "onnxruntime reference failed");
    for (k, name) in names.iter().enumerate() {
        let ours = detector.model().read_tap(k).expect("read tap");
        let raw = std::fs::read(dir.path().join(format!("0.{k}.ort.bin"))).expect("reference");
        let reference: Vec<f32> = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(ours.len(), reference.len(), "{name}: size");
        let worst = ours
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("{name}: max |Δ| {worst}");
        assert!(worst <= 1e-3, "{name}: max |Δ| {worst}");
    }
    // The embedding is the deepest of them, pooled.
    let embedding = detector.embedding_of_last_run().expect("embedding");
    assert_eq!(embedding.len(), 256);
}
