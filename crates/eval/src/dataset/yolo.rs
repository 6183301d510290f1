//! YOLO txt layout: `images/<id>.jpg`, `labels/<id>.txt` with `class cx cy w h` per line,
//! normalized to the image size (read from the image header), COCO 80-class ids.
//!
//! A `data.yaml` beside `images/` whose `names` (the Ultralytics/Roboflow convention, a
//! list or an id → name map) include traffic-light states makes the ids its own: a state
//! name (`red`, `yellow`, `green`, `left`/arrow = green, `off` = unknown; see
//! [`light_state_of`]) is a `traffic_light` with that state, any other name goes through
//! the class map's labels.

use std::collections::BTreeMap;
use std::path::Path;

use sightline_types::LightState;

use super::{image_size, list_images, parse_f64, read_optional, stem, Loaded, Skipped};
use crate::class::{Class, ClassMap};
use crate::error::{EvalError, Result};
use crate::export::{write_file, LabelImage};
use crate::frame::{Detection, Frame, GtObject};

/// The class (and light state) of each id of a `data.yaml` with state names.
type Names = BTreeMap<u32, (Option<Class>, Option<LightState>)>;

/// The state a `names` entry stands for, if it is one: the colour words, an arrow or
/// turn (`left`, `right`, `arrow`, `straight`; lit arrows are green in these sets) and
/// `off`/`unknown`. Case does not matter.
pub(crate) fn light_state_of(name: &str) -> Option<LightState> {
    let n = name.to_ascii_lowercase();
    let has = |w: &str| n.contains(w);
    if has("red") {
        Some(LightState::Red)
    } else if has("yellow") || has("amber") {
        Some(LightState::Yellow)
    } else if has("green") || has("left") || has("right") || has("arrow") || has("straight") {
        Some(LightState::Green)
    } else if n == "off" || n.contains("unknown") {
        Some(LightState::Unknown)
    } else {
        None
    }
}

/// `data.yaml`'s names when one of them is a light state; `None` otherwise (COCO ids).
fn state_names(dir: &Path, map: &ClassMap) -> Result<Option<Names>> {
    let path = dir.join("data.yaml");
    let Some(text) = read_optional(&path)? else {
        return Ok(None);
    };
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| EvalError::field(&path, "yaml", e.to_string()))?;
    let bad = |msg: &str| EvalError::field(&path, "names", msg.to_string());
    let names: Vec<(u32, String)> = match yaml.get("names") {
        None => return Ok(None),
        Some(serde_yaml::Value::Sequence(list)) => list
            .iter()
            .enumerate()
            .map(|(i, v)| {
                Ok((
                    i as u32,
                    v.as_str().ok_or_else(|| bad("not a string"))?.to_string(),
                ))
            })
            .collect::<Result<_>>()?,
        Some(serde_yaml::Value::Mapping(m)) => m
            .iter()
            .map(|(k, v)| {
                let id = k
                    .as_u64()
                    .ok_or_else(|| bad("an id that is not a number"))?;
                let name = v.as_str().ok_or_else(|| bad("not a string"))?;
                Ok((id as u32, name.to_string()))
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(bad("expected a list or an id → name map")),
    };
    if !names.iter().any(|(_, n)| light_state_of(n).is_some()) {
        return Ok(None);
    }
    Ok(Some(
        names
            .into_iter()
            .map(|(id, n)| match light_state_of(&n) {
                Some(state) => (id, (Some(Class::TrafficLight), Some(state))),
                None => (id, (map.label(&n), None)),
            })
            .collect(),
    ))
}

/// The class names of an export: a traffic light's state is part of its class (the
/// convention of traffic-light YOLO sets, which [`load`] reads back).
fn export_names() -> Vec<String> {
    let mut names = vec![
        Class::Pedestrian.as_str().to_string(),
        Class::StopSign.as_str().to_string(),
    ];
    for state in LightState::ALL {
        names.push(format!(
            "{}_{}",
            Class::TrafficLight.as_str(),
            state.as_str()
        ));
    }
    // A trained model's classes follow, in registration order.
    names.extend(added_classes().map(|c| c.as_str().to_string()));
    names
}

fn added_classes() -> impl Iterator<Item = Class> {
    Class::known().into_iter().filter(|c| !c.is_builtin())
}

/// The id of a detection among [`export_names`].
fn export_id(d: &Detection) -> usize {
    match d.class {
        Class::Pedestrian => 0,
        Class::StopSign => 1,
        Class::TrafficLight => 2 + d.state.unwrap_or(LightState::Unknown).index(),
        other => 2 + LightState::ALL.len() + added_classes().position(|c| c == other).unwrap_or(0),
    }
}

/// `labels/<stem>.txt` per image (empty for an image without boxes: a background
/// image to Ultralytics) and a `data.yaml` with `train`/`val` = `images`, relative to
/// the yaml's folder as Ultralytics resolves them without a `path`.
pub(crate) fn write(out: &Path, images: &[LabelImage]) -> Result<Vec<std::path::PathBuf>> {
    let labels = out.join("labels");
    std::fs::create_dir_all(&labels).map_err(|e| EvalError::io(&labels, e))?;
    let mut written = Vec::new();
    for img in images {
        let (w, h) = (f64::from(img.width), f64::from(img.height));
        let mut text = String::new();
        for d in &img.objects {
            let [x1, y1, x2, y2] = d.bbox;
            text += &format!(
                "{} {:.6} {:.6} {:.6} {:.6}\n",
                export_id(d),
                (x1 + x2) / 2.0 / w,
                (y1 + y2) / 2.0 / h,
                (x2 - x1) / w,
                (y2 - y1) / h
            );
        }
        let path = labels.join(format!("{}.txt", stem(Path::new(&img.file_name))));
        written.push(write_file(&path, text.as_bytes())?);
    }
    let mut yaml = String::from(
        "# Pre-labels by `sightline label` (Ultralytics YOLO layout); a traffic light's\n\
         # state is part of its class name.\ntrain: images\nval: images\nnames:\n",
    );
    for (id, name) in export_names().iter().enumerate() {
        yaml += &format!("  {id}: {name}\n");
    }
    written.push(write_file(&out.join("data.yaml"), yaml.as_bytes())?);
    Ok(written)
}

pub(super) fn load(dir: &Path, map: &ClassMap) -> Result<Loaded> {
    let names = state_names(dir, map)?;
    let mut out = Loaded::default();
    for image in list_images(&dir.join("images"))? {
        let (w, h) = match image_size(&image) {
            Ok(s) => s,
            Err(reason) => {
                out.skipped.push(Skipped {
                    path: image,
                    reason,
                });
                continue;
            }
        };
        let id = stem(&image);
        let label_path = dir.join("labels").join(format!("{id}.txt"));
        let gt = match read_optional(&label_path)? {
            Some(text) => {
                let mut gt = parse_labels(&text, &label_path, f64::from(w), f64::from(h), map)?;
                if let Some(names) = &names {
                    for g in &mut gt {
                        let (class, state) = g
                            .label
                            .parse::<u32>()
                            .ok()
                            .and_then(|id| names.get(&id).copied())
                            .unwrap_or((None, None));
                        (g.class, g.state) = (class, state);
                    }
                }
                gt
            }
            None => Vec::new(), // YOLO convention: an image without objects
        };
        out.loaded.push((
            Frame {
                id,
                gt,
                dets: Vec::new(),
            },
            image,
        ));
    }
    Ok(out)
}

/// Parses one label file of an image `w`×`h` pixels.
///
/// The arithmetic (`x1 = (cx - bw/2)·w`, …) is the one `scripts/eval_pycocotools.py`
/// uses, so both sides see bit-identical boxes.
pub(crate) fn parse_labels(
    text: &str,
    path: &Path,
    w: f64,
    h: f64,
    map: &ClassMap,
) -> Result<Vec<GtObject>> {
    let mut v = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |msg: String| EvalError::line(path, i + 1, msg);
        let tok: Vec<&str> = line.split_whitespace().collect();
        if tok.len() != 5 {
            return Err(bad(format!(
                "expected `class cx cy w h`, found {} fields",
                tok.len()
            )));
        }
        let id: u32 = tok[0]
            .parse()
            .map_err(|_| bad(format!("class: not a class id: {:?}", tok[0])))?;
        let num = |k: usize, what: &str| parse_f64(tok[k], what).map_err(&bad);
        let (cx, cy, bw, bh) = (num(1, "cx")?, num(2, "cy")?, num(3, "w")?, num(4, "h")?);
        if bw < 0.0 || bh < 0.0 {
            return Err(bad("negative box size".into()));
        }
        let bbox = [
            (cx - bw / 2.0) * w,
            (cy - bh / 2.0) * h,
            (cx + bw / 2.0) * w,
            (cy + bh / 2.0) * h,
        ];
        v.push(GtObject {
            label: id.to_string(),
            class: map.coco_id(id),
            bbox,
            area: (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]),
            iscrowd: false,
            ignore: false,
            kitti: None,
            state: None,
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_labels_read_back_with_light_states() {
        let tmp = tempfile::tempdir().unwrap();
        let images = crate::dataset::tests::sample_images(tmp.path());
        write(tmp.path(), &images).unwrap();
        let out = load(tmp.path(), &ClassMap::default()).unwrap();
        assert_eq!(out.loaded.len(), 1, "only the image on disk");
        let gt = &out.loaded[0].0.gt;
        assert_eq!(gt[0].class, Some(Class::Pedestrian));
        assert_eq!(
            (gt[1].class, gt[1].state),
            (Some(Class::TrafficLight), Some(LightState::Red))
        );
        for (a, b) in gt[0].bbox.iter().zip([1.5, 2.25, 10.0, 20.0]) {
            assert!((a - b).abs() < 1e-4, "{:?}", gt[0].bbox);
        }
    }

    #[test]
    fn denormalizes_and_names_bad_line() {
        let map = ClassMap::default();
        let v = parse_labels(
            "0 0.5 0.5 0.5 0.25\n9 0.1 0.1 0.1 0.1\n",
            Path::new("a.txt"),
            200.0,
            100.0,
            &map,
        )
        .unwrap();
        assert_eq!(v[0].bbox, [50.0, 37.5, 150.0, 62.5]);
        assert_eq!(v[0].class, Some(Class::Pedestrian));
        assert_eq!(v[1].class, Some(Class::TrafficLight));
        let err = parse_labels(
            "0 0.5 0.5 0.5 0.25\n0 0.5 nan 1 1\n",
            Path::new("a.txt"),
            1.0,
            1.0,
            &map,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("a.txt:2:") && err.contains("cy"), "{err}");
    }

    #[test]
    fn state_names_of_data_yaml_become_lights_with_states() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("data.yaml"),
            "names: [green, left, off, red, yellow, person]\n",
        )
        .expect("data.yaml");
        let names = state_names(dir.path(), &ClassMap::default())
            .expect("parses")
            .expect("state names");
        let light = |s| (Some(Class::TrafficLight), Some(s));
        assert_eq!(names[&0], light(LightState::Green));
        assert_eq!(names[&1], light(LightState::Green), "a left arrow is green");
        assert_eq!(names[&2], light(LightState::Unknown));
        assert_eq!(names[&3], light(LightState::Red));
        assert_eq!(names[&4], light(LightState::Yellow));
        assert_eq!(names[&5], (Some(Class::Pedestrian), None));
        std::fs::write(dir.path().join("data.yaml"), "names: {0: person, 9: car}\n")
            .expect("data.yaml");
        let none = state_names(dir.path(), &ClassMap::default()).expect("parses");
        assert!(none.is_none(), "no state names: COCO ids as before");
    }
}
