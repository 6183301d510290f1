//! The hand-built KITTI fixture explained in `tests/kitti_fixture.rs`.

use std::path::Path;

const LABELS_0: &str = "\
Pedestrian 0.00 0 0 0 0 20 50 1.7 0.5 0.5 3 1.6 4 0
Pedestrian 0.00 1 0 100 0 120 30 1.7 0.5 0.5 0 1.6 20 0
Pedestrian 0.40 2 0 200 0 220 30 1.7 0.5 0.5 1 1.6 30 0
Person_sitting 0.00 0 0 300 0 320 50 1.2 0.5 0.5 2 1.6 10 0
DontCare -1 -1 -10 400 0 500 100 -1 -1 -1 -1000 -1000 -1000 -10
Car 0.00 0 0 600 0 700 50 1.5 1.6 4.0 5 1.6 30 0
";
const LABELS_1: &str = "Pedestrian 0.00 0 0 0 0 20 60 1.7 0.5 0.5 6 1.6 8 0\n";
const DETS: &str = r#"{"image": "000000", "class": "pedestrian", "score": 0.95, "box": [900, 0, 920, 20]}
{"image": "000000", "class": "pedestrian", "score": 0.9, "box": [0, 0, 20, 50], "range_m": 5.5}
{"image": "000000", "class": "pedestrian", "score": 0.8, "box": [100, 0, 120, 30], "position": [19, 0, 0]}
{"image": "000000", "class": "pedestrian", "score": 0.7, "box": [300, 0, 320, 50]}
{"image": "000000", "class": "pedestrian", "score": 0.6, "box": [410, 10, 440, 60]}
{"image": "000000", "class": "pedestrian", "score": 0.5, "box": [800, 0, 820, 50]}
{"image": "000000", "class": "pedestrian", "score": 0.4, "box": [200, 0, 220, 30]}
{"image": "000001", "class": "pedestrian", "score": 0.3, "box": [0, 0, 20, 60], "range_m": 12}
"#;

/// Writes the fixture as a KITTI directory (tiny PNGs, label_2) plus the detections.
pub fn write_fixture(dir: &Path) {
    for sub in ["image_2", "label_2"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for (id, labels) in [("000000", LABELS_0), ("000001", LABELS_1)] {
        image::RgbImage::new(8, 8)
            .save(dir.join(format!("image_2/{id}.png")))
            .unwrap();
        std::fs::write(dir.join(format!("label_2/{id}.txt")), labels).unwrap();
    }
    std::fs::write(dir.join("dets.jsonl"), DETS).unwrap();
}
