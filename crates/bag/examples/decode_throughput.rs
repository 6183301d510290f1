//! How fast `Frames` turns a bag into pixels, without a detector: the ceiling a replay
//! can reach on this machine. usage: decode_throughput BAG [WORKERS...]
use sightline_bag::frames::{FrameOptions, Frames};
use sightline_bag::Bag;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bag = Bag::open(
        args.next()
            .ok_or("usage: decode_throughput BAG [WORKERS...]")?,
    )?;
    let workers: Vec<usize> = args.map(|a| a.parse()).collect::<Result<_, _>>()?;
    for w in if workers.is_empty() {
        vec![1, 2]
    } else {
        workers
    } {
        let start = Instant::now();
        let mut n = 0u64;
        let mut bytes = 0usize;
        for frame in Frames::spawn(
            &bag,
            &FrameOptions {
                workers: w,
                ..FrameOptions::default()
            },
        )? {
            bytes += frame?.pixels.data().len();
            n += 1;
        }
        let s = start.elapsed().as_secs_f64();
        println!(
            "workers {w}: {n} frames in {s:.3} s = {:.1} frames/s ({:.0} MB/s of pixels)",
            n as f64 / s,
            bytes as f64 / s / 1e6
        );
    }
    Ok(())
}
