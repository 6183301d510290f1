//! `sightline eval` on a data set with an image it cannot read: the image is left out of
//! the scores (its objects are not counted as missed), listed in the report, and the run
//! fails unless `--skip-bad` accepts it.

mod common;

use common::{shared_dir, sightline};
use serde_json::Value;
use std::path::Path;

/// Three coco128 photos with people and their labels; the second one's bytes replaced by
/// the first third of them (a jpeg cut short).
fn dataset_with_a_broken_image(dir: &Path) -> String {
    let src = shared_dir().join("data/coco128-val2017");
    std::fs::create_dir_all(dir.join("images")).unwrap();
    std::fs::create_dir_all(dir.join("labels")).unwrap();
    std::fs::copy(src.join("classes.yaml"), dir.join("classes.yaml")).unwrap();
    let images = sightline_types::images::list(&src.join("images")).unwrap();
    let mut names = Vec::new();
    for image in images.iter().take(3) {
        let stem = image.file_stem().unwrap().to_str().unwrap().to_string();
        std::fs::copy(image, dir.join("images").join(image.file_name().unwrap())).unwrap();
        let label = src.join("labels").join(format!("{stem}.txt"));
        if label.is_file() {
            std::fs::copy(&label, dir.join("labels").join(format!("{stem}.txt"))).unwrap();
        }
        names.push(image.file_name().unwrap().to_str().unwrap().to_string());
    }
    let broken = dir.join("images").join(&names[1]);
    let bytes = std::fs::read(&broken).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap();
    names[1].clone()
}

fn eval(dataset: &Path, report: &Path, extra: &[&str]) -> std::process::Output {
    sightline()
        .args(["eval", "--device", "cpu", "--model"])
        .arg(shared_dir().join("models/yolox_nano.onnx"))
        .arg(format!("--dataset=yolo:{}", dataset.display()))
        .arg("--report")
        .arg(report)
        .args(extra)
        .output()
        .expect("run sightline eval")
}

#[test]
fn an_unreadable_image_is_left_out_listed_and_fails_the_run_unless_skip_bad() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let broken = dataset_with_a_broken_image(&data);

    let report = tmp.path().join("report");
    let out = eval(&data, &report, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&broken) && stderr.contains("--skip-bad"),
        "{stderr}"
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["n_frames"], 2, "{json}");
    let skipped = json["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{json}");
    assert!(
        skipped[0]["path"].as_str().unwrap().ends_with(&broken)
            && skipped[0]["reason"]
                .as_str()
                .unwrap()
                .contains("unreadable image"),
        "{json}"
    );
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        md.contains("1 image(s) skipped") && md.contains(&broken),
        "{md}"
    );

    let accepted = tmp.path().join("accepted");
    let out = eval(&data, &accepted, &["--skip-bad"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again: Value =
        serde_json::from_str(&std::fs::read_to_string(accepted.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(
        again["classes"], json["classes"],
        "the same scores either way"
    );
}
