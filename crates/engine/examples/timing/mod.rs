//! Timing shared by the kernel examples: a first launch (shader compilation included),
//! then the median of ten more, each waited for, and the median of ten rounds of
//! [`QUEUED`] launches with one wait, as a model's layers run in a frame (a launch and a
//! wait cost 0.1–0.4 ms on lavapipe, which is most of a small layer's waited time).
use sightline_engine::cubecl;
use sightline_engine::cubecl::prelude::*;
use std::time::Instant;

/// Launches per round of the queued measurement.
pub const QUEUED: usize = 8;

/// Milliseconds of one launch batch `f`.
pub struct Timing {
    /// The first call, compilation included.
    pub first_ms: f64,
    /// One call and a wait for the device.
    pub median_ms: f64,
    /// One call of [`QUEUED`] queued before a wait.
    pub queued_ms: f64,
}

pub fn time(client: &Client, mut f: impl FnMut()) -> Timing {
    let mut round = |calls: usize| {
        let t = Instant::now();
        for _ in 0..calls {
            f();
        }
        cubecl::future::block_on(client.sync()).expect("device sync");
        t.elapsed().as_secs_f64() * 1e3 / calls as f64
    };
    let first_ms = round(1);
    let median = |runs: &mut Vec<f64>| {
        runs.sort_by(f64::total_cmp);
        runs[runs.len() / 2]
    };
    let median_ms = median(&mut (0..10).map(|_| round(1)).collect());
    let queued_ms = median(&mut (0..10).map(|_| round(QUEUED)).collect());
    Timing {
        first_ms,
        median_ms,
        queued_ms,
    }
}
