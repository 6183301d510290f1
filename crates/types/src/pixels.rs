//! The one rule for image bytes, wherever they come from (a topic, a bag, a file):
//! an encoded image's codec is what its bytes say (jpeg or png; a `format` string such
//! as image_transport's `"bgr8; jpeg compressed bgr8"` is only a label), and a raw
//! image holds exactly `step × height` bytes.

/// Why image bytes were refused.
#[derive(Debug, thiserror::Error)]
pub enum PixelError {
    #[error("no data")]
    Empty,
    #[error("the bytes are not jpeg or png ({0})")]
    Format(String),
    #[error("cannot decode {codec} data: {source}")]
    Decode {
        codec: &'static str,
        #[source]
        source: image::ImageError,
    },
    #[error("data has {len} bytes, step {step} × height {height} = {expected}")]
    RawSize {
        len: usize,
        step: u32,
        height: u32,
        expected: usize,
    },
}

/// The codec of encoded image bytes, from their magic numbers.
pub fn codec(data: &[u8]) -> Result<image::ImageFormat, PixelError> {
    if data.is_empty() {
        return Err(PixelError::Empty);
    }
    match image::guess_format(data) {
        Ok(f @ (image::ImageFormat::Jpeg | image::ImageFormat::Png)) => Ok(f),
        Ok(other) => Err(PixelError::Format(format!("{other:?}"))),
        Err(e) => Err(PixelError::Format(e.to_string())),
    }
}

/// Decodes jpeg or png bytes to tightly packed rgb8 (grey and alpha sources converted).
pub fn decode(data: &[u8]) -> Result<image::RgbImage, PixelError> {
    let format = codec(data)?;
    let name = if format == image::ImageFormat::Jpeg {
        "jpeg"
    } else {
        "png"
    };
    image::load_from_memory_with_format(data, format)
        .map(|img| img.into_rgb8())
        .map_err(|source| PixelError::Decode {
            codec: name,
            source,
        })
}

/// A raw image's data must be exactly `step × height` bytes (`sensor_msgs/Image`).
pub fn check_raw_size(len: usize, step: u32, height: u32) -> Result<(), PixelError> {
    let expected = (step as usize).saturating_mul(height as usize);
    if len == 0 {
        return Err(PixelError::Empty);
    }
    if len != expected {
        return Err(PixelError::RawSize {
            len,
            step,
            height,
            expected,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(format: image::ImageFormat) -> Vec<u8> {
        let img = image::RgbImage::from_fn(4, 2, |x, y| image::Rgb([x as u8 * 40, y as u8, 9]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn the_bytes_decide_the_codec() {
        assert_eq!(
            codec(&encode(image::ImageFormat::Png)).unwrap(),
            image::ImageFormat::Png
        );
        assert_eq!(
            codec(&encode(image::ImageFormat::Jpeg)).unwrap(),
            image::ImageFormat::Jpeg
        );
        assert!(matches!(codec(&[]), Err(PixelError::Empty)));
        assert!(matches!(codec(&[1, 2, 3]), Err(PixelError::Format(_))));
        let png = decode(&encode(image::ImageFormat::Png)).unwrap();
        assert_eq!(
            (png.width(), png.height(), png.get_pixel(2, 1).0),
            (4, 2, [80, 1, 9])
        );
        let mut junk = vec![0xFF, 0xD8, 0xFF, 0xE0];
        junk.extend([0x42; 50]);
        assert!(matches!(
            decode(&junk),
            Err(PixelError::Decode { codec: "jpeg", .. })
        ));
    }

    #[test]
    fn raw_size_is_exact() {
        assert!(check_raw_size(24, 12, 2).is_ok());
        assert!(matches!(check_raw_size(0, 12, 2), Err(PixelError::Empty)));
        let short = check_raw_size(23, 12, 2).unwrap_err().to_string();
        assert!(short.contains("23 bytes"), "{short}");
        assert!(
            check_raw_size(36, 12, 2).is_err(),
            "trailing bytes are refused too"
        );
    }
}
