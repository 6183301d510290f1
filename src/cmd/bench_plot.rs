//! The latency histogram of `sightline bench --plot`.

use anyhow::Context;
use plotters::prelude::*;
use std::path::Path;
use std::time::Duration;

pub fn histogram(path: &Path, samples: &[Duration]) -> anyhow::Result<()> {
    sightline_eval::ensure_font().map_err(anyhow::Error::msg)?;
    let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    let max = ms.iter().cloned().fold(0.0, f64::max).max(1e-3) * 1.05;
    let bins = 30usize;
    let width = max / bins as f64;
    let mut counts = vec![0u32; bins];
    for v in &ms {
        counts[((v / width) as usize).min(bins - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1);
    let root = SVGBackend::new(path, (800, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("whole-frame latency", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..max, 0u32..top + 1)?;
    chart
        .configure_mesh()
        .x_desc("latency (ms)")
        .y_desc("frames")
        .draw()?;
    chart.draw_series(counts.iter().enumerate().map(|(i, &c)| {
        let x0 = i as f64 * width;
        Rectangle::new([(x0, 0), (x0 + width, c)], BLUE.mix(0.6).filled())
    }))?;
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
