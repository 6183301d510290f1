//! `sightline eval --dataset tlstate:DIR`: every crop of a traffic-light state data set
//! (one folder per state) through the detector's state kernel, the crop being the box;
//! the report (`sightline_eval::light_state`) splits tuning and held-out crops by name.

use crate::cmd::setup::{self, DetectorArgs};
use anyhow::Context;
use sightline_eval::light_state::{self, StateSample, TlStateEval};
use sightline_perception::rgb_view;
use std::path::Path;
use std::time::{Duration, Instant};

pub fn run(dir: &Path, detector: &DetectorArgs, report: &Path) -> anyhow::Result<()> {
    let crops = light_state::load_crops(dir)
        .with_context(|| format!("reading tlstate data set {}", dir.display()))?;
    eprintln!("classifying {} traffic-light crops", crops.len());
    let mut pipeline = setup::pipeline(detector, Vec::new())?;
    let detector = pipeline.detector_mut();
    let mut samples = Vec::with_capacity(crops.len());
    let mut device = Duration::ZERO;
    for (path, truth) in crops {
        let rgb = image::open(&path)
            .with_context(|| format!("cannot decode crop {}", path.display()))?
            .to_rgb8();
        let view = rgb_view(&rgb).with_context(|| format!("crop {}", path.display()))?;
        let whole = [0.0, 0.0, rgb.width() as f32, rgb.height() as f32];
        let t = Instant::now();
        let reading = detector
            .light_states_of(&view, &[whole])
            .with_context(|| format!("traffic-light state of {}", path.display()))?;
        device += t.elapsed();
        let Some(reading) = reading.first() else {
            anyhow::bail!("no state returned for {}", path.display());
        };
        samples.push(StateSample {
            source: path,
            truth,
            got: reading.state,
            score: reading.score,
        });
    }
    let eval = TlStateEval::new(dir, &samples);
    let files = light_state::write_tlstate_report(report, &eval, &samples)?;
    print!("{}", eval.markdown());
    eprintln!(
        "{:.2} ms per crop (upload, kernel, read back); wrote {} files to {}",
        device.as_secs_f64() * 1e3 / samples.len().max(1) as f64,
        files.len(),
        report.display()
    );
    Ok(())
}
