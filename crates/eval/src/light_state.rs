//! Traffic-light state accuracy: a `tlstate:DIR` data set (one folder per state, each
//! image one light) and the state of matched lights of a detection data set, scored as
//! accuracy, per-state recall and a confusion matrix (`traffic_light_state` in
//! `report.json`), with a strip of the misclassified crops in `report.md`.
//!
//! The crops used to tune the classifier are kept apart by file name: a crop whose name
//! starts with a hex digit `0`–`7` is in the tuning part ([`is_tuning`]), every other
//! crop is held out. The names of `../shared/data/tl-state` are random UUIDs, so this
//! is a fixed, seed-free split of about 40/60 that keeps yellow in both parts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sightline_types::LightState;

use crate::error::{EvalError, Result};

/// One light: its true and its classified state.
#[derive(Clone, Debug, PartialEq)]
pub struct StateSample {
    /// The crop's file (or the frame id and box for a matched light).
    pub source: PathBuf,
    pub truth: LightState,
    pub got: LightState,
    pub score: f32,
}

/// Whether a crop named `name` belongs to the tuning part (see the module doc).
pub fn is_tuning(name: &str) -> bool {
    name.chars().next().is_some_and(|c| matches!(c, '0'..='7'))
}

/// The crops of a `tlstate:DIR` data set: `DIR/<state>/*` for the folders named
/// `red`, `yellow`, `green` (and `unknown`, if present), sorted by path. Other folders
/// are an error: a misspelt state would silently drop its crops.
pub fn load_crops(dir: &Path) -> Result<Vec<(PathBuf, LightState)>> {
    let mut crops = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| EvalError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| EvalError::io(dir, e))?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let state = LightState::from_name(&name).ok_or_else(|| {
            EvalError::field(
                &path,
                "folder",
                format!("{name:?} is not a state (red, yellow, green, unknown)"),
            )
        })?;
        for image in sightline_types::images::list(&path).map_err(|e| EvalError::io(&path, e))? {
            crops.push((image, state));
        }
    }
    if crops.is_empty() {
        return Err(EvalError::field(
            dir,
            "folders",
            "no images in red/, yellow/, green/ or unknown/",
        ));
    }
    crops.sort();
    Ok(crops)
}

/// Recall of one true state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateRecall {
    pub recall: f64,
    pub n: usize,
}

/// Rows: the true state, columns: the classified one, both in `labels` order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    pub labels: Vec<LightState>,
    pub matrix: Vec<Vec<usize>>,
}

/// `traffic_light_state` of `report.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateReport {
    pub n: usize,
    pub accuracy: f64,
    /// Per true state present in the data.
    pub per_state: BTreeMap<LightState, StateRecall>,
    pub confusion: Confusion,
}

impl StateReport {
    /// `None` without samples.
    pub fn new(samples: &[StateSample]) -> Option<StateReport> {
        if samples.is_empty() {
            return None;
        }
        let labels = LightState::ALL.to_vec();
        let mut matrix = vec![vec![0usize; labels.len()]; labels.len()];
        for s in samples {
            matrix[s.truth.index()][s.got.index()] += 1;
        }
        let right: usize = (0..labels.len()).map(|i| matrix[i][i]).sum();
        let per_state = labels
            .iter()
            .filter_map(|&state| {
                let row = &matrix[state.index()];
                let n: usize = row.iter().sum();
                (n > 0).then(|| {
                    let recall = row[state.index()] as f64 / n as f64;
                    (state, StateRecall { recall, n })
                })
            })
            .collect();
        Some(StateReport {
            n: samples.len(),
            accuracy: right as f64 / samples.len() as f64,
            per_state,
            confusion: Confusion { labels, matrix },
        })
    }

    /// Accuracy, per-state recall and the confusion matrix as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{} lights, accuracy {:.4}\n", self.n, self.accuracy);
        let _ = writeln!(s, "| state | n | recall |\n|---|---:|---:|");
        for (state, r) in &self.per_state {
            let _ = writeln!(s, "| {state} | {} | {:.4} |", r.n, r.recall);
        }
        let labels = &self.confusion.labels;
        let _ = write!(s, "\n| true \\ classified |");
        for l in labels {
            let _ = write!(s, " {l} |");
        }
        let _ = write!(s, "\n|---|");
        for _ in labels {
            let _ = write!(s, "---:|");
        }
        s.push('\n');
        for (l, row) in labels.iter().zip(&self.confusion.matrix) {
            if row.iter().sum::<usize>() == 0 {
                continue;
            }
            let _ = write!(s, "| {l} |");
            for v in row {
                let _ = write!(s, " {v} |");
            }
            s.push('\n');
        }
        s
    }
}

/// The report of a `tlstate:` data set: held-out part (the number), tuning part and all.
#[derive(Clone, Debug, Serialize)]
pub struct TlStateEval {
    pub dataset: PathBuf,
    pub split: &'static str,
    /// All crops.
    pub traffic_light_state: Option<StateReport>,
    pub held_out: Option<StateReport>,
    pub tuning: Option<StateReport>,
}

impl TlStateEval {
    pub fn new(dataset: &Path, samples: &[StateSample]) -> TlStateEval {
        let tuning = |s: &&StateSample| {
            s.source
                .file_name()
                .is_some_and(|n| is_tuning(&n.to_string_lossy()))
        };
        let tune: Vec<StateSample> = samples.iter().filter(tuning).cloned().collect();
        let held: Vec<StateSample> = samples.iter().filter(|s| !tuning(s)).cloned().collect();
        TlStateEval {
            dataset: dataset.to_path_buf(),
            split: "tuning: file names starting with 0-7; held out: all others",
            traffic_light_state: StateReport::new(samples),
            held_out: StateReport::new(&held),
            tuning: StateReport::new(&tune),
        }
    }

    pub fn markdown(&self) -> String {
        let mut s = format!(
            "Traffic-light state on {} (split by file name: {})\n",
            self.dataset.display(),
            self.split
        );
        for (title, r) in [
            ("Held out", &self.held_out),
            ("Tuning", &self.tuning),
            ("All", &self.traffic_light_state),
        ] {
            if let Some(r) = r {
                let _ = write!(s, "\n## {title}\n\n{}", r.markdown());
            }
        }
        s
    }
}

/// Writes `report.json`, `report.md` and `misclassified.png` (the misclassified
/// crops side by side, each between a bar of its true and of its classified colour)
/// into `dir`. Returns the files written.
pub fn write_tlstate_report(
    dir: &Path,
    eval: &TlStateEval,
    samples: &[StateSample],
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))?;
    let json_path = dir.join("report.json");
    let json =
        serde_json::to_string_pretty(eval).map_err(|e| EvalError::io(&json_path, e.into()))?;
    std::fs::write(&json_path, json + "\n").map_err(|e| EvalError::io(&json_path, e))?;
    let mut written = vec![json_path];
    let mut md = String::from("# Traffic-light state report\n\n");
    md.push_str(&eval.markdown());
    let wrong: Vec<&StateSample> = samples.iter().filter(|s| s.truth != s.got).collect();
    if !wrong.is_empty() {
        let strip_path = dir.join("misclassified.png");
        misclassified_strip(&wrong)?
            .save(&strip_path)
            .map_err(|e| EvalError::field(&strip_path, "png", e.to_string()))?;
        let _ = writeln!(
            md,
            "\n## Misclassified ({})\n\nEach crop between a bar of its true state (above) \
             and of the classified one (below; grey: unknown), in the order of the files:\n",
            wrong.len()
        );
        for w in &wrong {
            let _ = writeln!(md, "- {} — {} as {}", w.source.display(), w.truth, w.got);
        }
        let _ = writeln!(md, "\n![misclassified](misclassified.png)");
        written.push(strip_path);
    }
    let md_path = dir.join("report.md");
    std::fs::write(&md_path, md).map_err(|e| EvalError::io(&md_path, e))?;
    written.push(md_path);
    Ok(written)
}

fn bar_colour(state: LightState) -> image::Rgb<u8> {
    image::Rgb(match state {
        LightState::Red => [230, 0, 0],
        LightState::Yellow => [255, 235, 0],
        LightState::Green => [0, 220, 60],
        LightState::Unknown => [150, 150, 150],
    })
}

/// The crops scaled to one height, side by side, at most 60 of them.
fn misclassified_strip(wrong: &[&StateSample]) -> Result<image::RgbImage> {
    const HEIGHT: u32 = 96;
    const BAR: u32 = 8;
    let mut tiles = Vec::new();
    for s in wrong.iter().take(60) {
        let crop = image::open(&s.source)
            .map_err(|e| EvalError::field(&s.source, "image", e.to_string()))?
            .to_rgb8();
        let width = (crop.width() * HEIGHT / crop.height().max(1)).max(1);
        let scaled =
            image::imageops::resize(&crop, width, HEIGHT, image::imageops::FilterType::Nearest);
        tiles.push((scaled, s.truth, s.got));
    }
    let total: u32 = tiles.iter().map(|t| t.0.width() + 2).sum();
    let mut strip =
        image::RgbImage::from_pixel(total.max(1), HEIGHT + 2 * BAR, image::Rgb([255; 3]));
    let mut x0 = 0;
    for (tile, truth, got) in &tiles {
        for x in 0..tile.width() {
            for y in 0..BAR {
                strip.put_pixel(x0 + x, y, bar_colour(*truth));
                strip.put_pixel(x0 + x, HEIGHT + BAR + y, bar_colour(*got));
            }
            for y in 0..HEIGHT {
                strip.put_pixel(x0 + x, BAR + y, *tile.get_pixel(x, y));
            }
        }
        x0 += tile.width() + 2;
    }
    Ok(strip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str, truth: LightState, got: LightState) -> StateSample {
        StateSample {
            source: PathBuf::from(name),
            truth,
            got,
            score: 0.5,
        }
    }

    #[test]
    fn accuracy_recall_and_confusion_count_each_light_once() {
        use LightState::*;
        let samples = [
            sample("0a.jpg", Red, Red),
            sample("8b.jpg", Red, Unknown),
            sample("9c.jpg", Yellow, Red),
            sample("fd.jpg", Green, Green),
        ];
        let r = StateReport::new(&samples).expect("samples");
        assert_eq!(r.n, 4);
        assert_eq!(r.accuracy, 0.5);
        assert_eq!(r.per_state[&Red], StateRecall { recall: 0.5, n: 2 });
        assert_eq!(r.per_state[&Yellow].recall, 0.0);
        assert!(
            !r.per_state.contains_key(&Unknown),
            "no unknown lights in the data"
        );
        assert_eq!(r.confusion.matrix[Red.index()][Unknown.index()], 1);
        assert_eq!(r.confusion.matrix[Yellow.index()][Red.index()], 1);
        let e = TlStateEval::new(Path::new("d"), &samples);
        assert_eq!(e.tuning.as_ref().map(|t| t.n), Some(1));
        assert_eq!(e.held_out.as_ref().map(|t| t.n), Some(3));
        let json = serde_json::to_value(&e).expect("json");
        assert_eq!(json["traffic_light_state"]["per_state"]["red"]["n"], 2);
        assert_eq!(
            json["traffic_light_state"]["confusion"]["labels"][3],
            "unknown"
        );
        assert!(
            e.markdown().contains("| yellow | 1 | 0 | 0 | 0 |"),
            "{}",
            e.markdown()
        );
    }

    #[test]
    fn folders_that_are_not_states_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("amber")).expect("mkdir");
        let err = load_crops(dir.path()).expect_err("amber");
        assert!(err.to_string().contains("amber"), "{err}");
    }

    #[test]
    fn matched_lights_of_a_detection_set_are_scored_by_state() {
        use crate::{Class, DatasetKind, Detection, EvalOptions, Frame, GtObject};
        let gt = |bbox: [f64; 4], state| GtObject {
            label: "0".into(),
            class: Some(Class::TrafficLight),
            bbox,
            area: (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]),
            iscrowd: false,
            ignore: false,
            kitti: None,
            state: Some(state),
        };
        let det = |bbox, score, state| Detection {
            class: Class::TrafficLight,
            score,
            bbox,
            position: None,
            range_m: None,
            state: Some(state),
        };
        let (a, b) = ([10.0, 10.0, 20.0, 40.0], [50.0, 10.0, 60.0, 40.0]);
        let frames = [Frame {
            id: "f".into(),
            gt: vec![gt(a, LightState::Red), gt(b, LightState::Green)],
            dets: vec![
                det(a, 0.9, LightState::Red),
                det(b, 0.8, LightState::Yellow),
                // unmatched: no state sample
                det([100.0, 10.0, 110.0, 40.0], 0.9, LightState::Red),
            ],
        }];
        let opts = EvalOptions::default();
        let (report, _) = crate::evaluate(&frames, DatasetKind::Yolo, &[], &opts);
        let states = report.traffic_light_state.expect("states");
        assert_eq!((states.n, states.accuracy), (2, 0.5));
        let m = &states.confusion.matrix;
        assert_eq!(m[LightState::Green.index()][LightState::Yellow.index()], 1);
        assert_eq!(report.classes[&Class::TrafficLight].tp, 2);
    }
}
