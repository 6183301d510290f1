//! A length field that claims more than its record holds allocates nothing large.
//! (Found by `fuzz/bag_mcap`: mcap 0.26 reserved a string's claimed length, up to 4 GiB,
//! before reading it; third_party/mcap reads the bytes as they arrive.)
//!
//! Its own test binary: the allocator below records the largest allocation of the
//! whole process.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use sightline_bag::Bag;

struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

#[test]
fn a_topic_name_claiming_gigabytes_is_an_error_without_a_large_allocation() {
    let (dir, _) = common::fixtures();
    let file = common::storage_file(&dir.path().join("mcap"), "mcap");
    let mut bytes = std::fs::read(&file).unwrap();
    // Every copy of the topic's length prefix (channel records in the data and summary
    // sections) claims 1.7 GB; the file is 16 KB.
    let topic = b"/cam_front/image_raw";
    let mut prefixed = (topic.len() as u32).to_le_bytes().to_vec();
    prefixed.extend_from_slice(topic);
    let mut corrupted = 0;
    let mut at = 0;
    while let Some(i) = bytes[at..]
        .windows(prefixed.len())
        .position(|w| w == prefixed.as_slice())
    {
        bytes[at + i..at + i + 4].copy_from_slice(&0x6A6A_6A6Au32.to_le_bytes());
        corrupted += 1;
        at += i + prefixed.len();
    }
    assert!(corrupted >= 1, "the fixture has the topic's channel record");
    let damaged = dir.path().join("damaged.mcap");
    std::fs::write(&damaged, &bytes).unwrap();

    LARGEST.store(0, Ordering::Relaxed);
    let outcome = Bag::open(&damaged).and_then(|bag| {
        bag.messages(&[])
            .and_then(|messages| messages.collect::<Result<Vec<_>, _>>())
    });
    let largest = LARGEST.load(Ordering::Relaxed);
    let error = outcome.expect_err("a channel record that cannot be read");
    assert!(
        error.to_string().contains("damaged.mcap"),
        "the error names the file: {error}"
    );
    assert!(
        largest < 16 << 20,
        "largest allocation {largest} bytes for a {} byte file",
        bytes.len()
    );
}
