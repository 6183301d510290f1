//! Several cameras' frames through the device as one batch give exactly what each frame
//! gives alone, whatever the order and size of the batch (the node batches the latest
//! frame of every ready camera).

mod common;

use common::shared_dir;
use sightline_detect::{Detection, Detector, DetectorConfig, ImageView, PixelFormat};

#[test]
fn a_batch_detects_what_each_image_does_alone() {
    let shared = shared_dir();
    let images: Vec<image::RgbImage> = [
        "data/kitti-tiny/image_2/000000.jpg",
        "data/roadsign/images/road0.png",
        "data/coco128-val2017/images/000000000139.jpg",
    ]
    .iter()
    .map(|rel| {
        let path = shared.join(rel);
        image::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .to_rgb8()
    })
    .collect();
    let views: Vec<ImageView> = images
        .iter()
        .map(|rgb| {
            let step = rgb.width() as usize * 3;
            ImageView::new(rgb.width(), rgb.height(), step, PixelFormat::Rgb8, rgb).expect("view")
        })
        .collect();
    let config = DetectorConfig {
        model_path: Some(shared.join("models/yolox_nano.onnx")),
        ..Default::default()
    };
    let mut detector = Detector::new(config).expect("detector");
    let alone: Vec<Vec<Detection>> = views
        .iter()
        .map(|v| detector.detect(v).expect("detect"))
        .collect();
    assert!(
        alone.iter().all(|d| !d.is_empty()),
        "each image has something to find: {alone:?}"
    );

    // All three, then two in the other order (the batch reuses its outputs).
    for order in [vec![0, 1, 2], vec![2, 0]] {
        let batch: Vec<ImageView> = order.iter().map(|&i| views[i]).collect();
        let (batched, _) = detector.detect_batch(&batch).expect("batch");
        assert_eq!(batched.len(), order.len());
        for (&i, got) in order.iter().zip(&batched) {
            assert_same(&alone[i], got, i);
        }
    }
}

fn assert_same(alone: &[Detection], batched: &[Detection], image: usize) {
    assert_eq!(
        alone.len(),
        batched.len(),
        "image {image}: number of detections"
    );
    for (a, b) in alone.iter().zip(batched) {
        assert_eq!(a.class, b.class, "image {image}");
        assert!(
            (a.score - b.score).abs() <= 1e-6,
            "image {image}: {a:?} vs {b:?}"
        );
        for k in 0..4 {
            assert!(
                (a.bbox[k] - b.bbox[k]).abs() <= 1e-4,
                "image {image}: {a:?} vs {b:?}"
            );
        }
    }
}
