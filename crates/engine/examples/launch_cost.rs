//! What one launch costs on its own: a kernel that writes one value per lane, timed as
//! the other kernel examples are (`timing`: one launch per wait, and queued ones).
mod timing;
use sightline_engine::cubecl::prelude::*;
use sightline_engine::DeviceChoice;

#[cube(launch_unchecked)]
fn touch(out: &mut [f32]) {
    out[ABSOLUTE_POS] += 1.0;
}

fn main() {
    let gpu = DeviceChoice::Auto.open().unwrap();
    let client = gpu.client().clone();
    for (cubes, lanes) in [(1u32, 8u32), (16, 16), (256, 64)] {
        let n = (cubes * lanes) as usize;
        let out = client.create_from_slice(f32::as_bytes(&vec![0f32; n]));
        let timed = timing::time(&client, || unsafe {
            touch::launch_unchecked(
                &client,
                CubeCount::Static(cubes, 1, 1),
                CubeDim::new_1d(lanes),
                BufferArg::from_raw_parts(out.clone(), n),
            )
        });
        println!(
            "{cubes} workgroups × {lanes} lanes: {:.3} ms a launch with a wait, {:.3} ms with {} \
             queued per wait (first {:.0} ms, compilation included)",
            timed.median_ms,
            timed.queued_ms,
            timing::QUEUED,
            timed.first_ms
        );
    }
}
