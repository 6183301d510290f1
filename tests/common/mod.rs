//! Shared helpers of the whole-program tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared` (models and labeled data), or `$SIGHTLINE_SHARED`.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("SIGHTLINE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")));
    assert!(
        dir.join("models").is_dir(),
        "shared data not found at {} (set SIGHTLINE_SHARED)",
        dir.display()
    );
    dir
}

/// The venv interpreter with the Python peers (`scripts/setup.sh` makes it).
pub fn python() -> PathBuf {
    let python = std::env::var_os("SIGHTLINE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python")));
    assert!(
        python.exists(),
        "{} missing: run scripts/setup.sh",
        python.display()
    );
    python
}

/// The `sightline` binary built for this test run.
pub fn sightline() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_sightline"))
}

/// Runs `cmd` and fails the test, with its output, unless it succeeds.
pub fn run(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The JSON objects of a JSON lines file.
pub fn jsonl(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// Runs the venv's Python with `args`, requires success, and returns its stdout.
pub fn python_ok(args: &[&std::ffi::OsStr]) -> String {
    let out = std::process::Command::new(python())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python().display()));
    assert!(
        out.status.success(),
        "{:?}: {}",
        args.first(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes input tensor `i` where `scripts/ort_run.py` reads it (`DIR/{i}.input.bin`,
/// little-endian f32).
pub fn write_onnxruntime_input(dir: &std::path::Path, i: usize, input: &[f32]) {
    let bytes: Vec<u8> = input.iter().flat_map(|v| v.to_le_bytes()).collect();
    let path = dir.join(format!("{i}.input.bin"));
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// An image file as RGB pixels.
pub fn rgb_image(path: &std::path::Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

/// The detector's view of RGB pixels.
pub fn rgb_view(rgb: &image::RgbImage) -> sightline_detect::ImageView<'_> {
    sightline_detect::ImageView::new(
        rgb.width(),
        rgb.height(),
        rgb.width() as usize * 3,
        sightline_detect::PixelFormat::Rgb8,
        rgb.as_raw(),
    )
    .expect("view")
}

/// Runs `scripts/ort_run.py`: onnxruntime on `model` with each `DIR/{i}.input.bin` the
/// test wrote, and returns its raw outputs (`DIR/{i}.ort.bin`), `count` of them.
pub fn onnxruntime_outputs(
    model: &std::path::Path,
    dir: &std::path::Path,
    count: usize,
) -> Vec<Vec<f32>> {
    let status = std::process::Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ort_run.py"))
        .arg(model)
        .arg(dir)
        .status()
        .expect("run python");
    assert!(
        status.success(),
        "onnxruntime failed on {}",
        model.display()
    );
    (0..count)
        .map(|i| {
            let path = dir.join(format!("{i}.ort.bin"));
            let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            raw.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
        .collect()
}
