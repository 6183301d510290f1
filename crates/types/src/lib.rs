//! The concepts every Sightline crate shares, defined once and free of the GPU stack
//! (so `sightline-eval` and `sightline-bag` use them without pulling cubecl):
//!
//! - [`Class`]: the three classes Sightline reports;
//! - [`LightState`]: what a traffic light shows (red, yellow, green, unknown);
//! - [`msgs`]: `builtin_interfaces`/`std_msgs`/`vision_msgs` 4.x as plain structs, the
//!   one shape of a published result (the bag writer encodes them, the node copies them
//!   into r2r);
//! - [`pixels`]: the one rule for image bytes (which codec, how large a raw image is);
//! - [`images`]: which files of a folder are images;
//! - [`files`]: output files written whole or not at all;
//! - [`percentile`]: nearest-rank percentiles for every latency table.

mod class;
pub mod files;
pub mod images;
mod light;
pub mod msgs;
pub mod pixels;

pub use class::Class;
pub use light::{LightReading, LightState};

use std::time::Duration;

/// Nearest-rank percentile (`q` in 0..=1) of sorted samples: always a measured value.
/// `None` for no samples.
pub fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

/// `error: cause: cause ...`, where an error becomes text (a reason, a log line):
/// messages name their own context only, causes are their sources.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let ms = |v: u64| Duration::from_millis(v);
        let s: Vec<Duration> = (1..=10).map(ms).collect();
        assert_eq!(percentile(&s, 0.5), Some(ms(5)));
        assert_eq!(percentile(&s, 0.9), Some(ms(9)));
        assert_eq!(percentile(&s, 0.99), Some(ms(10)));
        assert_eq!(percentile(&s, 0.0), Some(ms(1)));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
