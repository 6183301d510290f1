//! Whole-model forward, pre-processing at camera resolutions, decode + NMS, and the
//! whole frame (bytes → localized detections), with the real YOLOX-Nano weights.
//! Run: `cargo bench --bench frame` (needs the model: ../shared/models or SIGHTLINE_MODELS).

use criterion::{criterion_group, criterion_main, Criterion};
use sightline_detect::{Detector, DetectorConfig, ImageView, PixelFormat};
use sightline_geometry::{Calibration, Localizer, Priors};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn shared() -> PathBuf {
    std::env::var_os("SIGHTLINE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")))
}

fn camera_frame(width: u32, height: u32) -> Vec<u8> {
    // A real photo scaled to the camera size, so detections (and NMS work) are realistic.
    let photo =
        image::open(shared().join("data/kitti-tiny/image_2/000000.jpg")).expect("KITTI frame");
    photo
        .resize_exact(width, height, image::imageops::FilterType::Triangle)
        .to_rgb8()
        .into_raw()
}

fn frame(c: &mut Criterion) {
    let config = DetectorConfig {
        model_path: Some(shared().join("models/yolox_nano.onnx")),
        ..Default::default()
    };
    let mut detector = Detector::new(config).expect("detector");
    let calibration = Calibration::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/calibration/front_1280x720.yaml"
    ))
    .expect("calibration");
    let localizer = Localizer::new(calibration, Priors::default()).expect("localizer");
    let mut group = c.benchmark_group("frame");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));

    let gpu = detector.gpu().clone();
    group.bench_function("model_forward", |b| {
        b.iter_custom(|iters| {
            gpu.sync().expect("sync");
            let start = Instant::now();
            for _ in 0..iters {
                detector.model().run();
            }
            gpu.sync().expect("sync");
            start.elapsed()
        })
    });
    for (w, h) in [(1280u32, 720u32), (1920, 1080)] {
        let bytes = camera_frame(w, h);
        for format in [PixelFormat::Rgb8, PixelFormat::Bgr8] {
            let view = ImageView::new(w, h, w as usize * 3, format, &bytes).expect("view");
            let name = format!("upload_and_letterbox_{w}x{h}_{}", format.ros_encoding());
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (_, t) = detector.detect_timed(&view, true).expect("detect");
                        total += t.upload + t.preprocess;
                    }
                    total
                })
            });
        }
    }
    let bytes = camera_frame(1280, 720);
    let view = ImageView::new(1280, 720, 1280 * 3, PixelFormat::Rgb8, &bytes).expect("view");
    group.bench_function("decode_and_nms_1280x720", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += detector
                    .detect_timed(&view, true)
                    .expect("detect")
                    .1
                    .postprocess;
            }
            total
        })
    });
    group.bench_function("whole_frame_1280x720_localized", |b| {
        b.iter(|| {
            let dets = detector.detect(&view).expect("detect");
            for d in &dets {
                if let Some(kind) = sightline_perception::target_kind(d.class) {
                    let _ = localizer.localize(kind, d.bbox.map(f64::from));
                }
            }
            dets.len()
        })
    });
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
