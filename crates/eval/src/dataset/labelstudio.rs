//! Label Studio JSON tasks (`labelstudio:FILE.json`): a list of tasks, each with
//! `data.image` and `annotations` (and, as `sightline label` writes them, `predictions`).
//!
//! A box is a `rectanglelabels` result whose `value` holds `x`, `y`, `width`, `height`
//! in percent of `original_width` × `original_height`; a traffic light's state is a
//! per-region `choices` result (`from_name` `state`) with the box's `id`. The labeling
//! config written beside the tasks declares both. Reading back, a task's ground truth is
//! its last annotation that was not cancelled; a task nobody annotated is skipped and
//! listed (its pre-labels are not ground truth). The image is found by the file name
//! at the end of `data.image` (`/data/local-files/?d=images/x.png`, an URL or a path;
//! an upload's `<8 hex>-` prefix dropped) in `<dir of FILE>/images/`, else `<dir of FILE>/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Value};
use sightline_types::LightState;

use super::cvat::{class_of, find_image};
use super::{check_inside, Loaded, Skipped};
use crate::class::{Class, ClassMap};
use crate::error::{EvalError, Result};
use crate::export::{write_file, ExportInfo, LabelImage};
use crate::frame::GtObject;

#[derive(Deserialize)]
struct Task {
    data: BTreeMap<String, Value>,
    #[serde(default)]
    annotations: Vec<Annotation>,
}

#[derive(Deserialize)]
struct Annotation {
    #[serde(default)]
    result: Vec<ResultItem>,
    #[serde(default)]
    was_cancelled: bool,
}

#[derive(Deserialize)]
struct ResultItem {
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    from_name: String,
    original_width: Option<u32>,
    original_height: Option<u32>,
    #[serde(default)]
    value: Value,
}

/// The image file name a `data.image` reference ends in (percent escapes decoded).
fn file_name_of(reference: &str) -> String {
    let last = reference.rsplit(['/', '=']).next().unwrap_or(reference);
    percent_decode(last)
}

/// Label Studio renames an uploaded file `<8 hex digits>-<name>`; the name is ours when
/// only the unprefixed file is among the images.
fn without_upload_prefix(name: &str, dir: &Path) -> String {
    let unprefixed = match name.split_once('-') {
        Some((p, rest)) if p.len() == 8 && p.bytes().all(|b| b.is_ascii_hexdigit()) => rest,
        _ => return name.to_string(),
    };
    if find_image(dir, name).is_none() && find_image(dir, unprefixed).is_some() {
        unprefixed.to_string()
    } else {
        name.to_string()
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn load(file: &Path, map: &ClassMap) -> Result<Loaded> {
    let text = std::fs::read_to_string(file).map_err(|e| EvalError::io(file, e))?;
    let tasks: Vec<Task> =
        serde_json::from_str(&text).map_err(|e| EvalError::field(file, "json", e.to_string()))?;
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut out = Loaded::default();
    for (k, task) in tasks.iter().enumerate() {
        let reference = task
            .data
            .get("image")
            .and_then(Value::as_str)
            .ok_or_else(|| EvalError::field(file, format!("[{k}].data.image"), "missing"))?;
        let name = without_upload_prefix(&file_name_of(reference), dir);
        let Some(annotation) = task.annotations.iter().rev().find(|a| !a.was_cancelled) else {
            out.skipped.push(Skipped {
                path: dir.join("images").join(&name),
                reason: format!("{}: task [{k}] has no annotation", file.display()),
            });
            continue;
        };
        let at = format!("[{k}] ({name})");
        let gt = parse_result(&annotation.result, file, &at, map)?;
        let Some(image) = find_image(dir, &name) else {
            out.skipped.push(Skipped {
                path: dir.join("images").join(&name),
                reason: format!("{}: names an image that does not exist", file.display()),
            });
            continue;
        };
        out.push_if_readable(&name, gt, image);
    }
    Ok(out)
}

/// The boxes of one annotation's `result`, with the per-region states applied.
fn parse_result(
    items: &[ResultItem],
    file: &Path,
    at: &str,
    map: &ClassMap,
) -> Result<Vec<GtObject>> {
    let mut states: BTreeMap<&str, LightState> = BTreeMap::new();
    for (j, item) in items.iter().enumerate() {
        if item.kind == "choices" && item.from_name == "state" {
            let err = |msg: String| EvalError::field(file, format!("{at}.result[{j}]"), msg);
            let choice = item.value["choices"][0].as_str().unwrap_or_default();
            let state = LightState::from_name(choice).ok_or_else(|| {
                err(format!(
                    "state {choice:?} is not red, yellow, green or unknown"
                ))
            })?;
            let id = item
                .id
                .as_deref()
                .ok_or_else(|| err("a state without a region id".into()))?;
            states.insert(id, state);
        }
    }
    let mut gt = Vec::new();
    for (j, item) in items.iter().enumerate() {
        if item.kind != "rectanglelabels" {
            continue;
        }
        let err =
            |f: &str, msg: String| EvalError::field(file, format!("{at}.result[{j}]{f}"), msg);
        let size = item
            .original_width
            .zip(item.original_height)
            .ok_or_else(|| err("", "missing original_width/original_height".into()))?;
        let v = &item.value;
        let label = v["rectanglelabels"][0]
            .as_str()
            .ok_or_else(|| err(".value.rectanglelabels", "missing".into()))?;
        let class = class_of(label, map).ok_or_else(|| {
            err(
                ".value.rectanglelabels",
                format!("unknown label {label:?} (pedestrian, traffic_light, stop_sign, or one in --class-map)"),
            )
        })?;
        let num = |f: &str| {
            v[f].as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| err(&format!(".value.{f}"), "missing or not a number".into()))
        };
        let rotation = v["rotation"].as_f64().unwrap_or(0.0);
        if rotation.abs() > 1e-6 {
            return Err(err(
                ".value.rotation",
                format!("{rotation}: rotated boxes are not scored"),
            ));
        }
        let (w, h) = (f64::from(size.0) / 100.0, f64::from(size.1) / 100.0);
        let (x, y) = (num("x")? * w, num("y")? * h);
        let bbox = [x, y, x + num("width")? * w, y + num("height")? * h];
        check_inside(&bbox, size).map_err(|m| err("", m))?;
        let state = item.id.as_deref().and_then(|id| states.get(id).copied());
        gt.push(GtObject {
            label: label.to_string(),
            class: Some(class),
            bbox,
            area: (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]),
            iscrowd: false,
            ignore: false,
            kitti: None,
            state: state.filter(|_| class == Class::TrafficLight),
        });
    }
    Ok(gt)
}

/// The labeling config the tasks fit: one image, the three classes as rectangle
/// labels, and a per-region state choice for traffic lights.
pub(crate) fn labeling_config() -> String {
    let labels: String = Class::known()
        .iter()
        .map(|c| format!("    <Label value=\"{}\"/>\n", c.as_str()))
        .collect();
    let states: String = LightState::ALL
        .iter()
        .map(|s| format!("    <Choice value=\"{}\"/>\n", s.as_str()))
        .collect();
    format!(
        "<View>\n  <Image name=\"image\" value=\"$image\"/>\n  <RectangleLabels name=\"label\" toName=\"image\">\n{labels}  </RectangleLabels>\n  \
         <Choices name=\"state\" toName=\"image\" perRegion=\"true\" visibleWhen=\"region-selected\" whenLabelValue=\"traffic_light\">\n{states}  </Choices>\n</View>\n"
    )
}

/// One task: the image by Label Studio's local-files URL (document root = the output
/// folder) and one prediction with every box, its score and the model version.
fn task(img: &LabelImage, info: &ExportInfo) -> Value {
    let (w, h) = (f64::from(img.width), f64::from(img.height));
    let mut result = Vec::new();
    for (k, d) in img.objects.iter().enumerate() {
        let [x1, y1, x2, y2] = d.bbox;
        let region = json!({
            "x": x1 / w * 100.0, "y": y1 / h * 100.0,
            "width": (x2 - x1) / w * 100.0, "height": (y2 - y1) / h * 100.0,
            "rotation": 0,
        });
        let id = format!("r{k}");
        let mut rect = json!({
            "id": id, "type": "rectanglelabels", "from_name": "label", "to_name": "image",
            "original_width": img.width, "original_height": img.height, "image_rotation": 0,
            "score": d.score, "value": region.clone(),
        });
        rect["value"]["rectanglelabels"] = json!([d.class.as_str()]);
        result.push(rect);
        if d.class == Class::TrafficLight {
            let state = d.state.unwrap_or(LightState::Unknown);
            let mut choice = json!({
                "id": id, "type": "choices", "from_name": "state", "to_name": "image",
                "original_width": img.width, "original_height": img.height, "image_rotation": 0,
                "value": region,
            });
            choice["value"]["choices"] = json!([state.as_str()]);
            result.push(choice);
        }
    }
    // Label Studio sorts tasks by a prediction's score: the least sure frame first.
    let least = img
        .objects
        .iter()
        .map(|d| d.score)
        .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.min(s))));
    json!({
        "data": { "image": format!("/data/local-files/?d=images/{}", img.file_name) },
        "predictions": [{
            "model_version": info.model_version,
            "score": least.unwrap_or(1.0),
            "result": result,
        }],
    })
}

pub(crate) fn write(out: &Path, images: &[LabelImage], info: &ExportInfo) -> Result<Vec<PathBuf>> {
    let tasks: Vec<Value> = images.iter().map(|img| task(img, info)).collect();
    let text = serde_json::to_string_pretty(&tasks)
        .map_err(|e| EvalError::field(out.join("tasks.json"), "json", e.to_string()))?;
    Ok(vec![
        write_file(&out.join("tasks.json"), text.as_bytes())?,
        write_file(
            &out.join("labelstudio_config.xml"),
            labeling_config().as_bytes(),
        )?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::sample_images;

    /// What Label Studio's export holds after a person submits the pre-labels unchanged.
    fn accept_predictions(file: &Path) {
        let mut tasks: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        for t in &mut tasks {
            t["annotations"] = json!([{ "result": t["predictions"][0]["result"].clone() }]);
        }
        std::fs::write(file, serde_json::to_string(&tasks).unwrap()).unwrap();
    }

    #[test]
    fn accepted_predictions_read_back_and_bad_input_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let images = sample_images(tmp.path());
        let info = ExportInfo {
            model_version: "yolox_nano@sha256:ab".into(),
        };
        write(tmp.path(), &images, &info).unwrap();
        let file = tmp.path().join("tasks.json");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.contains("\"model_version\": \"yolox_nano@sha256:ab\""),
            "{text}"
        );

        let unreviewed = load(&file, &ClassMap::default()).unwrap();
        assert_eq!((unreviewed.loaded.len(), unreviewed.skipped.len()), (0, 2));

        accept_predictions(&file);
        let out = load(&file, &ClassMap::default()).unwrap();
        assert_eq!((out.loaded.len(), out.skipped.len()), (1, 1));
        let gt = &out.loaded[0].0.gt;
        for (g, want) in gt
            .iter()
            .zip([[1.5, 2.25, 10.0, 20.0], [20.0, 0.0, 24.0, 12.0]])
        {
            for (a, b) in g.bbox.iter().zip(want) {
                assert!((a - b).abs() < 1e-9, "{:?} vs {want:?}", g.bbox);
            }
        }
        assert_eq!(gt[1].state, Some(LightState::Red));

        let accepted = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, accepted.replacen("\"pedestrian\"", "\"bicycle\"", 1)).unwrap();
        let err = load(&file, &ClassMap::default()).err().unwrap().to_string();
        assert!(
            err.contains("cam__1_000000002.png") && err.contains("bicycle"),
            "{err}"
        );
    }

    #[test]
    fn an_uploaded_file_is_matched_by_its_name_without_the_upload_prefix() {
        let tmp = tempfile::tempdir().unwrap();
        sample_images(tmp.path());
        let (dir, name) = (tmp.path(), "cam__1_000000002.png");
        assert_eq!(
            without_upload_prefix(&format!("8f2a1b3c-{name}"), dir),
            name
        );
        assert_eq!(
            without_upload_prefix("8f2a1b3c-gone.png", dir),
            "8f2a1b3c-gone.png"
        );
        assert_eq!(without_upload_prefix(name, dir), name);
    }

    #[test]
    fn file_names_come_from_any_reference_form() {
        assert_eq!(
            file_name_of("/data/local-files/?d=images/a%20b.png"),
            "a b.png"
        );
        assert_eq!(file_name_of("http://host/x/y.jpg"), "y.jpg");
        assert_eq!(file_name_of("plain.png"), "plain.png");
    }
}
