//! A detector without a device, for the tests of every crate that drives the pipeline:
//! it calls the box of pure-white pixels a pedestrian (score 0.9) and reports a weak
//! stop sign (0.1) in every image, which a 0.3 threshold must drop, plus the
//! [`FakeDetector::lights`] it is given. It judges lights with the host reference of the
//! state kernel. Given regions (tiles), it sees only the white pixels inside each, as a
//! model shown the tile would.

use crate::pipeline::Detect;
use crate::tiling::TilingParams;
use sightline_detect::{
    Class, DetectError, Detection, ImageView, LightReading, Region, RegionDetections, StageTimes,
};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct FakeDetector {
    /// Size of every batch it was given.
    pub batches: Vec<usize>,
    /// How long each batch takes.
    pub delay: Duration,
    /// Detections added to every image of an untiled batch (traffic lights, say).
    pub lights: Vec<Detection>,
    /// The regions of every image of every region batch.
    pub region_batches: Vec<Vec<Vec<Region>>>,
}

impl Detect for FakeDetector {
    fn detect_batch(
        &mut self,
        images: &[ImageView],
    ) -> Result<(Vec<Vec<Detection>>, StageTimes), DetectError> {
        self.batches.push(images.len());
        std::thread::sleep(self.delay);
        let detect = |image: &ImageView| {
            let mut dets = white_box(image, Region::whole(image.width(), image.height()));
            dets.extend(self.lights.iter().copied());
            dets
        };
        Ok((images.iter().map(detect).collect(), StageTimes::default()))
    }
    fn light_states(
        &mut self,
        images: &[ImageView],
        lights: &[(usize, [f32; 4])],
    ) -> Result<Vec<LightReading>, DetectError> {
        lights
            .iter()
            .map(|&(image, bbox)| {
                let view = images
                    .get(image)
                    .ok_or_else(|| DetectError::Device(format!("no image {image} in the batch")))?;
                Ok(sightline_detect::tl_state::classify_host(view, bbox))
            })
            .collect()
    }
    fn detect_regions(
        &mut self,
        images: &[ImageView],
        regions: &[Vec<Region>],
    ) -> Result<(Vec<RegionDetections>, StageTimes), DetectError> {
        self.batches.push(regions.iter().map(Vec::len).sum());
        self.region_batches.push(regions.to_vec());
        std::thread::sleep(self.delay);
        let detections = images
            .iter()
            .zip(regions)
            .map(|(im, rs)| rs.iter().map(|&r| white_box(im, r)).collect())
            .collect();
        Ok((detections, StageTimes::default()))
    }
    fn tiling_params(&self) -> TilingParams {
        TilingParams {
            tile: (416, 416),
            nms_iou: 0.65,
            max_per_class: 100,
        }
    }
    fn device_name(&self) -> String {
        "fake".into()
    }
}

fn white_box(image: &ImageView, region: Region) -> Vec<Detection> {
    let ch = image.format().channels();
    let (mut x1, mut y1, mut x2, mut y2) = (u32::MAX, u32::MAX, 0, 0);
    for y in region.y..region.y + region.height {
        for x in region.x..region.x + region.width {
            let i = y as usize * image.step() + x as usize * ch;
            if image.data()[i..i + ch.min(3)].iter().all(|&v| v == 255) {
                (x1, y1, x2, y2) = (x1.min(x), y1.min(y), x2.max(x + 1), y2.max(y + 1));
            }
        }
    }
    let (rx, ry) = (region.x as f32, region.y as f32);
    let mut dets = vec![Detection {
        class: Class::StopSign,
        score: 0.1,
        bbox: [rx, ry, rx + 4.0, ry + 4.0],
    }];
    if x2 > x1 {
        dets.push(Detection {
            class: Class::Pedestrian,
            score: 0.9,
            bbox: [x1 as f32, y1 as f32, x2 as f32, y2 as f32],
        });
    }
    dets
}

/// An rgb8 frame of `size` with a white box (a "pedestrian") at `white` `[x1, y1, x2, y2]`.
pub fn frame(sec: i32, frame_id: &str, size: (u32, u32), white: [u32; 4]) -> crate::Frame {
    let (w, h) = size;
    let mut data = vec![40u8; (w * h * 3) as usize];
    for y in white[1]..white[3] {
        for x in white[0]..white[2] {
            let i = ((y * w + x) * 3) as usize;
            data[i..i + 3].copy_from_slice(&[255, 255, 255]);
        }
    }
    crate::Frame {
        stamp: crate::Stamp { sec, nanosec: 7 },
        frame_id: frame_id.into(),
        payload: crate::Payload::Raw {
            width: w,
            height: h,
            step: w * 3,
            encoding: "rgb8".into(),
            data,
        },
    }
}

/// Image size of `calibration/kitti_cam2.yaml`.
pub const KITTI: (u32, u32) = (1242, 375);

/// A camera calibrated with `calibration/kitti_cam2.yaml`, every threshold 0.3.
pub fn kitti_camera(name: &str) -> crate::Camera {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../calibration/kitti_cam2.yaml"
    );
    let mut camera = crate::Camera::new(name)
        .calibrated(std::path::Path::new(path))
        .expect("calibration/kitti_cam2.yaml");
    camera.thresholds = crate::Thresholds::all(0.3).expect("0.3 is a score");
    camera
}
