//! Where the camera sits on the vehicle.
//!
//! Frames, following REP-103 and REP-105 and what ROS camera drivers publish:
//!
//! - `base_link`: x forward, y left, z up; origin on the road surface, so the ground
//!   is the plane z = 0.
//! - `camera_link` (the camera *body*): x forward along the optical axis, y left, z up.
//!   A level camera looking straight ahead has the identity rotation in `base_link`.
//! - camera optical frame: x right, y down, z forward; what [`crate::Camera`] works in.
//!   It is rigidly attached to `camera_link` by the fixed rotation that ROS URDFs
//!   write as `rpy = (-π/2, 0, -π/2)`.
//!
//! A [`Mount`] is the pose of `camera_link` in `base_link`: `p_base = R · p_body + t`.
//! Roll/pitch/yaw are the ROS fixed-axis angles (R = Rz(yaw)·Ry(pitch)·Rx(roll));
//! a positive pitch tilts the camera *down*.

use nalgebra::{Isometry3, Matrix3, Point3, Rotation3, Translation3, UnitQuaternion, Vector3};

/// Pose of the camera body frame `camera_link` in `base_link`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mount {
    body: Isometry3<f64>,
}

/// Rotation taking optical-frame vectors to `camera_link` vectors (columns: the optical
/// x, y, z axes expressed in `camera_link`: right = −y, down = −z, forward = +x).
pub fn optical_to_body() -> Rotation3<f64> {
    Rotation3::from_matrix_unchecked(Matrix3::new(
        0.0, 0.0, 1.0, //
        -1.0, 0.0, 0.0, //
        0.0, -1.0, 0.0,
    ))
}

impl Mount {
    /// Camera body at `translation` (m, `base_link`) with `rotation`.
    pub fn new(translation: Vector3<f64>, rotation: UnitQuaternion<f64>) -> Self {
        Self {
            body: Isometry3::from_parts(Translation3::from(translation), rotation),
        }
    }

    /// Camera body at `translation` with ROS roll/pitch/yaw (rad).
    pub fn from_rpy(translation: Vector3<f64>, roll: f64, pitch: f64, yaw: f64) -> Self {
        Self::new(
            translation,
            UnitQuaternion::from_euler_angles(roll, pitch, yaw),
        )
    }

    /// Pose of `camera_link` in `base_link`.
    pub fn body_pose(&self) -> &Isometry3<f64> {
        &self.body
    }

    /// Pose of the camera optical frame in `base_link`: maps optical-frame points to
    /// `base_link` points.
    pub fn optical_pose(&self) -> Isometry3<f64> {
        let fixed = UnitQuaternion::from_rotation_matrix(&optical_to_body());
        self.body * Isometry3::from_parts(Translation3::identity(), fixed)
    }

    /// Optical centre in `base_link`.
    pub fn position(&self) -> Point3<f64> {
        Point3::from(self.body.translation.vector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::FRAC_PI_2;

    #[test]
    fn optical_rotation_is_the_ros_urdf_one() {
        let urdf = Rotation3::from_euler_angles(-FRAC_PI_2, 0.0, -FRAC_PI_2);
        assert!((urdf.matrix() - optical_to_body().matrix()).norm() < 1e-12);
    }

    #[test]
    fn level_camera_looks_forward_with_image_right_to_the_right() {
        let m = Mount::from_rpy(Vector3::new(1.5, 0.0, 1.4), 0.0, 0.0, 0.0);
        let pose = m.optical_pose();
        // Optical +z (forward) → base_link +x; optical +x (right) → −y; +y (down) → −z.
        let fwd = pose * Point3::new(0.0, 0.0, 1.0);
        assert!((fwd - Point3::new(2.5, 0.0, 1.4)).norm() < 1e-12);
        assert!((pose.rotation * Vector3::x() - -Vector3::y()).norm() < 1e-12);
        assert!((pose.rotation * Vector3::y() - -Vector3::z()).norm() < 1e-12);
    }

    #[test]
    fn positive_pitch_looks_down() {
        let m = Mount::from_rpy(Vector3::zeros(), 0.0, 0.1, 0.0);
        let axis = m.optical_pose().rotation * Vector3::z();
        assert!(axis.z < 0.0 && (axis.z + 0.1f64.sin()).abs() < 1e-12);
    }
}
