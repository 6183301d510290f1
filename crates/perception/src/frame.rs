//! A camera frame as it arrived (from a topic, a bag or a file), not yet checked, and
//! its conversion to pixels the detector accepts. Every input follows one rule
//! ([`sightline_types::pixels`]); a bad frame becomes a [`BadFrame`] that says why.

use sightline_detect::{DetectError, ImageView, PixelFormat};
use sightline_types::pixels::{self, PixelError};

/// `builtin_interfaces/Time`: a frame's stamp, copied to every result of the frame.
pub use sightline_types::msgs::Time as Stamp;

/// The payload of `sensor_msgs/Image`, or encoded bytes (`CompressedImage`, a file).
#[derive(Debug, Clone)]
pub enum Payload {
    Raw {
        width: u32,
        height: u32,
        step: u32,
        encoding: String,
        data: Vec<u8>,
    },
    /// jpeg or png; `format` is only a label for messages (the bytes say the codec).
    Encoded { format: String, data: Vec<u8> },
}

/// One frame of one camera.
#[derive(Debug, Clone)]
pub struct Frame {
    pub stamp: Stamp,
    /// The image's frame (the 2D results' `header.frame_id`).
    pub frame_id: String,
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
    #[error("compressed image ({format:?}, {bytes} bytes): {source}")]
    Encoded {
        format: String,
        bytes: usize,
        #[source]
        source: PixelError,
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
            Pixels::Decoded(img) => rgb_view(img),
        }
    }
}

/// A view of a tightly packed rgb8 image.
pub fn rgb_view(img: &image::RgbImage) -> Result<ImageView<'_>, DetectError> {
    ImageView::new(
        img.width(),
        img.height(),
        img.width() as usize * 3,
        PixelFormat::Rgb8,
        img.as_raw(),
    )
}

impl Frame {
    /// Validates a raw image or decodes an encoded one.
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
                pixels::check_dimensions(*width, *height).map_err(|e| bad(e.to_string()))?;
                pixels::check_raw_size(data.len(), *step, *height)
                    .map_err(|e| bad(e.to_string()))?;
                let format =
                    PixelFormat::from_ros_encoding(encoding).map_err(|e| bad(e.to_string()))?;
                let view = ImageView::new(*width, *height, *step as usize, format, data)
                    .map_err(|e| bad(e.to_string()))?;
                Ok(Pixels::Borrowed(view))
            }
            Payload::Encoded { format, data } => {
                pixels::decode(data)
                    .map(Pixels::Decoded)
                    .map_err(|source| BadFrame::Encoded {
                        format: format.clone(),
                        bytes: data.len(),
                        source,
                    })
            }
        }
    }

    /// The frame with an encoded payload decoded to raw rgb8, so that decoding can run
    /// on another thread than the detector's (a bag's reader threads).
    pub fn decoded(self) -> Result<Frame, BadFrame> {
        let img = match self.pixels()? {
            Pixels::Borrowed(_) => return Ok(self),
            Pixels::Decoded(img) => img,
        };
        let (width, height) = img.dimensions();
        Ok(Frame {
            payload: Payload::Raw {
                width,
                height,
                step: width * 3,
                encoding: "rgb8".into(),
                data: img.into_raw(),
            },
            ..self
        })
    }
}

/// A frame read from a bag, as replay hands it to the pipeline: the bag's reader has
/// already decoded compressed images to rgb8, so the payload is always raw.
impl From<sightline_bag::frames::Frame> for Frame {
    fn from(f: sightline_bag::frames::Frame) -> Self {
        let p = f.pixels;
        // A step past u32 cannot describe a real image; the size check refuses it.
        let step = u32::try_from(p.step).unwrap_or(u32::MAX);
        Frame {
            stamp: f.header.stamp,
            frame_id: f.header.frame_id,
            payload: Payload::Raw {
                width: p.width,
                height: p.height,
                step,
                encoding: p.encoding.clone(),
                data: p.into_data(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(width: u32, height: u32, step: u32, encoding: &str, data: Vec<u8>) -> Frame {
        Frame {
            stamp: Stamp::default(),
            frame_id: "cam".into(),
            payload: Payload::Raw {
                width,
                height,
                step,
                encoding: encoding.into(),
                data,
            },
        }
    }

    fn encoded(format: &str, data: Vec<u8>) -> Frame {
        Frame {
            payload: Payload::Encoded {
                format: format.into(),
                data,
            },
            ..raw(0, 0, 0, "", vec![])
        }
    }

    fn encode(img: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
        let mut bytes = std::io::Cursor::new(Vec::new());
        img.write_to(&mut bytes, format).unwrap();
        bytes.into_inner()
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
        assert!(err(raw(0, 0, 0, "rgb8", vec![0; 1])).contains("bytes"));
    }

    #[test]
    fn jpeg_and_png_decode_to_rgb_whatever_the_label() {
        let img =
            image::RgbImage::from_fn(16, 8, |x, y| image::Rgb([x as u8 * 10, y as u8 * 20, 200]));
        for (format, label) in [
            (image::ImageFormat::Jpeg, "png"),
            (image::ImageFormat::Png, "bgr8; jpeg compressed bgr8"),
            (image::ImageFormat::Png, ""),
        ] {
            let frame = encoded(label, encode(&img, format));
            let pixels = frame.pixels().unwrap();
            let view = pixels.view().unwrap();
            assert_eq!(
                (view.width(), view.height(), view.format()),
                (16, 8, PixelFormat::Rgb8)
            );
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
    fn decoded_frames_keep_stamp_and_pixels() {
        let img = image::RgbImage::from_fn(3, 2, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut frame = encoded("png", encode(&img, image::ImageFormat::Png));
        frame.stamp = Stamp { sec: 4, nanosec: 2 };
        let decoded = frame.decoded().unwrap();
        assert_eq!(decoded.stamp, Stamp { sec: 4, nanosec: 2 });
        match &decoded.payload {
            Payload::Raw { data, step, .. } => assert_eq!((data, *step), (img.as_raw(), 9)),
            other => panic!("still encoded: {other:?}"),
        }
    }

    #[test]
    fn garbage_encoded_is_rejected() {
        assert!(encoded("jpeg", vec![]).pixels().is_err());
        assert!(encoded("jpeg", vec![0x12; 100]).pixels().is_err());
        let mut junk = vec![0xFF, 0xD8, 0xFF, 0xE0];
        junk.extend(std::iter::repeat_n(0x42, 200));
        let err = encoded("jpeg", junk)
            .pixels()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("compressed image"), "{err}");
    }
}
