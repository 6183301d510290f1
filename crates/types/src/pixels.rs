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
    #[error(
        "{width}x{height} is over the limits MAX_IMAGE_SIDE = {MAX_IMAGE_SIDE} and \
         MAX_IMAGE_PIXELS = {MAX_IMAGE_PIXELS}"
    )]
    TooLarge { width: u32, height: u32 },
    #[error("truncated jpeg: no end-of-image marker after the last scan")]
    TruncatedJpeg,
    #[error("data has {len} bytes, step {step} × height {height} = {expected}")]
    RawSize {
        len: usize,
        step: u32,
        height: u32,
        expected: usize,
    },
}

/// Largest image side accepted, raw or encoded (`MAX_IMAGE_SIDE`).
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// Largest image accepted, raw or encoded (`MAX_IMAGE_PIXELS`): 40 Mpx, beyond any
/// automotive camera; a 40-Mpx rgb8 frame is 120 MB.
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;
/// Most memory a decoder may allocate for one image (`MAX_DECODE_BYTES`): a 40-Mpx
/// 16-bit RGBA PNG. The image crate's own default is 512 MiB.
pub const MAX_DECODE_BYTES: u64 = 8 * MAX_IMAGE_PIXELS;

/// Refuses an image whose header claims more than [`MAX_IMAGE_SIDE`] or
/// [`MAX_IMAGE_PIXELS`], before anything is allocated or uploaded for it.
pub fn check_dimensions(width: u32, height: u32) -> Result<(), PixelError> {
    let pixels = u64::from(width) * u64::from(height);
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || pixels > MAX_IMAGE_PIXELS {
        return Err(PixelError::TooLarge { width, height });
    }
    Ok(())
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

/// Width and height that encoded bytes' header claims, without decoding; `None` when
/// the bytes are not a readable jpeg or png header.
pub fn claimed_size(data: &[u8]) -> Option<(u32, u32)> {
    let format = codec(data).ok()?;
    image::ImageReader::with_format(std::io::Cursor::new(data), format)
        .into_dimensions()
        .ok()
}

/// Decodes jpeg or png bytes to tightly packed rgb8 (grey and alpha sources converted).
pub fn decode(data: &[u8]) -> Result<image::RgbImage, PixelError> {
    let format = codec(data)?;
    let name = if format == image::ImageFormat::Jpeg {
        "jpeg"
    } else {
        "png"
    };
    let failed = |source| PixelError::Decode {
        codec: name,
        source,
    };
    let reader = || image::ImageReader::with_format(std::io::Cursor::new(data), format);
    // The header first: a bomb's claimed size is refused by name, not by the decoder.
    let (width, height) = reader().into_dimensions().map_err(failed)?;
    check_dimensions(width, height)?;
    // The jpeg decoder fills what a cut-short file lacks with grey and says nothing: a
    // frame cut in transport would be detected on, half of it made up.
    if format == image::ImageFormat::Jpeg && !jpeg_is_complete(data) {
        return Err(PixelError::TruncatedJpeg);
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = reader();
    reader.limits(limits);
    reader.decode().map(|img| img.into_rgb8()).map_err(failed)
}

/// Whether an end-of-image marker (FF D9) follows the last start-of-scan (FF DA). Scan
/// data cannot hold either (an FF there is stuffed or a restart marker), so this also
/// holds with an embedded thumbnail and with bytes after the end.
fn jpeg_is_complete(data: &[u8]) -> bool {
    let marker = |m: u8| move |w: &[u8]| w == [0xFF, m];
    match data.windows(2).rposition(marker(0xDA)) {
        Some(scan) => data[scan..].windows(2).any(marker(0xD9)),
        None => false,
    }
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
    fn a_cut_short_jpeg_is_refused_and_bytes_after_its_end_are_not() {
        // Large enough that most of the file is scan data, not header and tables.
        let img = image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x * y) % 251) as u8])
        });
        let mut jpeg = std::io::Cursor::new(Vec::new());
        img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
        let jpeg = jpeg.into_inner();
        assert!(decode(&jpeg).is_ok());
        for cut in [jpeg.len() * 2 / 3, jpeg.len() - 2] {
            assert!(
                matches!(decode(&jpeg[..cut]), Err(PixelError::TruncatedJpeg)),
                "cut at {cut} of {}",
                jpeg.len()
            );
        }
        let mut padded = jpeg.clone();
        padded.extend([0u8; 64]);
        assert!(decode(&padded).is_ok());
        let png = encode(image::ImageFormat::Png);
        assert!(decode(&png[..png.len() * 2 / 3]).is_err());
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

    /// A PNG header claiming `width × height` followed by a little compressed data: the
    /// shape of a decompression bomb, without its size.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut png = encode(image::ImageFormat::Png);
        // After the 8-byte signature, IHDR: length, "IHDR" (12..16), 13 bytes of data
        // starting with width and height (16..24), and a CRC of type + data (29..33).
        png[16..20].copy_from_slice(&width.to_be_bytes());
        png[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        png
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn oversized_images_are_refused_by_their_header() {
        // Regression (issue 13): a 100k × 100k header relied on the image crate's 512 MiB
        // default; now the limit is ours and named.
        let err = decode(&png_header(100_000, 100_000))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("100000x100000") && err.contains("MAX_IMAGE_PIXELS"),
            "{err}"
        );
        let err = decode(&png_header(8_000, 6_000)).unwrap_err().to_string();
        assert!(err.contains("MAX_IMAGE_PIXELS"), "{err}");
        assert!(check_dimensions(1920, 1080).is_ok());
        assert!(check_dimensions(20_000, 10).is_err());
        assert!(check_dimensions(MAX_IMAGE_SIDE, MAX_IMAGE_SIDE).is_err());
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
