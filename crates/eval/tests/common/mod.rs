//! Paths shared by the integration tests: the `../shared` data and the Python venv.
#![allow(dead_code)]

use std::path::PathBuf;

pub mod kitti_hand;

pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `SIGHTLINE_SHARED`, default `<repo>/../shared`; panics with a hint when missing.
pub fn shared() -> PathBuf {
    let p = std::env::var_os("SIGHTLINE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    assert!(
        p.join("data").is_dir(),
        "shared data not found at {} (set SIGHTLINE_SHARED; see shared/README.md)",
        p.display()
    );
    p
}

/// `SIGHTLINE_PYTHON`, default `<repo>/.venv/bin/python`; panics with a hint when missing.
pub fn python() -> PathBuf {
    let p = std::env::var_os("SIGHTLINE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "python not found at {}: run scripts/setup.sh (or set SIGHTLINE_PYTHON)",
        p.display()
    );
    p
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(name)
}
