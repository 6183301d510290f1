//! The state of a traffic light, as the JSONL schema, the `vision_msgs` hypotheses
//! (`traffic_light.<state>`), the diagnostics and the eval reports name it.

use serde::{Deserialize, Serialize};

/// What a traffic light shows. `Unknown` is an answer: too small to judge, unlit, or
/// no colour clearly ahead of the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LightState {
    Red,
    Yellow,
    Green,
    Unknown,
}

impl LightState {
    pub const ALL: [LightState; 4] = [
        LightState::Red,
        LightState::Yellow,
        LightState::Green,
        LightState::Unknown,
    ];
    /// The lit states, in the order of the classifier's colour masks.
    pub const LIT: [LightState; 3] = [LightState::Red, LightState::Yellow, LightState::Green];

    pub fn as_str(self) -> &'static str {
        match self {
            LightState::Red => "red",
            LightState::Yellow => "yellow",
            LightState::Green => "green",
            LightState::Unknown => "unknown",
        }
    }

    pub fn from_name(name: &str) -> Option<LightState> {
        LightState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Index in [`LightState::ALL`] (rows and columns of a confusion matrix).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for LightState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A light's state and how sure the classifier is (0..=1; 0 for a box too small).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LightReading {
    pub state: LightState,
    pub score: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_index_the_confusion_matrix() {
        for (i, s) in LightState::ALL.into_iter().enumerate() {
            assert_eq!(LightState::from_name(s.as_str()), Some(s));
            assert_eq!(s.index(), i);
        }
        assert_eq!(LightState::from_name("amber"), None);
    }
}
