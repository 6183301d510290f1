//! Draws detections onto an image: a class-coloured box and a "class score" label.

use font8x8::UnicodeFonts;
use image::{DynamicImage, Rgb, RgbImage};
use sightline_detect::{Class, Detection};

fn color(class: Class) -> Rgb<u8> {
    match class {
        Class::Pedestrian => Rgb([255, 64, 64]),
        Class::TrafficLight => Rgb([255, 200, 0]),
        Class::StopSign => Rgb([64, 160, 255]),
    }
}

pub fn draw(image: DynamicImage, detections: &[Detection]) -> RgbImage {
    let mut canvas = image.into_rgb8();
    // Thicker lines and larger text on large images, so labels stay readable.
    let scale = (canvas.width().max(canvas.height()) / 640).clamp(1, 4);
    for d in detections {
        let c = color(d.class);
        let [x1, y1, x2, y2] = d.bbox.map(|v| v.max(0.0) as u32);
        for t in 0..2 * scale {
            rectangle(
                &mut canvas,
                x1 + t,
                y1 + t,
                x2.saturating_sub(t),
                y2.saturating_sub(t),
                c,
            );
        }
        let label = format!("{} {:.2}", d.class, d.score);
        let (w, h) = (label.len() as u32 * 8 * scale + 2, 8 * scale + 2);
        let ty = y1.saturating_sub(h);
        fill(&mut canvas, x1, ty, x1 + w, ty + h, c);
        text(&mut canvas, x1 + 1, ty + 1, &label, scale, Rgb([0, 0, 0]));
    }
    canvas
}

fn put(img: &mut RgbImage, x: u32, y: u32, c: Rgb<u8>) {
    if x < img.width() && y < img.height() {
        img.put_pixel(x, y, c);
    }
}

fn rectangle(img: &mut RgbImage, x1: u32, y1: u32, x2: u32, y2: u32, c: Rgb<u8>) {
    for x in x1..=x2 {
        put(img, x, y1, c);
        put(img, x, y2, c);
    }
    for y in y1..=y2 {
        put(img, x1, y, c);
        put(img, x2, y, c);
    }
}

fn fill(img: &mut RgbImage, x1: u32, y1: u32, x2: u32, y2: u32, c: Rgb<u8>) {
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
                    fill(img, px, py, px + scale, py + scale, c);
                }
            }
        }
    }
}
