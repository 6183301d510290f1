//! The detector: image bytes in, [`Detection`]s out. Upload, letterbox, model, decode
//! run on the device back to back; only the decoded survivors come back for NMS.
//! Several images (one per camera) can go through as one batch: one wait for the device.

use crate::kernels::{decode, letterbox};
use crate::manifest::Manifest;
use crate::nms::non_max_suppression;
use crate::{Class, DetectError, Detection, ImageView, Region, RegionDetections};
use cubecl::prelude::*;
use cubecl::server::Handle;
use sightline_engine::{DeviceChoice, EngineError, Gpu, Model, Tap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Everything needed to build a [`Detector`].
#[derive(Debug, Clone)]
pub struct DetectorConfig {
    pub manifest: Manifest,
    /// Weights file; `None` searches `$SIGHTLINE_MODELS` and `../shared/models`.
    pub model_path: Option<PathBuf>,
    pub device: DeviceChoice,
    /// Overrides every class's threshold from the manifest.
    pub score_threshold: Option<f32>,
    /// Overrides the manifest's NMS IoU threshold.
    pub nms_iou: Option<f32>,
    /// Keep the backbone features readable for [`Detector::embedding`] (costs one
    /// unshared device buffer).
    pub embedding: bool,
    /// Keep the head's final-convolution inputs readable ([`Tap::FinalConvInputs`]:
    /// what `sightline train-head` fits new output channels on).
    pub head_features: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            manifest: Manifest::default_model(),
            model_path: None,
            device: DeviceChoice::Auto,
            score_threshold: None,
            nms_iou: None,
            embedding: false,
            head_features: false,
        }
    }
}

/// Wall time of each stage of one frame (device stages include a sync).
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    pub upload: Duration,
    pub preprocess: Duration,
    pub inference: Duration,
    pub postprocess: Duration,
}

pub struct Detector {
    model: Model,
    manifest: Manifest,
    /// The reported classes, in the decode output's order.
    classes: Vec<Class>,
    nms_iou: f32,
    /// One decode output per image of the largest batch so far.
    decoded: Vec<Handle>,
    decode_meta: Handle,
    decode_template: decode::DecodeParams,
    model_path: PathBuf,
    startup: Duration,
    /// The last batch's uploaded images (buffer, words): the traffic-light state reads
    /// its boxes from them (`crate::tl_state`).
    pub(crate) sources: Vec<(Handle, usize)>,
    pub(crate) state_buffers: crate::tl_state::StateBuffers,
    /// The model tap [`Detector::embedding`] pools, when configured.
    embedding_tap: Option<usize>,
}

impl Detector {
    /// Finds and verifies the weights, opens the device, loads the model, and compiles
    /// every kernel by running one blank frame (so the first real frame is not slow).
    pub fn new(config: DetectorConfig) -> Result<Detector, DetectError> {
        let start = Instant::now();
        let manifest = config.manifest;
        let model_path = manifest.locate_weights(config.model_path.as_deref())?;
        let gpu = config.device.open()?;
        let input = &manifest.input;
        let expected_in = [1, 3, input.height as usize, input.width as usize];
        let mut taps = Vec::new();
        if config.embedding {
            taps.push(Tap::HeadRoots);
        }
        if config.head_features {
            taps.push(Tap::FinalConvInputs);
        }
        let model = Model::load_for_input_with_taps(&model_path, &gpu, &expected_in, &taps)
            .map_err(|e| match e {
                EngineError::InputShape { path, model, .. } => DetectError::ModelMismatch(format!(
                    "{} takes input {model:?}, the manifest says {expected_in:?}",
                    path.display()
                )),
                other => other.into(),
            })?;
        let levels: Vec<(u32, u32, u32)> = manifest
            .output
            .strides
            .iter()
            .map(|&s| (input.width / s, input.height / s, s))
            .collect();
        let anchors: usize = levels.iter().map(|&(x, y, _)| (x * y) as usize).sum();
        let row_len = 5 + manifest.output.num_classes;
        if model.output_shape() != [1, anchors, row_len] {
            return Err(DetectError::ModelMismatch(format!(
                "{} outputs {:?}, the manifest implies [1, {anchors}, {row_len}]",
                model_path.display(),
                model.output_shape()
            )));
        }
        let classes: Vec<Class> = manifest.classes.iter().map(|c| c.name).collect();
        let decode_template = decode::DecodeParams {
            levels,
            row_len: row_len as u32,
            classes: manifest
                .classes
                .iter()
                .map(|c| decode::DecodeClass {
                    id: c.id as u32,
                    objectness: c.objectness.map(|o| o as u32),
                    threshold: config.score_threshold.unwrap_or(c.score_threshold),
                })
                .collect(),
            scale: 1.0,
            offset: [0.0, 0.0],
        };
        let client = gpu.client();
        let decoded = vec![client.empty(decode_template.output_len() * 4)];
        let decode_meta = decode::upload_meta(client, &decode_template);
        let nms_iou = config.nms_iou.unwrap_or(manifest.nms_iou);
        let mut detector = Detector {
            model,
            manifest,
            classes,
            nms_iou,
            decoded,
            decode_meta,
            decode_template,
            model_path,
            startup: Duration::ZERO,
            sources: Vec::new(),
            state_buffers: Default::default(),
            embedding_tap: None,
        };
        detector.embedding_tap = deepest_tap(&detector.model);
        let blank = vec![0u8; 3 * 64 * 48];
        let warm = ImageView::new(64, 48, 3 * 64, crate::PixelFormat::Rgb8, &blank)?;
        detector.detect(&warm)?;
        detector.startup = start.elapsed();
        Ok(detector)
    }

    pub fn gpu(&self) -> &Gpu {
        self.model.gpu()
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The IoU above which NMS suppresses a box (the manifest's or the override).
    pub fn nms_iou(&self) -> f32 {
        self.nms_iou
    }

    pub fn model_path(&self) -> &std::path::Path {
        &self.model_path
    }

    /// Time `new` took: weights check, device start, model load and kernel compilation.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    pub fn detect(&mut self, image: &ImageView) -> Result<Vec<Detection>, DetectError> {
        self.detect_timed(image, false).map(|(d, _)| d)
    }

    /// Like [`Detector::detect`]; with `sync_stages` the device is synchronised after each
    /// stage so that [`StageTimes`] are meaningful (slightly slower overall).
    pub fn detect_timed(
        &mut self,
        image: &ImageView,
        sync_stages: bool,
    ) -> Result<(Vec<Detection>, StageTimes), DetectError> {
        let whole = Region::whole(image.width(), image.height());
        let (mut per_image, times) =
            self.run_passes(std::slice::from_ref(image), &[vec![whole]], sync_stages)?;
        Ok((per_image.swap_remove(0).swap_remove(0), times))
    }

    /// Detections of several images (say, the latest frame of each camera) as one
    /// batch: every image is uploaded, then letterboxed, run and decoded into its own
    /// output back to back, and the host waits for the device once instead of once per
    /// image. The model has one input tensor, so the images take turns on the device;
    /// what the batch saves is the round trips. The times are the whole batch's:
    /// `upload` is the host's packing and enqueueing of the bytes, `inference` runs from
    /// there until the device is done (pre-processing included: the two interleave),
    /// `postprocess` is reading back and NMS.
    pub fn detect_batch(
        &mut self,
        images: &[ImageView],
    ) -> Result<(Vec<Vec<Detection>>, StageTimes), DetectError> {
        let regions: Vec<Vec<Region>> = images
            .iter()
            .map(|im| vec![Region::whole(im.width(), im.height())])
            .collect();
        let (per_image, times) = self.run_passes(images, &regions, false)?;
        let detections = per_image.into_iter().flatten().collect();
        Ok((detections, times))
    }

    /// Detections of regions of images (the whole frame and its tiles) as one batch:
    /// each image is uploaded once, then every region is letterboxed straight from the
    /// uploaded bytes, run and decoded on the device into its own output, and the host
    /// waits once. `regions[i]` are image `i`'s; the result is per image, per region,
    /// with boxes in image pixels clipped to their region. Times as [`Self::detect_batch`].
    pub fn detect_regions(
        &mut self,
        images: &[ImageView],
        regions: &[Vec<Region>],
    ) -> Result<(Vec<RegionDetections>, StageTimes), DetectError> {
        if images.len() != regions.len() {
            return Err(DetectError::Device(format!(
                "{} images but regions for {}",
                images.len(),
                regions.len()
            )));
        }
        for (image, rs) in images.iter().zip(regions) {
            for r in rs {
                r.check(image)?;
            }
        }
        self.run_passes(images, regions, false)
    }

    /// The one device path of every `detect_*`: upload each image once; letterbox, run
    /// and decode each of its regions into its own output; wait for the device; read
    /// back and apply NMS. With `sync_stages` the device is also synchronised after the
    /// upload and after each pre-processing and inference, so that each stage's time is
    /// its own (the node never pays for that); without, `inference` runs from the end of
    /// the upload until the device is done, pre-processing included.
    fn run_passes(
        &mut self,
        images: &[ImageView],
        regions: &[Vec<Region>],
        sync_stages: bool,
    ) -> Result<(Vec<RegionDetections>, StageTimes), DetectError> {
        let gpu = self.model.gpu().clone();
        let client = gpu.client();
        let mut times = StageTimes::default();
        let clock = Instant::now();
        let sources: Vec<(Handle, usize)> = images.iter().map(|im| upload(client, im)).collect();
        if sync_stages {
            gpu.sync()?;
        }
        times.upload = clock.elapsed();

        let clock = Instant::now();
        let passes: usize = regions.iter().map(Vec::len).sum();
        while self.decoded.len() < passes {
            let len = self.decode_template.output_len() * 4;
            self.decoded.push(client.empty(len));
        }
        let mut slot = 0;
        // Per-stage sums, meaningful only when each stage is synchronised.
        let (mut preprocess, mut inference, mut decode) = Default::default();
        let lap = |sum: &mut Duration, since: Instant| -> Result<Instant, DetectError> {
            if sync_stages {
                gpu.sync()?;
                *sum += since.elapsed();
            }
            Ok(Instant::now())
        };
        for ((image, rs), (src, words)) in images.iter().zip(regions).zip(&sources) {
            for &region in rs {
                let stage = Instant::now();
                let lb = letterbox::Letterbox::of_region(image, region, &self.manifest.input);
                letterbox::launch(client, &lb, src, *words, self.model.input_buffer());
                let stage = lap(&mut preprocess, stage)?;
                self.model.run();
                let stage = lap(&mut inference, stage)?;
                self.launch_decode(&lb, slot);
                lap(&mut decode, stage)?;
                slot += 1;
            }
        }
        gpu.sync()?;
        times.inference = clock.elapsed();
        if sync_stages {
            times.preprocess = preprocess;
            times.inference = inference;
        }

        let clock = Instant::now();
        let mut slot = 0;
        let mut detections = Vec::with_capacity(images.len());
        for rs in regions {
            let mut per_region = Vec::with_capacity(rs.len());
            for &region in rs {
                per_region.push(self.read_detections(slot, region)?);
                slot += 1;
            }
            detections.push(per_region);
        }
        // Decoding runs on the device but belongs to post-processing.
        times.postprocess = clock.elapsed() + decode;
        // The state of lights found in any region is read from the whole uploaded frame.
        self.sources = sources;
        Ok((detections, times))
    }

    /// An image embedding from the detector's own features: the deepest value the head
    /// reads (YOLOX: the neck's stride-32 output, 256 channels for Nano; see
    /// [`Tap::HeadRoots`]) after a run on the whole frame, averaged over its plane per
    /// channel. Needs [`DetectorConfig::embedding`]; runs the model once more.
    pub fn embedding(&mut self, image: &ImageView) -> Result<Vec<f32>, DetectError> {
        self.upload_and_letterbox(image);
        self.model.run();
        self.embedding_of_last_run()
    }

    /// [`Detector::embedding`] of the last model run, without running it again: after
    /// [`Detector::detect`] or a batch of one whole-frame region (no tiles), that frame's.
    pub fn embedding_of_last_run(&self) -> Result<Vec<f32>, DetectError> {
        let tap = self.embedding_tap.ok_or_else(|| {
            DetectError::Device("the detector was built without DetectorConfig::embedding".into())
        })?;
        let shape = self
            .model
            .taps()
            .nth(tap)
            .map(|t| t.shape.clone())
            .unwrap_or_default();
        let values = self.model.read_tap(tap)?;
        Ok(sightline_engine::channel_means(&values, &shape))
    }

    /// Pre-processes and runs the model on the whole image, returning the raw output;
    /// the taps then hold this image's values ([`Model::read_tap`]).
    pub fn run_output(&mut self, image: &ImageView) -> Result<Vec<f32>, DetectError> {
        self.upload_and_letterbox(image);
        self.model.run();
        Ok(self.model.read_output()?)
    }

    /// Pre-processes and runs the model, returning the input tensor and the raw output
    /// (for comparison with other runtimes).
    pub fn run_raw(&mut self, image: &ImageView) -> Result<(Vec<f32>, Vec<f32>), DetectError> {
        self.upload_and_letterbox(image);
        let client = self.model.gpu().client();
        let input = client
            .read_one(self.model.input_buffer().clone())
            .map_err(|e| DetectError::Device(format!("{e:?}")))?;
        let input = f32::from_bytes(&input)[..self.model.input_len()].to_vec();
        self.model.run();
        Ok((input, self.model.read_output()?))
    }

    /// Fills the model input with `image`, for the runs outside [`Self::run_passes`].
    fn upload_and_letterbox(&mut self, image: &ImageView) {
        let client = self.model.gpu().client();
        let (src, words) = upload(client, image);
        let lb = letterbox::Letterbox::new(image, &self.manifest.input);
        letterbox::launch(client, &lb, &src, words, self.model.input_buffer());
        self.sources = vec![(src, words)];
    }

    /// Decodes the model's output into `self.decoded[slot]` (boxes in image pixels).
    fn launch_decode(&self, lb: &letterbox::Letterbox, slot: usize) {
        let params = decode::DecodeParams {
            scale: lb.scale,
            offset: [lb.src_x as f32, lb.src_y as f32],
            ..self.decode_template.clone()
        };
        decode::launch(
            self.model.gpu().client(),
            &params,
            self.model.output_buffer(),
            &self.decode_meta,
            &self.decoded[slot],
        );
    }

    /// Reads `self.decoded[slot]` back (waiting for the device), runs NMS and clips the
    /// survivors to `region`, the part of the image the pass saw.
    fn read_detections(&self, slot: usize, region: Region) -> Result<Vec<Detection>, DetectError> {
        let bytes = self
            .model
            .gpu()
            .client()
            .read_one(self.decoded[slot].clone())
            .map_err(|e| DetectError::Device(format!("{e:?}")))?;
        let values = f32::from_bytes(&bytes);
        let params = &self.decode_template;
        let row = params.out_row_len();
        let mut candidates = Vec::new();
        for anchor in values[..params.output_len()].chunks_exact(row) {
            for (k, &class) in self.classes.iter().enumerate() {
                let score = anchor[4 + k];
                if score > 0.0 {
                    candidates.push(Detection {
                        class,
                        score,
                        bbox: [anchor[0], anchor[1], anchor[2], anchor[3]],
                    });
                }
            }
        }
        let mut kept = non_max_suppression(candidates, self.nms_iou, self.manifest.max_detections);
        // Clipped only after NMS: clipping first raises the overlap of boxes cut by the
        // same border and suppresses neighbours YOLOX keeps (KITTI's wide frames show it).
        let [x1, y1, x2, y2] = region.bbox();
        for d in &mut kept {
            d.bbox = [
                d.bbox[0].clamp(x1, x2),
                d.bbox[1].clamp(y1, y2),
                d.bbox[2].clamp(x1, x2),
                d.bbox[3].clamp(y1, y2),
            ];
        }
        Ok(kept)
    }
}

/// Uploads the image's bytes (the rows it uses), packed into u32 words; returns the
/// buffer and its length in words.
pub(crate) fn upload(client: &Client, image: &ImageView) -> (Handle, usize) {
    let used = image.step() * (image.height() as usize - 1)
        + image.width() as usize * image.format().channels();
    let words = letterbox::pack_bytes(&image.data()[..used]);
    (client.create_from_slice(u32::as_bytes(&words)), words.len())
}

/// The head-root tap with the smallest plane (the deepest level), if the model keeps any.
fn deepest_tap(model: &Model) -> Option<usize> {
    model
        .taps()
        .enumerate()
        .filter(|(_, t)| t.tap == Tap::HeadRoots)
        .min_by_key(|(_, t)| t.shape.iter().skip(2).product::<usize>())
        .map(|(i, _)| i)
}
