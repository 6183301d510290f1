//! `sightline train-head` end to end on a handful of photos: the written ONNX runs in
//! onnxruntime with the same raw outputs as our engine, the old 85 columns are
//! bit-identical to the base model's, the manifest describes the file it sits beside;
//! and bad input stops with an error naming the thing at fault.

mod common;

use common::{
    onnxruntime_outputs, rgb_image, rgb_view, run, shared_dir, sightline, write_onnxruntime_input,
};
use sightline_detect::{Class, Detector, DetectorConfig, Manifest};
use std::path::{Path, PathBuf};

/// A small VOC set: `names` copied from roadsign-speedlimit (annotation + image).
fn small_voc(dir: &Path, names: &[&str]) -> PathBuf {
    let src = shared_dir().join("data/roadsign-speedlimit");
    let ds = dir.join("ds");
    std::fs::create_dir_all(ds.join("annotations")).unwrap();
    std::fs::create_dir_all(ds.join("images")).unwrap();
    for n in names {
        let xml = format!("annotations/{n}.xml");
        let png = format!("images/{n}.png");
        std::fs::copy(src.join(&xml), ds.join(&xml)).unwrap();
        std::fs::copy(src.join(&png), ds.join(&png)).unwrap();
    }
    ds
}

const PHOTOS: [&str; 8] = [
    "road100", "road102", "road104", "road106", "road108", "road110", "road112", "road114",
];

fn detector(model: &Path, manifest: Manifest) -> Detector {
    Detector::new(DetectorConfig {
        manifest,
        model_path: Some(model.to_path_buf()),
        // Low, as eval runs: the long tail of the old classes must match too.
        score_threshold: Some(0.01),
        ..Default::default()
    })
    .expect("detector")
}

/// Raw input and output tensors, and the detections of the shipped classes.
fn run_on(detector: &mut Detector, path: &Path) -> (Vec<f32>, Vec<f32>, Vec<String>) {
    let rgb = rgb_image(path);
    let view = rgb_view(&rgb);
    let (input, output) = detector.run_raw(&view).expect("run");
    let old: Vec<String> = detector
        .detect(&view)
        .expect("detect")
        .into_iter()
        .filter(|d| d.class.is_builtin())
        .map(|d| {
            format!(
                "{} {:08x} {:?}",
                d.class,
                d.score.to_bits(),
                d.bbox.map(f32::to_bits)
            )
        })
        .collect();
    (input, output, old)
}

#[test]
fn written_model_runs_in_onnxruntime_and_keeps_the_old_outputs() {
    let shared = shared_dir();
    let tmp = tempfile::tempdir().unwrap();
    let ds = small_voc(tmp.path(), &PHOTOS);
    let out = tmp.path().join("out/signs");
    let base = shared.join("models/yolox_nano.onnx");
    let train = |out: &Path| {
        run(sightline()
            .args([
                "train-head",
                "--device",
                "cpu",
                "--class",
                "speed_limit=speedlimit",
            ])
            .arg("--model")
            .arg(&base)
            .arg("--dataset")
            .arg(format!("voc:{}", ds.display()))
            .arg("--out")
            .arg(out)
            .args(["--validation-percent", "25"]))
    };
    let done = train(&out);
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(stdout.contains("speed_limit: validation AP50"), "{stdout}");
    // Seeded and deterministic: the same command writes the same bytes.
    train(&tmp.path().join("again/signs"));
    assert!(
        std::fs::read(tmp.path().join("out/signs.onnx")).unwrap()
            == std::fs::read(tmp.path().join("again/signs.onnx")).unwrap(),
        "two runs with the same seed wrote different models"
    );

    let model = tmp.path().join("out/signs.onnx");
    let manifest = Manifest::load(&tmp.path().join("out/signs.yaml")).expect("manifest");
    let digest = sightline_detect::manifest::file_sha256(&model).unwrap();
    assert_eq!(manifest.sha256, [digest]);
    assert_eq!(manifest.output.num_classes, 82);
    let speed = Class::from_name("speed_limit").expect("registered by the manifest");
    let spec = manifest.classes.iter().find(|c| c.name == speed).unwrap();
    assert_eq!((spec.id, spec.objectness), (81, Some(80)));
    assert_eq!(spec.labels, ["speedlimit"]);
    let training = manifest.training.clone().expect("provenance");
    assert_eq!(training.base_sha256, Manifest::default_model().sha256[0]);
    assert!(
        training.command.contains("train-head"),
        "{}",
        training.command
    );
    // The old classes keep their ids and the shared objectness.
    for c in &Manifest::default_model().classes {
        let same = manifest.classes.iter().find(|d| d.name == c.name).unwrap();
        assert_eq!((same.id, same.objectness), (c.id, None));
    }

    // Downstream: `detect` finds the manifest beside the model, --threshold can name
    // the new class, and the JSON lines carry its name; `eval` scores it on the split.
    let lines = tmp.path().join("road100.jsonl");
    run(sightline()
        .args([
            "detect",
            "--device",
            "cpu",
            "--threshold",
            "speed_limit=0.01",
        ])
        .arg("--model")
        .arg(&model)
        .arg("--jsonl")
        .arg(&lines)
        .arg(shared.join("data/roadsign-speedlimit/images/road100.png")));
    let found = common::jsonl(&lines);
    assert!(
        found.iter().any(|d| d["class"] == "speed_limit"),
        "no speed_limit line: {found:?}"
    );
    let report = tmp.path().join("report");
    run(sightline()
        .args(["eval", "--device", "cpu", "--split", "validation"])
        .arg("--model")
        .arg(&model)
        .arg("--dataset")
        .arg(format!("voc:{}", ds.display()))
        .arg("--report")
        .arg(&report));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let validation = PHOTOS
        .iter()
        .filter(|p| training.split.is_validation(p))
        .count();
    assert_eq!(json["n_frames"], validation);
    assert!(
        json["classes"]["speed_limit"]["n_gt"].as_u64() > Some(0),
        "{json}"
    );

    // One photo of the new class, then one of each data set the old classes are
    // scored on.
    let images = [
        shared.join("data/roadsign-speedlimit/images/road100.png"),
        shared.join("data/coco128-val2017/images/000000000139.jpg"),
        shared.join("data/roadsign/images/road12.png"),
        shared.join("data/kitti-tiny/image_2/000003.jpg"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut ours = Vec::new();
    let mut written = detector(&model, manifest.clone());
    let mut shipped = detector(&base, Manifest::default_model());
    for (i, path) in images.iter().enumerate() {
        let (input, new, new_dets) = run_on(&mut written, path);
        let (base_input, old, old_dets) = run_on(&mut shipped, path);
        assert_eq!(input, base_input);
        assert!(
            i == 0 || !old_dets.is_empty(),
            "{}: no detections",
            path.display()
        );
        assert_eq!(
            new_dets,
            old_dets,
            "{}: old classes' detections",
            path.display()
        );
        assert_eq!(new.len(), 3549 * 87);
        assert_eq!(old.len(), 3549 * 85);
        for (a, (n, o)) in new.chunks_exact(87).zip(old.chunks_exact(85)).enumerate() {
            // Bit-identical: the same kernels on the same values.
            assert!(
                n[..85]
                    .iter()
                    .zip(o)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{}: anchor {a} old columns differ",
                path.display()
            );
            assert!(n[85..].iter().all(|v| (0.0..=1.0).contains(v)));
        }
        write_onnxruntime_input(dir.path(), i, &input);
        ours.push(new);
    }
    // The new channels fire somewhere on the speed-limit photo: the fit did something.
    let best = ours[0]
        .chunks_exact(87)
        .map(|r| r[85] * r[86])
        .fold(0f32, f32::max);
    assert!(
        best > 0.3,
        "best speed_limit score {best} on a speed-limit photo"
    );

    let references = onnxruntime_outputs(&model, dir.path(), ours.len());
    for (i, (output, reference)) in ours.iter().zip(&references).enumerate() {
        assert_eq!(reference.len(), output.len(), "image {i}: output size");
        let (mut max_box, mut max_score) = (0f32, 0f32);
        for (k, (a, b)) in output.iter().zip(reference).enumerate() {
            let d = (a - b).abs();
            if k % 87 < 4 {
                max_box = max_box.max(d);
            } else {
                max_score = max_score.max(d);
            }
        }
        eprintln!("image {i}: max |Δ| box {max_box}, scores {max_score}");
        // The tolerances of tests/ort_parity.rs: raw box values are logits in grid units.
        assert!(
            max_box <= 1e-2 && max_score <= 1e-3,
            "image {i}: {max_box} {max_score}"
        );
    }
}

fn fails_with(args: &[&str], ds: &Path, out: &Path, wanted: &[&str]) {
    let result = sightline()
        .args(["train-head", "--device", "cpu"])
        .arg("--dataset")
        .arg(format!("voc:{}", ds.display()))
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success(), "{args:?} succeeded");
    for w in wanted {
        assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
    }
}

#[test]
fn bad_input_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = small_voc(tmp.path(), &PHOTOS[..3]);
    let out = tmp.path().join("out/x");
    fails_with(
        &["--class", "cone=traffic_cone"],
        &ds,
        &out,
        &[
            "class cone",
            "no boxes labelled \"traffic_cone\"",
            "speedlimit",
        ],
    );
    fails_with(
        &["--class", "stop_sign=speedlimit"],
        &ds,
        &out,
        &["class stop_sign", "already has a class"],
    );
    fails_with(
        &["--class", "Speed Limit=speedlimit"],
        &ds,
        &out,
        &["\"Speed Limit\""],
    );
    std::fs::remove_file(ds.join("images/road102.png")).unwrap();
    fails_with(
        &["--class", "speed_limit=speedlimit"],
        &ds,
        &out,
        &["cannot be read", "road102.png"],
    );
    assert!(!out.with_extension("onnx").exists());
}
