//! Pinhole camera with lens distortion, in the camera *optical* frame.
//!
//! Optical frame (ROS `*_optical_frame`, OpenCV, KITTI): x right, y down, z forward
//! along the optical axis. A pixel (u, v) has u to the right and v downwards, with
//! (0, 0) at the centre of the top-left pixel — the convention of ROS `camera_info`
//! and OpenCV, which detector boxes share.

use nalgebra::{Matrix3, Point2, Unit, Vector3};

use crate::distortion::{Distortion, UndistortError};

/// Image size, intrinsic matrix K and lens distortion of one camera.
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    width: u32,
    height: u32,
    k: Matrix3<f64>,
    distortion: Distortion,
}

/// Why [`Camera::new`] rejected its input; `field` is the `camera_info` field at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidCamera {
    pub field: &'static str,
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> InvalidCamera {
    InvalidCamera {
        field,
        reason: reason.into(),
    }
}

impl Camera {
    /// Validates and builds a camera. K must be finite, upper triangular with
    /// `K[2,2] = 1`, and have positive focal lengths; the image must be non-empty.
    pub fn new(
        width: u32,
        height: u32,
        k: Matrix3<f64>,
        distortion: Distortion,
    ) -> Result<Self, InvalidCamera> {
        if width == 0 {
            return Err(invalid("image_width", "must be positive"));
        }
        if height == 0 {
            return Err(invalid("image_height", "must be positive"));
        }
        if let Some(v) = k.iter().find(|v| !v.is_finite()) {
            return Err(invalid("camera_matrix", format!("contains {v}")));
        }
        if k[(0, 0)] <= 0.0 {
            return Err(invalid(
                "camera_matrix",
                format!("focal length fx = {} must be positive", k[(0, 0)]),
            ));
        }
        if k[(1, 1)] <= 0.0 {
            return Err(invalid(
                "camera_matrix",
                format!("focal length fy = {} must be positive", k[(1, 1)]),
            ));
        }
        if k[(1, 0)] != 0.0 || k[(2, 0)] != 0.0 || k[(2, 1)] != 0.0 || k[(2, 2)] != 1.0 {
            return Err(invalid(
                "camera_matrix",
                "must be [fx s cx; 0 fy cy; 0 0 1]",
            ));
        }
        Ok(Self {
            width,
            height,
            k,
            distortion,
        })
    }

    /// Image width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Image height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The intrinsic matrix K.
    pub fn k(&self) -> &Matrix3<f64> {
        &self.k
    }

    /// The lens distortion.
    pub fn distortion(&self) -> &Distortion {
        &self.distortion
    }

    /// Projects a point in the optical frame to a (distorted) pixel; `None` behind the
    /// camera (z ≤ 0).
    pub fn project(&self, p: &Vector3<f64>) -> Option<Point2<f64>> {
        if p.z.is_nan() || p.z <= 0.0 {
            return None;
        }
        let (xd, yd) = self.distortion.distort(p.x / p.z, p.y / p.z);
        Some(self.normalized_to_pixel(xd, yd))
    }

    /// The unit ray (optical frame) on which a (distorted) pixel's scene point lies.
    pub fn unproject(&self, pixel: &Point2<f64>) -> Result<Unit<Vector3<f64>>, UndistortError> {
        let (xd, yd) = self.pixel_to_normalized(pixel);
        let (x, y) = self.distortion.undistort(xd, yd)?;
        Ok(Unit::new_normalize(Vector3::new(x, y, 1.0)))
    }

    /// Removes lens distortion: raw pixel → where an ideal pinhole with the same K sees it.
    pub fn undistort_pixel(&self, pixel: &Point2<f64>) -> Result<Point2<f64>, UndistortError> {
        let (xd, yd) = self.pixel_to_normalized(pixel);
        let (x, y) = self.distortion.undistort(xd, yd)?;
        Ok(self.normalized_to_pixel(x, y))
    }

    /// Adds lens distortion: ideal pinhole pixel → raw pixel. Inverse of
    /// [`Camera::undistort_pixel`].
    pub fn distort_pixel(&self, pixel: &Point2<f64>) -> Point2<f64> {
        let (x, y) = self.pixel_to_normalized(pixel);
        let (xd, yd) = self.distortion.distort(x, y);
        self.normalized_to_pixel(xd, yd)
    }

    fn pixel_to_normalized(&self, p: &Point2<f64>) -> (f64, f64) {
        let k = &self.k;
        let y = (p.y - k[(1, 2)]) / k[(1, 1)];
        let x = (p.x - k[(0, 2)] - k[(0, 1)] * y) / k[(0, 0)];
        (x, y)
    }

    fn normalized_to_pixel(&self, x: f64, y: f64) -> Point2<f64> {
        let k = &self.k;
        Point2::new(
            k[(0, 0)] * x + k[(0, 1)] * y + k[(0, 2)],
            k[(1, 1)] * y + k[(1, 2)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distortion::DistortionModel;

    fn camera() -> Camera {
        let k = Matrix3::new(1400.0, 0.5, 965.0, 0.0, 1395.0, 538.0, 0.0, 0.0, 1.0);
        let d = Distortion::new(
            DistortionModel::PlumbBob,
            &[-0.28, 0.09, 0.0007, -0.0004, -0.01],
        )
        .unwrap();
        Camera::new(1920, 1080, k, d).unwrap()
    }

    #[test]
    fn distort_undistort_pixel_round_trip_below_1e6_px() {
        let cam = camera();
        for i in 0..=24 {
            for j in 0..=13 {
                let raw = Point2::new(i as f64 * 80.0, j as f64 * 83.0);
                let ideal = cam.undistort_pixel(&raw).unwrap();
                let back = cam.distort_pixel(&ideal);
                assert!((back - raw).norm() < 1e-6, "{raw} -> {ideal} -> {back}");
                let again = cam.undistort_pixel(&cam.distort_pixel(&ideal)).unwrap();
                assert!((again - ideal).norm() < 1e-6);
            }
        }
    }

    #[test]
    fn project_unproject_round_trip() {
        let cam = camera();
        for (x, y, z) in [
            (0.0, 0.0, 5.0),
            (-3.0, 1.2, 8.0),
            (4.0, -2.0, 6.5),
            (0.1, 0.7, 1.0),
        ] {
            let p = Vector3::new(x, y, z);
            let px = cam.project(&p).unwrap();
            let ray = cam.unproject(&px).unwrap();
            assert!((ray.into_inner() - p.normalize()).norm() < 1e-12);
        }
        assert!(cam.project(&Vector3::new(0.0, 0.0, -1.0)).is_none());
    }

    #[test]
    fn principal_point_maps_to_the_optical_axis() {
        let cam = camera();
        let px = cam.project(&Vector3::new(0.0, 0.0, 3.0)).unwrap();
        assert_eq!((px.x, px.y), (965.0, 538.0));
    }

    #[test]
    fn bad_intrinsics_name_their_field() {
        let d = Distortion::NONE;
        let mut k = Matrix3::new(500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0);
        assert_eq!(Camera::new(0, 480, k, d).unwrap_err().field, "image_width");
        assert_eq!(Camera::new(640, 0, k, d).unwrap_err().field, "image_height");
        k[(1, 1)] = -500.0;
        let err = Camera::new(640, 480, k, d).unwrap_err();
        assert!(
            err.field == "camera_matrix" && err.reason.contains("fy"),
            "{err}"
        );
        k[(1, 1)] = f64::NAN;
        assert_eq!(
            Camera::new(640, 480, k, d).unwrap_err().field,
            "camera_matrix"
        );
    }
}
