//! CDR decoding of every message Sightline reads or writes. Whatever decodes must encode
//! and decode again to the same bytes (the codec is its own inverse on what it accepts).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_bag::msgs::{
    from_cdr, to_cdr, CameraInfo, CompressedImage, Detection2DArray, Detection3DArray, Image,
    Message,
};

/// A macro, not a generic function: a message borrows from the bytes it was decoded
/// from, and the re-decoded one from other bytes.
macro_rules! round_trip {
    ($type:ty, $bytes:expr) => {
        if let Ok(message) = from_cdr::<$type>($bytes) {
            let encoded = to_cdr(&message);
            let again = from_cdr::<$type>(&encoded).expect("our own encoding decodes");
            assert_eq!(
                to_cdr(&again),
                encoded,
                "{} re-encodes differently",
                <$type as Message>::TYPE_NAME
            );
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let (which, bytes) = sightline_fuzz::selector(data);
    match which % 5 {
        0 => round_trip!(Image, bytes),
        1 => round_trip!(CompressedImage, bytes),
        2 => round_trip!(CameraInfo, bytes),
        3 => round_trip!(Detection2DArray, bytes),
        _ => round_trip!(Detection3DArray, bytes),
    }
});
