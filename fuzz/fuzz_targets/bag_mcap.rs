//! A single-file MCAP bag from bytes: open (summary or linear scan), every message, and
//! every image message decoded to pixels as replay does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = sightline_fuzz::scratch_file("fuzz.mcap", data);
    sightline_fuzz::read_bag(&path);
});
