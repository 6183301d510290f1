//! A calibration YAML (ROS camera_info + mount), then what the node computes from it:
//! pixel rays (undistortion), ground intersections, projections and the distant band
//! that tiling uses.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sightline_geometry::nalgebra::{Point2, Point3};
use sightline_geometry::Calibration;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(calibration) = Calibration::from_yaml_str(text, Path::new("fuzz.yaml")) else {
        return;
    };
    let (w, h) = (
        f64::from(calibration.camera().width()),
        f64::from(calibration.camera().height()),
    );
    for (u, v) in [(0.0, 0.0), (w / 2.0, h / 2.0), (w, h), (w / 3.0, h * 0.9)] {
        if let Ok(ray) = calibration.pixel_ray(&Point2::new(u, v)) {
            if let Some(ground) = ray.intersect_plane_z(0.0) {
                let _ = calibration.project(&ground);
            }
        }
    }
    let _ = calibration.project(&Point3::new(20.0, 1.0, 0.5));
    let _ = sightline_perception::tiling::distant_band(&calibration);
});
