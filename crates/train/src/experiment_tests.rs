//! The own box regression experiment of `docs/training.md` ("What was tried"), kept
//! runnable rather than shipped: on roadsign-speedlimit, the validation split's AP of
//! the new classes with the base model's frozen boxes (what `train-head` writes) and
//! with boxes refitted per class and level by ridge regression on the box-branch
//! features. Scores, decoding and NMS are replicated on the host for both, from the
//! same fitted channels. Minutes on 2 cores, so ignored by default:
//!
//! ```sh
//! cargo test --workspace --lib own_box -- --ignored --nocapture
//! ```

use super::*;
use crate::fit::fit_box;
use sightline_detect::nms::non_max_suppression;
use sightline_eval::{DatasetKind, EvalOptions};

fn shared() -> PathBuf {
    std::env::var_os("SIGHTLINE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
}

/// Four (weights, bias): the raw box values of one class on one level.
type BoxFit = Vec<(Vec<f32>, f32)>;

fn sigmoid_dot(fit: &(Vec<f32>, f32), x: &[f32]) -> f32 {
    let z = fit.1 + fit.0.iter().zip(x).map(|(w, v)| w * v).sum::<f32>();
    1.0 / (1.0 + (-z).exp())
}

#[test]
#[ignore = "minutes: the whole data set through the model on lavapipe"]
fn own_box_regression_on_roadsign_speedlimit() {
    let data = shared().join("data/roadsign-speedlimit");
    let classes: Vec<NewClass> = ["speed_limit=speedlimit", "crosswalk=crosswalk"]
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    let config = TrainConfig {
        base: Manifest::default_model(),
        base_model: Some(shared().join("models/yolox_nano.onnx")),
        device: DeviceChoice::test_default(),
        dataset: format!("voc:{}", data.display()).parse().unwrap(),
        dataset_text: "roadsign-speedlimit".into(),
        classes,
        out: PathBuf::from("unused"),
        seed: 1,
        validation_percent: 20,
        command: String::new(),
        fit: FitConfig::default(),
    };
    let names: Vec<Class> = config
        .classes
        .iter()
        .map(|c| Class::from_name(&c.name).unwrap())
        .collect();
    let mut log = |l: &str| eprintln!("{l}");
    let mut p = prepare(&config, &mut log).unwrap();
    let levels = collect_samples(&mut p, &config, &mut log).unwrap();
    let channels = fit_levels(&levels, &config, &mut log).unwrap();
    // Per level and class: four (weights, bias), fitted on that class's positives.
    let boxes: Vec<Vec<BoxFit>> = levels
        .iter()
        .map(|s| {
            (0..names.len())
                .map(|j| {
                    let rows = |i: usize| s.labels[i] & (1 << j) != 0;
                    fit_box(&s.reg, &s.targets, rows, 1e-4).unwrap_or_default()
                })
                .collect()
        })
        .collect();

    let mut frozen_frames = Vec::new();
    let mut refit_frames = Vec::new();
    for &i in &p.val_idx {
        let rgb = collect::load_image(&p.dataset.images[i]).unwrap();
        let raw = p
            .detector
            .run_output(&collect::view(&rgb).unwrap())
            .unwrap();
        let row = raw.len() / p.grid.anchors();
        let r = (416.0 / rgb.width() as f32).min(416.0 / rgb.height() as f32);
        let (mut frozen, mut refit) = (Vec::new(), Vec::new());
        let mut first = 0;
        for (l, &(gx, gy, stride)) in p.grid.levels.iter().enumerate() {
            let plane = gx * gy;
            let cls = p.detector.model().read_tap(p.taps[l].cls).unwrap();
            let reg = p.detector.model().read_tap(p.taps[l].reg).unwrap();
            let c = p.taps[l].channels;
            for q in 0..plane {
                let xc: Vec<f32> = (0..c).map(|k| cls[k * plane + q]).collect();
                let xr: Vec<f32> = (0..c).map(|k| reg[k * plane + q]).collect();
                let (cell_x, cell_y) = ((q % gx) as f32, (q / gx) as f32);
                let decode = |t: [f32; 4]| {
                    let (cx, cy) = ((t[0] + cell_x) * stride, (t[1] + cell_y) * stride);
                    let (hw, hh) = (t[2].exp() * stride * 0.5, t[3].exp() * stride * 0.5);
                    [(cx - hw) / r, (cy - hh) / r, (cx + hw) / r, (cy + hh) / r]
                };
                let a = first + q;
                let base = &raw[a * row..a * row + 4];
                for (j, &class) in names.iter().enumerate() {
                    let score = sigmoid_dot(&channels[l].objectness[j], &xr)
                        * sigmoid_dot(&channels[l].class[j], &xc);
                    if score < 0.001 {
                        continue;
                    }
                    let own = &boxes[l][j];
                    let t = if own.len() == 4 {
                        std::array::from_fn(|k| {
                            own[k].1 + own[k].0.iter().zip(&xr).map(|(w, v)| w * v).sum::<f32>()
                        })
                    } else {
                        [base[0], base[1], base[2], base[3]]
                    };
                    let d = |bbox| sightline_detect::Detection { class, score, bbox };
                    frozen.push(d(decode([base[0], base[1], base[2], base[3]])));
                    refit.push(d(decode(t)));
                }
            }
            first += plane;
        }
        for (dets, frames) in [(frozen, &mut frozen_frames), (refit, &mut refit_frames)] {
            // As the detector does: NMS on unclipped boxes, then clipping.
            let (w, h) = (rgb.width() as f32, rgb.height() as f32);
            let mut kept = non_max_suppression(dets, 0.65, 300);
            for d in &mut kept {
                d.bbox = [
                    d.bbox[0].clamp(0.0, w),
                    d.bbox[1].clamp(0.0, h),
                    d.bbox[2].clamp(0.0, w),
                    d.bbox[3].clamp(0.0, h),
                ];
            }
            let mut f = p.dataset.frames[i].clone();
            for g in &mut f.gt {
                g.class = config
                    .classes
                    .iter()
                    .zip(&names)
                    .find(|(c, _)| g.label.eq_ignore_ascii_case(&c.label))
                    .map(|(_, &n)| n);
            }
            f.dets = kept
                .into_iter()
                .map(|d| sightline_eval::Detection {
                    class: d.class,
                    score: f64::from(d.score),
                    bbox: d.bbox.map(f64::from),
                    position: None,
                    range_m: None,
                    state: None,
                })
                .collect();
            frames.push(f);
        }
    }
    for (what, frames) in [
        ("frozen boxes", &frozen_frames),
        ("own boxes", &refit_frames),
    ] {
        let (report, _) =
            sightline_eval::evaluate(frames, DatasetKind::Voc, &[], &EvalOptions::default());
        for c in &names {
            let r = &report.classes[c];
            eprintln!(
                "{what}: {c}: AP {:.3} AP50 {:.3} AP75 {:.3} ({} boxes)",
                r.ap.unwrap_or(f64::NAN),
                r.ap50.unwrap_or(f64::NAN),
                r.ap75.unwrap_or(f64::NAN),
                r.n_gt
            );
        }
    }
    // The host replica of the written model must reproduce what eval measured for it
    // (docs/training.md); otherwise the comparison says nothing.
    let (report, _) = sightline_eval::evaluate(
        &frozen_frames,
        DatasetKind::Voc,
        &[],
        &EvalOptions::default(),
    );
    let ap50 = report.classes[&names[0]].ap50.unwrap_or(0.0);
    assert!((ap50 - 0.894).abs() < 0.02, "host replica AP50 {ap50}");
}
