//! `sightline bench` as CI runs it: a smoke test on two frames that checks the JSON
//! report and the plot are written and hold every section. No timing is asserted.

mod common;

use serde_json::Value;

#[test]
fn bench_writes_the_report_and_the_plot_with_peers() {
    let tmp = tempfile::tempdir().unwrap();
    let (json, plot) = (
        tmp.path().join("bench.json"),
        tmp.path().join("latency.svg"),
    );
    let input = common::shared_dir().join("data/kitti-tiny/image_2");
    let out = common::sightline()
        .arg("bench")
        .arg("--input")
        .arg(&input)
        .args(["--frames", "2", "--rate", "0.5", "--peers"])
        .arg("--json")
        .arg(&json)
        .arg("--plot")
        .arg(&plot)
        .env("SIGHTLINE_PYTHON", common::python())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("sightline/onnxruntime"), "{stdout}");

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let stages: Vec<&str> = report["stages_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[0].as_str().unwrap())
        .collect();
    for stage in [
        "upload",
        "preprocess",
        "inference",
        "postprocess",
        "state",
        "total",
    ] {
        assert!(stages.contains(&stage), "{stage} missing from {stages:?}");
    }
    assert_eq!(report["frames"], 2);
    assert!(report["throughput_fps"].as_f64().unwrap() > 0.0);
    assert!(report["per_op"].as_array().unwrap().len() >= 5);
    assert_eq!(report["fixed_rate"]["rate_hz"], 0.5);
    for peer in ["onnxruntime", "tract"] {
        assert!(
            report["peers"][peer]["total_ms"]["p50"].as_f64().unwrap() > 0.0,
            "{peer}: {}",
            report["peers"]
        );
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("</svg>"),
        "not an SVG"
    );
}
