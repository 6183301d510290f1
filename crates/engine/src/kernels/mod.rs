//! cubecl kernels and their launch functions, one file per family.
//!
//! Kernels see buffers and numbers, never the graph: `crate::exec` validates shapes once
//! at plan time and then calls these `launch` functions, which is what makes the
//! `launch_unchecked` calls inside them sound.

pub mod conv;
pub mod copy;
pub mod elementwise;
pub mod pool;
pub mod resize;

#[cfg(test)]
pub(crate) mod testing;

use cubecl::prelude::*;

/// Threads per cube for the 1-D launches used throughout.
pub(crate) const CUBE_SIZE: u32 = 64;

/// Splits `threads` over a 2-D grid of cubes so that no dimension exceeds the 65 535
/// cubes per dimension that Vulkan guarantees.
pub(crate) fn cube_count(threads: usize) -> CubeCount {
    let cubes = (threads as u32).div_ceil(CUBE_SIZE).max(1);
    let x = cubes.min(32_768);
    let y = cubes.div_ceil(x);
    CubeCount::Static(x, y, 1)
}

/// The global linear thread index of the 2-D grid built by [`cube_count`].
#[cube]
pub(crate) fn linear_index() -> usize {
    (CUBE_POS_Y as usize * CUBE_COUNT_X as usize + CUBE_POS_X as usize) * CUBE_DIM_X as usize
        + UNIT_POS_X as usize
}
