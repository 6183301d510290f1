//! A frame from message to pixels, both ways in: the pipeline's `Frame::pixels` (raw
//! `Image` fields as a topic delivers them, or jpeg/png bytes) and the bag's decoder
//! (`decode_frame` on a stored message). Valid pixels then go through what the host does
//! with a frame's size and bytes: the tile layout and the traffic-light state reference.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use sightline_bag::frames::decode_frame;
use sightline_bag::RawMessage;
use sightline_detect::tl_state::classify_host;
use sightline_perception::tiling::tiles;
use sightline_perception::{Frame, Payload, Stamp, Tiling};

const ENCODINGS: [&str; 10] = [
    "rgb8", "bgr8", "mono8", "rgba8", "bgra8", "mono16", "yuv422", "16UC1", "", "8UC3",
];

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    for (i, b) in bytes.iter().skip(at).take(4).enumerate() {
        word[i] = *b;
    }
    u32::from_le_bytes(word)
}

fn frame_of(which: u8, bytes: &[u8]) -> Frame {
    let payload = if which & 1 == 0 {
        Payload::Encoded {
            format: "jpeg".into(),
            data: bytes.to_vec(),
        }
    } else {
        // Small sizes are the interesting ones (they can match the data); the high bits
        // of the selector let through any u32.
        let any = which & 0x80 != 0;
        let dim = |v: u32| if any { v } else { v % 64 };
        let width = dim(u32_at(bytes, 0));
        let height = dim(u32_at(bytes, 4));
        let step = if any {
            u32_at(bytes, 8)
        } else {
            u32_at(bytes, 8) % 256
        };
        let encoding = ENCODINGS[usize::from(which >> 1) % ENCODINGS.len()].to_string();
        Payload::Raw {
            width,
            height,
            step,
            encoding,
            data: bytes.get(12..).unwrap_or_default().to_vec(),
        }
    };
    Frame {
        stamp: Stamp::default(),
        frame_id: "camera".into(),
        payload,
    }
}

fn use_pixels(frame: &Frame, hint: &[u8]) {
    let Ok(pixels) = frame.pixels() else {
        return;
    };
    let view = pixels.view().expect("valid pixels give a view");
    let (w, h) = (view.width(), view.height());
    // Every row the view claims is in its data.
    let last_row = (h as usize).saturating_sub(1) * view.step();
    let row_bytes = w as usize * view.format().channels();
    assert!(h == 0 || last_row + row_bytes <= view.data().len());
    for tiling in [Tiling::Auto, Tiling::Grid { cols: 3, rows: 2 }] {
        for tile in tiles(tiling, (w, h), (416, 416), Some((0.3, 0.6))) {
            assert!(
                tile.x + tile.width <= w && tile.y + tile.height <= h,
                "{tile:?}"
            );
        }
    }
    let corner = |i: usize| f32::from(*hint.get(i).unwrap_or(&0)) / 255.0;
    let bbox = [
        corner(0) * w as f32,
        corner(1) * h as f32,
        (corner(0) + corner(2)) * w as f32,
        (corner(1) + corner(3)) * h as f32,
    ];
    let _ = classify_host(&view, bbox);
}

fuzz_target!(|data: &[u8]| {
    let (which, bytes) = sightline_fuzz::selector(data);
    if which & 0x40 == 0 {
        let frame = frame_of(which, bytes);
        use_pixels(&frame, bytes);
        if let Ok(decoded) = frame.decoded() {
            use_pixels(&decoded, bytes);
        }
    } else {
        let type_name = if which & 1 == 0 {
            "sensor_msgs/msg/CompressedImage"
        } else {
            "sensor_msgs/msg/Image"
        };
        let raw = RawMessage {
            path: Arc::from(std::path::Path::new("fuzz.mcap")),
            topic: Arc::from("/camera/image_raw"),
            type_name: Arc::from(type_name),
            log_time_ns: 0,
            index: 0,
            data: bytes.to_vec(),
        };
        // As replay hands a bag's frame to the pipeline.
        if let Ok(stored) = decode_frame(raw) {
            use_pixels(&Frame::from(stored), bytes);
        }
    }
});
