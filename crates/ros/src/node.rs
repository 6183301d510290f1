//! The r2r glue: parameters → [`NodeConfig`], one subscription per camera into its
//! latest-frame slot, the worker thread, publishers, and the spin loop that runs
//! until SIGINT/SIGTERM and publishes `/diagnostics` once a second.

use crate::config::{dds_profile_hint, NodeConfig, ParamValue, RawParams, Transport};
use crate::msgs;
use crate::worker::{Arrived, CameraInput, Reporter, Sink, Worker, WorkerCamera};
use crate::NodeError;
use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use futures::{future, Stream, StreamExt};
use r2r::diagnostic_msgs::msg::DiagnosticArray;
use r2r::sensor_msgs::msg::{CompressedImage, Image};
use r2r::vision_msgs::msg::{Detection2DArray, Detection3DArray};
use r2r::{Publisher, QosProfile};
use sightline_detect::{Detector, DetectorConfig};
use sightline_perception::{Camera, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const NODE_NAME: &str = "sightline";

fn ros_err(what: impl Into<String>) -> impl FnOnce(r2r::Error) -> NodeError {
    let what = what.into();
    move |e| NodeError::Ros {
        what,
        reason: e.to_string(),
    }
}

pub fn run() -> Result<(), NodeError> {
    let ctx = r2r::Context::create().map_err(ros_err("context (rcl_init)"))?;
    let mut node = r2r::Node::create(ctx, NODE_NAME, "").map_err(ros_err("node"))?;
    let cwd = std::env::current_dir().unwrap_or_default();
    let config = NodeConfig::from_params(&raw_params(&node), &cwd)?;
    tracing::info!(?config, "configuration");
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    if let Some(hint) = dds_profile_hint(&config, |k| std::env::var(k).ok(), &cwd) {
        tracing::warn!("{hint}");
    }

    let mut cameras = Vec::new();
    for cam in &config.cameras {
        let mut camera = Camera::new(&cam.namespace)
            .calibrated(&cam.calibration)
            .map_err(|e| NodeError::Calibration {
                camera: cam.namespace.clone(),
                parameter: cam.calibration_parameter(),
                path: cam.calibration.clone(),
                reason: crate::with_causes(&e),
            })?;
        camera.thresholds = config.score_thresholds.clone();
        camera.base_frame = config.base_frame.clone();
        camera.draw = config.publish_debug_image;
        camera.tiling = config.tiling;
        cameras.push(WorkerCamera {
            camera,
            input: CameraInput::default(),
        });
    }

    let stop = Arc::new(AtomicBool::new(false));
    let signal_error = |e: std::io::Error| NodeError::Ros {
        what: "signal handler".into(),
        reason: e.to_string(),
    };
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal asks the loops to stop; a second one (say, while the device
        // hangs) exits at once with status 1. Registered in this order on purpose.
        signal_hook::flag::register_conditional_shutdown(signal, 1, stop.clone())
            .map_err(signal_error)?;
        signal_hook::flag::register(signal, stop.clone()).map_err(signal_error)?;
    }

    let mut pool = LocalPool::new();
    let spawner = pool.spawner();
    let mut sink = RosSink {
        cameras: Vec::new(),
    };
    for (i, (cam, worker_cam)) in config.cameras.iter().zip(&cameras).enumerate() {
        let input = worker_cam.input.clone();
        let topic = cam.input_topic();
        let spawned = match cam.transport {
            Transport::Raw => {
                let stream = subscribe::<Image>(&mut node, &topic)?;
                spawner.spawn_local(forward(stream, input, move |m| {
                    msgs::frame_from_image(i, m)
                }))
            }
            Transport::Compressed => {
                let stream = subscribe::<CompressedImage>(&mut node, &topic)?;
                spawner.spawn_local(forward(stream, input, move |m| {
                    msgs::frame_from_compressed(i, m)
                }))
            }
        };
        spawned.map_err(|e| NodeError::Ros {
            what: topic.clone(),
            reason: e.to_string(),
        })?;
        sink.cameras.push(CameraPublishers {
            detections: publisher(&mut node, &cam.detections_topic())?,
            detections_3d: publisher(&mut node, &cam.detections_3d_topic())?,
            debug_image: if config.publish_debug_image {
                Some(publisher(&mut node, &cam.debug_image_topic())?)
            } else {
                None
            },
        });
        tracing::info!(
            "{}: {topic} -> {}, {}",
            cam.namespace,
            cam.detections_topic(),
            cam.detections_3d_topic()
        );
    }
    let diagnostics = publisher::<DiagnosticArray>(&mut node, "/diagnostics")?;

    // The detector is built on the worker thread that owns it (it is neither Sync nor
    // necessarily Send); start-up errors, or the worker's diagnostics handle, come back
    // over a channel.
    let (ready_tx, ready_rx) = mpsc::channel();
    let worker = {
        let stop = stop.clone();
        let detector_config = DetectorConfig {
            model_path: config.model.clone(),
            device: config.device,
            score_threshold: Some(config.score_thresholds.min()),
            nms_iou: config.nms_iou,
            ..Default::default()
        };
        std::thread::Builder::new()
            .name("sightline-worker".into())
            .spawn(move || {
                // The manifest beside the model (a trained head's classes), as config
                // validation read it.
                let built = sightline_detect::Manifest::for_model(
                    detector_config.model_path.as_deref(),
                    None,
                )
                .and_then(|manifest| {
                    Detector::new(DetectorConfig {
                        manifest,
                        ..detector_config
                    })
                });
                let detector = match built {
                    Ok(d) => d,
                    Err(e) => return drop(ready_tx.send(Err(e))),
                };
                tracing::info!(
                    "detector ready on {} in {:.1} s",
                    detector.gpu().name(),
                    detector.startup_time().as_secs_f64()
                );
                let mut worker = Worker::new(detector, cameras);
                let _ = ready_tx.send(Ok(worker.reporter()));
                worker.run(&mut sink, &stop);
            })
            .map_err(|e| NodeError::Ros {
                what: "worker thread".into(),
                reason: crate::with_causes(&e),
            })?
    };

    // Spin while the detector starts (discovery proceeds meanwhile); frames that
    // arrive before it is ready simply wait in their slots, newest first. Diagnostics
    // start with the detector and come from here, not from the worker, so that they
    // keep their 1 Hz while the device is busy with a frame.
    let mut reporter: Option<Reporter> = None;
    let mut next_report = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match &mut reporter {
            None => match ready_rx.try_recv() {
                Ok(Ok(handle)) => {
                    reporter = Some(handle);
                    next_report = Instant::now() + Duration::from_secs(1);
                    tracing::info!("ready");
                }
                Ok(Err(source)) => {
                    stop.store(true, Ordering::Relaxed);
                    let _ = worker.join();
                    let model = match &config.model {
                        Some(path) => path.display().to_string(),
                        None => "(default search: $SIGHTLINE_MODELS, ../shared/models)".into(),
                    };
                    return Err(NodeError::Detector { model, source });
                }
                Err(_) => {}
            },
            Some(reporter) if Instant::now() >= next_report => {
                next_report = Instant::now() + Duration::from_secs(1);
                log_publish_error(
                    "/diagnostics",
                    diagnostics.publish(&msgs::diagnostic_array(&reporter.report())),
                );
            }
            Some(_) => {}
        }
        node.spin_once(Duration::from_millis(10));
        // Drain every message r2r has queued into the slots: the last one wins.
        pool.run_until_stalled();
    }
    tracing::info!("shutting down");
    let _ = worker.join();
    Ok(())
}

fn raw_params(node: &r2r::Node) -> RawParams {
    use r2r::ParameterValue as V;
    let params = match node.params.lock() {
        Ok(p) => p,
        Err(poisoned) => poisoned.into_inner(),
    };
    params
        .iter()
        .map(|(name, p)| {
            let value = match &p.value {
                V::Bool(b) => ParamValue::Bool(*b),
                V::Integer(i) => ParamValue::Integer(*i),
                V::Double(d) => ParamValue::Double(*d),
                V::String(s) => ParamValue::String(s.clone()),
                V::StringArray(a) => ParamValue::StringArray(a.clone()),
                V::NotSet => ParamValue::Other("unset value"),
                V::BoolArray(_) => ParamValue::Other("bool array"),
                V::ByteArray(_) => ParamValue::Other("byte array"),
                V::IntegerArray(_) => ParamValue::Other("integer array"),
                V::DoubleArray(_) => ParamValue::Other("double array"),
            };
            (name.clone(), value)
        })
        .collect()
}

fn subscribe<T: r2r::WrappedTypesupport + 'static>(
    node: &mut r2r::Node,
    topic: &str,
) -> Result<impl Stream<Item = T> + Unpin, NodeError> {
    // sensor data: best effort, keep last
    node.subscribe::<T>(topic, QosProfile::sensor_data())
        .map_err(ros_err(format!("subscribe {topic}")))
}

fn publisher<T: r2r::WrappedTypesupport>(
    node: &mut r2r::Node,
    topic: &str,
) -> Result<Publisher<T>, NodeError> {
    node.create_publisher::<T>(topic, QosProfile::default())
        .map_err(ros_err(format!("publisher {topic}")))
}

/// The subscription callback: message → frame → slot. Nothing else.
fn forward<T: 'static>(
    stream: impl Stream<Item = T> + Unpin + 'static,
    input: CameraInput,
    to_frame: impl Fn(T) -> Arrived + 'static,
) -> impl std::future::Future<Output = ()> {
    stream.for_each(move |msg| {
        input.push(to_frame(msg));
        future::ready(())
    })
}

struct CameraPublishers {
    detections: Publisher<Detection2DArray>,
    detections_3d: Publisher<Detection3DArray>,
    debug_image: Option<Publisher<Image>>,
}

struct RosSink {
    cameras: Vec<CameraPublishers>,
}

fn log_publish_error(topic: &str, result: Result<(), r2r::Error>) {
    if let Err(e) = result {
        tracing::warn!("publishing on {topic}: {e}");
    }
}

impl Sink for RosSink {
    fn publish(&mut self, out: &Output) {
        let Some(pubs) = self.cameras.get(out.camera) else {
            return;
        };
        let (d2, d3) = msgs::detection_arrays(out);
        log_publish_error("detections", pubs.detections.publish(&d2));
        log_publish_error("detections_3d", pubs.detections_3d.publish(&d3));
        if let (Some(publisher), Some(img)) = (&pubs.debug_image, &out.debug_image) {
            log_publish_error(
                "detections_image",
                publisher.publish(&msgs::debug_image(out, img)),
            );
        }
    }
}
