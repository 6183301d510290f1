//! Our COCO AP and AP50 per class equal pycocotools' on coco128 with a fixed detections
//! file (made once by `scripts/ort_detect.py --score-threshold 0.01`).

mod common;

use std::process::Command;

use sightline_eval::{detections, evaluate, ClassMap, Dataset, DatasetSpec, EvalOptions};

#[test]
fn coco_ap_matches_pycocotools_on_coco128() {
    let data = common::shared().join("data/coco128-val2017");
    let dets_path = common::fixture("coco128_yolox_nano_ort.jsonl");
    let out = Command::new(common::python())
        .arg(common::repo_root().join("scripts/eval_pycocotools.py"))
        .arg("--yolo")
        .arg(&data)
        .arg("--detections")
        .arg(&dets_path)
        .output()
        .expect("running scripts/eval_pycocotools.py");
    assert!(
        out.status.success(),
        "eval_pycocotools.py failed (run scripts/setup.sh?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");

    let spec: DatasetSpec = format!("yolo:{}", data.display()).parse().unwrap();
    let ds = Dataset::load(&spec, &ClassMap::default()).unwrap();
    let mut frames = ds.frames;
    assert_eq!(frames.len(), 128);
    detections::attach(&mut frames, detections::load(&dets_path).unwrap());
    let (report, _) = evaluate(&frames, ds.kind, &ds.skipped, &EvalOptions::default());

    for (class, ours) in &report.classes {
        let theirs = &reference[class.as_str()];
        assert_eq!(
            ours.n_gt as u64,
            theirs["n_gt"].as_u64().unwrap(),
            "{class} n_gt"
        );
        for (key, mine) in [("ap", ours.ap), ("ap50", ours.ap50)] {
            let (mine, want) = (mine.unwrap(), theirs[key].as_f64().unwrap());
            eprintln!(
                "{class} {key}: ours {mine:.6} pycocotools {want:.6} diff {:.1e}",
                mine - want
            );
            assert!(
                (mine - want).abs() < 1e-4,
                "{class} {key}: {mine} vs {want}"
            );
        }
    }
}
