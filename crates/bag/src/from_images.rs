//! `sightline bag from-images`: a drive bag from a folder of image files.
//!
//! Frames are taken in file-name order and stamped `start + i / rate`. Raw output is
//! `rgb8` `sensor_msgs/Image`; compressed output keeps a file's bytes when it already has
//! the requested format (so a replay decodes exactly the file `sightline detect` reads) and
//! re-encodes otherwise.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use crate::msgs::{CompressedImage, Header, Image, Time};
use crate::{BagError, BagWriter};

/// How to store frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Raw,
    Jpeg,
    Png,
}

/// Validated options of `bag from-images`.
#[derive(Debug, Clone)]
pub struct FromImages {
    pub input: PathBuf,
    pub output: PathBuf,
    pub topic: String,
    pub frame_id: String,
    /// Frames per second (> 0).
    pub rate_hz: f64,
    /// Stamp of the first frame (ns since the epoch).
    pub start_ns: u64,
    pub storage: Storage,
}

/// Errors of `bag from-images`.
#[derive(Debug, thiserror::Error)]
pub enum FromImagesError {
    #[error(transparent)]
    Bag(#[from] BagError),
    #[error("{path}")]
    Image {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error("{0}: no .jpg, .jpeg or .png files")]
    NoImages(PathBuf),
    #[error("rate must be a positive number of frames per second, got {0}")]
    BadRate(f64),
}

fn is_image(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png"))
}

/// The image files of `dir`, sorted by file name.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>, FromImagesError> {
    let entries = std::fs::read_dir(dir).map_err(BagError::io(dir))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(BagError::io(dir))?.path();
        if path.is_file() && is_image(&path) {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Writes the bag; returns the number of frames.
pub fn from_images(opts: &FromImages) -> Result<usize, FromImagesError> {
    if !(opts.rate_hz.is_finite() && opts.rate_hz > 0.0) {
        return Err(FromImagesError::BadRate(opts.rate_hz));
    }
    let files = list_images(&opts.input)?;
    if files.is_empty() {
        return Err(FromImagesError::NoImages(opts.input.clone()));
    }
    let mut writer = BagWriter::create(&opts.output)?;
    let type_name = match opts.storage {
        Storage::Raw => "sensor_msgs/msg/Image",
        Storage::Jpeg | Storage::Png => "sensor_msgs/msg/CompressedImage",
    };
    let topic = writer.add_topic(&opts.topic, type_name)?;
    let period_ns = 1e9 / opts.rate_hz;
    for (i, path) in files.iter().enumerate() {
        let t_ns = opts.start_ns + (i as f64 * period_ns).round() as u64;
        let header = Header {
            stamp: Time::from_nanos(t_ns as i64),
            frame_id: opts.frame_id.clone(),
        };
        let bytes = std::fs::read(path).map_err(BagError::io(path))?;
        let image_err = |source| FromImagesError::Image {
            path: path.clone(),
            source,
        };
        match opts.storage {
            Storage::Raw => {
                let rgb = image::load_from_memory(&bytes)
                    .map_err(image_err)?
                    .into_rgb8();
                let (width, height) = rgb.dimensions();
                let data = rgb.into_raw();
                let msg = Image {
                    header,
                    height,
                    width,
                    encoding: "rgb8".into(),
                    is_bigendian: 0,
                    step: width * 3,
                    data: &data,
                };
                writer.write(topic, t_ns, &msg)?;
            }
            Storage::Jpeg | Storage::Png => {
                let (want, format) = match opts.storage {
                    Storage::Jpeg => (image::ImageFormat::Jpeg, "jpeg"),
                    _ => (image::ImageFormat::Png, "png"),
                };
                let data = if sightline_types::pixels::codec(&bytes).ok() == Some(want) {
                    bytes
                } else {
                    let img = image::load_from_memory(&bytes)
                        .map_err(image_err)?
                        .into_rgb8();
                    let mut out = Vec::new();
                    img.write_to(&mut Cursor::new(&mut out), want)
                        .map_err(image_err)?;
                    out
                };
                let msg = CompressedImage {
                    header,
                    format: format.into(),
                    data: &data,
                };
                writer.write(topic, t_ns, &msg)?;
            }
        }
    }
    writer.finish()?;
    Ok(files.len())
}
