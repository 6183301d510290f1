//! Detections drawn onto an image: a class-coloured box and a "class score" label; a
//! traffic light's box takes the colour of its state and its label names the state. The
//! node's debug image and the `--annotate` PNGs of detect and replay are this drawing.

use crate::output::Object;
use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};
use sightline_detect::{Class, ImageView, LightState, PixelFormat};

/// Converts any supported pixel format to tightly packed rgb8.
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

pub fn colour(class: Class) -> Rgb<u8> {
    match class {
        Class::Pedestrian => Rgb([255, 64, 64]),
        Class::TrafficLight => Rgb([255, 200, 0]),
        Class::StopSign => Rgb([64, 160, 255]),
        // A class a trained head added: one colour the built-in three do not use.
        _ => Rgb([200, 80, 255]),
    }
}

/// The box colour of a traffic light in `state`.
pub fn state_colour(state: LightState) -> Rgb<u8> {
    match state {
        LightState::Red => Rgb([230, 0, 0]),
        LightState::Yellow => Rgb([255, 235, 0]),
        LightState::Green => Rgb([0, 220, 60]),
        LightState::Unknown => Rgb([170, 170, 170]),
    }
}

/// Draws each object, clipped to the image.
pub fn draw<'a>(canvas: &mut RgbImage, objects: impl IntoIterator<Item = &'a Object>) {
    // Thicker lines and larger text on large images, so labels stay readable.
    let scale = (canvas.width().max(canvas.height()) / 640).clamp(1, 4);
    for o in objects {
        let d = &o.detection;
        let c = o.state.map_or(colour(d.class), |s| state_colour(s.state));
        let [x1, y1, x2, y2] = d.bbox.map(|v| v.max(0.0) as u32);
        for t in 0..2 * scale {
            let (a, b) = (x2.saturating_sub(t), y2.saturating_sub(t));
            rectangle(canvas, [x1 + t, y1 + t, a, b], c);
        }
        let label = match o.state {
            Some(s) => format!("{} {} {:.2}", d.class, s.state, d.score),
            None => format!("{} {:.2}", d.class, d.score),
        };
        let (w, h) = (label.len() as u32 * 8 * scale + 2, 8 * scale + 2);
        let ty = y1.saturating_sub(h);
        fill(canvas, [x1, ty, x1 + w, ty + h], c);
        text(canvas, x1 + 1, ty + 1, &label, scale, Rgb([0, 0, 0]));
    }
}

fn put(img: &mut RgbImage, x: u32, y: u32, c: Rgb<u8>) {
    if x < img.width() && y < img.height() {
        img.put_pixel(x, y, c);
    }
}

fn rectangle(img: &mut RgbImage, [x1, y1, x2, y2]: [u32; 4], c: Rgb<u8>) {
    for x in x1..=x2 {
        put(img, x, y1, c);
        put(img, x, y2, c);
    }
    for y in y1..=y2 {
        put(img, x1, y, c);
        put(img, x2, y, c);
    }
}

fn fill(img: &mut RgbImage, [x1, y1, x2, y2]: [u32; 4], c: Rgb<u8>) {
    for y in y1..y2 {
        for x in x1..x2 {
            put(img, x, y, c);
        }
    }
}

fn text(img: &mut RgbImage, x: u32, y: u32, s: &str, scale: u32, c: Rgb<u8>) {
    for (i, ch) in s.chars().enumerate() {
        let Some(glyph) = font8x8::BASIC_FONTS.get(ch) else {
            continue;
        };
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) != 0 {
                    let (px, py) = (x + (i as u32 * 8 + col) * scale, y + row as u32 * scale);
                    fill(img, [px, py, px + scale, py + scale], c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_detect::{Detection, LightReading};

    fn object(class: Class, bbox: [f32; 4], state: Option<LightState>) -> Object {
        Object {
            detection: Detection {
                class,
                score: 0.9,
                bbox,
            },
            localization: None,
            state: state.map(|state| LightReading { state, score: 0.8 }),
        }
    }

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
        let mut img = RgbImage::new(40, 30);
        let det = object(Class::StopSign, [2.0, 14.0, 60.0, 24.0], None);
        draw(&mut img, [&det]);
        assert_eq!(img.get_pixel(2, 18), &colour(Class::StopSign));
        assert_eq!(img.get_pixel(10, 14), &colour(Class::StopSign));
        assert_eq!(
            img.get_pixel(10, 19),
            &Rgb([0, 0, 0]),
            "inside stays untouched"
        );
    }

    #[test]
    fn a_light_is_drawn_in_its_state_colour() {
        let mut img = RgbImage::new(40, 60);
        let light = object(
            Class::TrafficLight,
            [5.0, 20.0, 20.0, 50.0],
            Some(LightState::Green),
        );
        draw(&mut img, [&light]);
        assert_eq!(img.get_pixel(5, 30), &state_colour(LightState::Green));
    }
}
