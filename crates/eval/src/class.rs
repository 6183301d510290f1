//! The map from dataset labels to Sightline's classes. The classes themselves come from
//! `sightline-types`, so the metrics crate never pulls the GPU stack.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{EvalError, Result};

pub use sightline_types::Class;

/// Dataset label → Sightline class. Built from YAML (see `classmap.yaml`, the default).
#[derive(Clone, Debug)]
pub struct ClassMap {
    labels: BTreeMap<String, Class>,
    coco_ids: BTreeMap<u32, Class>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClassMap {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    coco_ids: BTreeMap<u32, String>,
}

const DEFAULT_YAML: &str = include_str!("../classmap.yaml");

impl Default for ClassMap {
    fn default() -> Self {
        // The shipped YAML is checked by a unit test, so this cannot fail at run time.
        Self::from_yaml(DEFAULT_YAML, Path::new("classmap.yaml")).unwrap_or(ClassMap {
            labels: BTreeMap::new(),
            coco_ids: BTreeMap::new(),
        })
    }
}

impl ClassMap {
    /// Parses a class map; `path` only names the source in errors.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Self> {
        let raw: RawClassMap = serde_yaml::from_str(text)
            .map_err(|e| EvalError::field(path, "classmap", e.to_string()))?;
        let class = |field: String, name: &str| {
            Class::from_name(name).ok_or_else(|| {
                EvalError::field(
                    path,
                    field,
                    format!("unknown class {name:?} ({})", Class::known_names()),
                )
            })
        };
        let mut labels = BTreeMap::new();
        for (label, name) in raw.labels {
            let c = class(format!("labels.{label}"), &name)?;
            labels.insert(label, c);
        }
        let mut coco_ids = BTreeMap::new();
        for (id, name) in raw.coco_ids {
            coco_ids.insert(id, class(format!("coco_ids.{id}"), &name)?);
        }
        Ok(ClassMap { labels, coco_ids })
    }

    /// Reads a class map file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
        Self::from_yaml(&text, path)
    }

    /// Maps `label` to `class` too (a trained model's manifest names the data set
    /// labels of its new classes). An existing mapping of the label is replaced.
    pub fn add_label(&mut self, label: &str, class: Class) {
        self.labels.insert(label.to_string(), class);
    }

    /// The class of a label string: exact match first, then case-insensitive.
    pub fn label(&self, label: &str) -> Option<Class> {
        self.labels.get(label).copied().or_else(|| {
            self.labels
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(label))
                .map(|(_, c)| *c)
        })
    }

    /// The class of a COCO 80-class id (YOLO txt labels).
    pub fn coco_id(&self, id: u32) -> Option<Class> {
        self.coco_ids.get(&id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_map_parses_and_maps_the_issue_labels() {
        let m = ClassMap::from_yaml(DEFAULT_YAML, Path::new("classmap.yaml")).unwrap();
        assert_eq!(m.label("Pedestrian"), Some(Class::Pedestrian));
        assert_eq!(m.label("person"), Some(Class::Pedestrian));
        assert_eq!(m.label("stop"), Some(Class::StopSign));
        assert_eq!(m.label("stop sign"), Some(Class::StopSign));
        assert_eq!(m.label("trafficlight"), Some(Class::TrafficLight));
        assert_eq!(m.label("Traffic Light"), Some(Class::TrafficLight));
        assert_eq!(m.label("Person_sitting"), None);
        assert_eq!(m.label("DontCare"), None);
        assert_eq!(m.coco_id(0), Some(Class::Pedestrian));
        assert_eq!(m.coco_id(9), Some(Class::TrafficLight));
        assert_eq!(m.coco_id(11), Some(Class::StopSign));
        assert_eq!(m.coco_id(2), None);
    }

    #[test]
    fn added_labels_map_to_registered_classes() {
        let mut m = ClassMap::default();
        assert_eq!(m.label("speedlimit"), None);
        let c = Class::register("speed_limit").unwrap();
        m.add_label("speedlimit", c);
        assert_eq!(m.label("SpeedLimit"), Some(c));
        assert_eq!(m.label("stop"), Some(Class::StopSign));
    }

    #[test]
    fn unknown_class_names_the_field() {
        let err = ClassMap::from_yaml("labels:\n  car: vehicle\n", Path::new("m.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.yaml") && err.contains("labels.car"),
            "{err}"
        );
    }
}
