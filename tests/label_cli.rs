//! `sightline label` end to end: pre-labels from an image folder and from MCAP and
//! SQLite3 recordings (raw and compressed) in all four formats, read back by the tools'
//! own libraries (datumaro, label-studio-sdk), and the round trip through
//! `sightline eval --dataset cvat:… / labelstudio:…` before and after a correction.

mod common;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FORMATS: [&str; 4] = ["cvat", "labelstudio", "yolo", "coco"];

use common::run;

/// KITTI frames `names`, copied into `dir/frames`.
fn kitti_frames(dir: &Path, names: &[&str]) -> PathBuf {
    let src = common::shared_dir().join("data/kitti-tiny/image_2");
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    for n in names {
        std::fs::copy(src.join(n), frames.join(n)).unwrap();
    }
    frames
}

fn from_images(images: &Path, topic: &str, compressed: bool, out: &Path) {
    let mut cmd = common::sightline();
    cmd.args(["bag", "from-images"]).arg(images);
    cmd.args(["--topic", topic, "--frame-id", "cam", "--rate", "10"]);
    cmd.args(["--start", "1700000000"]);
    if compressed {
        cmd.args(["--compressed", "jpeg"]);
    }
    run(cmd.arg("--out").arg(out));
}

/// `sightline label` on `sources` into `out` with every format; returns its stderr.
fn label(sources: &[&Path], extra: &[&str], out: &Path) -> String {
    let shared = common::shared_dir();
    let mut cmd = common::sightline();
    cmd.args(["label", "--device", "cpu", "--model"])
        .arg(shared.join("models/yolox_nano.onnx"));
    for f in FORMATS {
        cmd.args(["--format", f]);
    }
    cmd.args(extra).args(sources).arg("--out").arg(out);
    String::from_utf8_lossy(&run(&mut cmd).stderr).into_owned()
}

/// Boxes per image stem: `[class, x1, y1, x2, y2, state]`, sorted like the Python side.
type Boxes = BTreeMap<String, Vec<(String, [f64; 4], Option<String>)>>;

fn detections(out: &Path) -> Boxes {
    let mut boxes = Boxes::new();
    for d in common::jsonl(&out.join("detections.jsonl")) {
        let b: Vec<f64> = d["box"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        boxes
            .entry(d["image"].as_str().unwrap().to_string())
            .or_default()
            .push((
                d["class"].as_str().unwrap().to_string(),
                [b[0], b[1], b[2], b[3]],
                d["state"].as_str().map(str::to_string),
            ));
    }
    for rows in boxes.values_mut() {
        rows.sort_by(|a, b| (a.1[0], a.1[1]).partial_cmp(&(b.1[0], b.1[1])).unwrap());
    }
    boxes
}

/// A tool's boxes equal the exported detections within `tol` pixels, labels mapped back
/// to classes (the YOLO names carry the light state).
fn assert_same_boxes(tool: &str, got: &Value, want: &Boxes, tol: f64, keeps_state: bool) {
    let n_boxes: usize = want.values().map(Vec::len).sum();
    let mut seen = 0;
    for (image, rows) in want {
        let got_rows = got[image].as_array().cloned().unwrap_or_default();
        assert_eq!(
            got_rows.len(),
            rows.len(),
            "{tool}: {image}: {got_rows:?} vs {rows:?}"
        );
        for (g, (class, b, state)) in got_rows.iter().zip(rows) {
            let label = g[0].as_str().unwrap();
            assert!(
                label.starts_with(class.as_str()),
                "{tool}: {image}: {label} vs {class}"
            );
            for k in 0..4 {
                let v = g[k + 1].as_f64().unwrap();
                assert!((v - b[k]).abs() <= tol, "{tool}: {image}: {g:?} vs {b:?}");
            }
            if keeps_state {
                assert_eq!(g[5].as_str(), state.as_deref(), "{tool}: {image}: state");
            }
            seen += 1;
        }
    }
    assert_eq!(seen, n_boxes);
}

#[test]
fn label_writes_four_formats_from_a_folder_and_recordings_that_the_tools_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    // Two frames with lights and pedestrians (000012, 000073): 7 pre-labels.
    let frames = kitti_frames(tmp.path(), &["000012.jpg", "000073.jpg"]);
    let raw = tmp.path().join("drive_raw");
    let jpeg = tmp.path().join("drive_jpeg");
    from_images(&frames, "/cam_front/image_raw", false, &raw);
    from_images(&frames, "/cam_rear/image_raw/compressed", true, &jpeg);
    // The same two recordings merged into one SQLite3 bag by the third-party rosbags.
    let sqlite = tmp.path().join("drive_sqlite");
    let convert = common::python().with_file_name("rosbags-convert");
    run(std::process::Command::new(convert)
        .arg("--src")
        .args([&raw, &jpeg])
        .arg("--dst")
        .arg(&sqlite)
        .args(["--dst-storage", "sqlite3"]));

    let out = tmp.path().join("labels");
    let stderr = label(&[&frames, &raw, &jpeg], &[], &out);
    assert!(stderr.contains("6 images"), "{stderr}");
    let want = detections(&out);
    let images: Vec<String> = std::fs::read_dir(out.join("images"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(images.len(), 6, "{images:?}");
    // Names trace back to recording, topic and stamp; frames.jsonl says the rest.
    let stamp = "1700000000_100000000"; // the second frame at 10 Hz
    assert!(
        images.contains(&format!("drive_raw__cam_front_image_raw__{stamp}.png")),
        "{images:?}"
    );
    assert!(
        images.contains(&format!(
            "drive_jpeg__cam_rear_image_raw_compressed__{stamp}.png"
        )),
        "{images:?}"
    );
    let origins = common::jsonl(&out.join("frames.jsonl"));
    assert_eq!(origins.len(), 6);
    assert!(origins
        .iter()
        .any(|o| o["topic"] == "/cam_rear/image_raw/compressed"
            && o["stamp"] == json!([1700000000, 100000000])
            && o["index"] == 1));
    // The same pixels give the same pre-labels whatever carried them (jpeg files are
    // stored byte for byte, raw frames decode to the same rgb).
    let folder = &want["000073"];
    assert!(!folder.is_empty(), "kitti 000073 should have detections");
    assert_eq!(
        &want[&format!("drive_raw__cam_front_image_raw__{stamp}")],
        folder
    );
    assert_eq!(
        &want[&format!("drive_jpeg__cam_rear_image_raw_compressed__{stamp}")],
        folder
    );

    // The SQLite3 recording, one camera chosen by --topic.
    let out_sqlite = tmp.path().join("labels_sqlite");
    let stderr = label(
        &[&sqlite],
        &["--topic", "/cam_rear/image_raw/compressed"],
        &out_sqlite,
    );
    assert!(stderr.contains("2 images"), "{stderr}");
    let want_sqlite = detections(&out_sqlite);
    assert_eq!(
        &want_sqlite[&format!("drive_sqlite__cam_rear_image_raw_compressed__{stamp}")],
        folder
    );

    for (dir, want) in [(&out, &want), (&out_sqlite, &want_sqlite)] {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/label_tools_check.py");
        let got: Value =
            serde_json::from_str(&label_python(&[script.as_os_str(), dir.as_os_str()])).unwrap();
        // CVAT XML has 0.01 px and datumaro keeps float32 rounded to 0.01 px; YOLO has
        // 1e-6 of the image; Label Studio percent floats.
        assert_same_boxes("datumaro_cvat", &got["datumaro_cvat"], want, 0.01, true);
        assert_same_boxes("datumaro_coco", &got["datumaro_coco"], want, 0.01, true);
        assert_same_boxes(
            "labelstudio_yolo",
            &got["labelstudio_yolo"],
            want,
            1e-3,
            false,
        );
        assert_same_boxes(
            "labelstudio_coco",
            &got["labelstudio_coco"],
            want,
            1e-3,
            false,
        );
    }
}

/// The Python with datumaro and label-studio-sdk (`.venv-label`, made by scripts/setup.sh).
fn label_python(args: &[&std::ffi::OsStr]) -> String {
    let python = std::env::var_os("SIGHTLINE_LABEL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/.venv-label/bin/python"
            ))
        });
    let out = std::process::Command::new(&python)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", python.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `sightline eval` of the detections `sightline label` exported against `dataset`:
/// report.json's per-class numbers.
fn eval(dataset: &str, out: &Path, report: &Path) -> BTreeMap<String, Value> {
    let mut cmd = common::sightline();
    cmd.args(["eval", "--dataset", dataset, "--operating-threshold", "0"]);
    cmd.arg("--detections").arg(out.join("detections.jsonl"));
    report_of(&mut cmd, report)
}

/// `sightline eval` running the detector itself (scores down to 0.001) on `dataset`.
fn eval_detector(dataset: &str, report: &Path) -> BTreeMap<String, Value> {
    let model = common::shared_dir().join("models/yolox_nano.onnx");
    let mut cmd = common::sightline();
    cmd.args(["eval", "--device", "cpu", "--dataset", dataset, "--model"])
        .arg(model);
    report_of(&mut cmd, report)
}

fn report_of(cmd: &mut std::process::Command, report: &Path) -> BTreeMap<String, Value> {
    run(cmd.arg("--report").arg(report));
    let text = std::fs::read_to_string(report.join("report.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["skipped"], json!([]), "{report}");
    report["classes"]
        .as_object()
        .unwrap()
        .clone()
        .into_iter()
        .collect()
}

/// One detection of the export, by its place in detections.jsonl (= file order of
/// boxes in CVAT and of rectangles in Label Studio).
#[derive(Clone, Debug)]
struct Det {
    image: String,
    class: String,
    bbox: [f64; 4],
}

fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: &[f64; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area(a) + area(b) - inter)
}

/// The scripted correction: box 0 deleted, box 1 moved by its width plus 2 px, box 2
/// given another class.
struct Correction {
    moved_box: [f64; 4],
    relabeled_to: String,
}

fn plan(dets: &[Det], widths: &BTreeMap<String, f64>) -> Correction {
    let m = &dets[1];
    let w = m.bbox[2] - m.bbox[0];
    let right = m.bbox[2] + w + 2.0 <= widths[&m.image];
    let dx = if right { w + 2.0 } else { -(w + 2.0) };
    let moved_box = [m.bbox[0] + dx, m.bbox[1], m.bbox[2] + dx, m.bbox[3]];
    // The moved box must not land on another detection, or the change would not be
    // the one counted below.
    for d in dets.iter().filter(|d| d.image == m.image) {
        assert!(iou(&d.bbox, &moved_box) < 0.5, "moved box lands on {d:?}");
    }
    let relabeled_to = if dets[2].class == "stop_sign" {
        "pedestrian"
    } else {
        "stop_sign"
    };
    Correction {
        moved_box,
        relabeled_to: relabeled_to.to_string(),
    }
}

/// Sets `name="…"` of the first such attribute in `s` (names here are not suffixes of
/// others).
fn set_attr(s: &str, name: &str, value: &str) -> String {
    let key = format!("{name}=\"");
    let start = s.find(&key).unwrap() + key.len();
    let end = start + s[start..].find('"').unwrap();
    format!("{}{value}{}", &s[..start], &s[end..])
}

fn correct_cvat(file: &Path, c: &Correction) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut parts: Vec<String> = text.split("    <box ").map(str::to_string).collect();
    // parts[k + 1] is box k up to the next box (closing tags included).
    let end = parts[1].find("</box>\n").unwrap() + "</box>\n".len();
    parts[1] = parts[1][end..].to_string();
    let b = c.moved_box;
    for (attr, v) in [("xtl", b[0]), ("xbr", b[2])] {
        parts[2] = set_attr(&parts[2], attr, &format!("{v:.2}"));
    }
    parts[3] = set_attr(&parts[3], "label", &c.relabeled_to);
    let mut out = parts[0].clone();
    for (k, p) in parts.iter().enumerate().skip(1) {
        if k != 1 {
            out.push_str("    <box ");
        }
        out.push_str(p);
    }
    std::fs::write(file, out).unwrap();
}

/// Label Studio's export after a person submitted each task (`edit` changes the
/// rectangles, in file order, before submitting).
fn submit_labelstudio(file: &Path, out: &Path, edit: Option<&Correction>) {
    let mut tasks: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut k = 0;
    for t in &mut tasks {
        let mut result = t["predictions"][0]["result"].as_array().unwrap().clone();
        if let Some(c) = edit {
            let mut kept = Vec::new();
            let mut deleted_id = None;
            for mut r in result {
                if r["type"] == "rectanglelabels" {
                    let width = r["original_width"].as_f64().unwrap();
                    match k {
                        0 => deleted_id = Some(r["id"].clone()),
                        1 => r["value"]["x"] = json!(c.moved_box[0] / width * 100.0),
                        2 => r["value"]["rectanglelabels"] = json!([c.relabeled_to]),
                        _ => {}
                    }
                    k += 1;
                }
                if Some(&r["id"]) != deleted_id.as_ref() {
                    kept.push(r);
                }
            }
            result = kept;
        }
        t["annotations"] = json!([{ "id": 1, "result": result, "was_cancelled": false }]);
    }
    std::fs::write(out, serde_json::to_string(&tasks).unwrap()).unwrap();
}

#[test]
fn exported_labels_read_back_give_ap_1_and_a_correction_shows_as_exactly_its_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let frames = kitti_frames(tmp.path(), &["000012.jpg", "000073.jpg"]);
    let out = tmp.path().join("labels");
    label(&[&frames], &[], &out);
    let dets: Vec<Det> = common::jsonl(&out.join("detections.jsonl"))
        .iter()
        .map(|d| {
            let b: Vec<f64> = d["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            Det {
                image: d["image"].as_str().unwrap().into(),
                class: d["class"].as_str().unwrap().into(),
                bbox: [b[0], b[1], b[2], b[3]],
            }
        })
        .collect();
    assert!(
        dets.len() >= 3,
        "the frames need three detections: {dets:?}"
    );
    let widths: BTreeMap<String, f64> = std::fs::read_dir(&frames)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let (w, _) = image::image_dimensions(&p).unwrap();
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                f64::from(w),
            )
        })
        .collect();

    let cvat = out.join("annotations.xml");
    let accepted = out.join("accepted.json");
    submit_labelstudio(&out.join("tasks.json"), &accepted, None);
    let datasets = [
        format!("cvat:{}", cvat.display()),
        format!("labelstudio:{}", accepted.display()),
    ];
    let mut before = Vec::new();
    for (k, dataset) in datasets.iter().enumerate() {
        let classes = eval(dataset, &out, &tmp.path().join(format!("before{k}")));
        for (class, c) in &classes {
            let n_gt = c["n_gt"].as_u64().unwrap();
            let n_det = dets.iter().filter(|d| &d.class == class).count() as u64;
            assert_eq!(n_gt, n_det, "{dataset}: {class}");
            if n_gt > 0 {
                assert_eq!(c["ap"].as_f64(), Some(1.0), "{dataset}: {class}: {c}");
                assert_eq!(
                    (c["tp"].as_u64(), c["fp"].as_u64(), c["fn"].as_u64()),
                    (Some(n_gt), Some(0), Some(0))
                );
            }
        }
        before.push(classes);
    }
    // The user's way: the detector itself against the accepted labels, every score
    // down to 0.001 — lower-scored extra boxes do not lower AP.
    let by_detector = eval_detector(&datasets[0], &tmp.path().join("detector"));
    for (class, c) in &by_detector {
        if c["n_gt"].as_u64() > Some(0) {
            assert_eq!(c["ap"].as_f64(), Some(1.0), "detector run: {class}: {c}");
        }
    }

    let correction = plan(&dets, &widths);
    correct_cvat(&cvat, &correction);
    let corrected = out.join("corrected.json");
    submit_labelstudio(&out.join("tasks.json"), &corrected, Some(&correction));
    let datasets = [
        format!("cvat:{}", cvat.display()),
        format!("labelstudio:{}", corrected.display()),
    ];
    for (k, dataset) in datasets.iter().enumerate() {
        let after = eval(dataset, &out, &tmp.path().join(format!("after{k}")));
        for (class, b) in &before[k] {
            let a = &after[class];
            let is = |d: &Det| u64::from(&d.class == class);
            let to = u64::from(&correction.relabeled_to == class);
            let (deleted, moved, relabeled) = (is(&dets[0]), is(&dets[1]), is(&dets[2]));
            let n = |r: &Value, f: &str| r[f].as_u64().unwrap();
            assert_eq!(
                n(a, "n_gt"),
                n(b, "n_gt") - deleted - relabeled + to,
                "{dataset}: {class}: n_gt"
            );
            assert_eq!(
                n(a, "tp"),
                n(b, "tp") - deleted - moved - relabeled,
                "{dataset}: {class}: tp"
            );
            assert_eq!(
                n(a, "fp"),
                n(b, "fp") + deleted + moved + relabeled,
                "{dataset}: {class}: fp"
            );
            assert_eq!(
                n(a, "fn"),
                n(b, "fn") + moved + to,
                "{dataset}: {class}: fn"
            );
        }
    }
}

#[test]
fn bad_sources_and_outputs_are_named_before_the_model_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let frames = kitti_frames(tmp.path(), &["000012.jpg"]);
    let bag = tmp.path().join("drive");
    from_images(&frames, "/cam_front/image_raw", false, &bag);
    // A model path that does not exist: the errors below must come first.
    let fails = |args: &[&std::ffi::OsStr]| {
        let out = common::sightline()
            .args(["label", "--format", "cvat", "--model", "/no/model.onnx"])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let out_dir = tmp.path().join("out");
    let err = fails(&[
        bag.as_os_str(),
        "--topic".as_ref(),
        "/cam_rear/image_raw".as_ref(),
        "--out".as_ref(),
        out_dir.as_os_str(),
    ]);
    assert!(
        err.contains("drive")
            && err.contains("/cam_rear/image_raw")
            && err.contains("/cam_front/image_raw"),
        "{err}"
    );
    std::fs::create_dir_all(out_dir.join("old")).unwrap();
    let err = fails(&[frames.as_os_str(), "--out".as_ref(), out_dir.as_os_str()]);
    assert!(err.contains("is not empty"), "{err}");
    let err = fails(&[
        frames.as_os_str(),
        "--format".as_ref(),
        "voc".as_ref(),
        "--out".as_ref(),
        tmp.path().join("x").as_os_str(),
    ]);
    assert!(err.contains("unknown format \"voc\""), "{err}");
    // A folder without images: named, and no --out left behind to refuse the next run.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let fresh = tmp.path().join("fresh");
    let err = fails(&[empty.as_os_str(), "--out".as_ref(), fresh.as_os_str()]);
    assert!(
        err.contains("no .jpg/.jpeg/.png images") && err.contains("empty"),
        "{err}"
    );
    assert!(!fresh.exists(), "{err}");
}
