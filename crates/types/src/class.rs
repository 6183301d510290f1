//! The object classes Sightline reports; the names are the ones of the JSONL schema,
//! the `vision_msgs` `class_id`s, the node's parameters and the eval reports.

use serde::{Deserialize, Serialize};

/// A class Sightline detects. Ordered as reports list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Pedestrian,
    TrafficLight,
    StopSign,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Pedestrian, Class::TrafficLight, Class::StopSign];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Pedestrian => "pedestrian",
            Class::TrafficLight => "traffic_light",
            Class::StopSign => "stop_sign",
        }
    }

    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
