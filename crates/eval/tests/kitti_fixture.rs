//! KITTI difficulty filtering and AP on a hand-built two-frame fixture; every expected
//! number is worked out by hand below, following the devkit's `evaluate_object.cpp`.
//!
//! Frame 000000 (boxes x1 y1 x2 y2; "h" = height):
//!   G1 Pedestrian trunc 0   occ 0 [0 0 20 50]     h50  easy, moderate, hard
//!   G2 Pedestrian trunc 0   occ 1 [100 0 120 30]  h30  moderate, hard (easy: ignored)
//!   G3 Pedestrian trunc 0.4 occ 2 [200 0 220 30]  h30  hard only
//!   G4 Person_sitting             [300 0 320 50]       neighbour class: ignored
//!   G5 DontCare                   [400 0 500 100]
//!   G6 Car                        [600 0 700 50]       not evaluated
//!   D7 0.95 [900 0 920 20]  h20 < 25: an ignored detection at every difficulty
//!   D1 0.90 = G1;  D2 0.80 = G2;  D3 0.70 = G4;  D4 0.60 [410 10 440 60] inside DontCare;
//!   D5 0.50 [800 0 820 50] on nothing (FP);  D6 0.40 = G3
//! Frame 000001:
//!   G7 Pedestrian trunc 0 occ 0 [0 0 20 60];  D8 0.30 = G7
//!
//! getThresholds takes one threshold per true positive here (n_gt < 40), so precision
//! sample k is the precision at the k-th TP score:
//! easy (n_gt 2: G1, G7; D2, D6 are < 40 px so ignored detections):
//!   t .9: TP D1, FP 0 → 1;  t .3: TP D1 D8, FP D5 (D4 is in DontCare, D3 on the
//!   neighbour) → 2/3.  AP_R40 = (2/3)/40, AP_R11 = 1/11.
//! moderate (n_gt 3: G1 G2 G7): t .9 → 1/1; t .8 → 2/2; t .3 → 3/(3+1) = .75.
//!   AP_R40 = (1 + .75)/40 = .04375, AP_R11 = 1/11.
//! hard (n_gt 4): t .9 → 1; .8 → 1; .4 → 3/4 (FP D5); .3 → 4/5; made monotone:
//!   [1, 1, .8, .8] → AP_R40 = 2.6/40 = .065, AP_R11 = 1/11.
//! COCO AP50 (no difficulties; Person_sitting and DontCare are not ground truth; 4 GT):
//!   by score D7 F, D1 T, D2 T, D3 F, D4 F, D5 F, D6 T, D8 T → precision envelope 2/3 up
//!   to recall .5 (51 points), 1/2 after (50 points) → 59/101.
//! Operating point 0.3: TP 4, FP 4 → precision .5, recall 1, 2 FP per image.
//! Range (true = hypot(x, z) of the label): G1 (3, ·, 4) → 5 m, D1 says 5.5 → 0.10;
//!   G2 (0, ·, 20) → 20 m, D2 position (19, 0, 0) → 0.05; G7 (6, ·, 8) → 10 m, D8 says 12
//!   → 0.20; D6 has no range. Median 0.10, p90 = 0.1 + 0.8·(0.2 − 0.1) = 0.18.

mod common;

use common::kitti_hand::write_fixture;

use sightline_eval::metrics::kitti::Difficulty;
use sightline_eval::{detections, evaluate, Class, ClassMap, Dataset, DatasetSpec, EvalOptions};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn kitti_difficulties_ap_and_range_error_match_hand_computation() {
    let tmp = tempfile::tempdir().unwrap();
    write_fixture(tmp.path());
    let spec: DatasetSpec = format!("kitti:{}", tmp.path().display()).parse().unwrap();
    let ds = Dataset::load(&spec, &ClassMap::default()).unwrap();
    let mut frames = ds.frames;
    detections::attach(
        &mut frames,
        detections::load(&tmp.path().join("dets.jsonl")).unwrap(),
    );
    let (r, curves) = evaluate(&frames, ds.kind, &ds.skipped, &EvalOptions::default());

    let k = &r.kitti.as_ref().expect("KITTI section")[&Class::Pedestrian];
    let easy = k[&Difficulty::Easy].as_ref().unwrap();
    let moderate = k[&Difficulty::Moderate].as_ref().unwrap();
    let hard = k[&Difficulty::Hard].as_ref().unwrap();
    assert_eq!((easy.n_gt, moderate.n_gt, hard.n_gt), (2, 3, 4));
    assert!(close(easy.precision[0], 1.0) && close(easy.precision[1], 2.0 / 3.0));
    assert!(easy.precision[2..].iter().all(|&p| p == 0.0));
    assert!(close(easy.ap_r40, 2.0 / 3.0 / 40.0), "{}", easy.ap_r40);
    assert!(close(moderate.ap_r40, 1.75 / 40.0), "{}", moderate.ap_r40);
    assert_eq!(&hard.precision[..5], &[1.0, 1.0, 0.8, 0.8, 0.0]);
    assert!(close(hard.ap_r40, 2.6 / 40.0), "{}", hard.ap_r40);
    for d in [easy, moderate, hard] {
        assert!(close(d.ap_r11, 1.0 / 11.0));
    }

    let p = &r.classes[&Class::Pedestrian];
    assert_eq!(p.n_gt, 4);
    assert!(close(p.ap50.unwrap(), 59.0 / 101.0), "{:?}", p.ap50);
    assert_eq!((p.tp, p.fp, p.fn_), (4, 4, 0));
    assert!(close(p.precision, 0.5) && close(p.recall, 1.0) && close(p.fp_per_image, 2.0));

    let re = &r.range_error[&Class::Pedestrian];
    assert_eq!((re.all.n, re.n_unlocalized), (3, 1));
    assert!(close(re.all.median_rel.unwrap(), 0.1));
    assert!(close(re.all.p90_rel.unwrap(), 0.18));
    let bin = |from: f64| re.bins.iter().find(|b| b.from_m == from).unwrap();
    assert!(close(bin(0.0).stats.median_rel.unwrap(), 0.1));
    assert!(close(bin(10.0).stats.median_rel.unwrap(), 0.2));
    assert!(close(bin(20.0).stats.median_rel.unwrap(), 0.05));

    // The written report reads back to the same values; the Markdown has the tables.
    let out = tmp.path().join("report");
    sightline_eval::write_report(&out, &r, &curves).unwrap();
    let back: sightline_eval::Report =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(back, r);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| pedestrian | 4 | 8 |") && md.contains("KITTI devkit AP"),
        "{md}"
    );
}
