//! Writing a report: `report.json`, `report.md` (the tables `sightline eval` prints) and
//! the plots.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{EvalError, Result};
use crate::report::{Curves, Report};

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.3}"))
}

/// The report as Markdown tables.
pub fn markdown_table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} frames ({:?}), operating threshold {}\n",
        r.n_frames, r.dataset, r.operating_threshold
    );
    let own: Vec<String> = r
        .classes
        .iter()
        .filter(|(_, cr)| cr.operating_threshold != r.operating_threshold)
        .map(|(c, cr)| format!("{c} {}", cr.operating_threshold))
        .collect();
    if !own.is_empty() {
        let _ = writeln!(
            s,
            "Classes at their manifest's own threshold: {}\n",
            own.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "| class | GT | dets | AP | AP50 | AP75 | precision | recall | F1 | FP/image |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (c, cr) in &r.classes {
        let _ = writeln!(
            s,
            "| {c} | {} | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            cr.n_gt,
            cr.n_det,
            num(cr.ap),
            num(cr.ap50),
            num(cr.ap75),
            cr.precision,
            cr.recall,
            cr.f1,
            cr.fp_per_image
        );
    }
    if let Some(k) = &r.kitti {
        let _ = writeln!(
            s,
            "\nKITTI devkit AP (IoU 0.5), AP_R40 / AP_R11:\n\n| class | easy | moderate | hard |\n|---|---:|---:|---:|"
        );
        for (c, by_d) in k {
            let cell = |ap: Option<&crate::metrics::kitti::KittiAp>| {
                ap.map_or("–".into(), |a| {
                    format!("{:.3} / {:.3}", a.ap_r40, a.ap_r11)
                })
            };
            let _ = write!(s, "| {c} |");
            for d in crate::metrics::kitti::Difficulty::ALL {
                let _ = write!(s, " {} |", cell(by_d.get(&d).and_then(Option::as_ref)));
            }
            s.push('\n');
        }
    }
    if !r.range_error.is_empty() {
        let _ = writeln!(
            s,
            "\nRange error |range − true| / true of matched detections:\n\n| class | range | n | median | p90 |\n|---|---|---:|---:|---:|"
        );
        for (c, re) in &r.range_error {
            let _ = writeln!(
                s,
                "| {c} | all | {} | {} | {} |",
                re.all.n,
                num(re.all.median_rel),
                num(re.all.p90_rel)
            );
            for b in re.bins.iter().filter(|b| b.stats.n > 0) {
                let to = b.to_m.map_or("∞".into(), |t| format!("{t}"));
                let _ = writeln!(
                    s,
                    "| {c} | {}–{to} m | {} | {} | {} |",
                    b.from_m,
                    b.stats.n,
                    num(b.stats.median_rel),
                    num(b.stats.p90_rel)
                );
            }
            if re.n_unlocalized > 0 {
                let _ = writeln!(
                    s,
                    "\n{} matched {c} detections had no range.",
                    re.n_unlocalized
                );
            }
        }
    }
    if !r.skipped.is_empty() {
        let _ = writeln!(s, "\n{} image(s) skipped:", r.skipped.len());
        for k in &r.skipped {
            let _ = writeln!(s, "- `{}`: {}", k.path.display(), k.reason);
        }
    }
    s
}

/// Writes `report.json`, `report.md` and the plots into `dir` (created if needed).
/// Plots that cannot be drawn (no font found) are left out with a warning. Returns the
/// files written.
pub fn write_report(dir: &Path, report: &Report, curves: &Curves) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))?;
    let json_path = dir.join("report.json");
    let json =
        serde_json::to_string_pretty(report).map_err(|e| EvalError::io(&json_path, e.into()))?;
    let write = |path: &Path, text: &str| {
        sightline_types::files::write_atomically(path, |w| w.write_all(text.as_bytes()))
            .map_err(|e| EvalError::io(path, e))
    };
    write(&json_path, &(json + "\n"))?;
    let mut written = vec![json_path];
    let plots = match crate::plot::draw_all(dir, report, curves) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("plots not drawn: {e}");
            Vec::new()
        }
    };
    let mut md = String::from("# Evaluation report\n\n");
    md.push_str(&markdown_table(report));
    if let Some(states) = &report.traffic_light_state {
        md.push_str(
            "\n## Traffic-light state of matched lights (IoU 0.5, operating threshold)\n\n",
        );
        md.push_str(&states.markdown());
    }
    if !plots.is_empty() {
        md.push_str("\n## Plots\n\n");
        for p in &plots {
            if p.extension().is_some_and(|e| e == "svg") {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default();
                let _ = writeln!(md, "![{name}]({name})\n");
            }
        }
    }
    let md_path = dir.join("report.md");
    write(&md_path, &md)?;
    written.push(md_path);
    written.extend(plots);
    Ok(written)
}
