//! Splitting into 3 shards and merging gives exactly the single-run report, and bad
//! inputs are named (file and line) or skipped, never fatal for a bad image.

mod common;

use std::path::{Path, PathBuf};

use sightline_eval::shard::{self, ShardHeader, ShardSpec};
use sightline_eval::{detections, evaluate, ClassMap, Dataset, DatasetSpec, EvalOptions, Frame};

fn load(spec: &str, dets: &Path) -> (Dataset, Vec<Frame>) {
    let spec: DatasetSpec = spec.parse().unwrap();
    let ds = Dataset::load(&spec, &ClassMap::default()).unwrap();
    let mut frames = ds.frames.clone();
    detections::attach(&mut frames, detections::load(dets).unwrap());
    (ds, frames)
}

fn assert_merge_equals_single(ds: &Dataset, frames: Vec<Frame>, tmp: &Path) {
    let opts = EvalOptions::default();
    let (single, _) = evaluate(&frames, ds.kind, &ds.skipped, &opts);
    let mut paths: Vec<PathBuf> = Vec::new();
    // Written in reverse order: merge must not depend on the order shards arrive in.
    for k in (0..3).rev() {
        let spec = ShardSpec { index: k, count: 3 };
        let header = ShardHeader {
            sightline_eval_shard: 1,
            dataset: ds.kind,
            shard: spec,
            skipped: ds.skipped.clone(),
        };
        let path = tmp.join(format!("shard{k}.jsonl"));
        shard::write(&path, &header, &spec.select(frames.clone())).unwrap();
        paths.push(path);
    }
    let (kind, merged, skipped) = shard::merge(&paths).unwrap();
    assert_eq!(
        merged, frames,
        "frames survive the JSON round trip bit-exactly"
    );
    let (m, _) = evaluate(&merged, kind, &skipped, &opts);
    let a = serde_json::to_string_pretty(&single).unwrap();
    let b = serde_json::to_string_pretty(&m).unwrap();
    assert_eq!(a, b, "merged report.json differs from the single run");
    // Missing or repeated shards are refused.
    assert!(shard::merge(&paths[..2]).is_err());
    assert!(shard::merge(&[paths[0].clone(), paths[0].clone(), paths[1].clone()]).is_err());
}

#[test]
fn three_shards_merge_to_the_single_run_on_coco128() {
    let data = common::shared().join("data/coco128-val2017");
    let dets = common::fixture("coco128_yolox_nano_ort.jsonl");
    let (ds, frames) = load(&format!("yolo:{}", data.display()), &dets);
    let tmp = tempfile::tempdir().unwrap();
    assert_merge_equals_single(&ds, frames, tmp.path());
}

#[test]
fn three_shards_merge_to_the_single_run_on_kitti_fixture() {
    // Two frames in three shards: one shard is empty.
    let tmp = tempfile::tempdir().unwrap();
    common::kitti_hand::write_fixture(tmp.path());
    let (ds, frames) = load(
        &format!("kitti:{}", tmp.path().display()),
        &tmp.path().join("dets.jsonl"),
    );
    assert_merge_equals_single(&ds, frames, tmp.path());
}

#[test]
fn bad_label_line_is_named_and_bad_image_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("images")).unwrap();
    std::fs::create_dir_all(root.join("labels")).unwrap();
    image::RgbImage::new(10, 10)
        .save(root.join("images/a.png"))
        .unwrap();
    std::fs::write(root.join("images/broken.jpg"), b"not a jpeg").unwrap();
    std::fs::write(root.join("labels/broken.txt"), "0 0.5 0.5 0.1 0.1\n").unwrap();
    std::fs::write(
        root.join("labels/a.txt"),
        "0 0.5 0.5 0.2 0.2\n\n9 0.5 0.5 0.2\n",
    )
    .unwrap();
    let spec: DatasetSpec = format!("yolo:{}", root.display()).parse().unwrap();
    let err = Dataset::load(&spec, &ClassMap::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("labels/a.txt:3:"), "{err}");

    std::fs::write(root.join("labels/a.txt"), "0 0.5 0.5 0.2 0.2\n").unwrap();
    let ds = Dataset::load(&spec, &ClassMap::default()).unwrap();
    assert_eq!(ds.frames.len(), 1);
    assert_eq!(ds.frames[0].gt[0].bbox, [4.0, 4.0, 6.0, 6.0]);
    assert_eq!(ds.skipped.len(), 1);
    assert!(ds.skipped[0].path.ends_with("images/broken.jpg"));
    let (r, _) = evaluate(&ds.frames, ds.kind, &ds.skipped, &EvalOptions::default());
    assert_eq!(r.skipped.len(), 1, "the report lists skipped images");
}
