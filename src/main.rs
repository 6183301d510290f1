//! `sightline`: the command-line face of the Sightline perception engine.
//!
//! Flags are parsed here; every subcommand's work lives in `cmd/<name>.rs` and in the
//! library crates, so this file stays a table of contents.

mod cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sightline", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Detect pedestrians, stop signs and traffic lights in image files.
    Detect(cmd::detect::Args),
    /// Score the detector (or a detections file) against a labeled dataset.
    Eval(cmd::eval::Args),
    /// Pre-label image folders and recordings for CVAT, Label Studio, YOLO or COCO.
    Label(cmd::label::Args),
    /// Inspect and make rosbag2 recordings.
    #[command(subcommand)]
    Bag(cmd::bag::Command),
    /// Run a rosbag2 recording through the detector into a new bag.
    Replay(cmd::replay::Args),
    /// Measure latency stage by stage, throughput and the peak sustainable frame rate.
    Bench(cmd::bench::Args),
    /// Teach the detector new classes from labelled photos (docs/training.md).
    TrainHead(cmd::train_head::Args),
    /// Run as a ROS 2 node (built with --features ros; see docs/ros.md).
    Node(cmd::node::Args),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SIGHTLINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,wgpu_hal=off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Detect(args) => cmd::detect::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Label(args) => cmd::label::run(args),
        Command::Bag(command) => cmd::bag::run(command),
        Command::Replay(args) => cmd::replay::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::TrainHead(args) => cmd::train_head::run(args),
        Command::Node(args) => cmd::node::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
