//! Detections in the `sightline detect` JSONL schema, one per line:
//! `{"image": "<file stem>", "class": "pedestrian", "score": 0.87, "box": [x1, y1, x2, y2]}`
//! plus optional `"position": [x, y, z]`, `"range_m"` and `"state"`; other fields (`"method"`,
//! replay's stamps…) are ignored.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::class::Class;
use crate::error::{EvalError, Result};
use crate::frame::{Detection, Frame};

#[derive(Deserialize)]
struct Raw {
    image: String,
    class: String,
    score: f64,
    #[serde(rename = "box")]
    bbox: [f64; 4],
    #[serde(default)]
    position: Option<[f64; 3]>,
    #[serde(default)]
    range_m: Option<f64>,
    #[serde(default)]
    state: Option<sightline_types::LightState>,
}

/// The frame id a detection's `image` refers to: the stem if it looks like a path.
fn frame_id(image: &str) -> String {
    let p = Path::new(image);
    let has_ext = sightline_types::images::is_image(p);
    if has_ext || image.contains('/') {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        image.to_string()
    }
}

/// Parses JSONL text; `path` names the source in errors. Detections keep file order
/// within each image.
pub fn parse(text: &str, path: &Path) -> Result<BTreeMap<String, Vec<Detection>>> {
    let mut out: BTreeMap<String, Vec<Detection>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |msg: String| EvalError::line(path, i + 1, msg);
        let raw: Raw = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        // A trained model's classes are known once its manifest is read (`--manifest`).
        let class = Class::from_name(&raw.class).ok_or_else(|| {
            bad(format!(
                "unknown class {:?} (known: {}; a trained model's classes need its --manifest)",
                raw.class,
                Class::known_names()
            ))
        })?;
        if !raw.score.is_finite() {
            return Err(bad("score is not finite".into()));
        }
        let b = raw.bbox;
        if !b.iter().all(|v| v.is_finite()) || b[2] < b[0] || b[3] < b[1] {
            return Err(bad(format!("bad box {b:?} (want x1 <= x2, y1 <= y2)")));
        }
        out.entry(frame_id(&raw.image))
            .or_default()
            .push(Detection {
                class,
                score: raw.score,
                bbox: b,
                position: raw.position,
                range_m: raw.range_m,
                state: raw.state,
            });
    }
    Ok(out)
}

/// Reads a JSONL file (see [`parse`]).
pub fn load(path: &Path) -> Result<BTreeMap<String, Vec<Detection>>> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
    parse(&text, path)
}

/// Puts detections into their frames. Returns how many detections named no frame of
/// the dataset (they are dropped, as pycocotools would refuse them).
pub fn attach(frames: &mut [Frame], mut dets: BTreeMap<String, Vec<Detection>>) -> usize {
    for f in frames.iter_mut() {
        f.dets = dets.remove(&f.id).unwrap_or_default();
    }
    let stray: usize = dets.values().map(Vec::len).sum();
    if stray > 0 {
        tracing::warn!(
            detections = stray,
            images = dets.len(),
            "detections for images not in the dataset were dropped"
        );
    }
    stray
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schema_and_ignores_extra_fields() {
        let t = r#"{"image": "a", "class": "pedestrian", "score": 0.5, "box": [1, 2, 3, 4], "method": "ground", "stamp": 3}
{"image": "dir/b.png", "class": "stop_sign", "score": 0.25, "box": [1, 2, 3, 4], "position": [1, 2, 0], "range_m": 2.2}

"#;
        let m = parse(t, Path::new("d.jsonl")).unwrap();
        assert_eq!(m["a"][0].bbox, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m["b"][0].range_m, Some(2.2));
        assert_eq!(m["b"][0].position, Some([1.0, 2.0, 0.0]));
    }

    #[test]
    fn bad_line_names_file_and_line() {
        let t = "{\"image\": \"a\", \"class\": \"pedestrian\", \"score\": 0.5, \"box\": [1, 2, 3, 4]}\n\
                 {\"image\": \"a\", \"class\": \"car\", \"score\": 0.5, \"box\": [1, 2, 3, 4]}\n";
        let err = parse(t, Path::new("d.jsonl")).unwrap_err().to_string();
        assert!(
            err.starts_with("d.jsonl:2:") && err.contains("car"),
            "{err}"
        );
        let err = parse("{\"image\": 1}\n", Path::new("d.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("d.jsonl:1:"), "{err}");
        let t =
            "{\"image\": \"a\", \"class\": \"pedestrian\", \"score\": 0.5, \"box\": [3, 2, 1, 4]}";
        assert!(parse(t, Path::new("d.jsonl")).is_err());
    }
}
