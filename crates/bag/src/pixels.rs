//! Image messages → interleaved 8-bit pixels.
//!
//! Raw `sensor_msgs/Image`s are used in place (their `step` kept); compressed ones are
//! decoded into tightly packed `rgb8` by the rule every Sightline input follows
//! ([`sightline_types::pixels`]: the bytes say the codec, not the `format` string).

use crate::msgs::CompressedImage;
pub use sightline_types::pixels::PixelError;

/// An owned, tightly packed image (`step == width * channels`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedImage {
    pub width: u32,
    pub height: u32,
    /// Always `rgb8` (grey sources are expanded), so downstream code has one format.
    pub encoding: &'static str,
    pub data: Vec<u8>,
}

/// Decodes a `CompressedImage` to `rgb8`.
pub fn decode_compressed(msg: &CompressedImage<'_>) -> Result<DecodedImage, PixelError> {
    let img = sightline_types::pixels::decode(msg.data)?;
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
    fn png_round_trip_is_exact_whatever_the_format_says() {
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
        // The node decodes by the bytes; so does a bag, whatever `format` claims.
        for format in ["", "jpeg"] {
            let relabelled = CompressedImage {
                format: format.into(),
                ..msg.clone()
            };
            assert_eq!(decode_compressed(&relabelled).unwrap(), d, "{format:?}");
        }
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
        let mut junk = vec![0xFF, 0xD8, 0xFF, 0xE0];
        junk.extend([0x42; 50]);
        let msg = CompressedImage {
            format: "png".into(),
            data: &junk,
            ..msg
        };
        assert!(matches!(
            decode_compressed(&msg),
            Err(PixelError::Decode { codec: "jpeg", .. })
        ));
    }
}
