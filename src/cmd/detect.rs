//! `sightline detect`: image files in, JSON lines (and optionally annotated PNGs) out.
//! Each file is a frame of one camera through `sightline_perception`.

use crate::cmd::setup::{self, CameraArgs, DetectorArgs};
use anyhow::Context;
use sightline_detect::Detector;
use sightline_perception::{Output, Pipeline};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub detector: DetectorArgs,
    #[command(flatten)]
    pub camera: CameraArgs,
    /// Write one JSON object per detection per line to this file ("-" for stdout).
    #[arg(long)]
    pub jsonl: Option<PathBuf>,
    /// Write each image with its detections drawn as PNG into this directory.
    #[arg(long)]
    pub annotate: Option<PathBuf>,
    /// Image files, or directories of .jpg/.jpeg/.png files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let files = setup::collect_images(&args.paths)?;
    let camera = args
        .camera
        .camera(&args.detector, "images", args.annotate.is_some(), None)?;
    let mut jsonl = setup::open_output(args.jsonl.as_deref())?;
    setup::annotate_dir(args.annotate.as_deref())?;
    let mut pipeline = setup::pipeline(&args.detector, vec![camera])?;
    let mut failed = 0usize;
    let mut unlocalized = 0usize;
    for path in &files {
        let out = match detect_file(&mut pipeline, path) {
            Ok(out) => out,
            Err(err) => {
                failed += 1;
                eprintln!("error: {err:#}");
                continue;
            }
        };
        unlocalized += out.unlocalized;
        let image = setup::stem(path);
        if let Some(w) = jsonl.as_mut() {
            for record in out.records(&image) {
                setup::write_line(w.as_mut(), &record)?;
            }
        }
        if let (Some(dir), Some(img)) = (&args.annotate, &out.debug_image) {
            let target = dir.join(format!("{image}.png"));
            img.save(&target)
                .with_context(|| format!("cannot write {}", target.display()))?;
        }
    }
    if let Some(w) = jsonl.as_mut() {
        w.flush()?;
    }
    if unlocalized > 0 {
        eprintln!("not localized: {unlocalized} detections (2D only)");
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} images could not be processed (named above)",
        files.len()
    );
    Ok(())
}

/// One image file through the pipeline's camera 0.
pub fn detect_file(pipeline: &mut Pipeline<Detector>, path: &Path) -> anyhow::Result<Output> {
    let frame = setup::image_frame(path)?;
    pipeline
        .process_one(0, &frame)
        .with_context(|| format!("image {}", path.display()))
}
