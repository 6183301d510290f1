//! KITTI object-benchmark calibration (`calib/*.txt`) → a [`Calibration`] of cam2.
//!
//! A KITTI calib file holds `P0..P3` (3×4 projection matrices of the four rectified
//! cameras, all expressed in the *rectified cam0* frame), `R0_rect`, `Tr_velo_to_cam`
//! and `Tr_imu_to_velo`. `label_2` 3D locations are in the rectified cam0 frame too.
//!
//! `image_2` comes from cam2, whose projection is `P2 = K2 · [I | t2]`: its intrinsics
//! are the left 3×3 block, and `t2 = K2⁻¹ · P2[:, 3]` is the offset of the rectified
//! cam0 origin seen from cam2 (tx ≈ P2[0,3]/fx ≈ +6 cm: cam2 sits 6 cm to the *left*
//! of cam0). The offset is kept in the mount, so positions come out in the same frame
//! as the labels.
//!
//! `base_link` for KITTI: origin on the road directly below the rectified cam0
//! centre, which is [`KITTI_CAMERA_HEIGHT_M`] above a flat road and level. A rectified
//! cam0 point (x, y, z) is the `base_link` point (z, −x, 1.65 − y).

use std::path::Path;

use nalgebra::{Matrix3, Matrix3x4, UnitQuaternion, Vector3};

use crate::calibration::{Calibration, CalibrationError};
use crate::camera::Camera;
use crate::distortion::Distortion;
use crate::mount::Mount;

/// Height of the KITTI rectified cam0 above the road (KITTI setup description).
pub const KITTI_CAMERA_HEIGHT_M: f64 = 1.65;

impl Calibration {
    /// Reads a KITTI `calib/*.txt` file and returns the calibration of cam2
    /// (`image_2`), for images of `width` × `height` px (not stored in the file).
    pub fn from_kitti_cam2(
        path: impl AsRef<Path>,
        width: u32,
        height: u32,
    ) -> Result<Self, CalibrationError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| CalibrationError::Read {
            path: path.to_owned(),
            source,
        })?;
        let field = |field: &str, reason: String| CalibrationError::Field {
            path: path.to_owned(),
            field: field.to_owned(),
            reason,
        };

        let mut p2 = None;
        for (n, line) in text.lines().enumerate() {
            let Some((key, values)) = line.split_once(':') else {
                continue;
            };
            let values: Vec<f64> = values
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| field(key, format!("line {}: {e}", n + 1)))?;
            let expected = match key {
                "P0" | "P1" | "P2" | "P3" | "Tr_velo_to_cam" | "Tr_imu_to_velo" => 12,
                "R0_rect" => 9,
                _ => continue,
            };
            if values.len() != expected {
                return Err(field(
                    key,
                    format!(
                        "line {}: needs {expected} values, has {}",
                        n + 1,
                        values.len()
                    ),
                ));
            }
            if let Some(v) = values.iter().find(|v| !v.is_finite()) {
                return Err(field(key, format!("line {}: contains {v}", n + 1)));
            }
            if key == "P2" {
                p2 = Some(Matrix3x4::from_row_slice(&values));
            }
        }
        let p2 = p2.ok_or_else(|| field("P2", "missing".to_owned()))?;

        let k: Matrix3<f64> = p2.fixed_view::<3, 3>(0, 0).into_owned();
        let camera = Camera::new(width, height, k, Distortion::NONE)
            .map_err(|e| field("P2", e.to_string()))?;
        let k_inv = k
            .try_inverse()
            .ok_or_else(|| field("P2", "intrinsic block is singular".to_owned()))?;
        let t = k_inv * p2.column(3);
        // cam2 optical centre in rectified cam0 coordinates is −t; rotate to base_link.
        let c = -t;
        let position = Vector3::new(c.z, -c.x, KITTI_CAMERA_HEIGHT_M - c.y);
        let mount = Mount::new(position, UnitQuaternion::identity());
        Ok(Calibration::new("kitti_cam2", camera, mount))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Point3, Vector4};

    const CALIB: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/kitti-tiny/calib/000000.txt"
    );

    /// The calibration must reproduce KITTI's own projection `P2 · [X; 1]` of rectified
    /// cam0 points, after mapping them to base_link with the documented convention.
    #[test]
    fn matches_the_kitti_projection_matrix() {
        let text = std::fs::read_to_string(CALIB).expect("kitti-tiny calib (../shared)");
        let line = text.lines().find(|l| l.starts_with("P2:")).unwrap();
        let v: Vec<f64> = line[3..]
            .split_whitespace()
            .map(|s| s.parse().unwrap())
            .collect();
        let p2 = Matrix3x4::from_row_slice(&v);
        let cal = Calibration::from_kitti_cam2(CALIB, 1242, 375).unwrap();
        for (x, y, z) in [
            (0.0, 1.65, 10.0),
            (-8.5, 2.07, 23.0),
            (5.0, 1.4, 6.2),
            (1.0, -3.0, 40.0),
        ] {
            let h = p2 * Vector4::new(x, y, z, 1.0);
            let expected = (h.x / h.z, h.y / h.z);
            let base = Point3::new(z, -x, KITTI_CAMERA_HEIGHT_M - y);
            let px = cal.project(&base).unwrap();
            assert!((px.x - expected.0).abs() < 1e-9 && (px.y - expected.1).abs() < 1e-9);
        }
    }

    #[test]
    fn example_yaml_is_the_converted_kitti_file() {
        let yaml = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../calibration/kitti_cam2.yaml"
        );
        let a = Calibration::load(yaml).unwrap();
        let b = Calibration::from_kitti_cam2(CALIB, 1242, 375).unwrap();
        assert!((a.camera().k() - b.camera().k()).norm() < 1e-9);
        assert_eq!(a.camera().distortion(), b.camera().distortion());
        assert!((a.mount().position() - b.mount().position()).norm() < 1e-8);
        let (ra, rb) = (
            a.mount().body_pose().rotation,
            b.mount().body_pose().rotation,
        );
        assert!(ra.angle_to(&rb) < 1e-12);
    }

    #[test]
    fn missing_p2_names_the_field() {
        let dir = std::env::temp_dir().join(format!("sightline-kitti-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("calib.txt");
        std::fs::write(&path, "P0: 1 0 0 0 0 1 0 0 0 0 1 0\n").unwrap();
        let err = Calibration::from_kitti_cam2(&path, 1242, 375).unwrap_err();
        assert_eq!(err.field(), Some("P2"));
        std::fs::write(&path, "P2: 1 0 0 0 0 1 0 0 0 0 1\n").unwrap();
        let err = Calibration::from_kitti_cam2(&path, 1242, 375).unwrap_err();
        assert!(
            err.field() == Some("P2") && err.to_string().contains("12"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
