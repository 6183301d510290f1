//! The geometric solvers behind [`crate::Localizer`], and first-order covariance
//! propagation through them.
//!
//! Every solver is a function of the same parameter vector θ = (x1, y1, x2, y2, size,
//! ground height): the box corners (px), the prior's object size (m) and the height
//! of the ground under the target relative to the modelled plane z = 0 (m). The
//! covariance of a position is J·diag(σ²)·Jᵀ with J = ∂position/∂θ by central
//! differences. Numerical derivatives go through the iterative undistortion exactly
//! as the estimate does, so no hand-derived Jacobian can drift from the model.

use nalgebra::{Matrix2, Matrix3, Point2, Point3, Vector2, Vector3};

use crate::calibration::Calibration;
use crate::distortion::UndistortError;

/// Number of entries of θ.
pub(crate) const N_PARAMS: usize = 6;
pub(crate) type Params = [f64; N_PARAMS];

/// Central-difference steps for θ: px for the box, m for size and ground height.
const STEPS: Params = [1e-2, 1e-2, 1e-2, 1e-2, 1e-4, 1e-4];

/// A solver could not produce a point.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    Undistort(UndistortError),
    Geometry(&'static str),
}

impl From<UndistortError> for Failure {
    fn from(e: UndistortError) -> Self {
        Self::Undistort(e)
    }
}

/// A position with its derivatives with respect to θ.
#[derive(Debug, Clone)]
pub(crate) struct Estimate {
    pub point: Point3<f64>,
    pub jacobian: [Vector3<f64>; N_PARAMS],
}

impl Estimate {
    /// Evaluates `solve` at θ and differentiates it.
    pub fn new(
        theta: &Params,
        solve: impl Fn(&Params) -> Result<Point3<f64>, Failure>,
    ) -> Result<Self, Failure> {
        let point = solve(theta)?;
        let mut jacobian = [Vector3::zeros(); N_PARAMS];
        for (i, j) in jacobian.iter_mut().enumerate() {
            let (mut plus, mut minus) = (*theta, *theta);
            plus[i] += STEPS[i];
            minus[i] -= STEPS[i];
            *j = (solve(&plus)? - solve(&minus)?) / (2.0 * STEPS[i]);
        }
        Ok(Self { point, jacobian })
    }

    /// J·diag(σ²)·Jᵀ.
    pub fn covariance(&self, sigma: &Params) -> Matrix3<f64> {
        self.jacobian
            .iter()
            .zip(sigma)
            .map(|(j, s)| j * j.transpose() * (s * s))
            .sum()
    }

    /// Inverse-variance blend of two estimates of a point on the same ray; the
    /// variances are taken along `direction`.
    pub fn fuse(&self, other: &Self, sigma: &Params, direction: &Vector3<f64>) -> Self {
        let var = |e: &Self| direction.dot(&(e.covariance(sigma) * direction));
        let (va, vb) = (var(self), var(other));
        let w = if va + vb > 0.0 { vb / (va + vb) } else { 0.5 };
        let mut jacobian = [Vector3::zeros(); N_PARAMS];
        for (i, j) in jacobian.iter_mut().enumerate() {
            *j = self.jacobian[i] * w + other.jacobian[i] * (1.0 - w);
        }
        Self {
            point: Point3::from(self.point.coords * w + other.point.coords * (1.0 - w)),
            jacobian,
        }
    }
}

/// Foot point: the ray through the box's bottom-centre meets the ground z = θ[5].
pub(crate) fn ground_point(cal: &Calibration, t: &Params) -> Result<Point3<f64>, Failure> {
    let ray = cal.pixel_ray(&Point2::new((t[0] + t[2]) / 2.0, t[3]))?;
    ray.intersect_plane_z(t[5]).ok_or(Failure::Geometry(
        "the ray through the box bottom does not descend to the ground",
    ))
}

/// A segment of length θ[4] along `axis` whose ends lie on the rays through pixels
/// `a` and `b`; returns its two ends. Least squares, so pixels slightly off the
/// ideal (box not exactly aligned with `axis`) still give the nearest fit.
fn segment(
    cal: &Calibration,
    a: Point2<f64>,
    b: Point2<f64>,
    length: f64,
    axis: impl Fn(&Vector3<f64>, &Vector3<f64>) -> Vector3<f64>,
) -> Result<(Point3<f64>, Point3<f64>), Failure> {
    let ra = cal.pixel_ray(&a)?;
    let rb = cal.pixel_ray(&b)?;
    let (da, db) = (ra.direction.into_inner(), rb.direction.into_inner());
    let u = axis(&da, &db);
    // Solve s·da − t·db = −length·u in the least-squares sense.
    let m = Matrix2::new(1.0, -da.dot(&db), -da.dot(&db), 1.0);
    let rhs = Vector2::new(-length * da.dot(&u), length * db.dot(&u));
    let st = m
        .try_inverse()
        .filter(|_| m.determinant() > 1e-14)
        .map(|inv| inv * rhs)
        .ok_or(Failure::Geometry("the box is too small to measure"))?;
    if !(st.x > 0.0 && st.y > 0.0) {
        return Err(Failure::Geometry(
            "the size prior puts the target behind the camera",
        ));
    }
    Ok((ra.origin + da * st.x, rb.origin + db * st.y))
}

/// A vertical object of height θ[4] spanning the box's bottom- and top-centre:
/// returns (bottom, top).
pub(crate) fn vertical_segment(
    cal: &Calibration,
    t: &Params,
) -> Result<(Point3<f64>, Point3<f64>), Failure> {
    let u = (t[0] + t[2]) / 2.0;
    segment(
        cal,
        Point2::new(u, t[3]),
        Point2::new(u, t[1]),
        t[4],
        |_, _| Vector3::z(),
    )
}

/// A horizontal object of width θ[4] facing the camera, spanning the box's left and
/// right mid-height points: returns its centre.
pub(crate) fn facing_width(cal: &Calibration, t: &Params) -> Result<Point3<f64>, Failure> {
    let v = (t[1] + t[3]) / 2.0;
    let right = |dl: &Vector3<f64>, dr: &Vector3<f64>| {
        let view = dl + dr;
        Vector3::new(view.y, -view.x, 0.0)
            .try_normalize(1e-12)
            .unwrap_or_else(Vector3::zeros)
    };
    let (l, r) = segment(cal, Point2::new(t[0], v), Point2::new(t[2], v), t[4], right)?;
    Ok(nalgebra::center(&l, &r))
}
