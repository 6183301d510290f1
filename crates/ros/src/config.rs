//! Two-stage configuration: the node's raw ROS parameters (a flat name → value map,
//! as rcl hands them over from `--params-file` and `-p`) become one validated
//! [`NodeConfig`], or a [`ConfigError`] that names the parameter. Nothing here knows
//! r2r, so the rules are unit-tested on any machine.
//!
//! Per-camera parameters live under the camera's namespace with `/` written as `.`:
//! camera `/camera/front` reads `camera.front.transport` and `camera.front.calibration`,
//! which is the YAML nesting `camera: {front: {transport: raw, ...}}` (ROS parameter
//! names cannot contain `/`).

use sightline_detect::{Class, DeviceChoice};
use sightline_perception::{check_base_frame, Thresholds, Tiling};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A ROS parameter value, independent of the ROS client library.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Bool(bool),
    Integer(i64),
    Double(f64),
    String(String),
    StringArray(Vec<String>),
    /// Any other type (byte/bool/integer/double arrays), with its type name.
    Other(&'static str),
}

impl ParamValue {
    fn type_name(&self) -> &'static str {
        match self {
            ParamValue::Bool(_) => "bool",
            ParamValue::Integer(_) => "integer",
            ParamValue::Double(_) => "double",
            ParamValue::String(_) => "string",
            ParamValue::StringArray(_) => "string array",
            ParamValue::Other(name) => name,
        }
    }
}

/// The node's parameters by full name (`camera.front.transport`).
pub type RawParams = BTreeMap<String, ParamValue>;

/// How a camera's images arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `sensor_msgs/msg/Image` on `<ns>/image_raw`.
    Raw,
    /// `sensor_msgs/msg/CompressedImage` (jpeg or png) on `<ns>/image_raw/compressed`.
    Compressed,
}

/// One camera, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    /// Absolute namespace without trailing slash, e.g. `/camera/front`.
    pub namespace: String,
    pub transport: Transport,
    /// Calibration YAML (camera_info + mount), resolved against `base_dir`.
    pub calibration: PathBuf,
}

impl CameraConfig {
    pub fn input_topic(&self) -> String {
        match self.transport {
            Transport::Raw => format!("{}/image_raw", self.namespace),
            Transport::Compressed => format!("{}/image_raw/compressed", self.namespace),
        }
    }
    /// The name of the parameter that gave [`CameraConfig::calibration`].
    pub fn calibration_parameter(&self) -> String {
        format!("{}.calibration", self.namespace[1..].replace('/', "."))
    }
    pub fn detections_topic(&self) -> String {
        format!("{}/detections", self.namespace)
    }
    pub fn detections_3d_topic(&self) -> String {
        format!("{}/detections_3d", self.namespace)
    }
    pub fn debug_image_topic(&self) -> String {
        format!("{}/detections_image", self.namespace)
    }
}

/// Everything the node needs, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    pub cameras: Vec<CameraConfig>,
    /// Weights file; `None` lets the detector search its default places.
    pub model: Option<PathBuf>,
    pub device: DeviceChoice,
    /// Score threshold of every class (configured, else the model manifest's).
    pub score_thresholds: Thresholds,
    pub nms_iou: Option<f32>,
    /// Frame of the 3D detections; the frame the calibrations' mounts are given in.
    pub base_frame: String,
    pub publish_debug_image: bool,
    /// Tiles every camera's frames get besides the whole frame (`off`, `auto`,
    /// `grid:COLSxROWS`).
    pub tiling: Tiling,
    /// Per-camera parameters of cameras that are not in `cameras`, by namespace:
    /// ignored (selecting a subset of the configured cameras is no mistake), but
    /// worth a warning.
    pub unused_cameras: BTreeMap<String, Vec<String>>,
}

/// A parameter is missing, mistyped or out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("parameter {name}: missing (expected {expected})")]
    Missing {
        name: String,
        expected: &'static str,
    },
    #[error("parameter {name}: expected {expected}, got a {actual}")]
    WrongType {
        name: String,
        expected: &'static str,
        actual: &'static str,
    },
    #[error("parameter {name}: {reason}")]
    Invalid { name: String, reason: String },
    #[error("unknown parameter {name} (known: {known})")]
    Unknown { name: String, known: String },
}

/// Parameters that ROS tooling sets on every node; accepted and ignored.
const ROS_STANDARD: [&str; 2] = ["use_sim_time", "start_type_description_service"];

/// The per-camera keys, `<ns>.<key>`.
const CAMERA_KEYS: [&str; 2] = ["transport", "calibration"];

impl NodeConfig {
    /// Validates raw parameters. Relative paths (calibrations, model) are resolved
    /// against the `base_dir` parameter, else against `cwd`.
    pub fn from_params(params: &RawParams, cwd: &Path) -> Result<NodeConfig, ConfigError> {
        let mut known: BTreeSet<String> = [
            "cameras",
            "model",
            "device",
            "nms_iou",
            "base_frame",
            "publish_debug_image",
            "tiling",
            "base_dir",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        known.extend(
            Class::known()
                .iter()
                .map(|c| format!("score_threshold.{c}")),
        );

        let base_dir = match opt_string(params, "base_dir")? {
            Some(dir) => cwd.join(dir),
            None => cwd.to_path_buf(),
        };
        let namespaces = match params.get("cameras") {
            Some(ParamValue::StringArray(list)) => list.clone(),
            // rcl reads `cameras: []` as an empty array of unknown type
            Some(ParamValue::Other(_)) | None => Vec::new(),
            Some(other) => return Err(wrong_type("cameras", "string array", other)),
        };
        if namespaces.is_empty() {
            return Err(ConfigError::Missing {
                name: "cameras".into(),
                expected: "a non-empty list of camera namespaces, e.g. [/camera/front]",
            });
        }
        let mut cameras = Vec::new();
        for ns in &namespaces {
            let namespace = validate_namespace(ns)?;
            if cameras
                .iter()
                .any(|c: &CameraConfig| c.namespace == namespace)
            {
                return Err(invalid("cameras", format!("{namespace} is listed twice")));
            }
            let key = namespace[1..].replace('/', ".");
            let transport_name = format!("{key}.transport");
            let transport = match opt_string(params, &transport_name)?.as_deref() {
                None | Some("raw") => Transport::Raw,
                Some("compressed") => Transport::Compressed,
                Some(other) => {
                    return Err(invalid(
                        &transport_name,
                        format!("{other:?} is not raw or compressed"),
                    ))
                }
            };
            let calibration_name = format!("{key}.calibration");
            let calibration =
                opt_string(params, &calibration_name)?.ok_or(ConfigError::Missing {
                    name: calibration_name.clone(),
                    expected: "the path of the camera's calibration YAML",
                })?;
            known.insert(transport_name);
            known.insert(calibration_name);
            cameras.push(CameraConfig {
                namespace,
                transport,
                calibration: base_dir.join(calibration),
            });
        }

        let model = opt_string(params, "model")?
            .filter(|m| !m.is_empty())
            .map(|m| base_dir.join(m));
        let device = match opt_string(params, "device")? {
            None => DeviceChoice::Auto,
            Some(name) => name
                .parse()
                .map_err(|e| invalid("device", format!("{e}")))?,
        };
        // The model's manifest (NAME.yaml beside NAME.onnx, else the shipped one) names
        // its classes: a trained model's new ones get thresholds and parameters too.
        let manifest = sightline_detect::Manifest::for_model(model.as_deref(), None)
            .map_err(|e| invalid("model", e.to_string()))?;
        known.extend(
            manifest
                .classes
                .iter()
                .map(|c| format!("score_threshold.{}", c.name)),
        );
        let mut score_thresholds = Thresholds::default();
        score_thresholds.complete(&manifest);
        for class in Class::known() {
            let name = format!("score_threshold.{class}");
            if let Some(v) = opt_number(params, &name)? {
                let v = unit_interval(&name, v)?;
                score_thresholds
                    .set(class, v)
                    .map_err(|e| invalid(&name, e.to_string()))?;
            }
        }
        let nms_iou = opt_number(params, "nms_iou")?
            .map(|v| unit_interval("nms_iou", v))
            .transpose()?;
        let base_frame = opt_string(params, "base_frame")?.unwrap_or_else(|| "base_link".into());
        check_base_frame(&base_frame).map_err(|e| invalid("base_frame", e.to_string()))?;
        let publish_debug_image = match params.get("publish_debug_image") {
            None => false,
            Some(ParamValue::Bool(b)) => *b,
            Some(other) => return Err(wrong_type("publish_debug_image", "bool", other)),
        };
        let tiling = match opt_string(params, "tiling")? {
            None => Tiling::Off,
            Some(spec) => spec
                .parse()
                .map_err(|e: sightline_perception::BadTiling| invalid("tiling", e.to_string()))?,
        };

        let mut unused_cameras: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for name in params.keys() {
            let standard =
                ROS_STANDARD.contains(&name.as_str()) || name.starts_with("qos_overrides.");
            if standard || known.contains(name) {
                continue;
            }
            // A camera key of a camera that is not listed is a camera left out on
            // purpose; a wrong key of a listed camera is a typo (unknown below).
            let unlisted = unlisted_camera(name, &cameras);
            if let Some(namespace) = unlisted {
                unused_cameras
                    .entry(namespace)
                    .or_default()
                    .push(name.clone());
                continue;
            }
            let known = known.iter().cloned().collect::<Vec<_>>().join(", ");
            return Err(ConfigError::Unknown {
                name: name.clone(),
                known,
            });
        }
        Ok(NodeConfig {
            cameras,
            model,
            device,
            score_thresholds,
            nms_iou,
            base_frame,
            publish_debug_image,
            tiling,
            unused_cameras,
        })
    }

    /// One warning per camera whose parameters are set but which is not in `cameras`.
    pub fn warnings(&self) -> Vec<String> {
        self.unused_cameras
            .iter()
            .map(|(namespace, names)| {
                format!(
                    "camera {namespace} is not in `cameras`; its parameters are ignored: {}",
                    names.join(", ")
                )
            })
            .collect()
    }
}

/// Environment variables that give Fast DDS a transport configuration.
const DDS_PROFILE_VARS: [&str; 3] = [
    "FASTDDS_DEFAULT_PROFILES_FILE",
    "FASTRTPS_DEFAULT_PROFILES_FILE",
    "FASTDDS_BUILTIN_TRANSPORTS",
];

/// The profile this repository ships for large images, relative to it.
pub const LARGE_IMAGES_PROFILE: &str = "launch/fastdds_large_images.xml";

/// The start-up hint for raw cameras on Fast DDS without a profile: its default
/// 512 KB shared-memory segment sends larger images over UDP, where best-effort
/// subscribers lose most of them. `None` when no camera is raw, another RMW is used,
/// or a profile is configured (by variable, or `DEFAULT_FASTDDS_PROFILES.xml` in the
/// working directory, which Fast DDS loads by itself).
pub fn dds_profile_hint(
    config: &NodeConfig,
    env: impl Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Option<String> {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    let rmw = env("RMW_IMPLEMENTATION").unwrap_or_default();
    let fast_dds = rmw.is_empty() || rmw.starts_with("rmw_fastrtps");
    let configured = DDS_PROFILE_VARS.iter().any(|v| set(v))
        || cwd.join("DEFAULT_FASTDDS_PROFILES.xml").is_file();
    let raw: Vec<&str> = config
        .cameras
        .iter()
        .filter(|c| c.transport == Transport::Raw)
        .map(|c| c.namespace.as_str())
        .collect();
    if !fast_dds || configured || raw.is_empty() {
        return None;
    }
    let shipped = cwd.join(LARGE_IMAGES_PROFILE);
    let profile = if shipped.is_file() {
        shipped.display().to_string()
    } else {
        format!("<sightline>/{LARGE_IMAGES_PROFILE}")
    };
    Some(format!(
        "raw images on {} and no Fast DDS profile: images over 512 KB go over UDP, where \
         best effort loses most of them; export FASTDDS_DEFAULT_PROFILES_FILE={profile} \
         for this node and the camera driver, or use transport compressed \
         (docs/ros.md, \"Large raw images over DDS\")",
        raw.join(", ")
    ))
}

/// The namespace of `name` if it is `<ns>.transport` or `<ns>.calibration` of a
/// camera that is not configured.
fn unlisted_camera(name: &str, cameras: &[CameraConfig]) -> Option<String> {
    let (key, field) = name.rsplit_once('.')?;
    if !CAMERA_KEYS.contains(&field) {
        return None;
    }
    let namespace = validate_namespace(&format!("/{}", key.replace('.', "/"))).ok()?;
    let listed = cameras.iter().any(|c| c.namespace == namespace);
    (!listed).then_some(namespace)
}

fn validate_namespace(ns: &str) -> Result<String, ConfigError> {
    let trimmed = ns.trim_end_matches('/');
    let valid_segment = |s: &str| {
        !s.is_empty()
            && !s.starts_with(|c: char| c.is_ascii_digit())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !trimmed.starts_with('/') || !trimmed[1..].split('/').all(valid_segment) {
        return Err(invalid(
            "cameras",
            format!("{ns:?} is not an absolute ROS namespace like /camera/front"),
        ));
    }
    Ok(trimmed.to_string())
}

fn opt_string(params: &RawParams, name: &str) -> Result<Option<String>, ConfigError> {
    match params.get(name) {
        None => Ok(None),
        Some(ParamValue::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(wrong_type(name, "string", other)),
    }
}

fn opt_number(params: &RawParams, name: &str) -> Result<Option<f64>, ConfigError> {
    match params.get(name) {
        None => Ok(None),
        Some(ParamValue::Double(v)) => Ok(Some(*v)),
        Some(ParamValue::Integer(v)) => Ok(Some(*v as f64)),
        Some(other) => Err(wrong_type(name, "number", other)),
    }
}

fn unit_interval(name: &str, v: f64) -> Result<f32, ConfigError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v as f32)
    } else {
        Err(invalid(name, format!("{v} is outside [0, 1]")))
    }
}

fn wrong_type(name: &str, expected: &'static str, actual: &ParamValue) -> ConfigError {
    ConfigError::WrongType {
        name: name.into(),
        expected,
        actual: actual.type_name(),
    }
}

fn invalid(name: &str, reason: String) -> ConfigError {
    ConfigError::Invalid {
        name: name.into(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> ParamValue {
        ParamValue::String(v.into())
    }

    fn minimal() -> RawParams {
        let mut p = RawParams::new();
        p.insert(
            "cameras".into(),
            ParamValue::StringArray(vec!["/camera/front".into(), "/camera/rear/".into()]),
        );
        p.insert(
            "camera.front.calibration".into(),
            s("calibration/front.yaml"),
        );
        p.insert("camera.rear.calibration".into(), s("/abs/rear.yaml"));
        p.insert("camera.rear.transport".into(), s("compressed"));
        p
    }

    #[test]
    fn defaults_and_topics() {
        let c = NodeConfig::from_params(&minimal(), Path::new("/work")).unwrap();
        assert_eq!(c.cameras.len(), 2);
        assert_eq!(c.cameras[0].input_topic(), "/camera/front/image_raw");
        assert_eq!(
            c.cameras[0].calibration,
            Path::new("/work/calibration/front.yaml")
        );
        assert_eq!(c.cameras[1].namespace, "/camera/rear");
        assert_eq!(
            c.cameras[1].input_topic(),
            "/camera/rear/image_raw/compressed"
        );
        assert_eq!(
            c.cameras[1].detections_3d_topic(),
            "/camera/rear/detections_3d"
        );
        assert_eq!(c.cameras[1].calibration, Path::new("/abs/rear.yaml"));
        assert_eq!(c.base_frame, "base_link");
        assert_eq!(c.device, DeviceChoice::Auto);
        assert_eq!(c.tiling, Tiling::Off);
        assert!(!c.publish_debug_image);
        // defaults come from the manifest, not from this module
        for spec in sightline_detect::Manifest::default_model().classes {
            assert_eq!(c.score_thresholds.get(spec.name), spec.score_threshold);
        }
    }

    #[test]
    fn per_class_thresholds_and_base_dir() {
        let mut p = minimal();
        p.insert("score_threshold.stop_sign".into(), ParamValue::Double(0.6));
        p.insert("score_threshold.pedestrian".into(), ParamValue::Integer(0));
        p.insert("base_dir".into(), s("pkg"));
        p.insert("model".into(), s("models/y.onnx"));
        p.insert("device".into(), s("cpu"));
        p.insert("use_sim_time".into(), ParamValue::Bool(false));
        let c = NodeConfig::from_params(&p, Path::new("/w")).unwrap();
        assert_eq!(c.score_thresholds.get(Class::StopSign), 0.6);
        assert_eq!(c.score_thresholds.get(Class::Pedestrian), 0.0);
        assert_eq!(c.score_thresholds.min(), 0.0);
        assert_eq!(
            c.cameras[0].calibration_parameter(),
            "camera.front.calibration"
        );
        assert_eq!(c.model.as_deref(), Some(Path::new("/w/pkg/models/y.onnx")));
        assert_eq!(
            c.cameras[0].calibration,
            Path::new("/w/pkg/calibration/front.yaml")
        );
        assert_eq!(c.device, DeviceChoice::Cpu);
    }

    #[test]
    fn a_trained_models_manifest_adds_its_classes_and_their_parameters() {
        let dir = std::env::temp_dir().join(format!("sightline-ros-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = sightline_detect::manifest::DEFAULT_MANIFEST
            .replace("num_classes: 80", "num_classes: 82")
            .replace(
                "  - { id: 11, name: stop_sign, score_threshold: 0.3 }",
                "  - { id: 11, name: stop_sign, score_threshold: 0.3 }\n  - { id: 81, name: ros_test_sign, score_threshold: 0.07, objectness: 80 }",
            );
        std::fs::write(dir.join("signs.yaml"), manifest).unwrap();
        let mut p = minimal();
        p.insert("model".into(), s("signs.onnx"));
        p.insert("score_threshold.stop_sign".into(), ParamValue::Double(0.6));
        let c = NodeConfig::from_params(&p, &dir).unwrap();
        let sign = Class::from_name("ros_test_sign").unwrap();
        assert_eq!(c.score_thresholds.get(sign), 0.07);
        assert_eq!(c.score_thresholds.get(Class::StopSign), 0.6);
        p.insert(
            "score_threshold.ros_test_sign".into(),
            ParamValue::Double(0.5),
        );
        let c = NodeConfig::from_params(&p, &dir).unwrap();
        assert_eq!(c.score_thresholds.get(sign), 0.5);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parameters_of_unlisted_cameras_warn_but_typos_of_listed_ones_stop() {
        let mut p = minimal();
        p.insert(
            "cameras".into(),
            ParamValue::StringArray(vec!["/camera/front".into()]),
        );
        let c = NodeConfig::from_params(&p, Path::new("/")).unwrap();
        assert_eq!(c.cameras.len(), 1);
        assert_eq!(
            c.warnings(),
            [
                "camera /camera/rear is not in `cameras`; its parameters are ignored: \
              camera.rear.calibration, camera.rear.transport"
            ]
        );
        assert!(NodeConfig::from_params(&minimal(), Path::new("/"))
            .unwrap()
            .warnings()
            .is_empty());
        p.insert("camera.front.calibraton".into(), s("x.yaml"));
        let err = NodeConfig::from_params(&p, Path::new("/")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown parameter camera.front.calibraton"),
            "{err}"
        );
    }

    #[test]
    fn dds_hint_only_for_raw_cameras_without_a_profile() {
        let c = NodeConfig::from_params(&minimal(), Path::new("/")).unwrap();
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let none = Path::new("/nonexistent");
        let hint = dds_profile_hint(&c, vars(&[]), none).unwrap();
        assert!(hint.contains("raw images on /camera/front and"), "{hint}");
        assert!(
            hint.contains("FASTDDS_DEFAULT_PROFILES_FILE=<sightline>/launch/"),
            "{hint}"
        );
        // the repository as working directory: the shipped profile's absolute path
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let hint = dds_profile_hint(&c, vars(&[]), &repo).unwrap();
        let shipped = repo.join(LARGE_IMAGES_PROFILE).display().to_string();
        assert!(hint.contains(&format!("={shipped} ")), "{hint}");
        let fast = &[("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")];
        assert!(dds_profile_hint(&c, vars(fast), none).is_some());
        for configured in [
            &[("FASTDDS_DEFAULT_PROFILES_FILE", "/p.xml")][..],
            &[("FASTRTPS_DEFAULT_PROFILES_FILE", "/p.xml")],
            &[("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")],
            &[("RMW_IMPLEMENTATION", "rmw_cyclonedds_cpp")],
        ] {
            assert_eq!(dds_profile_hint(&c, vars(configured), none), None);
        }
        let mut compressed = minimal();
        compressed.insert("camera.front.transport".into(), s("compressed"));
        let c = NodeConfig::from_params(&compressed, Path::new("/")).unwrap();
        assert_eq!(dds_profile_hint(&c, vars(&[]), none), None);
    }

    #[test]
    fn errors_name_the_parameter() {
        let check = |edit: &dyn Fn(&mut RawParams), needle: &str| {
            let mut p = minimal();
            edit(&mut p);
            let err = NodeConfig::from_params(&p, Path::new("/"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        };
        check(&|p| drop(p.remove("cameras")), "cameras: missing");
        check(
            &|p| drop(p.insert("cameras".into(), s("/camera/front"))),
            "expected string array",
        );
        check(
            &|p| {
                drop(p.insert(
                    "cameras".into(),
                    ParamValue::StringArray(vec!["camera".into()]),
                ))
            },
            "absolute",
        );
        check(
            &|p| {
                p.insert(
                    "cameras".into(),
                    ParamValue::StringArray(vec!["/a".into(), "/a/".into()]),
                );
                p.insert("a.calibration".into(), s("a.yaml"));
            },
            "twice",
        );
        check(
            &|p| drop(p.remove("camera.front.calibration")),
            "camera.front.calibration: missing",
        );
        check(
            &|p| drop(p.insert("camera.rear.transport".into(), s("h264"))),
            "camera.rear.transport",
        );
        check(
            &|p| drop(p.insert("score_threshold.stop_sign".into(), ParamValue::Double(1.5))),
            "outside [0, 1]",
        );
        check(
            &|p| drop(p.insert("score_threshold.car".into(), ParamValue::Double(0.5))),
            "unknown parameter score_threshold.car",
        );
        check(
            &|p| drop(p.insert("nms_iou".into(), s("0.5"))),
            "nms_iou: expected number",
        );
        check(
            &|p| drop(p.insert("tiling".into(), s("grid:3"))),
            "parameter tiling: tiling \"grid:3\"",
        );
        check(&|p| drop(p.insert("device".into(), s("tpu"))), "device");
        check(
            &|p| drop(p.insert("base_frame".into(), s("/base_link"))),
            "base_frame",
        );
        check(
            &|p| drop(p.insert("publish_debug_image".into(), ParamValue::Integer(1))),
            "expected bool",
        );
    }
}
