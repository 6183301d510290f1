//! Detection's own device kernels: letterbox pre-processing, output decoding and the
//! traffic-light colour masses.

pub mod decode;
pub mod letterbox;
pub mod tl_state;

use cubecl::prelude::*;

pub(crate) const CUBE_SIZE: u32 = 64;

pub(crate) fn cube_count(threads: usize) -> CubeCount {
    CubeCount::Static((threads as u32).div_ceil(CUBE_SIZE).max(1), 1, 1)
}

/// Seeded random inputs for the kernel tests: the seed is printed in every failure
/// message, and `SIGHTLINE_TEST_SEED=N` replays it.
#[cfg(test)]
pub(crate) fn test_rng() -> (u64, rand::rngs::StdRng) {
    use rand::{Rng, SeedableRng};
    let seed = std::env::var("SIGHTLINE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    (seed, rand::rngs::StdRng::seed_from_u64(seed))
}
