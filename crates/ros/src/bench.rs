//! `sightline bench --ros`: publishes frames into a running node at a fixed rate and
//! times each from its image stamp to its `Detection2DArray`, matched by stamp.

use crate::{NodeBench, NodeBenchResult, NodeError};
use futures::{FutureExt, StreamExt};
use r2r::builtin_interfaces::msg::Time;
use r2r::sensor_msgs::msg::Image;
use r2r::std_msgs::msg::Header;
use r2r::vision_msgs::msg::Detection2DArray;
use r2r::QosProfile;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long to wait for the node to subscribe to the image topic.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(20);

pub fn run(bench: &NodeBench) -> Result<NodeBenchResult, NodeError> {
    if bench.frames.is_empty() || bench.count == 0 {
        return Ok(NodeBenchResult {
            sent: 0,
            latencies: Vec::new(),
            duration: Duration::ZERO,
        });
    }
    let ros = |what: String| {
        move |e: r2r::Error| NodeError::Ros {
            what,
            reason: e.to_string(),
        }
    };
    let ctx = r2r::Context::create().map_err(ros("context (rcl_init)".into()))?;
    let mut node = r2r::Node::create(ctx, "sightline_bench", "").map_err(ros("node".into()))?;
    let image_topic = format!("{}/image_raw", bench.camera);
    let answer_topic = format!("{}/detections", bench.camera);
    let publisher = node
        .create_publisher::<Image>(&image_topic, QosProfile::sensor_data())
        .map_err(ros(format!("publisher {image_topic}")))?;
    let mut answers = node
        .subscribe::<Detection2DArray>(&answer_topic, QosProfile::default())
        .map_err(ros(format!("subscribe {answer_topic}")))?;

    let discovery = Instant::now();
    while publisher
        .get_inter_process_subscription_count()
        .map_err(ros(format!("subscribers of {image_topic}")))?
        == 0
    {
        if discovery.elapsed() > DISCOVERY_TIMEOUT {
            return Err(NodeError::Ros {
                what: image_topic,
                reason: format!(
                    "no subscriber within {} s: is `sightline node` running with camera {}?",
                    DISCOVERY_TIMEOUT.as_secs(),
                    bench.camera
                ),
            });
        }
        node.spin_once(Duration::from_millis(50));
    }
    // The node's detections publisher is discovered by our subscription meanwhile.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_millis(500) {
        node.spin_once(Duration::from_millis(10));
    }

    let period = Duration::from_secs_f64(1.0 / bench.rate_hz);
    let mut in_flight: HashMap<(i32, u32), Instant> = HashMap::new();
    let mut latencies = Vec::new();
    let mut sent = 0;
    let start = Instant::now();
    let mut last_sent = start;
    loop {
        if sent < bench.count && Instant::now() >= start + period.mul_f64(sent as f64) {
            let frame = &bench.frames[sent % bench.frames.len()];
            let stamp = now();
            let msg = Image {
                header: Header {
                    stamp: stamp.clone(),
                    frame_id: "sightline_bench".into(),
                },
                height: frame.height,
                width: frame.width,
                encoding: "rgb8".into(),
                is_bigendian: 0,
                step: frame.width * 3,
                data: frame.rgb.clone(),
            };
            publisher
                .publish(&msg)
                .map_err(ros(format!("publish on {image_topic}")))?;
            last_sent = Instant::now();
            in_flight.insert(key(&stamp), last_sent);
            sent += 1;
        }
        node.spin_once(Duration::from_millis(1));
        while let Some(Some(answer)) = answers.next().now_or_never() {
            if let Some(t) = in_flight.remove(&key(&answer.header.stamp)) {
                latencies.push(t.elapsed());
            }
        }
        if sent == bench.count && (in_flight.is_empty() || last_sent.elapsed() > bench.timeout) {
            break;
        }
    }
    Ok(NodeBenchResult {
        sent,
        latencies,
        duration: start.elapsed(),
    })
}

/// System time, as camera drivers stamp their images.
fn now() -> Time {
    let t = sightline_types::msgs::Time::now();
    Time {
        sec: t.sec,
        nanosec: t.nanosec,
    }
}

fn key(stamp: &Time) -> (i32, u32) {
    (stamp.sec, stamp.nanosec)
}
