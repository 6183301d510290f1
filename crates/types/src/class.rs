//! The object classes Sightline reports; the names are the ones of the JSONL schema,
//! the `vision_msgs` `class_id`s, the node's parameters and the eval reports.
//!
//! The three classes of the shipped model are constants; a model manifest can name
//! more (a head trained by `sightline train-head`), which [`Class::register`] adds to
//! one process-wide list. A class stays `Copy` and cheap to compare: it is its place in
//! that list plus its interned name.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Mutex;

/// A class Sightline detects. Ordered as reports list them: the built-in three first,
/// then the registered ones in the order they were registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Class {
    rank: u32,
    name: &'static str,
}

/// Why a class name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("class name {name:?}: {reason}")]
pub struct ClassNameError {
    pub name: String,
    pub reason: &'static str,
}

/// Classes registered beyond the built-in three, in registration order.
static REGISTERED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// Most classes one process registers: each name is leaked once, so a stream of
/// hostile manifests (a fuzzer, say) must not grow the list without bound.
pub const MAX_REGISTERED: usize = 256;

#[allow(non_upper_case_globals)]
impl Class {
    // Named like the enum variants they replace, so `Class::Pedestrian` reads (and
    // matches) as before.
    pub const Pedestrian: Class = Class {
        rank: 0,
        name: "pedestrian",
    };
    pub const TrafficLight: Class = Class {
        rank: 1,
        name: "traffic_light",
    };
    pub const StopSign: Class = Class {
        rank: 2,
        name: "stop_sign",
    };

    /// The classes of the shipped model.
    pub const ALL: [Class; 3] = [Class::Pedestrian, Class::TrafficLight, Class::StopSign];

    pub fn as_str(self) -> &'static str {
        self.name
    }

    /// Whether this is one of the shipped model's classes ([`Class::ALL`]).
    pub fn is_builtin(self) -> bool {
        (self.rank as usize) < Class::ALL.len()
    }

    /// A known class (built in or registered) by name.
    pub fn from_name(name: &str) -> Option<Class> {
        Class::known().into_iter().find(|c| c.as_str() == name)
    }

    /// Every known class: the built-in three, then the registered ones.
    pub fn known() -> Vec<Class> {
        let registered = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
        Class::ALL
            .into_iter()
            .chain(registered.iter().enumerate().map(|(i, &name)| Class {
                rank: (Class::ALL.len() + i) as u32,
                name,
            }))
            .collect()
    }

    /// The class named `name`, registering it if it is new. Names are what the JSONL
    /// schema and ROS parameter names carry, so only `[a-z0-9_]`, starting with a letter.
    pub fn register(name: &str) -> Result<Class, ClassNameError> {
        check_name(name)?;
        if let Some(c) = Class::ALL.into_iter().find(|c| c.name == name) {
            return Ok(c);
        }
        let mut registered = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
        let i = place(&mut registered, name, MAX_REGISTERED)?;
        Ok(Class {
            rank: (Class::ALL.len() + i) as u32,
            name: registered[i],
        })
    }

    /// The known class names, comma-separated, for error messages.
    pub fn known_names() -> String {
        Class::known()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `name`'s index in `registered`, appending it (leaked once: a process knows a
/// handful of classes) unless `max` are there already.
fn place(
    registered: &mut Vec<&'static str>,
    name: &str,
    max: usize,
) -> Result<usize, ClassNameError> {
    if let Some(i) = registered.iter().position(|&n| n == name) {
        return Ok(i);
    }
    if registered.len() >= max {
        return Err(ClassNameError {
            name: name.to_string(),
            reason: "too many classes in one process (at most 256 besides the built-in three)",
        });
    }
    registered.push(Box::leak(name.to_string().into_boxed_str()));
    Ok(registered.len() - 1)
}

fn check_name(name: &str) -> Result<(), ClassNameError> {
    let bad = |reason| {
        Err(ClassNameError {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 64 {
        return bad("must have 1 to 64 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase())
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return bad("use lower-case letters, digits and '_', starting with a letter");
    }
    Ok(())
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Class {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

impl<'de> Deserialize<'de> for Class {
    /// A name read back from our own files (reports, shards, manifests) registers the
    /// class: a report of a trained model names its new classes.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Class::register(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_keep_their_names_and_order() {
        assert_eq!(Class::from_name("traffic_light"), Some(Class::TrafficLight));
        assert!(Class::Pedestrian < Class::TrafficLight && Class::TrafficLight < Class::StopSign);
        assert_eq!(Class::register("stop_sign"), Ok(Class::StopSign));
        assert!(Class::StopSign.is_builtin());
    }

    #[test]
    fn registered_classes_sort_after_the_builtins_and_register_once() {
        assert_eq!(Class::from_name("test_cone"), None);
        let a = Class::register("test_cone").unwrap();
        let b = Class::register("test_cone").unwrap();
        assert_eq!(a, b);
        assert!(!a.is_builtin());
        assert!(a > Class::StopSign);
        assert_eq!(Class::from_name("test_cone"), Some(a));
        assert_eq!(a.as_str(), "test_cone");
    }

    #[test]
    fn the_list_stops_growing_at_its_limit() {
        let mut list = Vec::new();
        assert_eq!(place(&mut list, "a", 2), Ok(0));
        assert_eq!(place(&mut list, "b", 2), Ok(1));
        assert_eq!(place(&mut list, "a", 2), Ok(0));
        let err = place(&mut list, "c", 2).unwrap_err();
        assert!(err.to_string().contains("too many classes"), "{err}");
        assert_eq!(list, ["a", "b"]);
    }

    #[test]
    fn bad_names_are_refused_with_the_name() {
        for bad in ["", "Speed", "9lives", "a-b", "a b"] {
            let err = Class::register(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }
}
