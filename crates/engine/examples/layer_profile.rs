//! Per-layer device time of a model: `cargo run -p sightline-engine --example layer_profile -- MODEL.onnx`.
use sightline_engine::{DeviceChoice, Model};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: layer_profile MODEL.onnx")?;
    let gpu = DeviceChoice::Auto.open()?;
    let mut model = Model::load(std::path::Path::new(&path), &gpu)?;
    let input: Vec<f32> = (0..model.input_len()).map(|i| (i % 255) as f32).collect();
    model.write_input(&input)?;
    // The first run compiles every kernel: its slowest steps are where start-up goes.
    let mut first = model.run_timed()?;
    first.sort_by_key(|r| std::cmp::Reverse(r.duration));
    let compile: f64 = first.iter().map(|r| r.duration.as_secs_f64()).sum();
    println!(
        "first run (kernels compiled) {:.0} ms; slowest steps:",
        compile * 1e3
    );
    for r in first.iter().take(40) {
        println!(
            "{:>8.0} ms  {:<12} {}",
            r.duration.as_secs_f64() * 1e3,
            r.family,
            r.node
        );
    }
    let mut rows = model.run_timed()?;
    rows.sort_by_key(|r| std::cmp::Reverse(r.duration));
    let total: f64 = rows.iter().map(|r| r.duration.as_secs_f64()).sum();
    println!("total {:.1} ms", total * 1e3);
    for r in rows.iter().take(60) {
        let ms = r.duration.as_secs_f64() * 1e3;
        let gf = if r.flops > 0.0 {
            r.flops / r.duration.as_secs_f64() / 1e9
        } else {
            0.0
        };
        println!(
            "{:>8.2} ms {:>6.2} GF/s {:>7.1} MF  {:<10} {:<10} {}",
            ms,
            gf,
            r.flops / 1e6,
            r.op_type,
            r.family,
            r.node
        );
    }
    Ok(())
}
