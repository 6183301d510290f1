//! Plots with `plotters`, each drawn to SVG and PNG: PR curves (IoU 0.5), score
//! histograms (TP vs FP), range error vs distance.
//!
//! Text needs a TrueType font, loaded at run time (no system font library): the file in
//! `SIGHTLINE_FONT`, else DejaVu Sans or Liberation Sans from the usual system places
//! (Debian: `fonts-dejavu-core`). Without one the plots are skipped, not the report.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::class::Class;
use crate::error::{EvalError, Result};
use crate::report::{Curves, Report};

const FONT_PATHS: [&str; 5] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
];

/// Registers a font once for the process; the error says where we looked.
pub fn ensure_font() -> std::result::Result<(), String> {
    static FONT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let env = std::env::var("SIGHTLINE_FONT").ok();
        let candidates = env.iter().map(String::as_str).chain(FONT_PATHS);
        for path in candidates {
            if let Ok(bytes) = std::fs::read(path) {
                // Leaked once: plotters keeps fonts for the life of the process.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(format!(
            "no TrueType font found (set SIGHTLINE_FONT or install fonts-dejavu-core; looked in {})",
            FONT_PATHS.join(", ")
        ))
    })
    .clone()
}

fn color(c: Class) -> RGBColor {
    match c {
        Class::Pedestrian => RGBColor(31, 119, 180),
        Class::TrafficLight => RGBColor(255, 127, 14),
        Class::StopSign => RGBColor(214, 39, 40),
        // A trained head's classes: the next colours of the same (matplotlib) cycle, so
        // two new classes in one plot stay apart.
        other => {
            const MORE: [RGBColor; 5] = [
                RGBColor(44, 160, 44),
                RGBColor(148, 103, 189),
                RGBColor(140, 86, 75),
                RGBColor(227, 119, 194),
                RGBColor(23, 190, 207),
            ];
            let k = Class::known().iter().position(|c| *c == other).unwrap_or(0);
            MORE[k.saturating_sub(Class::ALL.len()) % MORE.len()]
        }
    }
}

type DrawResult = std::result::Result<(), String>;
fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn pr_curves<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, r: &Report) -> DrawResult {
    root.fill(&WHITE).map_err(e2s)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Precision–recall, IoU 0.5", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .x_desc("recall")
        .y_desc("precision")
        .draw()
        .map_err(e2s)?;
    for (c, cr) in &r.classes {
        if cr.pr_curve.is_empty() {
            continue;
        }
        let col = color(*c);
        let pts = cr
            .pr_curve
            .iter()
            .enumerate()
            .map(|(i, &p)| (i as f64 / 100.0, p));
        let label = format!("{c} (AP50 {:.3})", cr.ap50.unwrap_or(0.0));
        chart
            .draw_series(LineSeries::new(pts, col.stroke_width(2)))
            .map_err(e2s)?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], col.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(e2s)?;
    root.present().map_err(e2s)
}

fn score_hist<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, cv: &Curves) -> DrawResult {
    root.fill(&WHITE).map_err(e2s)?;
    const BINS: usize = 20;
    let panels = root.split_evenly((cv.scores.len().max(1), 1));
    for (panel, (c, (tp, fp))) in panels.iter().zip(&cv.scores) {
        let count = |v: &[f64]| {
            let mut h = [0u32; BINS];
            for &s in v {
                h[((s * BINS as f64) as usize).min(BINS - 1)] += 1;
            }
            h
        };
        let (htp, hfp) = (count(tp), count(fp));
        let top = htp.iter().chain(&hfp).copied().max().unwrap_or(1).max(1);
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{c}: detection scores at IoU 0.5 (green TP, red FP)"),
                ("sans-serif", 16),
            )
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, (0.5f64..f64::from(top) * 2.0).log_scale())
            .map_err(e2s)?;
        chart
            .configure_mesh()
            .x_desc("score")
            .y_desc("count")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(e2s)?;
        let w = 1.0 / BINS as f64;
        for (h, col, off) in [(htp, GREEN.mix(0.6), 0.0), (hfp, RED.mix(0.6), 0.5)] {
            let bars = h.iter().enumerate().filter(|(_, &n)| n > 0).map(|(i, &n)| {
                let x0 = i as f64 * w + off * w;
                Rectangle::new([(x0, 0.5), (x0 + w / 2.0, f64::from(n))], col.filled())
            });
            chart.draw_series(bars).map_err(e2s)?;
        }
    }
    root.present().map_err(e2s)
}

fn range_plot<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, cv: &Curves) -> DrawResult {
    root.fill(&WHITE).map_err(e2s)?;
    let all = cv.range.values().flatten();
    let max_r = all.clone().map(|p| p.0).fold(10.0, f64::max) * 1.05;
    let max_e = all.map(|p| p.1).fold(0.1, f64::max) * 1.05;
    let mut chart = ChartBuilder::on(&root)
        .caption("Range error of matched detections", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..max_r, 0f64..max_e)
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .x_desc("true range (m)")
        .y_desc("|range − true| / true")
        .draw()
        .map_err(e2s)?;
    for (c, pts) in &cv.range {
        let col = color(*c);
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, col.filled())))
            .map_err(e2s)?
            .label(c.as_str())
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, col.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(e2s)?;
    root.present().map_err(e2s)
}

/// Draws one figure as `<name>.svg` and `<name>.png` with the same drawing code.
macro_rules! figure {
    ($dir:expr, $name:expr, $size:expr, $out:expr, |$root:ident| $body:expr) => {{
        let svg = $dir.join(format!("{}.svg", $name));
        {
            let $root = SVGBackend::new(&svg, $size).into_drawing_area();
            $body.map_err(|msg| EvalError::Plot {
                path: svg.clone(),
                msg,
            })?;
        }
        let png = $dir.join(format!("{}.png", $name));
        {
            let $root = BitMapBackend::new(&png, $size).into_drawing_area();
            $body.map_err(|msg| EvalError::Plot {
                path: png.clone(),
                msg,
            })?;
        }
        $out.push(svg);
        $out.push(png);
    }};
}

/// Draws every plot that has data into `dir`; returns the files.
pub(crate) fn draw_all(dir: &Path, r: &Report, cv: &Curves) -> Result<Vec<PathBuf>> {
    ensure_font().map_err(|msg| EvalError::Plot {
        path: dir.to_path_buf(),
        msg,
    })?;
    let mut out = Vec::new();
    if r.classes.values().any(|c| !c.pr_curve.is_empty()) {
        figure!(dir, "eval-pr", (800, 600), out, |root| pr_curves(root, r));
    }
    if !cv.scores.is_empty() {
        let h = 260 * cv.scores.len() as u32;
        figure!(dir, "eval-scores", (800, h), out, |root| score_hist(
            root, cv
        ));
    }
    if !cv.range.is_empty() {
        figure!(dir, "eval-range", (800, 600), out, |root| range_plot(
            root, cv
        ));
    }
    Ok(out)
}
