//! A model manifest (`models/*.yaml`: weights file, digest, input, classes, strides).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sightline_detect::Manifest::parse(text, "fuzz.yaml");
    }
});
