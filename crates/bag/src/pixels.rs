//! Image messages → interleaved 8-bit pixels.
//!
//! Raw `sensor_msgs/Image`s are used in place (their `step` kept); compressed ones are
//! decoded with the `image` crate into tightly packed `rgb8`.

use crate::msgs::CompressedImage;

/// An owned, tightly packed image (`step == width * channels`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedImage {
    pub width: u32,
    pub height: u32,
    /// Always `rgb8` (grey sources are expanded), so downstream code has one format.
    pub encoding: &'static str,
    pub data: Vec<u8>,
}

/// Why a compressed image could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum PixelError {
    #[error("unsupported compressed format {0:?} (supported: jpeg, png)")]
    Format(String),
    #[error("cannot decode {format} data")]
    Decode {
        format: &'static str,
        #[source]
        source: image::ImageError,
    },
}

/// The codec named by a `CompressedImage.format`: `jpeg`, `png`, or image_transport's
/// `"<enc>; jpeg compressed <enc>"`; falls back to the data's magic bytes when `format`
/// is empty.
pub fn compressed_format(format: &str, data: &[u8]) -> Option<image::ImageFormat> {
    let f = format.to_ascii_lowercase();
    if f.contains("jpeg") || f.contains("jpg") {
        Some(image::ImageFormat::Jpeg)
    } else if f.contains("png") {
        Some(image::ImageFormat::Png)
    } else if f.trim().is_empty() {
        image::guess_format(data)
            .ok()
            .filter(|g| matches!(g, image::ImageFormat::Jpeg | image::ImageFormat::Png))
    } else {
        None
    }
}

/// Decodes a `CompressedImage` to `rgb8`.
pub fn decode_compressed(msg: &CompressedImage<'_>) -> Result<DecodedImage, PixelError> {
    let format = compressed_format(&msg.format, msg.data)
        .ok_or_else(|| PixelError::Format(msg.format.clone()))?;
    let name = if format == image::ImageFormat::Jpeg {
        "jpeg"
    } else {
        "png"
    };
    let img = image::load_from_memory_with_format(msg.data, format)
        .map_err(|source| PixelError::Decode {
            format: name,
            source,
        })?
        .into_rgb8();
    Ok(DecodedImage {
        width: img.width(),
        height: img.height(),
        encoding: "rgb8",
        data: img.into_raw(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::Header;

    #[test]
    fn png_round_trip_is_exact() {
        let pixels: Vec<u8> = (0..(5 * 3 * 3)).map(|i| (i * 7 % 256) as u8).collect();
        let mut png = Vec::new();
        image::RgbImage::from_raw(5, 3, pixels.clone())
            .unwrap()
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let msg = CompressedImage {
            header: Header::default(),
            format: "rgb8; png compressed rgb8".into(),
            data: &png,
        };
        let d = decode_compressed(&msg).unwrap();
        assert_eq!((d.width, d.height, d.encoding), (5, 3, "rgb8"));
        assert_eq!(d.data, pixels);
        let by_magic = CompressedImage {
            format: String::new(),
            ..msg.clone()
        };
        assert_eq!(decode_compressed(&by_magic).unwrap(), d);
    }

    #[test]
    fn unknown_and_corrupt_data_are_errors() {
        let msg = CompressedImage {
            header: Header::default(),
            format: "theora".into(),
            data: &[1, 2, 3],
        };
        assert!(matches!(
            decode_compressed(&msg),
            Err(PixelError::Format(_))
        ));
        let msg = CompressedImage {
            format: "jpeg".into(),
            ..msg
        };
        assert!(matches!(
            decode_compressed(&msg),
            Err(PixelError::Decode { format: "jpeg", .. })
        ));
    }
}
