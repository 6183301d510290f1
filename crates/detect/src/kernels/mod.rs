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
