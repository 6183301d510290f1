//! With the `ros` feature and ROS 2 from PyPI (scripts/ros-env.sh sets ROS_VENV),
//! makes the node's binaries run without LD_LIBRARY_PATH or LD_PRELOAD:
//! * libpython, linked with `--as-needed` off: the wheels' librcl.so depends on
//!   `*__rosidl_generator_py.so`, which reference CPython symbols (PyExc_RuntimeError)
//!   without linking libpython (and the binary itself uses no Python symbol);
//! * a DT_RPATH (transitive, unlike RUNPATH) with `<prefix>/lib` of every
//!   AMENT_PREFIX_PATH entry, the venv's `site-packages/ros_*.libs` (the wheels' own
//!   RPATHs point elsewhere once installed) and libpython's directory.
//!
//! Link arguments apply only to the package's own targets, and rustc's `as-needed`
//! link modifier is unstable, so the arguments are exported as `link_args` metadata
//! (DEP_SIGHTLINE_ROS_LINK_ARGS, tab-separated) for the `sightline` binary's build
//! script to pass on.
//!
//! With a regular ROS install (sourced setup.bash, no ROS_VENV) nothing is needed.
use std::{env, fs, path::PathBuf};

fn main() {
    for v in [
        "ROS_VENV",
        "PYTHON_LIBDIR",
        "PYTHON_LDLIBRARY",
        "AMENT_PREFIX_PATH",
    ] {
        println!("cargo::rerun-if-env-changed={v}");
    }
    println!("cargo::rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_ROS").is_none() {
        return;
    }
    let Ok(venv) = env::var("ROS_VENV") else {
        return;
    };
    let Ok(pylibdir) = env::var("PYTHON_LIBDIR") else {
        println!(
            "cargo::warning=ROS_VENV is set but PYTHON_LIBDIR is not: source scripts/ros-env.sh"
        );
        return;
    };
    let pylib = env::var("PYTHON_LDLIBRARY").unwrap_or_else(|_| "libpython3.so".into());
    let pylib = pylib.trim_start_matches("lib").trim_end_matches(".so");

    let mut rpath: Vec<String> = env::var("AMENT_PREFIX_PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|p| !p.is_empty())
        .map(|p| format!("{p}/lib"))
        .collect();
    rpath.push(pylibdir.clone());
    let venv_lib = PathBuf::from(venv).join("lib");
    for python_dir in fs::read_dir(&venv_lib).into_iter().flatten().flatten() {
        let site = python_dir.path().join("site-packages");
        for entry in fs::read_dir(&site).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with("ros_") && name.ends_with(".libs") {
                rpath.push(entry.path().display().to_string());
            }
        }
    }
    let link_args = [
        format!("-Wl,--no-as-needed,-l{pylib},--as-needed"),
        format!("-Wl,--disable-new-dtags,-rpath,{}", rpath.join(":")),
    ];
    println!("cargo::rustc-link-search=native={pylibdir}");
    println!("cargo::metadata=link_args={}", link_args.join("\t"));
}
