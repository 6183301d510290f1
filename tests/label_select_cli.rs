//! `sightline label --select N` and `--every SECONDS` end to end: a recording that
//! repeats frames (a stopped car) never gives two identical frames back, and
//! `selection.json` says why each frame was chosen and what each dropped frame repeats.

mod common;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

use common::run;

/// A recording at 10 Hz of three KITTI frames, the first shown twice and the second
/// three times (file order: a1 a2 b1 b2 b3 c).
fn repeating_recording(dir: &Path) -> std::path::PathBuf {
    let src = common::shared_dir().join("data/kitti-tiny/image_2");
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    for (name, from) in [
        ("a1", "000012"),
        ("a2", "000012"),
        ("b1", "000073"),
        ("b2", "000073"),
        ("b3", "000073"),
        ("c", "000031"),
    ] {
        std::fs::copy(
            src.join(format!("{from}.jpg")),
            frames.join(format!("{name}.jpg")),
        )
        .unwrap();
    }
    let bag = dir.join("stopped");
    run(common::sightline()
        .args(["bag", "from-images"])
        .arg(&frames)
        .args([
            "--topic",
            "/cam/image_raw",
            "--frame-id",
            "cam",
            "--rate",
            "10",
        ])
        .args(["--start", "1700000000", "--out"])
        .arg(&bag));
    bag
}

fn label(source: &Path, extra: &[&str], out: &Path) {
    let shared = common::shared_dir();
    run(common::sightline()
        .args(["label", "--device", "cpu", "--format", "coco", "--model"])
        .arg(shared.join("models/yolox_nano.onnx"))
        .args(extra)
        .arg(source)
        .arg("--out")
        .arg(out));
}

fn images(out: &Path) -> BTreeSet<String> {
    std::fs::read_dir(out.join("images"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn selection(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("selection.json")).unwrap()).unwrap()
}

#[test]
fn select_never_returns_a_repeated_frame_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let bag = repeating_recording(tmp.path());
    let out = tmp.path().join("select");
    label(&bag, &["--select", "50"], &out);

    let kept = images(&out);
    assert_eq!(kept.len(), 3, "one of each distinct frame: {kept:?}");
    // No two kept frames hold the same pixels.
    let pixels: BTreeSet<Vec<u8>> = kept
        .iter()
        .map(|n| {
            image::open(out.join("images").join(n))
                .unwrap()
                .into_bytes()
        })
        .collect();
    assert_eq!(pixels.len(), kept.len());

    let s = selection(&out);
    let min = s["min_cosine_distance"].as_f64().unwrap();
    let chosen = s["chosen"].as_array().unwrap();
    let names: BTreeSet<String> = chosen
        .iter()
        .map(|c| c["image"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names, kept,
        "the manifest lists exactly the exported frames"
    );
    for (i, c) in chosen.iter().enumerate() {
        assert_eq!(c["rank"], i + 1);
        let parts = &c["components"];
        let sum: f64 = ["near_threshold", "unknown_light", "rare_class"]
            .iter()
            .map(|k| parts[k].as_f64().unwrap())
            .sum();
        assert!(
            (sum - c["uncertainty"].as_f64().unwrap()).abs() < 1e-4,
            "{c}"
        );
        assert!(
            c["nearest_kept"]["distance"].as_f64().unwrap() >= min,
            "{c}"
        );
    }
    let duplicates = s["near_duplicates"].as_array().unwrap();
    assert_eq!(duplicates.len(), 3, "{s}");
    for d in duplicates {
        let of = d["duplicate_of"].as_str().unwrap();
        assert!(kept.contains(of), "{d}");
        assert!(d["distance"].as_f64().unwrap() < min, "{d}");
        // The copy repeats the kept frame: a1/a2 are 000012, b1..b3 are 000073.
        let stamp_index = |name: &str| name.rsplit('_').next().unwrap().to_string();
        let group = |name: &str| match stamp_index(name).as_str() {
            "000000000.png" | "100000000.png" => 'a',
            "200000000.png" | "300000000.png" | "400000000.png" => 'b',
            _ => 'c',
        };
        assert_eq!(group(d["image"].as_str().unwrap()), group(of), "{d}");
    }
    // The exports hold the chosen frames only.
    let coco: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("annotations/instances_default.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(coco["images"].as_array().unwrap().len(), 3);
    assert_eq!(common::jsonl(&out.join("frames.jsonl")).len(), 3);
}

#[test]
fn every_keeps_one_frame_per_interval_of_stamp_and_refuses_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let bag = repeating_recording(tmp.path());
    let out = tmp.path().join("every");
    // Stamps 0.0 … 0.5 s: kept at 0.0 and 0.3 (0.5 is only 0.2 after 0.3).
    label(&bag, &["--every", "0.25"], &out);
    let kept: Vec<String> = images(&out).into_iter().collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept[0].ends_with("_1700000000_000000000.png"), "{kept:?}");
    assert!(kept[1].ends_with("_1700000000_300000000.png"), "{kept:?}");
    assert_eq!(selection(&out)["skipped"], 4);

    let err = common::sightline()
        .args([
            "label",
            "--format",
            "coco",
            "--model",
            "/no/model.onnx",
            "--every",
            "1",
        ])
        .arg(tmp.path().join("frames"))
        .arg("--out")
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert!(!err.status.success());
    let err = String::from_utf8_lossy(&err.stderr);
    assert!(err.contains("--every needs message stamps"), "{err}");
}
