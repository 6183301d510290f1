//! Raw interleaved u8 images as they arrive from cameras, bags and files.

use crate::DetectError;

/// Pixel layouts accepted by the pre-processing kernel (names as in ROS `sensor_msgs/Image`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Rgb8,
    Bgr8,
    Rgba8,
    Bgra8,
    Mono8,
}

impl PixelFormat {
    /// Parses a ROS image encoding string.
    pub fn from_ros_encoding(encoding: &str) -> Result<PixelFormat, DetectError> {
        match encoding {
            "rgb8" => Ok(PixelFormat::Rgb8),
            "bgr8" => Ok(PixelFormat::Bgr8),
            "rgba8" => Ok(PixelFormat::Rgba8),
            "bgra8" => Ok(PixelFormat::Bgra8),
            "mono8" | "8UC1" => Ok(PixelFormat::Mono8),
            other => Err(DetectError::UnknownEncoding(other.to_string())),
        }
    }

    pub fn ros_encoding(self) -> &'static str {
        match self {
            PixelFormat::Rgb8 => "rgb8",
            PixelFormat::Bgr8 => "bgr8",
            PixelFormat::Rgba8 => "rgba8",
            PixelFormat::Bgra8 => "bgra8",
            PixelFormat::Mono8 => "mono8",
        }
    }

    pub fn channels(self) -> usize {
        match self {
            PixelFormat::Mono8 => 1,
            PixelFormat::Rgb8 | PixelFormat::Bgr8 => 3,
            PixelFormat::Rgba8 | PixelFormat::Bgra8 => 4,
        }
    }
}

/// A borrowed interleaved 8-bit image; rows are `step` bytes apart (`step >= width * channels`).
#[derive(Debug, Clone, Copy)]
pub struct ImageView<'a> {
    width: u32,
    height: u32,
    step: usize,
    format: PixelFormat,
    data: &'a [u8],
}

impl<'a> ImageView<'a> {
    /// Validates sizes so that later stages can index without checks.
    pub fn new(
        width: u32,
        height: u32,
        step: usize,
        format: PixelFormat,
        data: &'a [u8],
    ) -> Result<Self, DetectError> {
        let bad = |reason: String| DetectError::BadImage {
            what: format!("{width}x{height} {}", format.ros_encoding()),
            reason,
        };
        if width == 0 || height == 0 {
            return Err(bad("empty image".into()));
        }
        let row = width as usize * format.channels();
        if step < row {
            return Err(bad(format!(
                "step {step} is smaller than width × channels = {row}"
            )));
        }
        let needed = step * (height as usize - 1) + row;
        if data.len() < needed {
            return Err(bad(format!(
                "data has {} bytes, needs at least {needed} (step {step} × height {height})",
                data.len()
            )));
        }
        Ok(ImageView {
            width,
            height,
            step,
            format,
            data,
        })
    }

    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
    pub fn step(&self) -> usize {
        self.step
    }
    pub fn format(&self) -> PixelFormat {
        self.format
    }
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

/// A rectangle of an image in pixels: what one model pass sees (the whole frame or a
/// tile of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Region {
    /// The whole of a `width` × `height` image.
    pub fn whole(width: u32, height: u32) -> Region {
        Region {
            x: 0,
            y: 0,
            width,
            height,
        }
    }

    /// `[x1, y1, x2, y2]`, as detection boxes are written.
    pub fn bbox(&self) -> [f32; 4] {
        [
            self.x as f32,
            self.y as f32,
            (self.x + self.width) as f32,
            (self.y + self.height) as f32,
        ]
    }

    /// Checks that the region is non-empty and inside `image`.
    pub fn check(&self, image: &ImageView) -> Result<(), DetectError> {
        let inside = u64::from(self.x) + u64::from(self.width) <= u64::from(image.width())
            && u64::from(self.y) + u64::from(self.height) <= u64::from(image.height());
        if self.width == 0 || self.height == 0 || !inside {
            return Err(DetectError::BadImage {
                what: format!("{}x{}", image.width(), image.height()),
                reason: format!(
                    "region {}x{} at ({}, {}) is empty or not inside the image",
                    self.width, self.height, self.x, self.y
                ),
            });
        }
        Ok(())
    }
}
