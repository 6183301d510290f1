//! The flags every command that runs the pipeline shares, with one meaning each, and
//! their validation into a `sightline_perception` set-up (raw flags → checked config).

use anyhow::Context;
use sightline_detect::{Detector, DetectorConfig, DeviceChoice, Manifest};
use sightline_perception::{
    check_base_frame, Camera, Frame, Payload, Pipeline, Thresholds, Tiling,
};
use std::io::Write;
use std::path::{Path, PathBuf};

impl DetectorArgs {
    /// The manifest of the chosen model (its classes registered as it is read).
    pub fn manifest(&self) -> anyhow::Result<Manifest> {
        let manifest = Manifest::for_model(self.model.as_deref(), self.manifest.as_deref())?;
        Ok(manifest)
    }
}

/// Model and device flags.
#[derive(clap::Args, Debug, Clone)]
pub struct DetectorArgs {
    /// ONNX weights (default: $SIGHTLINE_MODELS/yolox_nano.onnx, then ../shared/models/).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The model's manifest (default: NAME.yaml beside --model NAME.onnx when there is
    /// one, else the shipped yolox_nano manifest).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Compute device: auto (best GPU found), cuda, vulkan, or cpu (software Vulkan).
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// A camera's flags: the same in detect, replay, bench and eval.
#[derive(clap::Args, Debug, Clone)]
pub struct CameraArgs {
    /// Camera calibration YAML (calibration/*.yaml): adds 3D positions to detections of
    /// images of the calibration's size (others stay 2D, counted, with one warning).
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Minimum score of every class (default: the model manifest's per-class thresholds).
    #[arg(long)]
    pub score_threshold: Option<f32>,
    /// Minimum score of one class, after --score-threshold, e.g. pedestrian=0.4
    /// (repeatable).
    #[arg(long = "threshold", value_name = "CLASS=SCORE")]
    pub thresholds: Vec<String>,
    /// Frame of the 3D positions (the one the calibration's mount is given in).
    #[arg(long, default_value = sightline_perception::BASE_LINK)]
    pub base_frame: String,
    /// Tiles the model sees besides the whole frame, in the same device batch: off; auto
    /// (native-resolution tiles over the band around the horizon with a calibration of
    /// the image's size, over the whole frame without); or grid:COLSxROWS.
    #[arg(long, default_value = "off", value_name = "off|auto|grid:COLSxROWS")]
    pub tiling: Tiling,
}

impl CameraArgs {
    /// The camera `name`, with `default_score` for every class unless
    /// --score-threshold is given (`None`: the manifest's). `model`'s manifest is read
    /// first, so that --threshold can name the classes it adds.
    pub fn camera(
        &self,
        model: &DetectorArgs,
        name: &str,
        draw: bool,
        default_score: Option<f32>,
    ) -> anyhow::Result<Camera> {
        model.manifest()?;
        let mut camera = Camera::new(name);
        if let Some(path) = &self.calibration {
            camera = camera.calibrated(path)?;
        }
        if let Some(all) = self.score_threshold.or(default_score) {
            camera.thresholds = Thresholds::all(all).context("--score-threshold")?;
        }
        for spec in &self.thresholds {
            camera.thresholds.apply(spec).context("--threshold")?;
        }
        check_base_frame(&self.base_frame).context("--base-frame")?;
        camera.base_frame = self.base_frame.clone();
        camera.draw = draw;
        camera.tiling = self.tiling;
        Ok(camera)
    }
}

/// Opens the device and loads the model for `cameras`; the detector keeps what the
/// lowest threshold keeps, the cameras' own thresholds do the rest.
pub fn pipeline(args: &DetectorArgs, cameras: Vec<Camera>) -> anyhow::Result<Pipeline<Detector>> {
    pipeline_with_embedding(args, cameras, false)
}

/// [`pipeline`]; with `embedding` the detector also keeps its backbone features for
/// `Detector::embedding` (`label --select`).
pub fn pipeline_with_embedding(
    args: &DetectorArgs,
    mut cameras: Vec<Camera>,
    embedding: bool,
) -> anyhow::Result<Pipeline<Detector>> {
    let device: DeviceChoice = args.device.parse()?;
    let manifest = args.manifest()?;
    for camera in &mut cameras {
        camera.thresholds.complete(&manifest);
    }
    let lowest = cameras
        .iter()
        .map(|c| c.thresholds.min())
        .fold(1.0, f32::min);
    let config = DetectorConfig {
        manifest,
        model_path: args.model.clone(),
        device,
        score_threshold: Some(lowest),
        embedding,
        ..Default::default()
    };
    let model = match &args.model {
        Some(path) => path.display().to_string(),
        None => "(default search: $SIGHTLINE_MODELS, ../shared/models)".into(),
    };
    let detector = Detector::new(config).with_context(|| format!("detector with model {model}"))?;
    tracing::info!(
        model = %detector.model_path().display(),
        device = detector.gpu().name(),
        startup_ms = detector.startup_time().as_millis() as u64,
        "detector ready"
    );
    Ok(Pipeline::new(detector, cameras))
}

/// An image file as a frame: its bytes, decoded by the pipeline's one rule.
pub fn image_frame(path: &Path) -> anyhow::Result<Frame> {
    let data =
        std::fs::read(path).with_context(|| format!("cannot read image {}", path.display()))?;
    Ok(Frame {
        stamp: Default::default(),
        frame_id: String::new(),
        payload: Payload::Encoded {
            format: String::new(),
            data,
        },
    })
}

/// The file stem: the `image` key of the JSON lines schema.
pub fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Expands directories into their image files (sorted by name), keeps files as given.
pub fn collect_images(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = sightline_types::images::list(path)
                .with_context(|| format!("cannot list {}", path.display()))?;
            files.extend(found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            anyhow::bail!("no such file or directory: {}", path.display());
        }
    }
    anyhow::ensure!(!files.is_empty(), "no .jpg/.jpeg/.png images in {paths:?}");
    Ok(files)
}

/// `-` is stdout; anything else a file created (and truncated) up front, so a bad path
/// fails before the model loads.
pub fn open_output(path: Option<&Path>) -> anyhow::Result<Option<Box<dyn Write>>> {
    Ok(match path {
        None => None,
        Some(p) if p == Path::new("-") => {
            Some(Box::new(std::io::BufWriter::new(std::io::stdout())))
        }
        Some(p) => {
            let file = std::fs::File::create(p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            Some(Box::new(std::io::BufWriter::new(file)))
        }
    })
}

/// Creates the `--annotate` directory.
pub fn annotate_dir(dir: Option<&Path>) -> anyhow::Result<()> {
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(())
}

/// Writes one JSON line.
pub fn write_line(out: &mut dyn Write, record: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")?;
    Ok(())
}
