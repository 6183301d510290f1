//! What one launch costs on its own: a kernel that writes one value per lane, launched
//! `n` times back to back with one wait at the end, and once per wait.
use sightline_engine::cubecl;
use sightline_engine::cubecl::prelude::*;
use sightline_engine::DeviceChoice;
use std::time::Instant;

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
        let launch = || unsafe {
            touch::launch_unchecked(
                &client,
                CubeCount::Static(cubes, 1, 1),
                CubeDim::new_1d(lanes),
                BufferArg::from_raw_parts(out.clone(), n),
            )
        };
        launch();
        cubecl::future::block_on(client.sync()).unwrap();
        for batch in [1usize, 100] {
            let mut per = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                for _ in 0..batch {
                    launch();
                }
                cubecl::future::block_on(client.sync()).unwrap();
                per.push(t.elapsed().as_secs_f64() * 1e3 / batch as f64);
            }
            per.sort_by(f64::total_cmp);
            println!(
                "{cubes} workgroups × {lanes} lanes, {batch} launches per wait: {:.3} ms a launch",
                per[2]
            );
        }
    }
}
