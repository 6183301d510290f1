//! COCO JSON: `coco:FILE` names the annotations file; images are looked up as
//! `<dir of FILE>/images/<file_name>`, `<dir of FILE>/../images/<file_name>` (COCO's
//! `annotations/instances_*.json` layout), else `<dir of FILE>/<file_name>`.
//!
//! Categories map by name through the class map; `area` and `iscrowd` are kept, since
//! pycocotools uses them for area ranges and crowd matching. Frames are identified by
//! the image file stem (COCO file names are the zero-padded ids, so the order is the same).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::Loaded;
use crate::class::{Class, ClassMap};
use crate::error::{EvalError, Result};
use crate::export::{write_file, ExportInfo, LabelImage};
use crate::frame::GtObject;

#[derive(Deserialize)]
struct File {
    images: Vec<Image>,
    #[serde(default)]
    annotations: Vec<Annotation>,
    categories: Vec<Category>,
}
#[derive(Deserialize)]
struct Image {
    id: u64,
    file_name: String,
}
#[derive(Deserialize)]
struct Annotation {
    image_id: u64,
    category_id: u64,
    bbox: [f64; 4],
    area: Option<f64>,
    #[serde(default)]
    iscrowd: u8,
}
#[derive(Deserialize)]
struct Category {
    id: u64,
    name: String,
}

pub(super) fn load(file: &Path, map: &ClassMap) -> Result<Loaded> {
    let text = std::fs::read_to_string(file).map_err(|e| EvalError::io(file, e))?;
    let parsed: File =
        serde_json::from_str(&text).map_err(|e| EvalError::field(file, "json", e.to_string()))?;
    let cats: BTreeMap<u64, &str> = parsed
        .categories
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    let mut by_image: BTreeMap<u64, Vec<GtObject>> = BTreeMap::new();
    for (k, a) in parsed.annotations.iter().enumerate() {
        let field = |f: &str| format!("annotations[{k}].{f}");
        let name = cats.get(&a.category_id).ok_or_else(|| {
            EvalError::field(
                file,
                field("category_id"),
                format!("unknown id {}", a.category_id),
            )
        })?;
        let [x, y, w, h] = a.bbox;
        if !a.bbox.iter().all(|v| v.is_finite()) || w < 0.0 || h < 0.0 {
            return Err(EvalError::field(
                file,
                field("bbox"),
                format!("bad box {:?}", a.bbox),
            ));
        }
        by_image.entry(a.image_id).or_default().push(GtObject {
            label: name.to_string(),
            class: map.label(name),
            bbox: [x, y, x + w, y + h],
            area: a.area.unwrap_or(w * h),
            iscrowd: a.iscrowd != 0,
            ignore: false,
            kitti: None,
            state: None,
        });
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut out = Loaded::default();
    // COCO's own layout (and datumaro's, CVAT's) has the file in `annotations/` beside `images/`.
    let beside = dir.parent().map(|p| p.join("images"));
    for img in &parsed.images {
        let candidates = [
            Some(dir.join("images")),
            beside.clone(),
            Some(dir.to_path_buf()),
        ];
        let image = candidates
            .iter()
            .flatten()
            .map(|d| d.join(&img.file_name))
            .find(|p| p.exists())
            .unwrap_or_else(|| dir.join(&img.file_name));
        out.push_if_readable(
            &img.file_name,
            by_image.remove(&img.id).unwrap_or_default(),
            image,
        );
    }
    Ok(out)
}

/// COCO instances JSON in COCO's layout (`annotations/instances_default.json` beside
/// `images/`, as datumaro and CVAT import it) with the three classes as categories 1–3. Each annotation keeps
/// its `score`, and a traffic light its state in `attributes` (CVAT's and datumaro's
/// place for attributes in COCO).
pub(crate) fn write(
    out: &Path,
    images: &[LabelImage],
    info: &ExportInfo,
) -> Result<Vec<std::path::PathBuf>> {
    let known = Class::known();
    let category = |c: Class| known.iter().position(|k| *k == c).unwrap_or(0) + 1;
    let mut annotations = Vec::new();
    for (k, img) in images.iter().enumerate() {
        for d in &img.objects {
            let [x1, y1, x2, y2] = d.bbox;
            let mut a = serde_json::json!({
                "id": annotations.len() + 1, "image_id": k + 1,
                "category_id": category(d.class),
                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                "iscrowd": 0, "segmentation": [], "score": d.score,
            });
            if d.class == Class::TrafficLight {
                let state = d.state.unwrap_or(sightline_types::LightState::Unknown);
                a["attributes"] = serde_json::json!({ "state": state.as_str() });
            }
            annotations.push(a);
        }
    }
    let file = serde_json::json!({
        "info": { "description": format!("sightline pre-labels ({})", info.model_version) },
        "licenses": [],
        "images": images.iter().enumerate().map(|(k, img)| serde_json::json!({
            "id": k + 1, "file_name": img.file_name, "width": img.width, "height": img.height,
        })).collect::<Vec<_>>(),
        "annotations": annotations,
        "categories": known.iter().map(|c| serde_json::json!({
            "id": category(*c), "name": c.as_str(), "supercategory": "",
        })).collect::<Vec<_>>(),
    });
    let dir = out.join("annotations");
    std::fs::create_dir_all(&dir).map_err(|e| EvalError::io(&dir, e))?;
    let path = dir.join("instances_default.json");
    let text = serde_json::to_string_pretty(&file)
        .map_err(|e| EvalError::field(&path, "json", e.to_string()))?;
    Ok(vec![write_file(&path, text.as_bytes())?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Class;

    #[test]
    fn written_boxes_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let images = crate::dataset::tests::sample_images(tmp.path());
        let info = ExportInfo {
            model_version: "m".into(),
        };
        write(tmp.path(), &images, &info).unwrap();
        let file = tmp.path().join("annotations/instances_default.json");
        let out = load(&file, &ClassMap::default()).unwrap();
        assert_eq!((out.loaded.len(), out.skipped.len()), (1, 1));
        let gt = &out.loaded[0].0.gt;
        assert_eq!(gt[0].bbox, [1.5, 2.25, 10.0, 20.0]);
        assert_eq!(gt[1].class, Some(Class::TrafficLight));
    }

    #[test]
    fn reads_boxes_crowds_and_skips_missing_images() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("images")).unwrap();
        image::RgbImage::new(4, 4)
            .save(tmp.path().join("images/000000000001.png"))
            .unwrap();
        let json = r#"{"images": [{"id": 1, "file_name": "000000000001.png"},
                                  {"id": 2, "file_name": "gone.png"}],
            "annotations": [
              {"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "area": 7.5, "iscrowd": 0},
              {"image_id": 1, "category_id": 10, "bbox": [0, 0, 2, 2], "iscrowd": 1},
              {"image_id": 1, "category_id": 3, "bbox": [0, 0, 2, 2]}],
            "categories": [{"id": 1, "name": "person"}, {"id": 10, "name": "traffic light"},
                           {"id": 3, "name": "car"}]}"#;
        let file = tmp.path().join("ann.json");
        std::fs::write(&file, json).unwrap();
        let out = load(&file, &ClassMap::default()).unwrap();
        assert_eq!(out.loaded.len(), 1);
        assert_eq!(out.skipped.len(), 1);
        let gt = &out.loaded[0].0.gt;
        assert_eq!(out.loaded[0].0.id, "000000000001");
        assert_eq!(gt[0].bbox, [1.0, 2.0, 4.0, 6.0]);
        assert_eq!((gt[0].class, gt[0].area), (Some(Class::Pedestrian), 7.5));
        assert!(gt[1].iscrowd && gt[1].class == Some(Class::TrafficLight));
        assert_eq!((gt[2].class, gt[2].area), (None, 4.0));

        let bad = json.replace("\"category_id\": 3", "\"category_id\": 99");
        std::fs::write(&file, bad).unwrap();
        let err = load(&file, &ClassMap::default()).err().unwrap().to_string();
        assert!(err.contains("annotations[2].category_id"), "{err}");
    }
}
