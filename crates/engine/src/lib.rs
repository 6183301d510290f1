//! Sightline's inference engine: an ONNX graph, checked and planned once at load, then
//! executed entirely by our own cubecl kernels on any cubecl runtime (wgpu by default:
//! Vulkan/Metal/DX12, or lavapipe on CPU-only machines; CUDA behind the `cuda` feature).
//!
//! ```no_run
//! use sightline_engine::{DeviceChoice, Model};
//! let gpu = DeviceChoice::Auto.open()?;
//! let mut model = Model::load("yolox_nano.onnx".as_ref(), &gpu)?;
//! model.write_input(&vec![0.0; model.input_len()])?;
//! model.run();
//! let output = model.read_output()?;
//! # Ok::<(), sightline_engine::EngineError>(())
//! ```
//!
//! Intermediate values are read back through [`Tap`]s, found by the graph's structure
//! (the inputs of the final convolutions; where the head starts on each level), which
//! the planner keeps out of buffer sharing:
//!
//! ```no_run
//! use sightline_engine::{channel_means, DeviceChoice, Model, Tap};
//! let gpu = DeviceChoice::Auto.open()?;
//! let model = Model::load_for_input_with_taps(
//!     "yolox_nano.onnx".as_ref(), &gpu, &[1, 3, 416, 416], &[Tap::HeadRoots])?;
//! model.run();
//! for (k, tap) in model.taps().enumerate() {
//!     let pooled = channel_means(&model.read_tap(k)?, &tap.shape);
//!     println!("{} ({}): {} channels", tap.value, tap.producer, pooled.len());
//! }
//! # Ok::<(), sightline_engine::EngineError>(())
//! ```

mod device;
mod error;
mod exec;
pub mod kernels;
mod onnx;
mod plan;
mod taps;

pub use device::{DeviceChoice, Gpu};
pub use error::EngineError;
pub use exec::{check_model_bytes, Model, StepTiming};
pub use taps::{channel_means, Tap, TapInfo};

/// Re-exported so that crates writing their own kernels against a [`Gpu`] use the same
/// cubecl version.
pub use cubecl;

/// The ONNX protobuf types (prost, from the vendored `onnx.proto`), for tools that read
/// or write models beside the engine (`sightline-train` appends output channels).
pub mod proto {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}
