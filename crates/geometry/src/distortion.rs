//! Lens distortion in the OpenCV / ROS `camera_info` parameterisation.
//!
//! Both ROS models are the same rational function of the normalised image coordinates
//! (x, y) = (X/Z, Y/Z) in the camera optical frame:
//!
//! ```text
//! r² = x² + y²
//! radial = (1 + k1 r² + k2 r⁴ + k3 r⁶) / (1 + k4 r² + k5 r⁴ + k6 r⁶)
//! x_d = x·radial + 2 p1 x y + p2 (r² + 2x²)
//! y_d = y·radial + p1 (r² + 2y²) + 2 p2 x y
//! ```
//!
//! `plumb_bob` is the special case k4 = k5 = k6 = 0. Coefficients are stored in the ROS
//! (and OpenCV) order `k1 k2 p1 p2 k3 k4 k5 k6`, so a `camera_info` `D` vector can be
//! copied verbatim.
//!
//! Distorting is closed-form; undistorting is not, so [`Distortion::undistort`] runs
//! Newton's method and reports failure instead of returning a point that does not map
//! back (strong barrel distortion folds over beyond the image corners, and a point out
//! there has no inverse).

use std::fmt;

/// Which ROS `distortion_model` a [`Distortion`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistortionModel {
    /// No distortion (`distortion_model: none` or empty, no coefficients).
    None,
    /// `plumb_bob`: k1 k2 p1 p2 k3.
    PlumbBob,
    /// `rational_polynomial`: k1 k2 p1 p2 k3 k4 k5 k6.
    RationalPolynomial,
}

impl DistortionModel {
    /// Parses a ROS `distortion_model` string; `None` for models this crate cannot invert.
    pub fn from_ros_name(name: &str) -> Option<Self> {
        match name {
            "" | "none" => Some(Self::None),
            "plumb_bob" => Some(Self::PlumbBob),
            "rational_polynomial" => Some(Self::RationalPolynomial),
            _ => None,
        }
    }

    /// The ROS name, as written in `camera_info` files.
    pub fn ros_name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::PlumbBob => "plumb_bob",
            Self::RationalPolynomial => "rational_polynomial",
        }
    }

    /// Number of coefficients the model takes in `distortion_coefficients`.
    pub fn coefficient_count(self) -> usize {
        match self {
            Self::None => 0,
            Self::PlumbBob => 5,
            Self::RationalPolynomial => 8,
        }
    }
}

impl fmt::Display for DistortionModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ros_name())
    }
}

/// Undistortion of a point failed: it lies where the distortion model cannot be inverted.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum UndistortError {
    /// Newton's method did not reach the tolerance within the iteration budget.
    #[error(
        "undistorting normalised point ({x:.6}, {y:.6}) did not converge \
         after {iterations} iterations (residual {residual:.3e})"
    )]
    NotConverged {
        x: f64,
        y: f64,
        iterations: usize,
        residual: f64,
    },
    /// A solution was found, but in the folded-over part of the model (Jacobian not
    /// positive definite), which does not correspond to a real ray.
    #[error("normalised point ({x:.6}, {y:.6}) lies outside the invertible region of the distortion model")]
    OutsideValidRegion { x: f64, y: f64 },
}

/// Lens distortion: a model and its coefficients (ROS order, zero-padded to 8).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distortion {
    model: DistortionModel,
    /// k1 k2 p1 p2 k3 k4 k5 k6; unused entries are zero.
    c: [f64; 8],
}

/// Why [`Distortion::new`] rejected its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidDistortion {
    #[error("distortion model `{model}` takes {expected} coefficients, got {got}")]
    WrongCount {
        model: DistortionModel,
        expected: usize,
        got: usize,
    },
    #[error("coefficient {index} is not finite ({value})")]
    NotFinite { index: usize, value: f64 },
}

/// Newton iterations allowed in [`Distortion::undistort`]; well-behaved lenses need < 10.
const MAX_ITERATIONS: usize = 50;
/// Convergence tolerance on the residual, in normalised coordinates (≈ 1e-9 px at f = 1000).
const TOLERANCE: f64 = 1e-12;

impl Distortion {
    /// No distortion.
    pub const NONE: Distortion = Distortion {
        model: DistortionModel::None,
        c: [0.0; 8],
    };

    /// Builds a distortion from ROS-ordered coefficients. `none` also accepts all-zero
    /// coefficients of any length, as some drivers publish `D = [0, 0, 0, 0, 0]` with it.
    pub fn new(model: DistortionModel, coefficients: &[f64]) -> Result<Self, InvalidDistortion> {
        if let Some((index, &value)) = coefficients
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite())
        {
            return Err(InvalidDistortion::NotFinite { index, value });
        }
        let expected = model.coefficient_count();
        let all_zero = coefficients.iter().all(|&v| v == 0.0);
        if coefficients.len() != expected && !(model == DistortionModel::None && all_zero) {
            return Err(InvalidDistortion::WrongCount {
                model,
                expected,
                got: coefficients.len(),
            });
        }
        let mut c = [0.0; 8];
        if model != DistortionModel::None {
            c[..expected].copy_from_slice(coefficients);
        }
        Ok(Self { model, c })
    }

    /// The model this distortion was built with.
    pub fn model(&self) -> DistortionModel {
        self.model
    }

    /// The coefficients in ROS order, as many as the model takes.
    pub fn coefficients(&self) -> &[f64] {
        &self.c[..self.model.coefficient_count()]
    }

    /// Maps an ideal normalised point to its distorted normalised position.
    pub fn distort(&self, x: f64, y: f64) -> (f64, f64) {
        let (d, _) = self.distort_with_jacobian(x, y);
        d
    }

    /// Inverts [`Distortion::distort`]: distorted normalised point → ideal normalised point.
    pub fn undistort(&self, xd: f64, yd: f64) -> Result<(f64, f64), UndistortError> {
        if self.model == DistortionModel::None {
            return Ok((xd, yd));
        }
        let residual_at = |x: f64, y: f64| {
            let ((dx, dy), j) = self.distort_with_jacobian(x, y);
            ((dx - xd, dy - yd), j)
        };
        let (mut x, mut y) = (xd, yd);
        let (mut r, mut j) = residual_at(x, y);
        let mut norm = r.0.hypot(r.1);
        for _ in 0..MAX_ITERATIONS {
            if norm < TOLERANCE {
                break;
            }
            let det = j[0] * j[3] - j[1] * j[2];
            if !det.is_finite() || det.abs() < 1e-300 {
                break;
            }
            let step_x = (j[3] * r.0 - j[1] * r.1) / det;
            let step_y = (-j[2] * r.0 + j[0] * r.1) / det;
            // Backtracking keeps Newton from jumping across the fold of strong lenses.
            let mut scale = 1.0;
            loop {
                let (nx, ny) = (x - scale * step_x, y - scale * step_y);
                let (nr, nj) = residual_at(nx, ny);
                let nnorm = nr.0.hypot(nr.1);
                if nnorm < norm || scale < 1e-6 {
                    (x, y, r, j, norm) = (nx, ny, nr, nj, nnorm);
                    break;
                }
                scale *= 0.5;
            }
        }
        if norm.is_nan() || norm >= TOLERANCE {
            return Err(UndistortError::NotConverged {
                x: xd,
                y: yd,
                iterations: MAX_ITERATIONS,
                residual: norm,
            });
        }
        let det = j[0] * j[3] - j[1] * j[2];
        if !(det > 0.0 && j[0] > 0.0) || self.radial_denominator(x * x + y * y) <= 0.0 {
            return Err(UndistortError::OutsideValidRegion { x: xd, y: yd });
        }
        Ok((x, y))
    }

    fn radial_denominator(&self, r2: f64) -> f64 {
        let c = &self.c;
        1.0 + r2 * (c[5] + r2 * (c[6] + r2 * c[7]))
    }

    /// Distorted point and its Jacobian `[dxd/dx, dxd/dy, dyd/dx, dyd/dy]`.
    fn distort_with_jacobian(&self, x: f64, y: f64) -> ((f64, f64), [f64; 4]) {
        let [k1, k2, p1, p2, k3, k4, k5, k6] = self.c;
        let r2 = x * x + y * y;
        let a = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
        let b = 1.0 + r2 * (k4 + r2 * (k5 + r2 * k6));
        let da = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2);
        let db = k4 + r2 * (2.0 * k5 + 3.0 * k6 * r2);
        let radial = a / b;
        let dradial = (da * b - a * db) / (b * b); // d radial / d r²
        let xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x);
        let yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y;
        let jac = [
            radial + 2.0 * x * x * dradial + 2.0 * p1 * y + 6.0 * p2 * x,
            2.0 * x * y * dradial + 2.0 * p1 * x + 2.0 * p2 * y,
            2.0 * x * y * dradial + 2.0 * p1 * x + 2.0 * p2 * y,
            radial + 2.0 * y * y * dradial + 6.0 * p1 * y + 2.0 * p2 * x,
        ];
        ((xd, yd), jac)
    }
}

impl Default for Distortion {
    fn default() -> Self {
        Self::NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plumb_bob() -> Distortion {
        // A typical automotive 60° lens (values of the order OpenCV calibrations give).
        Distortion::new(
            DistortionModel::PlumbBob,
            &[-0.32, 0.12, 0.001, -0.0005, -0.02],
        )
        .unwrap()
    }

    fn rational() -> Distortion {
        Distortion::new(
            DistortionModel::RationalPolynomial,
            &[0.8, -0.05, 0.0008, 0.0004, -0.01, 1.15, 0.12, -0.02],
        )
        .unwrap()
    }

    fn grid() -> impl Iterator<Item = (f64, f64)> {
        (-8..=8).flat_map(|i| (-5..=5).map(move |j| (i as f64 * 0.07, j as f64 * 0.07)))
    }

    #[test]
    fn jacobian_matches_finite_differences() {
        for d in [plumb_bob(), rational()] {
            for (x, y) in grid() {
                let (_, j) = d.distort_with_jacobian(x, y);
                let h = 1e-6;
                let (px, py) = (d.distort(x + h, y), d.distort(x - h, y));
                let (qx, qy) = (d.distort(x, y + h), d.distort(x, y - h));
                let num = [
                    (px.0 - py.0) / (2.0 * h),
                    (qx.0 - qy.0) / (2.0 * h),
                    (px.1 - py.1) / (2.0 * h),
                    (qx.1 - qy.1) / (2.0 * h),
                ];
                for k in 0..4 {
                    assert!((j[k] - num[k]).abs() < 1e-6, "{k}: {} vs {}", j[k], num[k]);
                }
            }
        }
    }

    #[test]
    fn undistort_inverts_distort() {
        for d in [plumb_bob(), rational(), Distortion::NONE] {
            for (x, y) in grid() {
                let (xd, yd) = d.distort(x, y);
                let (ux, uy) = d.undistort(xd, yd).unwrap();
                // 1e-10 normalised is 1e-7 px at f = 1000.
                assert!((ux - x).hypot(uy - y) < 1e-10, "{x},{y} -> {ux},{uy}");
            }
        }
    }

    #[test]
    fn plumb_bob_matches_the_opencv_formula_written_out() {
        // Independent expansion of the OpenCV plumb_bob formula for one point.
        let (k1, k2, p1, p2, k3) = (-0.32, 0.12, 0.001, -0.0005, -0.02);
        let (x, y): (f64, f64) = (0.3, -0.2);
        let r2 = x * x + y * y;
        let radial = 1.0 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2;
        let ex = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x);
        let ey = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y;
        let (dx, dy) = plumb_bob().distort(x, y);
        assert!((dx - ex).abs() < 1e-15 && (dy - ey).abs() < 1e-15);
    }

    #[test]
    fn folded_region_is_rejected() {
        // Pure barrel k1 = -0.5: r_d = r (1 - 0.5 r²) peaks at r = 0.816 (r_d = 0.544);
        // a distorted radius beyond the peak has no preimage.
        let d = Distortion::new(DistortionModel::PlumbBob, &[-0.5, 0.0, 0.0, 0.0, 0.0]).unwrap();
        assert!(d.undistort(0.6, 0.0).is_err());
        assert!(d.undistort(0.5, 0.0).is_ok());
    }

    #[test]
    fn coefficient_counts_are_checked() {
        let err = Distortion::new(DistortionModel::PlumbBob, &[0.1, 0.0, 0.0, 0.0]).unwrap_err();
        assert!(matches!(
            err,
            InvalidDistortion::WrongCount {
                expected: 5,
                got: 4,
                ..
            }
        ));
        assert!(Distortion::new(DistortionModel::RationalPolynomial, &[0.0; 5]).is_err());
        assert!(Distortion::new(DistortionModel::None, &[0.0; 5]).is_ok());
        assert!(Distortion::new(DistortionModel::None, &[0.1]).is_err());
        assert!(Distortion::new(DistortionModel::PlumbBob, &[f64::NAN, 0., 0., 0., 0.]).is_err());
    }
}
