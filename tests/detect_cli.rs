//! `sightline detect` as a user runs it: JSON lines, annotations, and clear one-line
//! errors for bad input that still let the good images through.

mod common;

use common::{shared_dir, sightline};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const KITTI_CAM2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/calibration/kitti_cam2.yaml");

/// `calibration/kitti_cam2.yaml` (from `calib/000000.txt`) at the size of image
/// 000000, 1224x370: that image's own calibration.
fn calibration_of_000000(dir: &std::path::Path) -> std::path::PathBuf {
    let yaml = std::fs::read_to_string(KITTI_CAM2).expect("calibration");
    let yaml = yaml
        .replace("image_width: 1242", "image_width: 1224")
        .replace("image_height: 375", "image_height: 370");
    let path = dir.join("kitti_000000.yaml");
    std::fs::write(&path, yaml).expect("write calibration");
    path
}

/// `sightline detect` on KITTI image 000000 with `args` (paths resolved in `dir`): its
/// stderr and JSON lines.
fn detect_000000(
    dir: &std::path::Path,
    args: &[std::ffi::OsString],
) -> (String, Vec<serde_json::Value>) {
    let shared = shared_dir();
    let jsonl = dir.join("out.jsonl");
    let out = sightline()
        .args(["detect", "--device", "cpu", "--model"])
        .arg(shared.join("models/yolox_nano.onnx"))
        .arg("--jsonl")
        .arg(&jsonl)
        .args(args)
        .arg(shared.join("data/kitti-tiny/image_2/000000.jpg"))
        .output()
        .expect("run sightline");
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    (stderr, common::jsonl(&jsonl))
}

#[test]
fn detects_the_kitti_pedestrian_and_localizes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "--calibration".into(),
        calibration_of_000000(dir.path()).into(),
        "--annotate".into(),
        dir.path().join("annotated").into(),
    ];
    let (_, lines) = detect_000000(dir.path(), &args);
    // KITTI label_2/000000.txt: one Pedestrian, box (712.4, 143.0)-(810.7, 307.9), 8.4 m away.
    let person = lines
        .iter()
        .find(|l| l["class"] == "pedestrian")
        .expect("a pedestrian");
    let b: Vec<f64> = person["box"]
        .as_array()
        .expect("box")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    let iou = {
        let gt = [712.4, 143.0, 810.73, 307.92];
        let w = (b[2].min(gt[2]) - b[0].max(gt[0])).max(0.0);
        let h = (b[3].min(gt[3]) - b[1].max(gt[1])).max(0.0);
        w * h / ((b[2] - b[0]) * (b[3] - b[1]) + (gt[2] - gt[0]) * (gt[3] - gt[1]) - w * h)
    };
    assert!(
        iou > 0.7,
        "pedestrian box {b:?} (IoU {iou:.2} with the label)"
    );
    let range = person["range_m"].as_f64().expect("range_m");
    assert!(
        (range - 8.4).abs() / 8.4 < 0.15,
        "range {range} m, label says 8.4 m"
    );
    assert_eq!(person["position"].as_array().map(|p| p.len()), Some(3));
    assert!(dir.path().join("annotated/000000.png").is_file());
}

/// Image 000000 is 1224x370, `kitti_cam2.yaml` 1242x375: its intrinsics do not hold, so
/// detections stay 2D (as the node publishes them), counted, with one warning.
#[test]
fn a_calibration_of_another_size_gives_no_positions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (stderr, lines) = detect_000000(dir.path(), &["--calibration".into(), KITTI_CAM2.into()]);
    assert!(lines.iter().any(|l| l["class"] == "pedestrian"), "2D stays");
    assert!(
        lines.iter().all(|l| l.get("position").is_none()),
        "no positions from another image size's intrinsics: {lines:?}"
    );
    assert_eq!(
        stderr.matches("its calibration 1242x375").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("not localized"), "{stderr}");
}

/// `--score-threshold` sets every class, `--threshold CLASS=SCORE` one of them.
#[test]
fn per_class_thresholds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["--score-threshold", "0.9", "--threshold", "pedestrian=0.1"].map(Into::into);
    let (_, lines) = detect_000000(dir.path(), &args);
    let score = |l: &serde_json::Value| l["score"].as_f64().expect("score");
    let (people, others): (Vec<_>, Vec<_>) = lines.iter().partition(|l| l["class"] == "pedestrian");
    assert!(people.iter().all(|l| score(l) >= 0.1 - 1e-6), "{lines:?}");
    assert!(others.iter().all(|l| score(l) >= 0.9 - 1e-6), "{lines:?}");
    assert!(
        people.iter().any(|l| score(l) < 0.9),
        "the pedestrian threshold is its own: {lines:?}"
    );
}

#[test]
fn a_bad_image_is_named_and_the_rest_still_processed() {
    let shared = shared_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    let images = dir.path().join("images");
    std::fs::create_dir(&images).expect("mkdir");
    std::fs::copy(
        shared.join("data/roadsign/images/road0.png"),
        images.join("a_good.png"),
    )
    .expect("copy");
    std::fs::write(
        images.join("b_corrupt.jpg"),
        b"\xff\xd8\xff\xe0 this is not a jpeg",
    )
    .expect("write");
    let jsonl = dir.path().join("out.jsonl");
    let out = sightline()
        .args(["detect", "--device", "cpu", "--jsonl"])
        .arg(&jsonl)
        .arg(&images)
        .env("SIGHTLINE_MODELS", shared.join("models"))
        .output()
        .expect("run sightline");
    let err = stderr_of(&out);
    assert!(!out.status.success(), "a failed image must fail the run");
    assert!(
        err.contains("b_corrupt.jpg"),
        "the bad image is named: {err}"
    );
    let text = std::fs::read_to_string(&jsonl).expect("jsonl");
    assert!(
        text.lines().any(|l| l.contains("\"a_good\"")),
        "the good image was processed: {text}"
    );
}

#[test]
fn a_missing_model_says_where_to_get_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = sightline()
        .args(["detect", "--model"])
        .arg(dir.path().join("yolox_nano.onnx"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .output()
        .expect("run sightline");
    let err = stderr_of(&out);
    assert!(!out.status.success());
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("yolox_nano.onnx") && err.contains("releases/download"),
        "{err}"
    );
}

#[test]
fn a_model_with_the_wrong_checksum_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("yolox_nano.onnx");
    std::fs::write(&fake, b"\x08\x07").expect("write");
    let out = sightline()
        .args(["detect", "--model"])
        .arg(&fake)
        .arg(shared_dir().join("data/roadsign/images/road0.png"))
        .output()
        .expect("run");
    let err = stderr_of(&out);
    assert!(!out.status.success());
    assert!(err.contains("sha256"), "{err}");
}

#[test]
fn an_unknown_device_is_a_clear_error() {
    let out = sightline()
        .args(["detect", "--device", "tpu"])
        .arg(shared_dir().join("data/roadsign/images/road0.png"))
        .output()
        .expect("run");
    let err = stderr_of(&out);
    assert!(!out.status.success());
    assert!(err.contains("tpu"), "{err}");
}

/// A traffic light keeps its state when the frame is tiled: the state kernel reads the
/// light from the frame uploaded for the tiles (roadsign road10: one lit red light).
#[test]
fn lights_have_a_state_with_and_without_tiling() {
    let shared = shared_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    let states = |tiling: &str| -> Vec<String> {
        let jsonl = dir
            .path()
            .join(format!("{}.jsonl", tiling.replace(':', "_")));
        let out = sightline()
            .args(["detect", "--device", "cpu", "--tiling", tiling, "--model"])
            .arg(shared.join("models/yolox_nano.onnx"))
            .arg("--jsonl")
            .arg(&jsonl)
            .arg(shared.join("data/roadsign/images/road10.png"))
            .output()
            .expect("run sightline");
        assert!(
            out.status.success(),
            "--tiling {tiling}: {}",
            stderr_of(&out)
        );
        common::jsonl(&jsonl)
            .iter()
            .filter(|l| l["class"] == "traffic_light")
            .map(|l| {
                l["state"]
                    .as_str()
                    .expect("a light has a state")
                    .to_string()
            })
            .collect()
    };
    let plain = states("off");
    assert_eq!(plain.first().map(String::as_str), Some("red"), "{plain:?}");
    let tiled = states("grid:2x2");
    assert!(tiled.iter().any(|s| s == "red"), "{tiled:?}");
}
