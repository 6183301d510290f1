//! Scores a detections file without building the whole `sightline` binary:
//! `cargo run -p sightline-eval --example score -- DATASET_SPEC DETECTIONS.jsonl REPORT_DIR`
//! (same output as `sightline eval --dataset SPEC --detections FILE --report DIR`).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [spec, dets, dir] = args.as_slice() else {
        return Err("usage: score DATASET_SPEC DETECTIONS.jsonl REPORT_DIR".into());
    };
    let spec: sightline_eval::DatasetSpec = spec.parse()?;
    let dataset = sightline_eval::Dataset::load(&spec, &sightline_eval::ClassMap::default())?;
    let mut frames = dataset.frames;
    let d = sightline_eval::detections::load(&PathBuf::from(dets))?;
    sightline_eval::detections::attach(&mut frames, d);
    let (report, curves) = sightline_eval::evaluate(
        &frames,
        dataset.kind,
        &dataset.skipped,
        &sightline_eval::EvalOptions::default(),
    );
    sightline_eval::write_report(&PathBuf::from(dir), &report, &curves)?;
    print!("{}", sightline_eval::markdown_table(&report));
    for class in sightline_eval::Class::known() {
        if let Some(ap) = sightline_eval::metrics::greedy::ap50(&frames, class) {
            println!("greedy AP50 {class}: {ap:.6}");
        }
    }
    Ok(())
}
