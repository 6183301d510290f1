//! Camera geometry for Sightline: from a detection box in the image to a position in
//! the vehicle frame `base_link`.
//!
//! - [`Camera`]: pinhole intrinsics with the ROS `plumb_bob` / `rational_polynomial`
//!   distortion models; project, unproject, distort and undistort.
//! - [`Calibration`]: a camera plus its [`Mount`] on the vehicle, loaded from a ROS
//!   `camera_info` YAML with a `mount` section ([`Calibration::load`]) or from a KITTI
//!   calib file ([`Calibration::from_kitti_cam2`]).
//! - [`Localizer`]: one call per detection, giving position, range, bearing and
//!   covariance by ground plane and/or object-size priors.
//!
//! Frames follow REP-103: `base_link` is x forward, y left, z up with the road at
//! z = 0; the camera optical frame is x right, y down, z forward. See [`mount`] for
//! how the two are related. No ROS dependency: the node converts messages at its edge.

mod calibration;
mod camera;
mod distortion;
mod kitti;
mod localize;
pub mod mount;
mod ranging;

pub use calibration::{Calibration, CalibrationError, Ray};
pub use camera::{Camera, InvalidCamera};
pub use distortion::{Distortion, DistortionModel, InvalidDistortion, UndistortError};
pub use kitti::KITTI_CAMERA_HEIGHT_M;
pub use localize::{
    InvalidPriors, Localization, LocalizeError, Localizer, Priors, RangingMethod, SizePrior,
    TargetKind,
};
pub use mount::Mount;
/// The nalgebra this API uses (positions, covariances), so callers need no own dependency.
pub use nalgebra;
