//! `sightline bag`: inspect rosbag2 recordings and make them from image folders.

use anyhow::Context;
use sightline_bag::from_images::{from_images, FromImages, Storage};
use sightline_bag::Bag;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Topics, types, message counts and time range of a bag (directory, .mcap or .db3).
    Info { bag: PathBuf },
    /// Make a drive bag (MCAP) from a folder of .jpg/.png frames, in file-name order.
    FromImages(FromImagesArgs),
    /// Copy what is intact of a recording cut short (a killed replay or recorder: no
    /// summary, no metadata.yaml, a torn last record) into a new, complete bag.
    Recover {
        /// The damaged bag folder, or one .mcap/.db3 file.
        bag: PathBuf,
        /// New bag folder (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct FromImagesArgs {
    /// Folder of .jpg/.jpeg/.png files.
    dir: PathBuf,
    /// Image topic, e.g. /cam_front/image_raw.
    #[arg(long)]
    topic: String,
    /// `header.frame_id` of every frame (the camera's optical frame).
    #[arg(long)]
    frame_id: String,
    /// Frames per second; frame i is stamped start + i / rate.
    #[arg(long)]
    rate: f64,
    /// Store sensor_msgs/CompressedImage instead of raw rgb8 sensor_msgs/Image. Files
    /// already in that format are stored byte for byte.
    #[arg(long, value_enum)]
    compressed: Option<Compression>,
    /// Stamp of the first frame, seconds since the epoch (default: now).
    #[arg(long)]
    start: Option<f64>,
    /// Output bag directory (must not exist).
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum Compression {
    Jpeg,
    Png,
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Info { bag } => info(bag),
        Command::FromImages(args) => make(args),
        Command::Recover { bag, out } => recover(bag, out),
    }
}

fn seconds(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

fn info(path: PathBuf) -> anyhow::Result<()> {
    let bag = Bag::open(&path)?;
    let info = bag.info();
    println!("Bag:        {}", info.path.display());
    println!("Storage id: {}", info.storage.as_str());
    for (i, f) in info.files.iter().enumerate() {
        println!(
            "{}{}",
            if i == 0 {
                "Files:      "
            } else {
                "            "
            },
            f.display()
        );
    }
    if let Some((start, end)) = info.time_range {
        println!("Duration:   {} s", seconds(end - start));
        println!("Start:      {} s", seconds(start));
        println!("End:        {} s", seconds(end));
    }
    println!("Messages:   {}", info.message_count());
    println!("Topics:");
    let width = info.topics.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for t in &info.topics {
        println!(
            "  {:width$}  {:>8}  {} ({})",
            t.name, t.message_count, t.type_name, t.serialization_format
        );
    }
    Ok(())
}

fn make(a: FromImagesArgs) -> anyhow::Result<()> {
    let start_ns = match a.start {
        Some(s) => {
            anyhow::ensure!(
                s.is_finite() && s >= 0.0,
                "--start {s} must be seconds since the epoch"
            );
            (s * 1e9).round() as u64
        }
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("system clock before 1970")?
            .as_nanos() as u64,
    };
    let storage = match a.compressed {
        None => Storage::Raw,
        Some(Compression::Jpeg) => Storage::Jpeg,
        Some(Compression::Png) => Storage::Png,
    };
    let opts = FromImages {
        input: a.dir,
        output: a.out,
        topic: a.topic,
        frame_id: a.frame_id,
        rate_hz: a.rate,
        start_ns,
        storage,
    };
    let n = from_images(&opts)?;
    eprintln!(
        "wrote {n} frames on {} to {}",
        opts.topic,
        opts.output.display()
    );
    Ok(())
}

fn recover(bag: PathBuf, out: PathBuf) -> anyhow::Result<()> {
    let recovered = sightline_bag::recover::recover(&bag, &out)?;
    for stop in &recovered.stopped {
        eprintln!(
            "reading stopped: {}",
            sightline_bag::with_causes(stop as &dyn std::error::Error)
        );
    }
    let per_topic: Vec<String> = recovered
        .topics
        .iter()
        .map(|t| format!("{} {}", t.name, t.message_count))
        .collect();
    eprintln!(
        "recovered {} messages ({}) into {} ({})",
        recovered.message_count(),
        per_topic.join(", "),
        recovered.output.display(),
        recovered.storage.as_str()
    );
    Ok(())
}
