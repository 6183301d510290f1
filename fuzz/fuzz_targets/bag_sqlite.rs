//! A single-file SQLite3 bag (rosbag2's `.db3`) from bytes: open, every message, and
//! every image message decoded to pixels as replay does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = sightline_fuzz::scratch_file("fuzz.db3", data);
    sightline_fuzz::read_bag(&path);
});
