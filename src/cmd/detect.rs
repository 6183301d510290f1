//! `sightline detect`: image files in, JSON lines (and optionally annotated PNGs) out.

use crate::cmd::{annotate, localize};
use anyhow::Context;
use serde::Serialize;
use sightline_detect::{Detection, Detector, DetectorConfig, DeviceChoice, ImageView, PixelFormat};
use sightline_geometry::Localizer;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Model and device flags shared by every command that runs the detector.
#[derive(clap::Args, Debug, Clone)]
pub struct DetectorArgs {
    /// ONNX weights (default: $SIGHTLINE_MODELS/yolox_nano.onnx, then ../shared/models/).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Compute device: auto (best GPU found), cuda, vulkan, or cpu (software Vulkan).
    #[arg(long, default_value = "auto")]
    pub device: String,
}

impl DetectorArgs {
    /// Opens the device and loads the model; `score_threshold` overrides the manifest's
    /// per-class thresholds.
    pub fn build(&self, score_threshold: Option<f32>) -> anyhow::Result<Detector> {
        let device: DeviceChoice = self.device.parse()?;
        if let Some(t) = score_threshold {
            anyhow::ensure!(
                (0.0..=1.0).contains(&t),
                "--score-threshold {t} is outside [0, 1]"
            );
        }
        let config = DetectorConfig {
            model_path: self.model.clone(),
            device,
            score_threshold,
            ..Default::default()
        };
        let detector = Detector::new(config)?;
        tracing::info!(
            model = %detector.model_path().display(),
            device = detector.gpu().name(),
            startup_ms = detector.startup_time().as_millis() as u64,
            "detector ready"
        );
        Ok(detector)
    }
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// Minimum score to report (evaluation uses 0.001).
    #[arg(long, default_value_t = 0.3)]
    pub score_threshold: f32,
    /// Write one JSON object per detection per line to this file ("-" for stdout).
    #[arg(long)]
    pub jsonl: Option<PathBuf>,
    /// Write each image with its detections drawn as PNG into this directory.
    #[arg(long)]
    pub annotate: Option<PathBuf>,
    /// Camera calibration YAML (calibration/*.yaml): adds "position" (base_link, m),
    /// "range_m" and "method" to each JSON line.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Image files, or directories of .jpg/.jpeg/.png files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// One line of `--jsonl` output.
#[derive(Serialize)]
pub struct DetectionRecord<'a> {
    pub image: &'a str,
    pub class: &'static str,
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<[f64; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
}

/// The detections of one image file.
pub struct ImageDetections {
    /// File stem, the `image` key of the JSONL schema.
    pub image: String,
    pub width: u32,
    pub height: u32,
    pub detections: Vec<Detection>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let files = collect_images(&args.paths)?;
    let localizer = args
        .calibration
        .as_deref()
        .map(localize::load)
        .transpose()?;
    let mut detector = args.detector.build(Some(args.score_threshold))?;
    let mut jsonl = open_output(args.jsonl.as_deref())?;
    if let Some(dir) = &args.annotate {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut failed = 0usize;
    for path in &files {
        match detect_file(&mut detector, path) {
            Ok((result, image)) => {
                if let Some(out) = jsonl.as_mut() {
                    write_records(out.as_mut(), &result, localizer.as_ref())?;
                }
                if let Some(dir) = &args.annotate {
                    let target = dir.join(format!("{}.png", result.image));
                    annotate::draw(image, &result.detections)
                        .save(&target)
                        .with_context(|| format!("cannot write {}", target.display()))?;
                }
            }
            Err(err) => {
                failed += 1;
                eprintln!("error: {err:#}");
            }
        }
    }
    if let Some(out) = jsonl.as_mut() {
        out.flush()?;
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} images could not be processed (named above)",
        files.len()
    );
    Ok(())
}

/// Runs the detector over image files, for commands that score or compare results.
/// Unreadable images are reported on stderr and skipped.
pub fn detect_paths(
    paths: &[PathBuf],
    detector: &DetectorArgs,
    score_threshold: f32,
) -> anyhow::Result<Vec<ImageDetections>> {
    let files = collect_images(paths)?;
    let mut detector = detector.build(Some(score_threshold))?;
    let mut results = Vec::with_capacity(files.len());
    for path in &files {
        match detect_file(&mut detector, path) {
            Ok((result, _)) => results.push(result),
            Err(err) => eprintln!("warning: skipping {err:#}"),
        }
    }
    Ok(results)
}

/// Decodes an image file and runs the detector on it.
pub fn detect_file(
    detector: &mut Detector,
    path: &Path,
) -> anyhow::Result<(ImageDetections, image::DynamicImage)> {
    let image = load_image(path)?;
    let (format, bytes): (PixelFormat, std::borrow::Cow<[u8]>) = match &image {
        image::DynamicImage::ImageLuma8(gray) => (PixelFormat::Mono8, gray.as_raw().into()),
        image::DynamicImage::ImageRgba8(rgba) => (PixelFormat::Rgba8, rgba.as_raw().into()),
        image::DynamicImage::ImageRgb8(rgb) => (PixelFormat::Rgb8, rgb.as_raw().into()),
        other => (PixelFormat::Rgb8, other.to_rgb8().into_raw().into()),
    };
    let (width, height) = (image.width(), image.height());
    let view = ImageView::new(
        width,
        height,
        width as usize * format.channels(),
        format,
        &bytes,
    )
    .with_context(|| path.display().to_string())?;
    let detections = detector
        .detect(&view)
        .with_context(|| format!("detecting in {}", path.display()))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((
        ImageDetections {
            image: stem,
            width,
            height,
            detections,
        },
        image,
    ))
}

pub fn load_image(path: &Path) -> anyhow::Result<image::DynamicImage> {
    let reader = image::ImageReader::open(path)
        .with_context(|| format!("cannot open image {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read image {}", path.display()))?;
    reader
        .decode()
        .with_context(|| format!("cannot decode image {}", path.display()))
}

pub fn write_records(
    out: &mut dyn Write,
    result: &ImageDetections,
    localizer: Option<&Localizer>,
) -> anyhow::Result<()> {
    for d in &result.detections {
        let location = localizer.and_then(|l| localize::locate(l, d));
        let record = DetectionRecord {
            image: &result.image,
            class: d.class.as_str(),
            score: d.score,
            bbox: d.bbox,
            position: location
                .as_ref()
                .map(|l| [l.position.x, l.position.y, l.position.z]),
            range_m: location.as_ref().map(|l| l.range_m),
            method: location.as_ref().map(|l| l.method.as_str()),
        };
        serde_json::to_writer(&mut *out, &record)?;
        out.write_all(b"\n")?;
    }
    Ok(())
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

/// Expands directories into their image files (sorted by name), keeps files as given.
pub fn collect_images(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let ext = p.extension().map(|e| e.to_string_lossy().to_lowercase());
                    matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png"))
                })
                .collect();
            found.sort();
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
