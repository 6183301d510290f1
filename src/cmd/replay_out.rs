//! Where replay's results go: the output bag (the pipeline's `vision_msgs`, as the node
//! publishes them), JSON lines with the frame's origin, annotated PNGs, the summary.

use anyhow::Context;
use serde::Serialize;
use sightline_bag::msgs::{Detection2DArray, Detection3DArray};
use sightline_bag::{BagWriter, TopicId};
use sightline_perception::{Output, Record};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `/cam/image_raw` and `/cam/image_raw/compressed` → `/cam`; `/image_raw` → ``.
pub fn namespace(topic: &str) -> &str {
    let base = topic.strip_suffix("/compressed").unwrap_or(topic);
    base.rsplit_once('/').map_or("", |(ns, _)| ns)
}

/// One `--jsonl` line: the `sightline detect` schema plus where the frame came from.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    record: Record<'a>,
    topic: &'a str,
    index: u64,
    stamp_ns: i64,
    frame_id: &'a str,
}

#[derive(Default)]
pub struct Summary {
    pub frames: u64,
    pub skipped: u64,
    pub unlocalized: usize,
    pub per_class: BTreeMap<&'static str, u64>,
    pub latencies: Vec<Duration>,
}

pub struct Sinks {
    writer: BagWriter,
    /// The 2D and 3D topics of each image topic.
    topics: HashMap<Arc<str>, (TopicId, TopicId)>,
    jsonl: Option<Box<dyn Write>>,
    annotate: Option<PathBuf>,
    pub summary: Summary,
}

impl Sinks {
    pub fn new(
        writer: BagWriter,
        jsonl: Option<Box<dyn Write>>,
        annotate: Option<PathBuf>,
    ) -> Self {
        let (topics, summary) = (HashMap::new(), Summary::default());
        Sinks {
            writer,
            topics,
            jsonl,
            annotate,
            summary,
        }
    }

    fn topics(&mut self, topic: &Arc<str>) -> anyhow::Result<(TopicId, TopicId)> {
        if let Some(ids) = self.topics.get(topic) {
            return Ok(*ids);
        }
        let ns = namespace(topic);
        let d2 = self.writer.add_topic(
            &format!("{ns}/detections"),
            "vision_msgs/msg/Detection2DArray",
        )?;
        let d3 = self.writer.add_topic(
            &format!("{ns}/detections_3d"),
            "vision_msgs/msg/Detection3DArray",
        )?;
        self.topics.insert(topic.clone(), (d2, d3));
        Ok((d2, d3))
    }

    pub fn write(
        &mut self,
        topic: &Arc<str>,
        index: u64,
        log_time_ns: u64,
        out: &Output,
    ) -> anyhow::Result<()> {
        let (d2, d3) = self.topics(topic)?;
        let m2: Detection2DArray = out.detection_2d_array();
        self.writer.write(d2, log_time_ns, &m2)?;
        let m3: Detection3DArray = out.detection_3d_array();
        self.writer.write(d3, log_time_ns, &m3)?;
        self.writer.checkpoint()?;
        let image = format!("{topic}#{index}");
        if let Some(w) = self.jsonl.as_mut() {
            for record in out.records(&image) {
                let line = Line {
                    record,
                    topic,
                    index,
                    stamp_ns: out.stamp.as_nanos(),
                    frame_id: &out.frame_id,
                };
                crate::cmd::setup::write_line(w.as_mut(), &line)?;
            }
            // A frame's lines reach the file together, so a reader tailing it (or an
            // interrupted run) never sees half a frame.
            w.flush()?;
        }
        if let (Some(dir), Some(img)) = (&self.annotate, &out.debug_image) {
            let name = format!(
                "{}_{index:06}.png",
                topic.trim_start_matches('/').replace('/', "_")
            );
            let target = dir.join(name);
            img.save(&target)
                .with_context(|| format!("cannot write {}", target.display()))?;
        }
        let s = &mut self.summary;
        s.frames += 1;
        s.unlocalized += out.unlocalized;
        for o in &out.objects {
            *s.per_class.entry(o.detection.class.as_str()).or_default() += 1;
        }
        Ok(())
    }

    /// Finishes the bag and prints the summary.
    pub fn finish(mut self, elapsed: Duration) -> anyhow::Result<()> {
        if let Some(w) = self.jsonl.as_mut() {
            w.flush()?;
        }
        let path = self.writer.finish()?;
        let s = &mut self.summary;
        s.latencies.sort();
        let fps = s.frames as f64 / elapsed.as_secs_f64().max(1e-9);
        let secs = elapsed.as_secs_f64();
        eprintln!(
            "replayed {} frames in {secs:.2} s ({fps:.1} frames/s), skipped {}",
            s.frames, s.skipped
        );
        let classes: Vec<String> = s
            .per_class
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        let classes = if classes.is_empty() {
            "none".into()
        } else {
            classes.join(", ")
        };
        eprintln!("detections: {classes}");
        if s.unlocalized > 0 {
            eprintln!("not localized: {} detections", s.unlocalized);
        }
        let ms = |q: f64| {
            sightline_types::percentile(&s.latencies, q).map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        eprintln!(
            "pipeline latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(1.0)
        );
        eprintln!("output: {}", path.display());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_follow_image_transport_names() {
        assert_eq!(namespace("/cam_front/image_raw"), "/cam_front");
        assert_eq!(namespace("/cam_front/image_raw/compressed"), "/cam_front");
        assert_eq!(namespace("/a/b/image"), "/a/b");
        assert_eq!(namespace("/image_raw"), "");
    }
}
