//! KITTI object layout: `image_2/<id>.png`, `label_2/<id>.txt` (15 columns: type,
//! truncated, occluded, alpha, x1 y1 x2 y2, h w l, x y z, rotation_y), optional `calib/`.
//!
//! Every row is kept — `DontCare` and `Person_sitting` too — because the KITTI metric
//! needs them; only mapped labels (`Pedestrian`) get a class.

use std::path::Path;

use super::{image_size, list_images, parse_f64, read_optional, stem, Loaded, Skipped};
use crate::class::ClassMap;
use crate::error::{EvalError, Result};
use crate::frame::{Frame, GtObject, KittiAttrs};

pub(super) fn load(dir: &Path, map: &ClassMap) -> Result<Loaded> {
    let mut out = Loaded::default();
    for image in list_images(&dir.join("image_2"))? {
        if let Err(reason) = image_size(&image) {
            out.skipped.push(Skipped {
                path: image,
                reason,
            });
            continue;
        }
        let id = stem(&image);
        let label_path = dir.join("label_2").join(format!("{id}.txt"));
        let gt = match read_optional(&label_path)? {
            Some(text) => parse_labels(&text, &label_path, map)?,
            None => {
                tracing::warn!(path = %label_path.display(), "no label file; frame has no objects");
                Vec::new()
            }
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

/// Parses one `label_2` file (ground truth: 15 columns; a 16th score column is allowed).
pub(crate) fn parse_labels(text: &str, path: &Path, map: &ClassMap) -> Result<Vec<GtObject>> {
    let mut v = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |msg: String| EvalError::line(path, i + 1, msg);
        let tok: Vec<&str> = line.split_whitespace().collect();
        if tok.len() != 15 && tok.len() != 16 {
            return Err(bad(format!("expected 15 columns, found {}", tok.len())));
        }
        let num = |k: usize, what: &str| parse_f64(tok[k], what).map_err(&bad);
        let truncated = num(1, "truncated")?;
        let occluded = tok[2]
            .parse::<i32>()
            .map_err(|_| bad(format!("occluded: not an integer: {:?}", tok[2])))?;
        let bbox = [num(4, "x1")?, num(5, "y1")?, num(6, "x2")?, num(7, "y2")?];
        if bbox[2] < bbox[0] || bbox[3] < bbox[1] {
            return Err(bad(format!("box {bbox:?} has x2 < x1 or y2 < y1")));
        }
        let location = [num(11, "x")?, num(12, "y")?, num(13, "z")?];
        let label = tok[0].to_string();
        v.push(GtObject {
            class: map.label(&label),
            label,
            bbox,
            area: (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]),
            iscrowd: false,
            ignore: false,
            kitti: Some(KittiAttrs {
                truncated,
                occluded,
                location,
            }),
            state: None,
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Class;

    #[test]
    fn parses_rows_and_names_bad_line() {
        let map = ClassMap::default();
        let text = "Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01\n\
                    DontCare -1 -1 -10 1.0 2.0 30.0 40.0 -1 -1 -1 -1000 -1000 -1000 -10\n";
        let v = parse_labels(text, Path::new("l.txt"), &map).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].class, Some(Class::Pedestrian));
        assert_eq!(v[0].kitti.unwrap().location, [1.84, 1.47, 8.41]);
        assert_eq!(v[1].class, None);
        let bad = "Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92\n";
        let err = parse_labels(&format!("{text}{bad}"), Path::new("l.txt"), &map)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("l.txt:3:"), "{err}");
        let bad = "Pedestrian 0.00 x -0.20 712.40 143.00 810.73 307.92 1 1 1 1 1 1 1\n";
        let err = parse_labels(bad, Path::new("l.txt"), &map)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("l.txt:1:") && err.contains("occluded"),
            "{err}"
        );
    }
}
