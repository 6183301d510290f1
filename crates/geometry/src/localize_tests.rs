use super::*;
use crate::camera::Camera;
use crate::distortion::{Distortion, DistortionModel};
use crate::mount::Mount;
use nalgebra::{Point2, Vector3};

fn calibration(pitch: f64, distortion: Distortion) -> Calibration {
    let k = Matrix3::new(1660.0, 0.0, 960.0, 0.0, 1660.0, 540.0, 0.0, 0.0, 1.0);
    let camera = Camera::new(1920, 1080, k, distortion).unwrap();
    Calibration::new(
        "t",
        camera,
        Mount::from_rpy(Vector3::new(1.5, 0.0, 1.4), 0.0, pitch, 0.0),
    )
}

fn level() -> Localizer {
    Localizer::new(calibration(0.0, Distortion::NONE), Priors::default()).unwrap()
}

fn px(cal: &Calibration, x: f64, y: f64, z: f64) -> Point2<f64> {
    cal.project(&Point3::new(x, y, z)).unwrap()
}

/// Box of a vertical pole (width `half_w` px either side) from `foot` to `height` above it.
fn pole_box(cal: &Calibration, foot: Point3<f64>, height: f64, half_w: f64) -> [f64; 4] {
    let b = px(cal, foot.x, foot.y, foot.z);
    let t = px(cal, foot.x, foot.y, foot.z + height);
    assert!(
        (b.x - t.x).abs() < 1e-9,
        "test setup: pole not vertical in the image"
    );
    [b.x - half_w, t.y, b.x + half_w, b.y]
}

#[test]
fn pedestrian_of_prior_height_is_recovered_exactly() {
    let loc = level();
    for (x, y) in [(6.0, 0.0), (12.0, -3.0), (25.0, 4.0), (60.0, -1.0)] {
        let truth = Point3::new(x, y, 0.0);
        let bbox = pole_box(loc.calibration(), truth, 1.70, 8.0);
        let l = loc.localize(TargetKind::Pedestrian, bbox).unwrap();
        assert_eq!(l.method, RangingMethod::Fused);
        assert!(
            (l.position - truth.coords).norm() < 1e-3,
            "{truth} -> {}",
            l.position
        );
        assert!((l.range_m - truth.coords.norm()).abs() < 1e-3);
        assert!((l.bearing_rad - y.atan2(x)).abs() < 1e-6);
    }
}

#[test]
fn pitched_distorted_camera_recovers_a_pedestrian_ahead() {
    // Radial-only distortion keeps the image's centre column straight.
    let d = Distortion::new(DistortionModel::PlumbBob, &[-0.3, 0.1, 0.0, 0.0, -0.02]).unwrap();
    let cal = calibration(0.06, d);
    let loc = Localizer::new(cal, Priors::default()).unwrap();
    for x in [5.0, 9.0, 20.0, 45.0] {
        let truth = Point3::new(x, 0.0, 0.0);
        let bbox = pole_box(loc.calibration(), truth, 1.70, 10.0);
        let l = loc.localize(TargetKind::Pedestrian, bbox).unwrap();
        assert!(
            (l.position - truth.coords).norm() < 1e-3,
            "{truth} -> {}",
            l.position
        );
    }
}

#[test]
fn cut_off_feet_fall_back_to_the_height_prior() {
    let loc = level();
    // Feet at 3 m are below the image of a level camera 1.4 m up (vertical half-FOV 18°).
    let truth = Point3::new(3.0 + 1.5, 0.5, 0.0);
    let mut bbox = pole_box(loc.calibration(), truth, 1.70, 30.0);
    bbox[3] = 1080.0;
    let l = loc.localize(TargetKind::Pedestrian, bbox).unwrap();
    assert_eq!(l.method, RangingMethod::HeightPrior);
    // A truncated box is shorter than the person: the range is an over-estimate.
    assert!(l.range_m > truth.coords.norm());
}

#[test]
fn shallow_rays_use_the_height_prior() {
    let priors = Priors {
        max_range_m: 500.0,
        ..Priors::default()
    };
    let loc = Localizer::new(calibration(0.0, Distortion::NONE), priors).unwrap();
    // 1.4 m over 200 m is 0.4° below the horizon, under the 0.5° threshold.
    let truth = Point3::new(201.5, 2.0, 0.0);
    let l = loc
        .localize(
            TargetKind::Pedestrian,
            pole_box(loc.calibration(), truth, 1.70, 1.0),
        )
        .unwrap();
    assert_eq!(l.method, RangingMethod::HeightPrior);
    assert!((l.position - truth.coords).norm() < 1e-3, "{}", l.position);
}

#[test]
fn head_cut_off_uses_the_ground_plane() {
    let loc = level();
    let truth = Point3::new(8.0, -0.4, 0.0);
    let mut bbox = pole_box(loc.calibration(), truth, 1.70, 30.0);
    bbox[1] = 0.0;
    let l = loc.localize(TargetKind::Pedestrian, bbox).unwrap();
    assert_eq!(l.method, RangingMethod::GroundPlane);
    assert!((l.position - truth.coords).norm() < 1e-3);
}

#[test]
fn targets_beyond_max_range_are_rejected() {
    let priors = Priors {
        max_range_m: 30.0,
        ..Priors::default()
    };
    let loc = Localizer::new(calibration(0.0, Distortion::NONE), priors).unwrap();
    let bbox = pole_box(loc.calibration(), Point3::new(45.0, 0.0, 0.0), 1.70, 5.0);
    let err = loc.localize(TargetKind::Pedestrian, bbox).unwrap_err();
    assert!(matches!(err, LocalizeError::NoRange { .. }), "{err}");
}

#[test]
fn traffic_light_housing_centre_is_recovered() {
    let loc = level();
    let centre = Point3::new(25.0, -2.0, 5.5);
    let bbox = pole_box(
        loc.calibration(),
        centre - Vector3::new(0.0, 0.0, 0.5),
        1.0,
        6.0,
    );
    let l = loc.localize(TargetKind::TrafficLight, bbox).unwrap();
    assert_eq!(l.method, RangingMethod::HeightPrior);
    assert!((l.position - centre.coords).norm() < 1e-3, "{}", l.position);
}

#[test]
fn stop_sign_facing_the_camera_is_recovered() {
    let loc = level();
    let cal = loc.calibration();
    for centre in [Point3::new(20.0, 0.0, 1.4), Point3::new(15.0, 4.0, 2.2)] {
        // The face is perpendicular to the horizontal line of sight from the camera.
        let view = centre - cal.mount().position();
        let right = Vector3::new(view.y, -view.x, 0.0).normalize() * 0.375;
        let (l, r) = (
            cal.project(&(centre - right)).unwrap(),
            cal.project(&(centre + right)).unwrap(),
        );
        let up = cal.project(&(centre + Vector3::z() * 0.375)).unwrap();
        let down = cal.project(&(centre - Vector3::z() * 0.375)).unwrap();
        let bbox = [l.x, up.y, r.x, down.y];
        let got = loc.localize(TargetKind::StopSign, bbox).unwrap();
        assert_eq!(got.method, RangingMethod::WidthPrior);
        // Exact on the optical axis; off-axis the box's mid-row misses the edge points
        // by a fraction of a pixel.
        let tol = if centre.y == 0.0 {
            1e-3
        } else {
            0.01 * view.norm()
        };
        assert!(
            (got.position - centre.coords).norm() < tol,
            "{centre} -> {}",
            got.position
        );
    }
}

/// xorshift64* + Box–Muller: deterministic normal samples without a rand dependency.
struct Normal(u64);
impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn sample(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

#[test]
fn covariance_matches_monte_carlo() {
    // Simulate exactly the noise the covariance claims to model — box edges ± 2 px,
    // person height 1.70 ± 0.20 m, road height ± 0.10 m — and compare spreads.
    let loc = level();
    let cal = loc.calibration();
    let p = Priors::default();
    let truth = Point3::new(16.5, 2.0, 0.0);
    let nominal = loc
        .localize(TargetKind::Pedestrian, pole_box(cal, truth, 1.70, 20.0))
        .unwrap();
    let mut rng = Normal(0x9e37_79b9_7f4a_7c15);
    let n = 4000;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let h = p.pedestrian_height.mean_m + p.pedestrian_height.sigma_m * rng.sample();
        let foot = Point3::new(truth.x, truth.y, p.ground_sigma_m * rng.sample());
        let mut bbox = pole_box(cal, foot, h, 20.0);
        for v in &mut bbox {
            *v += p.pixel_sigma_px * rng.sample();
        }
        let l = loc.localize(TargetKind::Pedestrian, bbox).unwrap();
        samples.push(l.position);
    }
    let mean: Vector3<f64> = samples.iter().sum::<Vector3<f64>>() / n as f64;
    let cov: Matrix3<f64> = samples
        .iter()
        .map(|s| (s - mean) * (s - mean).transpose())
        .sum::<Matrix3<f64>>()
        / (n - 1) as f64;
    for i in 0..2 {
        let ratio = cov[(i, i)] / nominal.covariance[(i, i)];
        assert!(
            (0.8..1.25).contains(&ratio),
            "axis {i}: monte carlo {} vs {}",
            cov[(i, i)],
            nominal.covariance[(i, i)]
        );
    }
}

#[test]
fn bad_input_is_rejected() {
    let loc = level();
    for bbox in [
        [10.0, 10.0, 5.0, 20.0],
        [0.0, 0.0, 10.0, f64::NAN],
        [1.0, 5.0, 2.0, 5.0],
    ] {
        let err = loc.localize(TargetKind::Pedestrian, bbox).unwrap_err();
        assert!(matches!(err, LocalizeError::InvalidBox { .. }));
    }
    let priors = Priors {
        pixel_sigma_px: -1.0,
        ..Priors::default()
    };
    let err = Localizer::new(calibration(0.0, Distortion::NONE), priors).unwrap_err();
    assert_eq!(err.field, "pixel_sigma_px");
}

#[test]
fn names_are_snake_case() {
    assert_eq!(RangingMethod::GroundPlane.as_str(), "ground_plane");
    assert_eq!(RangingMethod::Fused.to_string(), "fused");
    assert_eq!(TargetKind::StopSign.as_str(), "stop_sign");
}
