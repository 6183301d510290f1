//! The frame path, once: frames of any cameras → pixels (one rule) → one device batch →
//! per-class thresholds → localization (only at the calibration's image size) → an
//! [`Output`] per frame, with an optional debug image. The node's worker, replay,
//! detect, bench and eval all call [`Pipeline::process`]. A camera with tiling on has its
//! tiles in the same batch, merged into one set per frame ([`crate::tiling`]).

use crate::annotate;
use crate::camera::Camera;
use crate::frame::{BadFrame, Frame, Pixels};
use crate::output::{Object, Output, Times};
use crate::tiling::{self, Pass, Tiling, TilingParams};
use sightline_detect::{
    Class, DetectError, Detection, Detector, ImageView, LightReading, Region, RegionDetections,
    StageTimes,
};
use sightline_geometry::{Localizer, TargetKind};
use std::time::Instant;

/// What the pipeline needs from a detector (a fake one in tests).
pub trait Detect {
    /// Detections of each image as one device batch, with the batch's stage times.
    fn detect_batch(
        &mut self,
        images: &[ImageView],
    ) -> Result<(Vec<Vec<Detection>>, StageTimes), DetectError>;
    /// The state of each traffic light `(image, [x1, y1, x2, y2])`, `image` indexing the
    /// images of the last `detect_batch` (given again).
    fn light_states(
        &mut self,
        images: &[ImageView],
        lights: &[(usize, [f32; 4])],
    ) -> Result<Vec<LightReading>, DetectError>;
    /// Detections of regions of each image (`regions[i]` are image `i`'s) as one device
    /// batch: per image, per region, boxes in image pixels clipped to their region.
    fn detect_regions(
        &mut self,
        images: &[ImageView],
        regions: &[Vec<Region>],
    ) -> Result<(Vec<RegionDetections>, StageTimes), DetectError>;
    /// Tile size and NMS rule for tiling.
    fn tiling_params(&self) -> TilingParams;
    /// Name of the device, for diagnostics and reports.
    fn device_name(&self) -> String;
}

impl Detect for Detector {
    fn detect_batch(
        &mut self,
        images: &[ImageView],
    ) -> Result<(Vec<Vec<Detection>>, StageTimes), DetectError> {
        match images {
            // One camera: a sync after each stage, so every stage is timed.
            [image] => Detector::detect_timed(self, image, true).map(|(d, t)| (vec![d], t)),
            _ => Detector::detect_batch(self, images),
        }
    }
    fn light_states(
        &mut self,
        images: &[ImageView],
        lights: &[(usize, [f32; 4])],
    ) -> Result<Vec<LightReading>, DetectError> {
        Detector::light_states(self, images, lights)
    }
    fn detect_regions(
        &mut self,
        images: &[ImageView],
        regions: &[Vec<Region>],
    ) -> Result<(Vec<RegionDetections>, StageTimes), DetectError> {
        Detector::detect_regions(self, images, regions)
    }
    fn tiling_params(&self) -> TilingParams {
        let manifest = self.manifest();
        TilingParams {
            tile: (manifest.input.width, manifest.input.height),
            nms_iou: self.nms_iou(),
            max_per_class: manifest.max_detections,
        }
    }
    fn device_name(&self) -> String {
        self.gpu().name().to_string()
    }
}

/// Why a frame gave no output.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Bad(#[from] BadFrame),
    /// The detector's error, as text: one device error fails every frame of its batch.
    #[error("detector: {0}")]
    Detect(String),
    #[error("no camera {0} in the pipeline")]
    UnknownCamera(usize),
}

struct CameraState {
    camera: Camera,
    /// The calibration-size warning is given once per camera; later frames are counted.
    warned: bool,
}

/// The detector and the cameras it serves.
pub struct Pipeline<D: Detect> {
    detector: D,
    cameras: Vec<CameraState>,
}

impl<D: Detect> Pipeline<D> {
    pub fn new(detector: D, cameras: Vec<Camera>) -> Self {
        let cameras = cameras
            .into_iter()
            .map(|camera| CameraState {
                camera,
                warned: false,
            })
            .collect();
        Pipeline { detector, cameras }
    }

    pub fn detector(&self) -> &D {
        &self.detector
    }

    pub fn detector_mut(&mut self) -> &mut D {
        &mut self.detector
    }

    pub fn into_detector(self) -> D {
        self.detector
    }

    /// A camera's set-up, to change between frames (eval's per-frame calibrations).
    pub fn camera_mut(&mut self, camera: usize) -> Option<&mut Camera> {
        self.cameras.get_mut(camera).map(|c| &mut c.camera)
    }

    pub fn cameras(&self) -> impl Iterator<Item = &Camera> {
        self.cameras.iter().map(|c| &c.camera)
    }

    /// One frame of camera `camera`.
    pub fn process_one(&mut self, camera: usize, frame: &Frame) -> Result<Output, Failure> {
        self.process(&[(camera, frame)])
            .pop()
            .unwrap_or(Err(Failure::UnknownCamera(camera)))
    }

    /// Frames `(camera index, frame)` through the device as one batch; one result per
    /// frame, in order.
    pub fn process(&mut self, frames: &[(usize, &Frame)]) -> Vec<Result<Output, Failure>> {
        let t0 = Instant::now();
        let n = frames.len();
        let mut failures: Vec<Option<Failure>> = (0..n).map(|_| None).collect();
        let mut pixels: Vec<(usize, Pixels)> = Vec::new();
        for (i, &(camera, frame)) in frames.iter().enumerate() {
            if camera >= self.cameras.len() {
                failures[i] = Some(Failure::UnknownCamera(camera));
                continue;
            }
            match frame.pixels() {
                Ok(p) => pixels.push((i, p)),
                Err(e) => failures[i] = Some(Failure::Bad(e)),
            }
        }
        let mut batch = Vec::new();
        let mut views = Vec::new();
        for (i, p) in &pixels {
            match p.view() {
                Ok(view) => {
                    batch.push(*i);
                    views.push(view);
                }
                Err(e) => failures[*i] = Some(Failure::Detect(e.to_string())),
            }
        }
        let regions: Vec<Vec<Region>> = batch
            .iter()
            .zip(&views)
            .map(|(i, view)| self.regions(frames[*i].0, view))
            .collect();
        let decode = t0.elapsed();
        let mut outputs: Vec<Option<Output>> = (0..n).map(|_| None).collect();
        if !views.is_empty() {
            match self.detect_passes(&views, &regions) {
                Ok((detections, device)) => {
                    let t_state = Instant::now();
                    let cameras: Vec<usize> = batch.iter().map(|&i| frames[i].0).collect();
                    let states = self.light_states(&views, &cameras, &detections);
                    let times = Times {
                        decode,
                        device,
                        state: t_state.elapsed(),
                        ..Times::default()
                    };
                    match states {
                        Ok(states) => {
                            let per_image = batch
                                .iter()
                                .zip(&views)
                                .zip(detections)
                                .zip(states)
                                .zip(&regions);
                            for ((((i, view), dets), states), rs) in per_image {
                                let (camera, frame) = frames[*i];
                                let times = Times {
                                    passes: rs.len(),
                                    ..times
                                };
                                let output = self.finish(camera, frame, view, dets, states, times);
                                outputs[*i] = Some(output);
                            }
                        }
                        Err(e) => {
                            for i in &batch {
                                failures[*i] = Some(Failure::Detect(e.to_string()));
                            }
                        }
                    }
                }
                Err(e) => {
                    for i in &batch {
                        failures[*i] = Some(Failure::Detect(e.to_string()));
                    }
                }
            }
        }
        outputs
            .into_iter()
            .zip(failures)
            .map(|(output, failure)| match (output, failure) {
                (Some(output), _) => Ok(output),
                (None, Some(failure)) => Err(failure),
                (None, None) => Err(Failure::Detect("the batch returned too few results".into())),
            })
            .collect()
    }

    /// The state of every traffic light above its camera's threshold, per image and
    /// detection (`None` for other classes and lights below the threshold), in one
    /// device call for the batch.
    fn light_states(
        &mut self,
        views: &[ImageView],
        cameras: &[usize],
        detections: &[Vec<Detection>],
    ) -> Result<Vec<Vec<Option<LightReading>>>, DetectError> {
        let mut lights = Vec::new();
        for (image, (dets, &camera)) in detections.iter().zip(cameras).enumerate() {
            let thresholds = &self.cameras[camera].camera.thresholds;
            for d in dets {
                if d.class == Class::TrafficLight && d.score >= thresholds.get(d.class) {
                    lights.push((image, d.bbox));
                }
            }
        }
        let mut readings = if lights.is_empty() {
            Vec::new()
        } else {
            self.detector.light_states(views, &lights)?
        }
        .into_iter();
        Ok(detections
            .iter()
            .zip(cameras)
            .map(|(dets, &camera)| {
                let thresholds = &self.cameras[camera].camera.thresholds;
                dets.iter()
                    .map(|d| {
                        let light =
                            d.class == Class::TrafficLight && d.score >= thresholds.get(d.class);
                        light.then(|| readings.next()).flatten()
                    })
                    .collect()
            })
            .collect())
    }

    /// The regions the model sees of a frame of `camera`: the whole frame, then its tiles
    /// (the calibration's band only at the calibration's size).
    fn regions(&self, camera: usize, view: &ImageView) -> Vec<Region> {
        let (width, height) = (view.width(), view.height());
        let whole = Region::whole(width, height);
        let cam = &self.cameras[camera].camera;
        if cam.tiling == Tiling::Off {
            return vec![whole];
        }
        let band = cam
            .localizer
            .as_ref()
            .map(|l| l.calibration())
            .filter(|c| (c.camera().width(), c.camera().height()) == (width, height))
            .and_then(tiling::distant_band);
        let tile = self.detector.tiling_params().tile;
        let mut regions = vec![whole];
        regions.extend(tiling::tiles(cam.tiling, (width, height), tile, band));
        regions
    }

    /// One device batch for every region; each frame's passes merged into one set. With
    /// no tiles anywhere it is the plain batch (the untiled path, unchanged).
    fn detect_passes(
        &mut self,
        views: &[ImageView],
        regions: &[Vec<Region>],
    ) -> Result<(Vec<Vec<Detection>>, StageTimes), DetectError> {
        if regions.iter().all(|r| r.len() == 1) {
            return self.detector.detect_batch(views);
        }
        let (per_region, times) = self.detector.detect_regions(views, regions)?;
        let params = self.detector.tiling_params();
        let merged = per_region
            .into_iter()
            .zip(regions)
            .map(|(dets, rs)| {
                let passes: Vec<Pass> = rs
                    .iter()
                    .zip(dets)
                    .map(|(&region, detections)| Pass { region, detections })
                    .collect();
                tiling::merge(rs[0], &passes, params.nms_iou, params.max_per_class)
            })
            .collect();
        Ok((merged, times))
    }

    /// Thresholds, localizes and (if asked) draws one frame's detections; `states` is the
    /// traffic-light state of each detection.
    fn finish(
        &mut self,
        camera: usize,
        frame: &Frame,
        view: &ImageView,
        detections: Vec<Detection>,
        states: Vec<Option<LightReading>>,
        mut times: Times,
    ) -> Output {
        let t_loc = Instant::now();
        let state = &mut self.cameras[camera];
        let cam = &state.camera;
        let (width, height) = (view.width(), view.height());
        let localizer = cam.localizer.as_ref();
        let mismatch = localizer.is_some_and(|l| {
            let c = l.calibration().camera();
            (c.width(), c.height()) != (width, height)
        });
        if mismatch && !state.warned {
            state.warned = true;
            if let Some(c) = localizer.map(|l| l.calibration().camera()) {
                tracing::warn!(
                    camera = %cam.name,
                    "image is {width}x{height}, its calibration {}x{}: 2D detections only, \
                     no 3D positions (counted, not logged again)",
                    c.width(),
                    c.height()
                );
            }
        }
        let localizer = localizer.filter(|_| !mismatch);
        let mut unlocalized = 0;
        let objects: Vec<Object> = detections
            .into_iter()
            .zip(states)
            .filter(|(d, _)| d.score >= cam.thresholds.get(d.class))
            .map(|(detection, state)| {
                let localization = localizer.and_then(|l| locate(l, &cam.name, &detection));
                unlocalized += usize::from(localization.is_none() && cam.localizer.is_some());
                Object {
                    detection,
                    localization,
                    // Only lights were classified; a state never reaches another class.
                    state: state.filter(|_| detection.class == Class::TrafficLight),
                }
            })
            .collect();
        times.localize = t_loc.elapsed();
        let debug_image = cam.draw.then(|| {
            let mut img = annotate::to_rgb(view);
            annotate::draw(&mut img, &objects);
            img
        });
        Output {
            camera,
            stamp: frame.stamp,
            frame_id: frame.frame_id.clone(),
            base_frame: cam.base_frame.clone(),
            width,
            height,
            objects,
            unlocalized,
            calibration_mismatch: mismatch,
            debug_image,
            times,
        }
    }
}

/// The ranging target of a class; `None` for a class without a size prior (one a
/// trained head added), which stays 2D.
pub fn target_kind(class: Class) -> Option<TargetKind> {
    match class {
        Class::Pedestrian => Some(TargetKind::Pedestrian),
        Class::StopSign => Some(TargetKind::StopSign),
        Class::TrafficLight => Some(TargetKind::TrafficLight),
        _ => None,
    }
}

/// The position of one detection, or `None` when geometry gives no answer (e.g. a box
/// above the horizon for the ground-plane method).
fn locate(
    localizer: &Localizer,
    camera: &str,
    d: &Detection,
) -> Option<sightline_geometry::Localization> {
    match localizer.localize(target_kind(d.class)?, d.bbox.map(f64::from)) {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::debug!(camera, "not localized: {e}");
            None
        }
    }
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
