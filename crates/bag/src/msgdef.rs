//! Message definitions (`.msg` text) for the types we write, and the concatenated
//! `ros2msg` schema text that rosbag2 stores in MCAP: the type's own text, then every
//! referenced type as `=====...` / `MSG: pkg/Type` / text, depth first, each once.

const SEPARATOR: &str =
    "================================================================================";

/// `(type name without /msg/, .msg text)`, from `crates/bag/msg/`.
const DEFINITIONS: &[(&str, &str)] = &[
    (
        "builtin_interfaces/Time",
        include_str!("../msg/builtin_interfaces/Time.msg"),
    ),
    (
        "std_msgs/Header",
        include_str!("../msg/std_msgs/Header.msg"),
    ),
    (
        "geometry_msgs/Point",
        include_str!("../msg/geometry_msgs/Point.msg"),
    ),
    (
        "geometry_msgs/Quaternion",
        include_str!("../msg/geometry_msgs/Quaternion.msg"),
    ),
    (
        "geometry_msgs/Pose",
        include_str!("../msg/geometry_msgs/Pose.msg"),
    ),
    (
        "geometry_msgs/PoseWithCovariance",
        include_str!("../msg/geometry_msgs/PoseWithCovariance.msg"),
    ),
    (
        "geometry_msgs/Vector3",
        include_str!("../msg/geometry_msgs/Vector3.msg"),
    ),
    (
        "sensor_msgs/Image",
        include_str!("../msg/sensor_msgs/Image.msg"),
    ),
    (
        "sensor_msgs/CompressedImage",
        include_str!("../msg/sensor_msgs/CompressedImage.msg"),
    ),
    (
        "vision_msgs/ObjectHypothesis",
        include_str!("../msg/vision_msgs/ObjectHypothesis.msg"),
    ),
    (
        "vision_msgs/ObjectHypothesisWithPose",
        include_str!("../msg/vision_msgs/ObjectHypothesisWithPose.msg"),
    ),
    (
        "vision_msgs/Point2D",
        include_str!("../msg/vision_msgs/Point2D.msg"),
    ),
    (
        "vision_msgs/Pose2D",
        include_str!("../msg/vision_msgs/Pose2D.msg"),
    ),
    (
        "vision_msgs/BoundingBox2D",
        include_str!("../msg/vision_msgs/BoundingBox2D.msg"),
    ),
    (
        "vision_msgs/BoundingBox3D",
        include_str!("../msg/vision_msgs/BoundingBox3D.msg"),
    ),
    (
        "vision_msgs/Detection2D",
        include_str!("../msg/vision_msgs/Detection2D.msg"),
    ),
    (
        "vision_msgs/Detection2DArray",
        include_str!("../msg/vision_msgs/Detection2DArray.msg"),
    ),
    (
        "vision_msgs/Detection3D",
        include_str!("../msg/vision_msgs/Detection3D.msg"),
    ),
    (
        "vision_msgs/Detection3DArray",
        include_str!("../msg/vision_msgs/Detection3DArray.msg"),
    ),
];

const PRIMITIVES: &[&str] = &[
    "bool", "byte", "char", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
    "uint64", "float32", "float64", "string", "wstring",
];

/// `pkg/msg/Type` or `pkg/Type` → `pkg/Type`.
fn short_name(type_name: &str) -> String {
    type_name.replacen("/msg/", "/", 1)
}

fn definition(short: &str) -> Option<&'static str> {
    DEFINITIONS
        .iter()
        .find(|(name, _)| *name == short)
        .map(|(_, text)| *text)
}

/// The non-primitive field types of a definition, resolved to `pkg/Type`.
fn dependencies(package: &str, text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty() && !line.contains('='))
        .filter_map(|line| line.split_whitespace().next())
        .map(|ty| ty.split(['[', '<']).next().unwrap_or(ty))
        .filter(|ty| !PRIMITIVES.contains(ty))
        .map(|ty| match ty {
            "Header" => "std_msgs/Header".to_string(),
            _ if ty.contains('/') => short_name(ty),
            _ => format!("{package}/{ty}"),
        })
        .collect()
}

/// The `ros2msg` schema text for `type_name` (`pkg/msg/Type`), or `None` when we do not
/// carry its definition (or one of its dependencies').
pub fn schema_text(type_name: &str) -> Option<String> {
    let root = short_name(type_name);
    let mut out = format!("{}\n", definition(&root)?.trim_end());
    let mut seen = vec![root.clone()];
    append_dependencies(&root, &mut seen, &mut out)?;
    Some(out)
}

/// Depth first, in field order; type nesting is shallow, so recursion is bounded.
fn append_dependencies(name: &str, seen: &mut Vec<String>, out: &mut String) -> Option<()> {
    let package = name.split('/').next().unwrap_or("");
    for dep in dependencies(package, definition(name)?) {
        if seen.contains(&dep) {
            continue;
        }
        let text = definition(&dep)?;
        out.push_str(&format!("{SEPARATOR}\nMSG: {dep}\n{}\n", text.trim_end()));
        seen.push(dep.clone());
        append_dependencies(&dep, seen, out)?;
    }
    Some(())
}

/// The definition text of one type (no dependencies), for registering types elsewhere.
pub fn msg_text(type_name: &str) -> Option<&'static str> {
    definition(&short_name(type_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(schema: &str) -> Vec<String> {
        schema
            .split(&format!("{SEPARATOR}\n"))
            .skip(1)
            .map(|s| {
                s.lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("MSG: ")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn detection2d_array_schema_lists_every_dependency_once() {
        let schema = schema_text("vision_msgs/msg/Detection2DArray").unwrap();
        assert!(schema.starts_with("# vision_msgs 4.x"));
        let mut got = sections(&schema);
        got.sort();
        let mut want = vec![
            "std_msgs/Header",
            "builtin_interfaces/Time",
            "vision_msgs/Detection2D",
            "vision_msgs/ObjectHypothesisWithPose",
            "vision_msgs/ObjectHypothesis",
            "geometry_msgs/PoseWithCovariance",
            "geometry_msgs/Pose",
            "geometry_msgs/Point",
            "geometry_msgs/Quaternion",
            "vision_msgs/BoundingBox2D",
            "vision_msgs/Pose2D",
            "vision_msgs/Point2D",
        ];
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn every_dependency_of_every_definition_is_carried() {
        for (name, text) in DEFINITIONS {
            let package = name.split('/').next().unwrap();
            for dep in dependencies(package, text) {
                assert!(definition(&dep).is_some(), "{name} needs {dep}");
            }
            assert!(schema_text(name).is_some(), "{name}");
        }
        assert!(schema_text("sensor_msgs/msg/PointCloud2").is_none());
    }
}
