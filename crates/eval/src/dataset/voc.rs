//! Pascal VOC layout: `annotations/<id>.xml` (`<filename>`, `<object>` with `<name>`,
//! `<difficult>`, `<bndbox>` xmin ymin xmax ymax) and `images/<filename>`.
//!
//! Boxes are taken as written (no VOC 1-pixel offset), which is how COCO-style tools
//! convert VOC. `difficult` objects are ignored (neither TP nor FN), as VOC's devkit does.

use std::path::Path;

use super::{parse_f64, stem, Loaded};
use crate::class::ClassMap;
use crate::error::{EvalError, Result};
use crate::frame::GtObject;

pub(super) fn load(dir: &Path, map: &ClassMap) -> Result<Loaded> {
    let ann_dir = dir.join("annotations");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&ann_dir).map_err(|e| EvalError::io(&ann_dir, e))? {
        let path = entry.map_err(|e| EvalError::io(&ann_dir, e))?.path();
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xml"))
        {
            files.push(path);
        }
    }
    files.sort();
    let mut out = Loaded::default();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| EvalError::io(&path, e))?;
        let (filename, gt) = parse_xml(&text, &path, map)?;
        let filename = filename.unwrap_or_else(|| format!("{}.jpg", stem(&path)));
        let image = dir.join("images").join(&filename);
        out.push_if_readable(&filename, gt, image);
    }
    Ok(out)
}

/// Parses one annotation: the image file name (if given) and the objects.
pub(crate) fn parse_xml(
    text: &str,
    path: &Path,
    map: &ClassMap,
) -> Result<(Option<String>, Vec<GtObject>)> {
    let doc = roxmltree::Document::parse(text)
        .map_err(|e| EvalError::field(path, "xml", e.to_string()))?;
    let root = doc.root_element();
    let child_text = |node: roxmltree::Node, name: &str| {
        node.children()
            .find(|c| c.has_tag_name(name))
            .and_then(|c| c.text())
            .map(|t| t.trim().to_string())
    };
    let filename = child_text(root, "filename");
    let mut gt = Vec::new();
    for (k, obj) in root
        .children()
        .filter(|c| c.has_tag_name("object"))
        .enumerate()
    {
        let field = |f: &str| format!("object[{k}].{f}");
        let label = child_text(obj, "name")
            .ok_or_else(|| EvalError::field(path, field("name"), "missing"))?;
        let difficult = child_text(obj, "difficult").is_some_and(|d| d == "1");
        let bnd = obj
            .children()
            .find(|c| c.has_tag_name("bndbox"))
            .ok_or_else(|| EvalError::field(path, field("bndbox"), "missing"))?;
        let mut bbox = [0.0; 4];
        for (b, tag) in bbox.iter_mut().zip(["xmin", "ymin", "xmax", "ymax"]) {
            let t = child_text(bnd, tag).ok_or_else(|| {
                EvalError::field(path, field(&format!("bndbox.{tag}")), "missing")
            })?;
            *b = parse_f64(&t, tag)
                .map_err(|m| EvalError::field(path, field(&format!("bndbox.{tag}")), m))?;
        }
        if bbox[2] < bbox[0] || bbox[3] < bbox[1] {
            return Err(EvalError::field(
                path,
                field("bndbox"),
                format!("{bbox:?} has xmax < xmin or ymax < ymin"),
            ));
        }
        gt.push(GtObject {
            class: map.label(&label),
            label,
            bbox,
            area: (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]),
            iscrowd: false,
            ignore: difficult,
            kitti: None,
            state: None,
        });
    }
    Ok((filename, gt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Class;

    #[test]
    fn parses_objects_and_names_bad_field() {
        let map = ClassMap::default();
        let xml = "<annotation><filename>road0.png</filename>\
            <object><name>trafficlight</name><difficult>0</difficult>\
            <bndbox><xmin>98</xmin><ymin>62</ymin><xmax>208</xmax><ymax>232</ymax></bndbox></object>\
            <object><name>speedlimit</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>\
            </annotation>";
        let (f, gt) = parse_xml(xml, Path::new("a.xml"), &map).unwrap();
        assert_eq!(f.as_deref(), Some("road0.png"));
        assert_eq!(gt[0].class, Some(Class::TrafficLight));
        assert_eq!(gt[0].bbox, [98.0, 62.0, 208.0, 232.0]);
        assert_eq!(gt[1].class, None);
        let bad = xml.replace("<ymax>4</ymax>", "<ymax>four</ymax>");
        let err = parse_xml(&bad, Path::new("a.xml"), &map)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a.xml") && err.contains("object[1].bndbox.ymax"),
            "{err}"
        );
    }
}
