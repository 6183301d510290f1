//! Timing shared by the kernel examples: a first launch (shader compilation included),
//! then the median of ten more, each waited for.
use sightline_engine::cubecl;
use sightline_engine::cubecl::prelude::*;
use std::time::Instant;

/// Milliseconds of one launch batch `f`.
pub struct Timing {
    /// The first call, compilation included.
    pub first_ms: f64,
    pub median_ms: f64,
}

pub fn time(client: &Client, mut f: impl FnMut()) -> Timing {
    let mut once = || {
        let t = Instant::now();
        f();
        cubecl::future::block_on(client.sync()).expect("device sync");
        t.elapsed().as_secs_f64() * 1e3
    };
    let first_ms = once();
    let mut runs: Vec<f64> = (0..10).map(|_| once()).collect();
    runs.sort_by(f64::total_cmp);
    Timing {
        first_ms,
        median_ms: runs[5],
    }
}
