//! CVAT for images 1.1 XML (`cvat:FILE.xml`): `<image name width height>` elements with
//! `<box label xtl ytl xbr ybr>` children, each with `<attribute name=…>` children.
//!
//! `sightline label` writes it with a `<meta>` that declares the three classes, a
//! `score` text attribute on each and a `state` select (red, yellow, green, unknown) on
//! traffic lights, so a CVAT task made from it (or datumaro) has the labels ready.
//! Reading back, images are looked up as `<dir of FILE>/images/<name>`, else
//! `<dir of FILE>/<name>`; a missing image is skipped and listed. A label that is not a
//! class (nor in the class map), or a box outside its image, is an error naming the
//! image: a corrected export should hold neither.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sightline_types::LightState;

use super::{check_inside, Loaded, Skipped};
use crate::class::{Class, ClassMap};
use crate::error::{EvalError, Result};
use crate::export::{write_file, ExportInfo, LabelImage};
use crate::frame::GtObject;

pub(super) fn load(file: &Path, map: &ClassMap) -> Result<Loaded> {
    let text = std::fs::read_to_string(file).map_err(|e| EvalError::io(file, e))?;
    let doc = roxmltree::Document::parse(&text)
        .map_err(|e| EvalError::field(file, "xml", e.to_string()))?;
    let root = doc.root_element();
    if !root.has_tag_name("annotations") {
        return Err(EvalError::field(
            file,
            "xml",
            format!(
                "root <{}> is not CVAT's <annotations>",
                root.tag_name().name()
            ),
        ));
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut out = Loaded::default();
    for (k, img) in root
        .children()
        .filter(|c| c.has_tag_name("image"))
        .enumerate()
    {
        let field = |f: &str| format!("image[{k}].{f}");
        let name = img
            .attribute("name")
            .ok_or_else(|| EvalError::field(file, field("name"), "missing"))?;
        let dim = |a: &str| {
            img.attribute(a)
                .and_then(|v| v.trim().parse::<u32>().ok())
                .ok_or_else(|| EvalError::field(file, field(a), "missing or not a number"))
        };
        let (width, height) = (dim("width")?, dim("height")?);
        let mut gt = Vec::new();
        for (j, b) in img.children().filter(|c| c.has_tag_name("box")).enumerate() {
            let at = format!("image {name:?} box[{j}]");
            gt.push(parse_box(b, file, &at, (width, height), map)?);
        }
        let Some(image) = find_image(dir, name) else {
            out.skipped.push(Skipped {
                path: dir.join("images").join(name),
                reason: format!("{}: names an image that does not exist", file.display()),
            });
            continue;
        };
        out.push_if_readable(name, gt, image);
    }
    Ok(out)
}

/// `<dir>/images/<name>`, `<dir>/<name>` or `<dir>/images/<base name>`: the first that exists.
pub(crate) fn find_image(dir: &Path, name: &str) -> Option<PathBuf> {
    let base = Path::new(name).file_name()?;
    [
        dir.join("images").join(name),
        dir.join(name),
        dir.join("images").join(base),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// The class of a label: Sightline's own names, then the class map.
pub(crate) fn class_of(label: &str, map: &ClassMap) -> Option<Class> {
    Class::from_name(label).or_else(|| map.label(label))
}

fn parse_box(
    b: roxmltree::Node,
    file: &Path,
    at: &str,
    size: (u32, u32),
    map: &ClassMap,
) -> Result<GtObject> {
    let err = |what: &str, msg: String| EvalError::field(file, format!("{at}.{what}"), msg);
    let label = b
        .attribute("label")
        .ok_or_else(|| err("label", "missing".into()))?;
    let class = class_of(label, map).ok_or_else(|| {
        err(
            "label",
            format!("unknown label {label:?} (pedestrian, traffic_light, stop_sign, or one in --class-map)"),
        )
    })?;
    let mut bbox = [0.0; 4];
    for (v, a) in bbox.iter_mut().zip(["xtl", "ytl", "xbr", "ybr"]) {
        let t = b.attribute(a).ok_or_else(|| err(a, "missing".into()))?;
        *v = super::parse_f64(t, a).map_err(|m| err(a, m))?;
    }
    check_inside(&bbox, size).map_err(|m| err("box", m))?;
    let mut state = None;
    for attr in b.children().filter(|c| c.has_tag_name("attribute")) {
        if attr.attribute("name") == Some("state") {
            let value = attr.text().unwrap_or("").trim();
            state = Some(LightState::from_name(value).ok_or_else(|| {
                err(
                    "state",
                    format!("{value:?} is not red, yellow, green or unknown"),
                )
            })?);
        }
    }
    Ok(GtObject {
        label: label.to_string(),
        class: Some(class),
        bbox,
        area: (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]),
        iscrowd: false,
        ignore: false,
        kitti: None,
        state: state.filter(|_| class == Class::TrafficLight),
    })
}

/// Escapes text for an XML attribute or element.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The `<labels>` of the meta: every class with a `score` text attribute, and traffic
/// lights with their `state`.
fn labels_meta() -> String {
    let attribute = |name: &str, input: &str, default: &str, values: &str| {
        format!(
            "<attribute><name>{name}</name><mutable>False</mutable><input_type>{input}</input_type>\
             <default_value>{default}</default_value><values>{values}</values></attribute>"
        )
    };
    let states: Vec<&str> = LightState::ALL.iter().map(|s| s.as_str()).collect();
    let mut out = String::new();
    for class in Class::known() {
        let mut attrs = attribute("score", "text", "", "");
        if class == Class::TrafficLight {
            attrs += &attribute("state", "select", "unknown", &states.join("\n"));
        }
        let _ = writeln!(
            out,
            "      <label><name>{}</name><type>rectangle</type><attributes>{attrs}</attributes></label>",
            class.as_str()
        );
    }
    out
}

pub(crate) fn write(out: &Path, images: &[LabelImage], info: &ExportInfo) -> Result<Vec<PathBuf>> {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<annotations>\n");
    let _ = write!(
        xml,
        "  <version>1.1</version>\n  <meta>\n    <task>\n      <name>sightline pre-labels ({})</name>\n      \
         <size>{}</size>\n      <mode>annotation</mode>\n      <labels>\n{}      </labels>\n    </task>\n  </meta>\n",
        xml_escape(&info.model_version),
        images.len(),
        labels_meta()
    );
    for (id, img) in images.iter().enumerate() {
        let _ = writeln!(
            xml,
            "  <image id=\"{id}\" name=\"{}\" width=\"{}\" height=\"{}\">",
            xml_escape(&img.file_name),
            img.width,
            img.height
        );
        for d in &img.objects {
            let [x1, y1, x2, y2] = d.bbox;
            let _ = write!(
                xml,
                "    <box label=\"{}\" source=\"auto\" occluded=\"0\" xtl=\"{x1:.2}\" ytl=\"{y1:.2}\" \
                 xbr=\"{x2:.2}\" ybr=\"{y2:.2}\" z_order=\"0\">\n      <attribute name=\"score\">{:.4}</attribute>\n",
                d.class.as_str(),
                d.score
            );
            if d.class == Class::TrafficLight {
                let state = d.state.unwrap_or(LightState::Unknown);
                let _ = writeln!(
                    xml,
                    "      <attribute name=\"state\">{}</attribute>",
                    state.as_str()
                );
            }
            xml.push_str("    </box>\n");
        }
        xml.push_str("  </image>\n");
    }
    xml.push_str("</annotations>\n");
    Ok(vec![write_file(
        &out.join("annotations.xml"),
        xml.as_bytes(),
    )?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::sample_images;

    #[test]
    fn written_boxes_read_back_with_state_and_bad_input_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let images = sample_images(tmp.path());
        let info = ExportInfo {
            model_version: "m@sha256:ab".into(),
        };
        write(tmp.path(), &images, &info).unwrap();
        let file = tmp.path().join("annotations.xml");
        let out = load(&file, &ClassMap::default()).unwrap();
        assert_eq!(out.loaded.len(), 1);
        assert_eq!(out.skipped.len(), 1, "the second image is not on disk");
        let gt = &out.loaded[0].0.gt;
        assert_eq!(out.loaded[0].0.id, "cam__1_000000002");
        assert_eq!(gt.len(), 2);
        assert_eq!(gt[0].bbox, [1.5, 2.25, 10.0, 20.0]);
        assert_eq!(gt[1].class, Some(Class::TrafficLight));
        assert_eq!(gt[1].state, Some(LightState::Red));

        let text = std::fs::read_to_string(&file).unwrap();
        let relabeled = text.replacen("label=\"pedestrian\"", "label=\"bicycle\"", 1);
        std::fs::write(&file, relabeled).unwrap();
        let err = load(&file, &ClassMap::default()).err().unwrap().to_string();
        assert!(
            err.contains("box[0].label") && err.contains("bicycle"),
            "{err}"
        );

        let outside = text.replacen("xbr=\"10.00\"", "xbr=\"99.00\"", 1);
        std::fs::write(&file, outside).unwrap();
        let err = load(&file, &ClassMap::default()).err().unwrap().to_string();
        assert!(
            err.contains("cam__1_000000002.png") && err.contains("outside"),
            "{err}"
        );
    }
}
