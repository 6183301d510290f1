//! `sightline node` with ROS 2 from PyPI: crates/ros's build script exports the link
//! arguments (libpython, DT_RPATH) that let the binary run without LD_LIBRARY_PATH.
fn main() {
    println!("cargo::rerun-if-env-changed=DEP_SIGHTLINE_ROS_LINK_ARGS");
    if let Ok(args) = std::env::var("DEP_SIGHTLINE_ROS_LINK_ARGS") {
        for arg in args.split('\t').filter(|a| !a.is_empty()) {
            println!("cargo::rustc-link-arg-bins={arg}");
        }
    }
}
