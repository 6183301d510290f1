//! Shared helpers: the Python interpreter with `rosbags`, fixture generation, hex.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `SIGHTLINE_PYTHON`, else `<repo>/.venv/bin/python`; a missing interpreter fails the test.
pub fn python() -> PathBuf {
    let py = std::env::var_os("SIGHTLINE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        py.exists(),
        "{} not found: run scripts/setup.sh (or set SIGHTLINE_PYTHON)",
        py.display()
    );
    py
}

/// Runs `scripts/<script>` with `args`; panics with its stderr on failure; returns stdout.
pub fn run_script(script: &str, args: &[&Path]) -> String {
    let out = Command::new(python())
        .arg(repo_root().join("scripts").join(script))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Writes the rosbags fixtures (`sqlite3/`, `mcap/`, `expected.json`) into a fresh tempdir.
pub fn fixtures() -> (tempfile::TempDir, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    run_script("bag_write_fixtures.py", &[dir.path()]);
    let expected = std::fs::read_to_string(dir.path().join("expected.json")).unwrap();
    (dir, serde_json::from_str(&expected).unwrap())
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The one storage file inside a rosbag2 directory with the given extension.
pub fn storage_file(dir: &Path, ext: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == ext))
        .unwrap_or_else(|| panic!("no .{ext} in {}", dir.display()))
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}
