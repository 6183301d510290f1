//! `sightline bag` and `sightline replay` end to end: replay gives the detections of
//! `sightline detect` on the same images, and damaged frames are reported or skipped.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};

use common::run;

/// The first `n` kitti-tiny frames, copied into `dir/images`.
fn kitti_frames(dir: &Path, n: usize) -> PathBuf {
    let src = common::shared_dir().join("data/kitti-tiny/image_2");
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files.iter().take(n) {
        std::fs::copy(f, images.join(f.file_name().unwrap())).unwrap();
    }
    images
}

/// The detection messages of an output bag as the third-party `rosbags` decodes them,
/// one JSON object per message.
fn read_with_rosbags(bag: &Path) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("scripts/bag_read_detections.py");
    let msg_dir = root.join("crates/bag/msg");
    common::python_ok(&[script.as_os_str(), bag.as_os_str(), msg_dir.as_os_str()])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs the venv's Python with `args`, asserts it succeeded, returns its stdout.
fn from_images(images: &Path, out: &Path, compressed: Option<&str>) {
    let mut cmd = common::sightline();
    cmd.args(["bag", "from-images"]).arg(images);
    cmd.args([
        "--topic",
        "/cam_front/image_raw",
        "--frame-id",
        "cam_front",
        "--rate",
        "10",
        "--start",
        "1700000000",
    ]);
    if let Some(c) = compressed {
        cmd.args(["--compressed", c]);
    }
    run(cmd.arg("--out").arg(out));
}

#[test]
fn replay_gives_the_detections_of_detect_for_raw_and_jpeg_bags() {
    let tmp = tempfile::tempdir().unwrap();
    let images = kitti_frames(tmp.path(), 6);
    let detect_out = tmp.path().join("detect.jsonl");
    run(common::sightline()
        .args(["detect", "--jsonl"])
        .arg(&detect_out)
        .arg(&images));
    let want = common::jsonl(&detect_out);
    assert!(!want.is_empty(), "kitti frames should have detections");
    let mut stems: Vec<String> = std::fs::read_dir(&images)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    stems.sort();

    for compressed in [None, Some("jpeg")] {
        let bag = tmp
            .path()
            .join(format!("bag_{}", compressed.unwrap_or("raw")));
        from_images(&images, &bag, compressed);
        let info = run(common::sightline().args(["bag", "info"]).arg(&bag));
        let info = String::from_utf8_lossy(&info.stdout).into_owned();
        assert!(
            info.contains("/cam_front/image_raw") && info.contains("mcap"),
            "{info}"
        );

        let out = tmp
            .path()
            .join(format!("out_{}", compressed.unwrap_or("raw")));
        let replay_out = tmp
            .path()
            .join(format!("replay_{}.jsonl", compressed.unwrap_or("raw")));
        let r = run(common::sightline()
            .arg("replay")
            .arg(&bag)
            .arg("--out")
            .arg(&out)
            .arg("--jsonl")
            .arg(&replay_out));
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(stderr.contains("replayed 6 frames"), "{stderr}");
        let got = common::jsonl(&replay_out);
        assert_eq!(got.len(), want.len(), "{compressed:?}");
        for (g, w) in got.iter().zip(&want) {
            let index = g["index"].as_u64().unwrap() as usize;
            assert_eq!(
                w["image"].as_str().unwrap(),
                stems[index],
                "{compressed:?}: frame order"
            );
            assert_eq!(g["image"], format!("/cam_front/image_raw#{index}"));
            assert_eq!(g["topic"], "/cam_front/image_raw");
            assert_eq!(g["frame_id"], "cam_front");
            assert_eq!(
                g["stamp_ns"].as_u64().unwrap(),
                1_700_000_000_000_000_000 + index as u64 * 100_000_000
            );
            // The same pixels reach the detector: identical classes, scores and boxes.
            assert_eq!(
                (&g["class"], &g["score"], &g["box"]),
                (&w["class"], &w["score"], &w["box"]),
                "{compressed:?}"
            );
        }

        // The output bag opens in rosbags, one Detection2DArray per frame, stamped like its frame.
        let lines = read_with_rosbags(&out);
        let msgs: Vec<&Value> = lines
            .iter()
            .filter(|l| l["topic"] == "/cam_front/detections")
            .collect();
        assert_eq!(msgs.len(), 6);
        let total: usize = msgs
            .iter()
            .map(|m| m["detections"].as_array().unwrap().len())
            .sum();
        assert_eq!(total, want.len());
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(m["header"]["sec"], 1_700_000_000);
            assert_eq!(m["header"]["nanosec"], i as u64 * 100_000_000);
            assert_eq!(m["header"]["frame_id"], "cam_front");
        }
    }
}

#[test]
fn bad_frames_stop_replay_or_are_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = tmp.path().join("fixtures");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bag_write_fixtures.py");
    common::python_ok(&[script.as_os_str(), fixtures.as_os_str()]);
    let bag = fixtures.join("sqlite3");
    let db = bag.join("sqlite3.db3");
    // Message #1 of /cam_mono/image_raw: its `data` length field claims 1 GiB.
    let corrupt = "import sqlite3, struct, sys\n\
        c = sqlite3.connect(sys.argv[1])\n\
        i, d = c.execute(\"SELECT m.id, m.data FROM messages m JOIN topics t ON t.id = m.topic_id \
        WHERE t.name = '/cam_mono/image_raw' ORDER BY m.timestamp LIMIT 1 OFFSET 1\").fetchone()\n\
        d = bytearray(d); p = len(d) - 4 * 12 - 4\n\
        assert struct.unpack_from('<I', d, p)[0] == 4 * 12, struct.unpack_from('<I', d, p)\n\
        struct.pack_into('<I', d, p, 1 << 30)\n\
        c.execute('UPDATE messages SET data = ? WHERE id = ?', (bytes(d), i)); c.commit()\n";
    common::python_ok(&[
        std::ffi::OsStr::new("-c"),
        std::ffi::OsStr::new(corrupt),
        db.as_os_str(),
    ]);

    let topics = ["--topics", "/cam_mono/image_raw", "/cam_front/image_raw"];
    let out = common::sightline()
        .arg("replay")
        .arg(&bag)
        .args(topics)
        .arg("--out")
        .arg(tmp.path().join("a"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/cam_mono/image_raw")
            && stderr.contains("#1")
            && stderr.contains("sqlite3.db3"),
        "{stderr}"
    );

    let out_bag = tmp.path().join("b");
    let jsonl_path = tmp.path().join("b.jsonl");
    let ok = run(common::sightline()
        .arg("replay")
        .arg(&bag)
        .args(topics)
        .arg("--skip-bad")
        .arg("--out")
        .arg(&out_bag)
        .arg("--jsonl")
        .arg(&jsonl_path));
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert!(
        stderr.contains("replayed 5 frames") && stderr.contains("skipped 1"),
        "{stderr}"
    );
    let info = run(common::sightline().args(["bag", "info"]).arg(&out_bag));
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    assert!(
        info.contains("/cam_mono/detections") && info.contains("/cam_front/detections"),
        "{info}"
    );
}

/// A topic given to `--topics` that the bag lacks, or that holds no images, is named
/// before anything is written, with the topics that would do.
#[test]
fn replay_names_a_topic_it_cannot_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = tmp.path().join("fixtures");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bag_write_fixtures.py");
    common::python_ok(&[script.as_os_str(), fixtures.as_os_str()]);
    let bag = fixtures.join("mcap");
    for (topic, what) in [
        ("/cam_frnot/image_raw", "is not in the bag"),
        ("/cam_front/camera_info", "holds sensor_msgs/msg/CameraInfo"),
    ] {
        let out_bag = tmp.path().join("out");
        let out = common::sightline()
            .arg("replay")
            .arg(&bag)
            .args(["--topics", "/cam_front/image_raw", topic, "--out"])
            .arg(&out_bag)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("--topics {topic} {what}"))
                && stderr.contains(&bag.display().to_string())
                && stderr.contains("/cam_png/image/compressed"),
            "{stderr}"
        );
        assert!(!out_bag.exists(), "nothing written");
    }
}

/// Indices of the frames whose detections are in a replay's `--jsonl` so far.
fn replayed_indices(path: &Path) -> std::collections::BTreeSet<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["index"].as_u64())
        .collect()
}

/// A paced replay of 12 KITTI frames, started and left running until `frames` of them
/// are in its `--jsonl`. Returns the child, the output bag and the jsonl.
fn replay_until(tmp: &Path, frames: usize) -> (std::process::Child, PathBuf, PathBuf) {
    let images = kitti_frames(tmp, 12);
    let bag = tmp.join("bag");
    from_images(&images, &bag, None);
    let (out, replay_jsonl) = (tmp.join("out"), tmp.join("replay.jsonl"));
    // Paced at a tenth of real time (frames 0.1 s apart in the bag, so one a second) and
    // a threshold that leaves detections in every frame: it is still running when
    // `frames` frames are done, on any device.
    let mut child = common::sightline()
        .arg("replay")
        .arg(&bag)
        .arg("--out")
        .arg(&out)
        .arg("--jsonl")
        .arg(&replay_jsonl)
        .args(["--score-threshold", "0.001", "--rate", "0.1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while replayed_indices(&replay_jsonl).len() < frames {
        assert!(
            child.try_wait().unwrap().is_none(),
            "replay ended before it was interrupted"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "replay made no progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    (child, out, replay_jsonl)
}

#[test]
fn interrupted_replay_leaves_a_readable_bag_of_what_was_processed() {
    let tmp = tempfile::tempdir().unwrap();
    let (child, out, replay_jsonl) = replay_until(tmp.path(), 2);
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let result = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");

    // Every frame written to the jsonl is in the bag, in order, and the bag is finished
    // (rosbags opens it through its metadata and summary).
    let done = replayed_indices(&replay_jsonl);
    assert!(done.len() >= 2 && done.len() < 12, "{done:?}");
    let stamps: Vec<u64> = read_with_rosbags(&out)
        .into_iter()
        .filter(|m| m["topic"] == "/cam_front/detections")
        .map(|m| m["header"]["nanosec"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = (0..done.len() as u64).map(|i| i * 100_000_000).collect();
    assert_eq!(stamps, want);
}

/// The detection log times per topic suffix (`/detections`, `/detections_3d`) that one
/// tool read from a bag, as `scripts/bag_open_check.py` reports them.
fn read_times(read: &Value, tool: &str, suffix: &str) -> Vec<u64> {
    let topics = read[tool].as_object().unwrap();
    assert!(!topics.contains_key("error"), "{tool}: {read}");
    topics
        .iter()
        .filter(|(topic, _)| topic.ends_with(suffix))
        .flat_map(|(_, times)| times.as_array().unwrap().iter())
        .map(|t| t.as_u64().unwrap())
        .collect()
}

fn open_check(bag: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bag_open_check.py");
    serde_json::from_str(&common::python_ok(&[script.as_os_str(), bag.as_os_str()])).unwrap()
}

/// SIGKILL: no summary, nothing after the last checkpoint (one a second,
/// `CHECKPOINT_INTERVAL`). The folder the kill left opens in `rosbags` and in the `mcap`
/// package's `make_reader`, with every frame from the bag's first up to the last
/// checkpoint, each with both of its messages; `sightline bag recover` turns it into an
/// indexed bag that both read in full.
#[test]
fn killed_replay_leaves_a_bag_readable_up_to_its_last_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, out, replay_jsonl) = replay_until(tmp.path(), 4);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done = replayed_indices(&replay_jsonl).len();
    let recovered = tmp.path().join("recovered");
    run(common::sightline()
        .args(["bag", "recover"])
        .arg(&out)
        .arg("--out")
        .arg(&recovered));

    let killed = open_check(&out);
    assert_eq!(
        killed["mcap_summary"], false,
        "a killed writer wrote a summary?"
    );
    let whole = open_check(&recovered);
    assert_eq!(whole["mcap_summary"], true, "{whole}");
    // The bag's frames are 0.1 s apart from 1700000000 s (`from_images`).
    let first = 1_700_000_000_000_000_000u64;
    for (read, tool) in [
        (&killed, "rosbags"),
        (&killed, "mcap"),
        (&whole, "rosbags"),
        (&whole, "mcap"),
    ] {
        let (d2, d3) = (
            read_times(read, tool, "/detections"),
            read_times(read, tool, "/detections_3d"),
        );
        // Frames in order from the bag's first, none torn in half, and at most the
        // frames of the last checkpoint interval (a frame a second, so two) missing.
        assert_eq!(d2, d3, "{tool}: {read}");
        let want: Vec<u64> = (0..d2.len() as u64)
            .map(|i| first + i * 100_000_000)
            .collect();
        assert_eq!(d2, want, "{tool}: {read}");
        assert!(
            d2.len() + 2 >= done && d2.len() <= done && !d2.is_empty(),
            "{tool}: {} frames readable of {done} done",
            d2.len()
        );
    }
}
