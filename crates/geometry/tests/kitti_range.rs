//! Range accuracy on real frames: KITTI pedestrians, ground-truth 2D boxes.
//!
//! For every `Pedestrian` in `kitti-tiny/label_2`, localize its 2D box with the frame's
//! own calibration (cam2 from `calib/*.txt`) and compare the range with the label's 3D
//! bottom-centre, which KITTI gives in the rectified cam0 frame (x right, y down,
//! z forward). Mapped to our KITTI `base_link` (road below cam0, 1.65 m down) that point
//! is (z, −x, 1.65 − y); this mapping is written out here, independently of the crate.
//!
//! Run with `cargo test -p sightline-geometry --test kitti_range -- --nocapture` to see
//! the table that `docs/localization.md` quotes.

use std::path::{Path, PathBuf};

use sightline_geometry::{Calibration, Localizer, Priors, TargetKind};

fn shared() -> PathBuf {
    std::env::var_os("SIGHTLINE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
}

/// Width and height from a baseline/progressive JPEG's SOF segment.
fn jpeg_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[..2], &[0xFF, 0xD8], "{}: not a JPEG", path.display());
    let mut i = 2;
    while i + 9 < b.len() {
        assert_eq!(b[i], 0xFF, "{}: bad JPEG marker at {i}", path.display());
        let marker = b[i + 1];
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            let h = u16::from_be_bytes([b[i + 5], b[i + 6]]);
            let w = u16::from_be_bytes([b[i + 7], b[i + 8]]);
            return (u32::from(w), u32::from(h));
        }
        i += 2 + len;
    }
    panic!("{}: no SOF segment", path.display());
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Clone, Copy)]
struct Row {
    true_range: f64,
    rel_error: f64,
    method: &'static str,
}

/// Localizes every labelled pedestrian with `priors`.
fn evaluate(priors: &Priors) -> Vec<Row> {
    let root = shared().join("data/kitti-tiny");
    assert!(
        root.join("label_2").is_dir(),
        "{} missing: the shared data must be at ../shared or $SIGHTLINE_SHARED",
        root.display()
    );
    let mut labels: Vec<PathBuf> = std::fs::read_dir(root.join("label_2"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    labels.sort();

    let mut rows = Vec::new();
    let mut expected = 0;
    for label in &labels {
        let id = label.file_stem().unwrap().to_str().unwrap();
        let (w, h) = jpeg_size(&root.join(format!("image_2/{id}.jpg")));
        let cal = Calibration::from_kitti_cam2(root.join(format!("calib/{id}.txt")), w, h)
            .unwrap_or_else(|e| panic!("{e}"));
        let localizer = Localizer::new(cal, priors.clone()).unwrap();
        for line in std::fs::read_to_string(label).unwrap().lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.first() != Some(&"Pedestrian") {
                continue;
            }
            expected += 1;
            let v: Vec<f64> = f[1..].iter().map(|s| s.parse().unwrap()).collect();
            let bbox = [v[3], v[4], v[5], v[6]];
            let (x, y, z) = (v[10], v[11], v[12]);
            let truth = [z, -x, 1.65 - y];
            let true_range = truth.iter().map(|c| c * c).sum::<f64>().sqrt();
            let l = localizer
                .localize(TargetKind::Pedestrian, bbox)
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            rows.push(Row {
                true_range,
                rel_error: (l.range_m - true_range).abs() / true_range,
                method: l.method.as_str(),
            });
        }
    }
    assert!(expected > 0, "no pedestrians in {}", root.display());
    assert_eq!(rows.len(), expected, "every pedestrian must be localized");
    rows
}

fn sorted_errors(rows: &[Row]) -> Vec<f64> {
    let mut e: Vec<f64> = rows.iter().map(|r| r.rel_error).collect();
    e.sort_by(f64::total_cmp);
    e
}

#[test]
fn pedestrian_range_error_on_kitti_tiny() {
    let rows = evaluate(&Priors::default());
    println!("\nKITTI-tiny pedestrians, ground-truth boxes, relative range error |r - r_true| / r_true\n");
    println!("| true range | n | median | p90 |");
    println!("|---|---:|---:|---:|");
    let bins = [
        (0.0, 10.0, "0–10 m"),
        (10.0, 20.0, "10–20 m"),
        (20.0, 30.0, "20–30 m"),
        (30.0, f64::INFINITY, "30+ m"),
    ];
    for (lo, hi, name) in bins
        .iter()
        .copied()
        .chain([(0.0, f64::INFINITY, "**all**")])
    {
        let binned: Vec<Row> = rows
            .iter()
            .filter(|r| r.true_range >= lo && r.true_range < hi)
            .copied()
            .collect();
        let e = sorted_errors(&binned);
        if e.is_empty() {
            println!("| {name} | 0 | – | – |");
        } else {
            println!(
                "| {name} | {} | {:.1} % | {:.1} % |",
                e.len(),
                100.0 * median(&e),
                100.0 * percentile(&e, 90.0)
            );
        }
    }
    let methods: Vec<String> = ["fused", "ground_plane", "height_prior"]
        .iter()
        .map(|m| format!("{m} {}", rows.iter().filter(|r| r.method == *m).count()))
        .collect();
    println!("\nmethods: {}", methods.join(", "));

    // Each cue alone, by making the other's uncertainty dominate the fusion weights.
    for (what, ground_sigma_m) in [
        ("ground plane dominant (ground_sigma_m = 0)", 0.0),
        ("height prior dominant (ground_sigma_m = 10)", 10.0),
    ] {
        let e = sorted_errors(&evaluate(&Priors {
            ground_sigma_m,
            ..Priors::default()
        }));
        println!(
            "{what}: median {:.1} %, p90 {:.1} %",
            100.0 * median(&e),
            100.0 * percentile(&e, 90.0)
        );
    }

    let med = median(&sorted_errors(&rows));
    assert!(
        med <= 0.08,
        "median relative range error {:.1} % > 8 %",
        100.0 * med
    );
}
