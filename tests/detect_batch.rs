//! Several cameras' frames through the device as one batch give exactly what each frame
//! gives alone, whatever the order and size of the batch (the node batches the latest
//! frame of every ready camera). A region (a tile) detects what a cut-out copy of it
//! does, shifted to image pixels.

mod common;

use common::shared_dir;
use sightline_detect::{Detection, Detector, DetectorConfig, ImageView, PixelFormat, Region};

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

#[test]
fn a_region_detects_what_a_cut_out_copy_does() {
    let shared = shared_dir();
    let path = shared.join("data/kitti-tiny/image_2/000000.jpg");
    let rgb = image::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let (w, h) = rgb.dimensions();
    let view = ImageView::new(w, h, w as usize * 3, PixelFormat::Rgb8, &rgb).expect("view");
    // A native-resolution tile, as `--tiling auto` cuts a KITTI frame.
    let tile = Region {
        x: 275,
        y: 0,
        width: 416,
        height: h,
    };
    let cut = image::imageops::crop_imm(&rgb, tile.x, tile.y, tile.width, tile.height).to_image();
    let cut_view = ImageView::new(
        tile.width,
        tile.height,
        tile.width as usize * 3,
        PixelFormat::Rgb8,
        &cut,
    )
    .expect("view");
    let config = DetectorConfig {
        model_path: Some(shared.join("models/yolox_nano.onnx")),
        score_threshold: Some(0.05),
        ..Default::default()
    };
    let mut detector = Detector::new(config).expect("detector");
    let whole_alone = detector.detect(&view).expect("detect");
    let mut cut_alone = detector.detect(&cut_view).expect("detect");
    for d in &mut cut_alone {
        d.bbox[0] += tile.x as f32;
        d.bbox[2] += tile.x as f32;
    }
    assert!(!cut_alone.is_empty(), "the tile has something to find");
    let regions = vec![vec![Region::whole(w, h), tile]];
    let (got, _) = detector.detect_regions(&[view], &regions).expect("regions");
    assert_same(&whole_alone, &got[0][0], 0);
    assert_same(&cut_alone, &got[0][1], 1);
    // A region outside the image is refused, naming it.
    let outside = vec![vec![Region { x: w - 10, ..tile }]];
    let err = detector
        .detect_regions(&[view], &outside)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not inside the image"), "{err}");
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
