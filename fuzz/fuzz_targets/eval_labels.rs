//! The eval data set readers on label bytes: a KITTI `label_2` file, a YOLO label file,
//! a YOLO `data.yaml`, a Pascal VOC annotation or a COCO annotations file, each beside
//! a real image; then the metrics over what was read, with the ground truth as the
//! detections (so that matching, AP and the state confusion all run).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sightline_eval::{
    evaluate, ClassMap, Dataset, DatasetKind, DatasetSpec, Detection, EvalOptions,
};

/// A 4×3 PNG, the image every data set here labels.
fn image_bytes() -> &'static [u8] {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    PNG.get_or_init(|| {
        let mut png = Vec::new();
        image::RgbImage::new(4, 3)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("png");
        png
    })
}

/// A data set folder of `kind` with `labels` as its one label file.
fn dataset(kind: u8, labels: &[u8]) -> (DatasetKind, PathBuf) {
    let root = sightline_fuzz::scratch().join(format!("dataset{kind}"));
    let write = |rel: &str, bytes: &[u8]| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("dataset folder");
        std::fs::write(path, bytes).expect("dataset file");
    };
    match kind {
        0 => {
            write("image_2/000001.png", image_bytes());
            write("label_2/000001.txt", labels);
            (DatasetKind::Kitti, root)
        }
        1 | 2 => {
            write("images/000001.png", image_bytes());
            let (label, yaml): (&[u8], &[u8]) = if kind == 1 {
                (labels, b"names: [person, red, yellow, green, off]")
            } else {
                (
                    b"1 0.5 0.5 0.2 0.4\n0 0.1 0.2 0.1 0.1\n3 0.9 0.9 0.2 0.2",
                    labels,
                )
            };
            write("labels/000001.txt", label);
            write("data.yaml", yaml);
            (DatasetKind::Yolo, root)
        }
        3 => {
            write("images/000001.png", image_bytes());
            write("annotations/000001.xml", labels);
            (DatasetKind::Voc, root)
        }
        _ => {
            write("images/000001.png", image_bytes());
            write("instances.json", labels);
            (DatasetKind::Coco, root.join("instances.json"))
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (which, labels) = sightline_fuzz::selector(data);
    let (kind, path) = dataset(which % 5, labels);
    let spec = DatasetSpec { kind, path };
    let Ok(mut set) = Dataset::load(&spec, &ClassMap::default()) else {
        return;
    };
    for frame in &mut set.frames {
        frame.dets = frame
            .gt
            .iter()
            .filter_map(|g| {
                Some(Detection {
                    class: g.class?,
                    score: 0.9,
                    bbox: g.bbox,
                    position: None,
                    range_m: None,
                    state: g.state,
                })
            })
            .collect();
    }
    let _ = evaluate(&set.frames, set.kind, &set.skipped, &EvalOptions::default());
});
