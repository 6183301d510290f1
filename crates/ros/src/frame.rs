//! A camera frame as it arrived (moved out of the ROS message, not yet checked), and
//! its conversion to pixels the detector accepts. Checks happen here, in the worker,
//! not in the subscription callback; a bad frame becomes a [`BadFrame`] that says why.

use sightline_detect::{DetectError, ImageView, PixelFormat};
use std::time::Instant;

/// `builtin_interfaces/Time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Stamp {
    pub sec: i32,
    pub nanosec: u32,
}

/// The payload of `sensor_msgs/Image` or `sensor_msgs/CompressedImage`.
#[derive(Debug, Clone)]
pub enum Payload {
    Raw {
        width: u32,
        height: u32,
        step: u32,
        encoding: String,
        data: Vec<u8>,
    },
    Compressed {
        format: String,
        data: Vec<u8>,
    },
}

/// One received frame of one camera.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Index of the camera in the node's configuration.
    pub camera: usize,
    pub stamp: Stamp,
    pub frame_id: String,
    /// When the node received it (for the node's own latency).
    pub received: Instant,
    pub payload: Payload,
}

/// Why a frame was dropped.
#[derive(Debug, thiserror::Error)]
pub enum BadFrame {
    #[error("image {width}x{height} {encoding:?}: {reason}")]
    Raw {
        width: u32,
        height: u32,
        encoding: String,
        reason: String,
    },
    #[error("compressed image ({format:?}, {bytes} bytes): {reason}")]
    Compressed {
        format: String,
        bytes: usize,
        reason: String,
    },
}

/// Pixels ready for the detector: borrowed from a raw frame, or decoded RGB.
pub enum Pixels<'a> {
    Borrowed(ImageView<'a>),
    Decoded(image::RgbImage),
}

impl Pixels<'_> {
    pub fn view(&self) -> Result<ImageView<'_>, DetectError> {
        match self {
            Pixels::Borrowed(view) => Ok(*view),
            Pixels::Decoded(img) => ImageView::new(
                img.width(),
                img.height(),
                img.width() as usize * 3,
                PixelFormat::Rgb8,
                img.as_raw(),
            ),
        }
    }
}

impl Frame {
    /// Validates a raw image or decodes a compressed one.
    pub fn pixels(&self) -> Result<Pixels<'_>, BadFrame> {
        match &self.payload {
            Payload::Raw {
                width,
                height,
                step,
                encoding,
                data,
            } => {
                let bad = |reason: String| BadFrame::Raw {
                    width: *width,
                    height: *height,
                    encoding: encoding.clone(),
                    reason,
                };
                if data.is_empty() {
                    return Err(bad("no data".into()));
                }
                let format =
                    PixelFormat::from_ros_encoding(encoding).map_err(|e| bad(e.to_string()))?;
                let expected = *step as usize * *height as usize;
                if data.len() != expected {
                    return Err(bad(format!(
                        "data has {} bytes, step {step} × height {height} = {expected}",
                        data.len()
                    )));
                }
                let view = ImageView::new(*width, *height, *step as usize, format, data)
                    .map_err(|e| bad(e.to_string()))?;
                Ok(Pixels::Borrowed(view))
            }
            Payload::Compressed { format, data } => {
                let bad = |reason: String| BadFrame::Compressed {
                    format: format.clone(),
                    bytes: data.len(),
                    reason,
                };
                if data.is_empty() {
                    return Err(bad("no data".into()));
                }
                // image_transport writes e.g. "jpeg", "png" or "bgr8; jpeg compressed bgr8";
                // the bytes themselves say which codec it is.
                let guessed = image::guess_format(data).map_err(|e| bad(e.to_string()))?;
                if !matches!(guessed, image::ImageFormat::Jpeg | image::ImageFormat::Png) {
                    return Err(bad(format!("{guessed:?} is not jpeg or png")));
                }
                let decoded = image::load_from_memory_with_format(data, guessed)
                    .map_err(|e| bad(e.to_string()))?;
                Ok(Pixels::Decoded(decoded.into_rgb8()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(width: u32, height: u32, step: u32, encoding: &str, data: Vec<u8>) -> Frame {
        Frame {
            camera: 0,
            stamp: Stamp::default(),
            frame_id: "cam".into(),
            received: Instant::now(),
            payload: Payload::Raw {
                width,
                height,
                step,
                encoding: encoding.into(),
                data,
            },
        }
    }

    fn compressed(data: Vec<u8>) -> Frame {
        Frame {
            payload: Payload::Compressed {
                format: "jpeg".into(),
                data,
            },
            ..raw(0, 0, 0, "", vec![])
        }
    }

    #[test]
    fn raw_frames_are_checked() {
        assert!(raw(4, 2, 12, "rgb8", vec![0; 24]).pixels().is_ok());
        assert!(raw(4, 2, 16, "bgra8", vec![0; 32]).pixels().is_ok());
        assert!(
            raw(4, 2, 14, "bgr8", vec![0; 28]).pixels().is_ok(),
            "padded rows"
        );
        let err = |f: Frame| f.pixels().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(raw(4, 2, 12, "rgb8", vec![])).contains("no data"));
        assert!(err(raw(4, 2, 12, "yuv422", vec![0; 24])).contains("unknown image encoding"));
        assert!(err(raw(4, 2, 12, "rgb8", vec![0; 23])).contains("23 bytes"));
        assert!(err(raw(4, 2, 12, "rgb8", vec![0; 36])).contains("36 bytes"));
        assert!(err(raw(4, 2, 8, "rgb8", vec![0; 16])).contains("step"));
        assert!(
            err(raw(0, 0, 0, "rgb8", vec![0; 1])).contains("bytes")
                || err(raw(0, 0, 0, "rgb8", vec![0; 1])).contains("empty")
        );
    }

    #[test]
    fn jpeg_and_png_decode_to_rgb() {
        let img =
            image::RgbImage::from_fn(16, 8, |x, y| image::Rgb([x as u8 * 10, y as u8 * 20, 200]));
        for format in [image::ImageFormat::Jpeg, image::ImageFormat::Png] {
            let mut bytes = std::io::Cursor::new(Vec::new());
            img.write_to(&mut bytes, format).unwrap();
            let frame = compressed(bytes.into_inner());
            let pixels = frame.pixels().unwrap();
            let view = pixels.view().unwrap();
            assert_eq!(
                (view.width(), view.height(), view.format()),
                (16, 8, PixelFormat::Rgb8)
            );
            // PNG is lossless; JPEG close
            let px = &view.data()[(3 * 16 + 5) * 3..(3 * 16 + 5) * 3 + 3];
            let tol = if format == image::ImageFormat::Png {
                0
            } else {
                12
            };
            for (got, want) in px.iter().zip([50u8, 60, 200]) {
                assert!(got.abs_diff(want) <= tol, "{format:?}: {px:?}");
            }
        }
    }

    #[test]
    fn garbage_compressed_is_rejected() {
        assert!(compressed(vec![]).pixels().is_err());
        assert!(compressed(vec![0x12; 100]).pixels().is_err());
        // a JPEG header followed by junk
        let mut junk = vec![0xFF, 0xD8, 0xFF, 0xE0];
        junk.extend(std::iter::repeat_n(0x42, 200));
        let err = compressed(junk)
            .pixels()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("compressed image"), "{err}");
    }
}
