//! `sightline eval --dataset tlstate:DIR` as a user runs it: real crops through the
//! device's state kernel give the confusion matrix the host reference of the same rule
//! gives, and a folder that is not a state is refused by name.

mod common;

use common::{shared_dir, sightline};
use sightline_detect::{tl_state, ImageView, LightState, PixelFormat};

/// The first `n` crops (sorted by name) of each state, copied into `dir/<state>/`.
fn crops(dir: &std::path::Path, n: usize) -> Vec<(std::path::PathBuf, LightState)> {
    let mut out = Vec::new();
    for state in [LightState::Red, LightState::Yellow, LightState::Green] {
        let src = shared_dir().join("data/tl-state").join(state.as_str());
        // The image files only (the shared folders hold a .DS_Store too), sorted.
        let files = sightline_types::images::list(&src).expect("crops folder");
        let dst = dir.join(state.as_str());
        std::fs::create_dir_all(&dst).expect("mkdir");
        for f in files.into_iter().take(n) {
            let to = dst.join(f.file_name().expect("name"));
            std::fs::copy(&f, &to).expect("copy crop");
            out.push((to, state));
        }
    }
    out
}

fn eval(dataset: &std::path::Path, report: &std::path::Path) -> std::process::Output {
    sightline()
        .args(["eval", "--device", "cpu", "--model"])
        .arg(shared_dir().join("models/yolox_nano.onnx"))
        .arg(format!("--dataset=tlstate:{}", dataset.display()))
        .arg("--report")
        .arg(report)
        .output()
        .expect("run sightline eval")
}

#[test]
fn tlstate_report_matches_the_host_reference() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("tl");
    let crops = crops(&data, 5);
    let mut expected = vec![vec![0u64; 4]; 4];
    for (path, truth) in &crops {
        let rgb = image::open(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .to_rgb8();
        let (w, h) = rgb.dimensions();
        let view =
            ImageView::new(w, h, w as usize * 3, PixelFormat::Rgb8, rgb.as_raw()).expect("view");
        let got = tl_state::classify_host(&view, [0.0, 0.0, w as f32, h as f32]).state;
        expected[truth.index()][got.index()] += 1;
    }
    let report = tmp.path().join("report");
    let out = eval(&data, &report);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "eval failed: {stderr}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(report.join("report.json")).expect("report.json"),
    )
    .expect("json");
    let all = &json["traffic_light_state"];
    assert_eq!(all["n"], 15);
    for state in ["red", "yellow", "green"] {
        assert_eq!(all["per_state"][state]["n"], 5, "{state}");
    }
    let matrix: Vec<Vec<u64>> =
        serde_json::from_value(all["confusion"]["matrix"].clone()).expect("matrix");
    assert_eq!(matrix, expected, "device path vs host reference");
    let right: u64 = (0..4).map(|i| matrix[i][i]).sum();
    let accuracy = all["accuracy"].as_f64().expect("accuracy");
    assert!((accuracy - right as f64 / 15.0).abs() < 1e-12);
    let parts =
        json["held_out"]["n"].as_u64().unwrap_or(0) + json["tuning"]["n"].as_u64().unwrap_or(0);
    assert_eq!(parts, 15, "every crop in exactly one part");
    let md = std::fs::read_to_string(report.join("report.md")).expect("report.md");
    assert!(
        md.contains("| true \\ classified | red | yellow | green | unknown |"),
        "{md}"
    );
}

#[test]
fn a_folder_that_is_not_a_state_is_refused_by_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("tl");
    crops(&data, 1);
    std::fs::create_dir(data.join("amber")).expect("mkdir");
    let out = eval(&data, &tmp.path().join("report"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("amber") && stderr.contains("not a state"),
        "{stderr}"
    );
}
