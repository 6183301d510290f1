//! `sightline bench`'s report: what it prints, what `--json` writes, and the peers'
//! numbers (onnxruntime and tract via the Python venv) it compares against.

use crate::cmd::bench_measure::{FixedRate, Stats};
use crate::cmd::setup::DetectorArgs;
use anyhow::Context;
use serde::Serialize;
use sightline_detect::Detector;
use std::path::PathBuf;

#[derive(Serialize)]
pub struct Report {
    pub device: String,
    pub model: String,
    pub image_size: [u32; 2],
    /// `--tiling`, and the model passes a frame took with it (1 when off).
    pub tiling: String,
    pub passes_per_frame: f64,
    pub frames: usize,
    pub startup_ms: f64,
    pub stages_ms: Vec<(String, Stats)>,
    pub throughput_fps: f64,
    pub peak_memory_mb: Option<f64>,
    pub fixed_rate: Option<FixedRate>,
    pub peak_rate_hz: Option<f64>,
    pub per_op: Vec<OpTime>,
    pub peers: Option<serde_json::Value>,
}

/// Model time by op type, convolutions by kernel family (median of 3 synced runs), with
/// conv GFLOP/s.
#[derive(Serialize)]
pub struct OpTime {
    pub op_type: &'static str,
    pub launches: usize,
    pub ms: f64,
    pub gflops: Option<f64>,
    /// Compulsory traffic of one frame's launches of this type (tensors and weights).
    pub megabytes: f64,
}

pub fn per_op(detector: &Detector) -> anyhow::Result<Vec<OpTime>> {
    let runs: Vec<Vec<sightline_engine::StepTiming>> = (0..3)
        .map(|_| detector.model().run_timed())
        .collect::<Result<_, _>>()?;
    let mut by_type: Vec<OpTime> = Vec::new();
    for (i, step) in runs[0].iter().enumerate() {
        let mut ms: Vec<f64> = runs
            .iter()
            .map(|r| r[i].duration.as_secs_f64() * 1e3)
            .collect();
        ms.sort_by(f64::total_cmp);
        let k = match by_type.iter().position(|o| o.op_type == step.family) {
            Some(k) => k,
            None => {
                by_type.push(OpTime {
                    op_type: step.family,
                    launches: 0,
                    ms: 0.0,
                    gflops: None,
                    megabytes: 0.0,
                });
                by_type.len() - 1
            }
        };
        let entry = &mut by_type[k];
        entry.launches += 1;
        entry.ms += ms[1];
        entry.megabytes += step.bytes / 1e6;
        if step.flops > 0.0 {
            *entry.gflops.get_or_insert(0.0) += step.flops;
        }
    }
    for o in &mut by_type {
        o.gflops = o.gflops.map(|flops| flops / (o.ms * 1e-3) / 1e9);
    }
    by_type.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    Ok(by_type)
}

pub fn run_peers(
    files: &[PathBuf],
    frames: usize,
    detector: &DetectorArgs,
) -> anyhow::Result<serde_json::Value> {
    let python = std::env::var_os("SIGHTLINE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".venv/bin/python"));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_peers.py");
    let model =
        sightline_detect::Manifest::default_model().locate_weights(detector.model.as_deref())?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut cmd = std::process::Command::new(&python);
    cmd.arg(&script)
        .arg("--model")
        .arg(&model)
        .arg("--frames")
        .arg(frames.to_string())
        .arg("--threads")
        .arg(threads.to_string());
    cmd.args(files.iter().take(frames));
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {} (run scripts/setup.sh)", python.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "peer benchmark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).context("peer benchmark output")
}

pub fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub fn print_report(r: &Report) {
    println!(
        "device {}, {} frames of {}x{}, startup {:.0} ms",
        r.device, r.frames, r.image_size[0], r.image_size[1], r.startup_ms
    );
    println!(
        "tiling {}: {:.2} model passes per frame (the stages and total below are per frame)",
        r.tiling, r.passes_per_frame
    );
    println!(
        "{:<13} {:>9} {:>9} {:>9} {:>9}",
        "stage (ms)", "p50", "p90", "p99", "max"
    );
    for (name, s) in &r.stages_ms {
        println!(
            "{name:<13} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            s.p50, s.p90, s.p99, s.max
        );
    }
    println!("throughput    {:.2} frames/s", r.throughput_fps);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let model_launches: usize = r.per_op.iter().map(|o| o.launches).sum();
    println!(
        "launches per pass: {} ({model_launches} model + letterbox + decode); {profile} build",
        model_launches + 2
    );
    println!("model time by op type, convolutions by kernel family (synced after each launch):");
    for o in &r.per_op {
        let gflops = o
            .gflops
            .map(|g| format!("{g:.2} GFLOP/s"))
            .unwrap_or_default();
        println!(
            "  {:<16} {:>4} launches {:>9.2} ms {:>7.1} MB  {gflops}",
            o.op_type, o.launches, o.ms, o.megabytes
        );
    }
    if let Some(mb) = r.peak_memory_mb {
        println!("peak memory   {mb:.0} MB (process RSS high-water mark)");
    }
    if let Some(f) = &r.fixed_rate {
        println!(
            "fixed rate    {} camera(s) × {:.1} Hz: {} of {} frames dropped ({:.1} %), latency p50 {:.1} ms p99 {:.1} ms",
            f.cameras, f.rate_hz, f.dropped, f.offered, 100.0 * f.dropped_fraction, f.latency_ms.p50, f.latency_ms.p99
        );
    }
    match r.peak_rate_hz {
        Some(hz) => println!("peak rate     {hz:.2} Hz per camera with < 5 % dropped"),
        None => println!("peak rate     none of the tried rates kept drops under 5 %"),
    }
    if let Some(p) = &r.peers {
        let ours = r
            .stages_ms
            .iter()
            .find(|(n, _)| n == "total")
            .map(|(_, s)| s.p50)
            .unwrap_or(f64::NAN);
        println!("peers, whole frame p50 (same images, same run):");
        println!("  sightline    {ours:>9.1} ms");
        for (name, peer) in p.as_object().into_iter().flatten() {
            let Some(theirs) = peer.pointer("/total_ms/p50").and_then(|v| v.as_f64()) else {
                continue;
            };
            let threads = peer.get("threads").and_then(|v| v.as_u64()).unwrap_or(0);
            println!(
                "  {name:<12} {theirs:>9.1} ms  ({threads} thread(s))  sightline/{name} = {:.2}×",
                ours / theirs
            );
        }
    }
}
