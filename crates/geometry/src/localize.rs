//! From a 2D detection box to a position in `base_link`, one call per detection.
//!
//! A single camera sees bearing, not distance; distance comes from an assumption:
//!
//! - **ground plane** (pedestrians): the feet touch the road, so the ray through the
//!   box's bottom-centre meets the plane z = 0 at the person. Exact on a flat road;
//!   degrades when the ray is shallow (a few cm of road unevenness moves a far point
//!   by metres) and fails when the feet are outside the image.
//! - **size prior**: an object of known size S spanning the box is at the distance
//!   where S subtends the box. People are 1.70 ± 0.20 m tall, stop signs 0.75 m wide,
//!   vertical 3-lamp traffic-light housings ≈ 1.0 m tall. Works at any range, with a
//!   relative error of about σ_S / S.
//!
//! For a pedestrian both are computed when possible and fused by inverse variance
//! along the ray; the height prior alone is used when the feet are cut off by the
//! image border, the ray is nearly parallel to the ground, or the ground point is
//! beyond `max_range_m`. The height prior is skipped when the head is cut off (the
//! box would be too short). The covariance comes from the pixel noise of each box
//! edge, the prior's spread and the ground height uncertainty, propagated to first
//! order (see [`crate::ranging`]).

use std::fmt;

use nalgebra::{Matrix3, Point3, Vector3};
use serde::Deserialize;

use crate::calibration::Calibration;
use crate::distortion::UndistortError;
use crate::ranging::{self, Estimate, Failure, Params};

/// What was detected; selects the ranging method and prior.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    Pedestrian,
    StopSign,
    TrafficLight,
}

impl TargetKind {
    /// snake_case name, as used in output JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pedestrian => "pedestrian",
            Self::StopSign => "stop_sign",
            Self::TrafficLight => "traffic_light",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a [`Localization`] was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangingMethod {
    /// Bottom-centre ray ∩ ground plane.
    GroundPlane,
    /// Known object height (pedestrian, traffic light).
    HeightPrior,
    /// Known object width (stop sign).
    WidthPrior,
    /// Ground plane and height prior, inverse-variance weighted.
    Fused,
}

impl RangingMethod {
    /// snake_case name, as used in output JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GroundPlane => "ground_plane",
            Self::HeightPrior => "height_prior",
            Self::WidthPrior => "width_prior",
            Self::Fused => "fused",
        }
    }
}

impl fmt::Display for RangingMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An object size: mean and standard deviation, in metres.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizePrior {
    pub mean_m: f64,
    pub sigma_m: f64,
}

/// Tunables of the [`Localizer`]; `Default` gives the documented values.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Priors {
    /// Standing adult: 1.70 ± 0.20 m.
    pub pedestrian_height: SizePrior,
    /// Stop sign face width: 0.75 ± 0.10 m (US 30″/36″, EU 600–900 mm).
    pub stop_sign_width: SizePrior,
    /// Vertical 3-lamp housing: 1.0 ± 0.15 m (200 mm and 300 mm lamps).
    pub traffic_light_height: SizePrior,
    /// Noise of each box edge, px (1σ).
    pub pixel_sigma_px: f64,
    /// Height of the road under a target relative to the plane z = 0, m (1σ): road
    /// camber, slope and the vehicle's pitch and heave.
    pub ground_sigma_m: f64,
    /// A box edge this close to the image border (px) is taken as cut off.
    pub border_margin_px: f64,
    /// The ground plane is used only for rays at least this far below the horizon (rad).
    pub min_depression_rad: f64,
    /// Positions farther than this (m) are implausible.
    pub max_range_m: f64,
}

impl Default for Priors {
    fn default() -> Self {
        Self {
            pedestrian_height: SizePrior {
                mean_m: 1.70,
                sigma_m: 0.20,
            },
            stop_sign_width: SizePrior {
                mean_m: 0.75,
                sigma_m: 0.10,
            },
            traffic_light_height: SizePrior {
                mean_m: 1.0,
                sigma_m: 0.15,
            },
            pixel_sigma_px: 2.0,
            ground_sigma_m: 0.10,
            border_margin_px: 2.0,
            min_depression_rad: 0.5_f64.to_radians(),
            max_range_m: 150.0,
        }
    }
}

/// A [`Priors`] value that makes no sense.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("localizer priors: `{field}` = {value}: {reason}")]
pub struct InvalidPriors {
    pub field: &'static str,
    pub value: f64,
    pub reason: &'static str,
}

impl Priors {
    fn validate(&self) -> Result<(), InvalidPriors> {
        let checks = [
            (
                "pedestrian_height.mean_m",
                self.pedestrian_height.mean_m,
                true,
            ),
            (
                "pedestrian_height.sigma_m",
                self.pedestrian_height.sigma_m,
                false,
            ),
            ("stop_sign_width.mean_m", self.stop_sign_width.mean_m, true),
            (
                "stop_sign_width.sigma_m",
                self.stop_sign_width.sigma_m,
                false,
            ),
            (
                "traffic_light_height.mean_m",
                self.traffic_light_height.mean_m,
                true,
            ),
            (
                "traffic_light_height.sigma_m",
                self.traffic_light_height.sigma_m,
                false,
            ),
            ("pixel_sigma_px", self.pixel_sigma_px, false),
            ("ground_sigma_m", self.ground_sigma_m, false),
            ("border_margin_px", self.border_margin_px, false),
            ("min_depression_rad", self.min_depression_rad, false),
            ("max_range_m", self.max_range_m, true),
        ];
        for (field, value, positive) in checks {
            let ok = value.is_finite() && if positive { value > 0.0 } else { value >= 0.0 };
            if !ok {
                let reason = if positive {
                    "must be finite and > 0"
                } else {
                    "must be finite and ≥ 0"
                };
                return Err(InvalidPriors {
                    field,
                    value,
                    reason,
                });
            }
        }
        Ok(())
    }
}

/// Where a detection is.
#[derive(Debug, Clone, PartialEq)]
pub struct Localization {
    /// In `base_link`, m. Pedestrian: the ground contact point under the box's
    /// bottom-centre. Stop sign, traffic light: the centre of the sign/housing.
    pub position: Vector3<f64>,
    /// |position|, m.
    pub range_m: f64,
    /// atan2(y, x) of the position, rad; positive to the left.
    pub bearing_rad: f64,
    /// Covariance of `position`, m².
    pub covariance: Matrix3<f64>,
    pub method: RangingMethod,
}

impl Localization {
    /// Variance reported for rotations, which ranging does not estimate (a point, no
    /// orientation): large, so consumers treat it as unknown.
    pub const UNKNOWN_ROTATION_VARIANCE: f64 = 1e6;

    /// The ROS `PoseWithCovariance` covariance: row-major 6×6 over (x, y, z, rot x,
    /// rot y, rot z), position block from [`Localization::covariance`].
    pub fn pose_covariance(&self) -> [f64; 36] {
        let mut covariance = [0.0; 36];
        for r in 0..3 {
            for c in 0..3 {
                covariance[r * 6 + c] = self.covariance[(r, c)];
            }
            covariance[(r + 3) * 6 + r + 3] = Self::UNKNOWN_ROTATION_VARIANCE;
        }
        covariance
    }
}

/// A detection could not be localized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LocalizeError {
    #[error("{kind} box {bbox:?}: not a finite box with x1 < x2 and y1 < y2")]
    InvalidBox { kind: TargetKind, bbox: [f64; 4] },
    #[error("{kind} box {bbox:?}")]
    Undistort {
        kind: TargetKind,
        bbox: [f64; 4],
        #[source]
        source: UndistortError,
    },
    #[error("{kind} box {bbox:?}: no range: {reason}")]
    NoRange {
        kind: TargetKind,
        bbox: [f64; 4],
        reason: &'static str,
    },
}

/// Turns detection boxes of one camera into positions in `base_link`.
#[derive(Debug, Clone)]
pub struct Localizer {
    calibration: Calibration,
    priors: Priors,
}

impl Localizer {
    /// A localizer for one calibrated camera.
    pub fn new(calibration: Calibration, priors: Priors) -> Result<Self, InvalidPriors> {
        priors.validate()?;
        Ok(Self {
            calibration,
            priors,
        })
    }

    /// The camera this localizer works for.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// Localizes one detection; `bbox` is `[x1, y1, x2, y2]` in pixels of the raw
    /// (distorted, full-resolution) image the calibration describes.
    pub fn localize(
        &self,
        kind: TargetKind,
        bbox: [f64; 4],
    ) -> Result<Localization, LocalizeError> {
        let [x1, y1, x2, y2] = bbox;
        if !(bbox.iter().all(|v| v.is_finite()) && x1 < x2 && y1 < y2) {
            return Err(LocalizeError::InvalidBox { kind, bbox });
        }
        let p = &self.priors;
        let size = match kind {
            TargetKind::Pedestrian => p.pedestrian_height,
            TargetKind::StopSign => p.stop_sign_width,
            TargetKind::TrafficLight => p.traffic_light_height,
        };
        let theta: Params = [x1, y1, x2, y2, size.mean_m, 0.0];
        let s = p.pixel_sigma_px;
        let sigma: Params = [s, s, s, s, size.sigma_m, p.ground_sigma_m];
        let cal = &self.calibration;
        let fail = |e: Failure| match e {
            Failure::Undistort(source) => LocalizeError::Undistort { kind, bbox, source },
            Failure::Geometry(reason) => LocalizeError::NoRange { kind, bbox, reason },
        };

        let (estimate, method) = match kind {
            TargetKind::Pedestrian => self.pedestrian(&theta, &sigma).map_err(fail)?,
            TargetKind::StopSign => (
                Estimate::new(&theta, |t| ranging::facing_width(cal, t)).map_err(fail)?,
                RangingMethod::WidthPrior,
            ),
            TargetKind::TrafficLight => (
                Estimate::new(&theta, |t| {
                    ranging::vertical_segment(cal, t).map(|(b, t)| nalgebra::center(&b, &t))
                })
                .map_err(fail)?,
                RangingMethod::HeightPrior,
            ),
        };
        let position = estimate.point.coords;
        let range_m = position.norm();
        if range_m.is_nan() || range_m > p.max_range_m {
            return Err(fail(Failure::Geometry("beyond max_range_m")));
        }
        Ok(Localization {
            position,
            range_m,
            bearing_rad: position.y.atan2(position.x),
            covariance: estimate.covariance(&sigma),
            method,
        })
    }

    fn pedestrian(
        &self,
        theta: &Params,
        sigma: &Params,
    ) -> Result<(Estimate, RangingMethod), Failure> {
        let cal = &self.calibration;
        let p = &self.priors;
        let height = f64::from(cal.camera().height());
        let feet_cut = theta[3] >= height - p.border_margin_px;
        let head_cut = theta[1] <= p.border_margin_px;
        let origin = cal.mount().position();

        let ground = if feet_cut {
            Err(Failure::Geometry(
                "the feet are cut off by the image border",
            ))
        } else {
            self.plausible_ground(theta, &origin)
        };
        let prior = Estimate::new(theta, |t| {
            ranging::vertical_segment(cal, t).map(|(bottom, _)| bottom)
        });
        match (ground, prior) {
            (Ok(g), Ok(h)) if !head_cut => {
                let ray = (g.point - origin).normalize();
                Ok((g.fuse(&h, sigma, &ray), RangingMethod::Fused))
            }
            (Ok(g), _) => Ok((g, RangingMethod::GroundPlane)),
            (Err(why), Ok(h)) => {
                tracing::debug!(?why, head_cut, "pedestrian ranged by height prior only");
                Ok((h, RangingMethod::HeightPrior))
            }
            (Err(_), Err(e)) => Err(e),
        }
    }

    /// The ground-plane estimate, unless the ray is too shallow or lands too far.
    fn plausible_ground(&self, theta: &Params, origin: &Point3<f64>) -> Result<Estimate, Failure> {
        let cal = &self.calibration;
        let g = Estimate::new(theta, |t| ranging::ground_point(cal, t))?;
        let ray = g.point - origin;
        let depression = (-ray.z / ray.norm()).asin();
        if depression < self.priors.min_depression_rad {
            return Err(Failure::Geometry(
                "the ray is nearly parallel to the ground",
            ));
        }
        if g.point.coords.norm() > self.priors.max_range_m {
            return Err(Failure::Geometry("the ground point is beyond max_range_m"));
        }
        Ok(g)
    }
}

#[cfg(test)]
#[path = "localize_tests.rs"]
mod tests;
