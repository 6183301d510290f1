//! YOLO txt layout: `images/<id>.jpg`, `labels/<id>.txt` with `class cx cy w h` per line,
//! normalized to the image size (read from the image header), COCO 80-class ids.

use std::path::Path;

use super::{image_size, list_images, parse_f64, read_optional, stem, Loaded, Skipped};
use crate::class::ClassMap;
use crate::error::{EvalError, Result};
use crate::frame::{Frame, GtObject};

pub(super) fn load(dir: &Path, map: &ClassMap) -> Result<Loaded> {
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
            Some(text) => parse_labels(&text, &label_path, f64::from(w), f64::from(h), map)?,
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
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Class;

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
}
