//! The optional debug image: the frame as rgb8 with a box per detection, coloured by
//! class. Kept deliberately plain (no text rendering) — it is for eyeballing in rviz.

use crate::worker::Object;
use image::{Rgb, RgbImage};
use sightline_detect::{Class, ImageView, PixelFormat};

/// Converts any supported pixel format to rgb8.
pub fn to_rgb(view: &ImageView) -> RgbImage {
    let (w, h) = (view.width(), view.height());
    let ch = view.format().channels();
    let data = view.data();
    RgbImage::from_fn(w, h, |x, y| {
        let i = y as usize * view.step() + x as usize * ch;
        let p = &data[i..i + ch];
        match view.format() {
            PixelFormat::Rgb8 | PixelFormat::Rgba8 => Rgb([p[0], p[1], p[2]]),
            PixelFormat::Bgr8 | PixelFormat::Bgra8 => Rgb([p[2], p[1], p[0]]),
            PixelFormat::Mono8 => Rgb([p[0], p[0], p[0]]),
        }
    })
}

fn colour(class: Class) -> Rgb<u8> {
    match class {
        Class::Pedestrian => Rgb([255, 64, 64]),
        Class::TrafficLight => Rgb([255, 200, 0]),
        Class::StopSign => Rgb([0, 160, 255]),
    }
}

/// Draws a 2-px rectangle per object, clipped to the image.
pub fn draw_boxes(img: &mut RgbImage, objects: &[Object]) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    for obj in objects {
        let c = colour(obj.detection.class);
        let [x1, y1, x2, y2] = obj.detection.bbox.map(|v| v.round() as i64);
        let mut put = |x: i64, y: i64| {
            if (0..w).contains(&x) && (0..h).contains(&y) {
                img.put_pixel(x as u32, y as u32, c);
            }
        };
        for t in 0..2 {
            for x in x1..=x2 {
                put(x, y1 + t);
                put(x, y2 - t);
            }
            for y in y1..=y2 {
                put(x1 + t, y);
                put(x2 - t, y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_detect::Detection;

    #[test]
    fn bgr_and_mono_convert() {
        let bgr = [1u8, 2, 3, 4, 5, 6, 0, 0]; // 2x1 with 2 bytes padding
        let v = ImageView::new(2, 1, 8, PixelFormat::Bgr8, &bgr).unwrap();
        assert_eq!(to_rgb(&v).as_raw(), &vec![3, 2, 1, 6, 5, 4]);
        let mono = [9u8];
        let v = ImageView::new(1, 1, 1, PixelFormat::Mono8, &mono).unwrap();
        assert_eq!(to_rgb(&v).as_raw(), &vec![9, 9, 9]);
    }

    #[test]
    fn boxes_are_drawn_and_clipped() {
        let mut img = RgbImage::new(20, 10);
        let det = Detection {
            class: Class::StopSign,
            score: 0.9,
            bbox: [2.0, 2.0, 30.0, 6.0],
        };
        draw_boxes(
            &mut img,
            &[Object {
                detection: det,
                localization: None,
            }],
        );
        assert_eq!(img.get_pixel(2, 4), &colour(Class::StopSign));
        assert_eq!(img.get_pixel(10, 2), &colour(Class::StopSign));
        assert_eq!(
            img.get_pixel(10, 4),
            &Rgb([0, 0, 0]),
            "inside stays untouched"
        );
    }
}
