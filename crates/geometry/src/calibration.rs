//! Calibration files: ROS `camera_info` YAML plus a `mount` section.
//!
//! ```yaml
//! image_width: 1920
//! image_height: 1080
//! camera_name: front
//! camera_matrix: {rows: 3, cols: 3, data: [fx, 0, cx, 0, fy, cy, 0, 0, 1]}
//! distortion_model: plumb_bob            # or rational_polynomial, none
//! distortion_coefficients: {rows: 1, cols: 5, data: [k1, k2, p1, p2, k3]}
//! rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
//! projection_matrix: {rows: 3, cols: 4, data: [...]}
//! mount:                                  # pose of camera_link in base_link
//!   translation: [1.5, 0.0, 1.4]          # m, REP-103: x forward, y left, z up
//!   rpy: [0.0, 0.035, 0.0]                # rad; or quaternion: [x, y, z, w]
//! ```
//!
//! The first eight keys are exactly what `camera_calibration` writes, so a ROS
//! calibration can be pasted in. Ranging uses K and D on the raw image (detections
//! are made on the raw image); R and P are validated but not used — they describe
//! stereo rectification. See [`crate::mount`] for the frames.

use std::path::{Path, PathBuf};

use nalgebra::{Matrix3, Point2, Point3, Quaternion, Unit, UnitQuaternion, Vector3};
use serde::Deserialize;

use crate::camera::Camera;
use crate::distortion::{Distortion, DistortionModel, UndistortError};
use crate::mount::Mount;

/// A calibration file could not be used; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("cannot read calibration file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a calibration file")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("{path}: field `{field}`: {reason}")]
    Field {
        path: PathBuf,
        field: String,
        reason: String,
    },
}

impl CalibrationError {
    /// The offending field, for [`CalibrationError::Field`].
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Field { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// A camera and where it is mounted: everything needed to turn pixels into rays in
/// `base_link`.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    name: String,
    camera: Camera,
    mount: Mount,
}

/// A half-line in `base_link`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ray {
    pub origin: Point3<f64>,
    pub direction: Unit<Vector3<f64>>,
}

impl Ray {
    /// Where the ray meets the horizontal plane z = `height`; `None` if it runs
    /// parallel to it or away from it.
    pub fn intersect_plane_z(&self, height: f64) -> Option<Point3<f64>> {
        let s = (height - self.origin.z) / self.direction.z;
        (s.is_finite() && s > 0.0).then(|| self.origin + self.direction.into_inner() * s)
    }
}

impl Calibration {
    /// Combines a camera and its mount.
    pub fn new(name: impl Into<String>, camera: Camera, mount: Mount) -> Self {
        Self {
            name: name.into(),
            camera,
            mount,
        }
    }

    /// Reads and validates a calibration YAML file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CalibrationError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| CalibrationError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml_str(&text, path)
    }

    /// Parses and validates calibration YAML; `origin` names the source in errors.
    pub fn from_yaml_str(text: &str, origin: &Path) -> Result<Self, CalibrationError> {
        let raw: RawCalibration =
            serde_yaml::from_str(text).map_err(|source| CalibrationError::Parse {
                path: origin.to_owned(),
                source,
            })?;
        raw.validate()
            .map_err(|(field, reason)| CalibrationError::Field {
                path: origin.to_owned(),
                field,
                reason,
            })
    }

    /// `camera_name` from the file.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Intrinsics and distortion.
    pub fn camera(&self) -> &Camera {
        &self.camera
    }

    /// Pose of the camera on the vehicle.
    pub fn mount(&self) -> &Mount {
        &self.mount
    }

    /// The ray in `base_link` through a raw (distorted) pixel.
    pub fn pixel_ray(&self, pixel: &Point2<f64>) -> Result<Ray, UndistortError> {
        let pose = self.mount.optical_pose();
        let direction = pose.rotation * self.camera.unproject(pixel)?;
        Ok(Ray {
            origin: Point3::from(pose.translation.vector),
            direction,
        })
    }

    /// Projects a `base_link` point to a raw pixel; `None` if it is behind the camera.
    pub fn project(&self, point: &Point3<f64>) -> Option<Point2<f64>> {
        let p = self.mount.optical_pose().inverse_transform_point(point);
        self.camera.project(&p.coords)
    }
}

type FieldError = (String, String);

fn field_err(field: &str, reason: impl Into<String>) -> FieldError {
    (field.to_owned(), reason.into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalibration {
    image_width: i64,
    image_height: i64,
    #[serde(default)]
    camera_name: String,
    camera_matrix: RawMatrix,
    #[serde(default)]
    distortion_model: String,
    distortion_coefficients: Option<RawMatrix>,
    rectification_matrix: Option<RawMatrix>,
    projection_matrix: Option<RawMatrix>,
    mount: RawMount,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMount {
    translation: Vec<f64>,
    quaternion: Option<Vec<f64>>,
    rpy: Option<Vec<f64>>,
}

/// Checks a `{rows, cols, data}` block: shape, length and finiteness.
fn matrix<'a>(
    m: &'a RawMatrix,
    field: &str,
    rows: usize,
    cols: usize,
) -> Result<&'a [f64], FieldError> {
    if m.rows != rows || m.cols != cols {
        return Err(field_err(
            field,
            format!("must be {rows}x{cols}, is {}x{}", m.rows, m.cols),
        ));
    }
    if m.data.len() != rows * cols {
        return Err(field_err(
            &format!("{field}.data"),
            format!("must have {} values, has {}", rows * cols, m.data.len()),
        ));
    }
    finite(&m.data, &format!("{field}.data"))?;
    Ok(&m.data)
}

fn finite(values: &[f64], field: &str) -> Result<(), FieldError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(field_err(field, format!("value {i} is {}", values[i]))),
        None => Ok(()),
    }
}

fn vector<const N: usize>(values: &[f64], field: &str) -> Result<[f64; N], FieldError> {
    let out: [f64; N] = values
        .try_into()
        .map_err(|_| field_err(field, format!("must have {N} values, has {}", values.len())))?;
    finite(&out, field)?;
    Ok(out)
}

/// A quaternion this far from unit norm is a typo, not rounding.
const QUATERNION_NORM_TOLERANCE: f64 = 1e-3;
/// Orthonormality tolerance for rotation matrices written with ~7 decimals.
const ROTATION_TOLERANCE: f64 = 1e-5;

impl RawCalibration {
    fn validate(self) -> Result<Calibration, FieldError> {
        let width = u32::try_from(self.image_width)
            .ok()
            .filter(|&w| w > 0)
            .ok_or_else(|| {
                field_err(
                    "image_width",
                    format!("{} is not a positive width", self.image_width),
                )
            })?;
        let height = u32::try_from(self.image_height)
            .ok()
            .filter(|&h| h > 0)
            .ok_or_else(|| {
                field_err(
                    "image_height",
                    format!("{} is not a positive height", self.image_height),
                )
            })?;
        let k = Matrix3::from_row_slice(matrix(&self.camera_matrix, "camera_matrix", 3, 3)?);

        let model = DistortionModel::from_ros_name(&self.distortion_model).ok_or_else(|| {
            field_err(
                "distortion_model",
                format!(
                    "unknown model `{}` (supported: plumb_bob, rational_polynomial, none)",
                    self.distortion_model
                ),
            )
        })?;
        let coefficients: &[f64] = match &self.distortion_coefficients {
            Some(m) => matrix(m, "distortion_coefficients", 1, m.data.len())?,
            None => &[],
        };
        let distortion = Distortion::new(model, coefficients)
            .map_err(|e| field_err("distortion_coefficients", e.to_string()))?;

        if let Some(m) = &self.rectification_matrix {
            let r = Matrix3::from_row_slice(matrix(m, "rectification_matrix", 3, 3)?);
            check_rotation(&r, "rectification_matrix")?;
        }
        if let Some(m) = &self.projection_matrix {
            let p = matrix(m, "projection_matrix", 3, 4)?;
            if !(p[0] > 0.0 && p[5] > 0.0) {
                return Err(field_err(
                    "projection_matrix",
                    "focal lengths P[0,0] and P[1,1] must be positive",
                ));
            }
        }

        let camera =
            Camera::new(width, height, k, distortion).map_err(|e| field_err(e.field, e.reason))?;
        let mount = self.mount.validate()?;
        Ok(Calibration::new(self.camera_name, camera, mount))
    }
}

fn check_rotation(r: &Matrix3<f64>, field: &str) -> Result<(), FieldError> {
    let off = (r.transpose() * r - Matrix3::identity()).abs().max();
    if off > ROTATION_TOLERANCE || (r.determinant() - 1.0).abs() > ROTATION_TOLERANCE {
        return Err(field_err(
            field,
            format!(
                "is not a rotation (|RᵀR − I| = {off:.2e}, det = {:.6})",
                r.determinant()
            ),
        ));
    }
    Ok(())
}

impl RawMount {
    fn validate(&self) -> Result<Mount, FieldError> {
        let t = vector::<3>(&self.translation, "mount.translation")?;
        let translation = Vector3::from(t);
        match (&self.quaternion, &self.rpy) {
            (Some(q), None) => {
                let [x, y, z, w] = vector::<4>(q, "mount.quaternion")?;
                let q = Quaternion::new(w, x, y, z);
                if (q.norm() - 1.0).abs() > QUATERNION_NORM_TOLERANCE {
                    return Err(field_err(
                        "mount.quaternion",
                        format!("[x, y, z, w] must have unit norm, has {:.6}", q.norm()),
                    ));
                }
                Ok(Mount::new(translation, UnitQuaternion::from_quaternion(q)))
            }
            (None, Some(rpy)) => {
                let [roll, pitch, yaw] = vector::<3>(rpy, "mount.rpy")?;
                Ok(Mount::from_rpy(translation, roll, pitch, yaw))
            }
            _ => Err(field_err(
                "mount",
                "give the rotation as exactly one of `quaternion: [x, y, z, w]` or `rpy: [roll, pitch, yaw]`",
            )),
        }
    }
}

#[cfg(test)]
#[path = "calibration_tests.rs"]
mod tests;
