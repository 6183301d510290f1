use super::*;

const GOOD: &str = "\
image_width: 1280
image_height: 720
camera_name: test
camera_matrix:
  rows: 3
  cols: 3
  data: [1100.0, 0.0, 640.0, 0.0, 1100.0, 360.0, 0.0, 0.0, 1.0]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [-0.2, 0.05, 0.0, 0.0, 0.0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
projection_matrix:
  rows: 3
  cols: 4
  data: [1100.0, 0.0, 640.0, 0.0, 0.0, 1100.0, 360.0, 0.0, 0.0, 0.0, 1.0, 0.0]
mount:
  translation: [1.5, 0.0, 1.4]
  rpy: [0.0, 0.03, 0.0]
";

fn load_variant(from: &str, to: &str) -> Result<Calibration, CalibrationError> {
    assert!(
        GOOD.contains(from),
        "test setup: `{from}` not in the template"
    );
    Calibration::from_yaml_str(
        &GOOD.replacen(from, to, 1),
        Path::new("calibration/bad.yaml"),
    )
}

/// The error must name the file and the field, both in `field()` and in the message.
fn assert_field(from: &str, to: &str, field: &str) {
    let err = load_variant(from, to).expect_err("bad calibration accepted");
    let msg = err.to_string();
    assert_eq!(err.field(), Some(field), "{msg}");
    assert!(
        msg.contains("calibration/bad.yaml") && msg.contains(field),
        "{msg}"
    );
}

#[test]
fn good_file_loads() {
    let cal = load_variant("", "").unwrap();
    assert_eq!(cal.name(), "test");
    assert_eq!(cal.camera().width(), 1280);
    assert_eq!(cal.camera().distortion().model(), DistortionModel::PlumbBob);
    assert!((cal.mount().position() - Point3::new(1.5, 0.0, 1.4)).norm() < 1e-12);
}

#[test]
fn nan_is_rejected() {
    assert_field(
        "1100.0, 0.0, 640.0",
        ".nan, 0.0, 640.0",
        "camera_matrix.data",
    );
    assert_field("[-0.2, 0.05", "[.nan, 0.05", "distortion_coefficients.data");
    assert_field("[1.5, 0.0, 1.4]", "[1.5, .inf, 1.4]", "mount.translation");
    assert_field(
        "rpy: [0.0, 0.03, 0.0]",
        "rpy: [0.0, .nan, 0.0]",
        "mount.rpy",
    );
}

#[test]
fn non_positive_focal_length_is_rejected() {
    let err = load_variant("0.0, 1100.0, 360.0", "0.0, -1100.0, 360.0").unwrap_err();
    assert_eq!(err.field(), Some("camera_matrix"));
    assert!(err.to_string().contains("fy"), "{err}");
    assert_field(
        "[1100.0, 0.0, 640.0, 0.0, 1100.0",
        "[0.0, 0.0, 640.0, 0.0, 1100.0",
        "camera_matrix",
    );
}

#[test]
fn non_positive_image_size_is_rejected() {
    assert_field("image_width: 1280", "image_width: 0", "image_width");
    assert_field("image_height: 720", "image_height: -720", "image_height");
}

#[test]
fn wrong_matrix_shape_is_rejected() {
    assert_field(
        "rows: 3\n  cols: 3\n  data: [1100",
        "rows: 3\n  cols: 4\n  data: [1100",
        "camera_matrix",
    );
    assert_field(
        ", 0.0, 0.0, 1.0]\ndistortion_model",
        ", 0.0, 1.0]\ndistortion_model",
        "camera_matrix.data",
    );
    assert_field(
        "rows: 3\n  cols: 4",
        "rows: 4\n  cols: 3",
        "projection_matrix",
    );
}

#[test]
fn unknown_distortion_model_is_rejected() {
    assert_field(
        "distortion_model: plumb_bob",
        "distortion_model: equidistant",
        "distortion_model",
    );
}

#[test]
fn wrong_coefficient_count_is_rejected() {
    assert_field(
        "cols: 5\n  data: [-0.2, 0.05, 0.0, 0.0, 0.0]",
        "cols: 4\n  data: [-0.2, 0.05, 0.0, 0.0]",
        "distortion_coefficients",
    );
    assert_field(
        "distortion_model: plumb_bob",
        "distortion_model: rational_polynomial",
        "distortion_coefficients",
    );
}

#[test]
fn non_orthonormal_rotation_is_rejected() {
    assert_field(
        "data: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]",
        "data: [1.0, 0.1, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]",
        "rectification_matrix",
    );
    // A reflection is orthonormal but not a rotation.
    assert_field(
        "data: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]",
        "data: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0]",
        "rectification_matrix",
    );
}

#[test]
fn non_unit_quaternion_is_rejected() {
    assert_field(
        "rpy: [0.0, 0.03, 0.0]",
        "quaternion: [0.0, 0.1, 0.0, 1.0]",
        "mount.quaternion",
    );
    assert_field(
        "rpy: [0.0, 0.03, 0.0]",
        "quaternion: [0.0, 0.0, 1.0]",
        "mount.quaternion",
    );
}

#[test]
fn rotation_must_be_given_exactly_once() {
    assert_field(
        "rpy: [0.0, 0.03, 0.0]",
        "rpy: [0.0, 0.03, 0.0]\n  quaternion: [0, 0, 0, 1]",
        "mount",
    );
    assert_field("  rpy: [0.0, 0.03, 0.0]\n", "", "mount");
}

#[test]
fn quaternion_and_rpy_give_the_same_mount() {
    let half = 0.03f64 / 2.0;
    let q = format!("quaternion: [0.0, {}, 0.0, {}]", half.sin(), half.cos());
    let a = load_variant("", "").unwrap();
    let b = load_variant("rpy: [0.0, 0.03, 0.0]", &q).unwrap();
    let (ra, rb) = (
        a.mount().body_pose().rotation,
        b.mount().body_pose().rotation,
    );
    assert!(ra.angle_to(&rb) < 1e-12);
}

#[test]
fn structural_errors_name_the_file() {
    let err = load_variant("mount:", "mounting:").unwrap_err();
    assert!(matches!(err, CalibrationError::Parse { .. }));
    assert!(err.to_string().contains("calibration/bad.yaml"), "{err}");
    let err = Calibration::load("/nonexistent/cal.yaml").unwrap_err();
    assert!(err.to_string().contains("/nonexistent/cal.yaml"), "{err}");
    // Through a real file, a field error carries that file's path.
    let dir = std::env::temp_dir().join(format!("sightline-cal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("front.yaml");
    std::fs::write(&path, GOOD.replace("plumb_bob", "fisheye")).unwrap();
    let err = Calibration::load(&path).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(err.field(), Some("distortion_model"));
    assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
}

#[test]
fn example_calibrations_load() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../calibration");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            Calibration::load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 3, "expected the example calibrations in {dir}");
}

#[test]
fn ground_points_are_recovered_through_pitched_and_rolled_mounts() {
    // Synthetic ground points → pixels through a distorted camera → rays → ground plane.
    let base = load_variant("", "").unwrap();
    for (roll, pitch, yaw) in [
        (0.0, 0.0, 0.0),
        (0.0, 0.08, 0.0),
        (0.05, 0.03, 0.0),
        (-0.04, 0.12, 0.2),
    ] {
        let mount = Mount::from_rpy(Vector3::new(1.5, 0.3, 1.4), roll, pitch, yaw);
        let cal = Calibration::new("t", base.camera().clone(), mount);
        let mut seen = 0;
        for x in [4.0, 8.0, 15.0, 30.0, 60.0] {
            for y in [-6.0, -2.0, 0.0, 1.5, 5.0] {
                let truth = Point3::new(x, y, 0.0);
                let Some(px) = cal.project(&truth) else {
                    continue;
                };
                if px.x < 0.0 || px.y < 0.0 || px.x > 1280.0 || px.y > 720.0 {
                    continue;
                }
                let hit = cal.pixel_ray(&px).unwrap().intersect_plane_z(0.0).unwrap();
                assert!(
                    (hit - truth).norm() < 1e-3,
                    "rpy {roll},{pitch},{yaw}: {truth} -> {hit}"
                );
                seen += 1;
            }
        }
        assert!(seen >= 10, "only {seen} points in view");
    }
}
