//! An ONNX model from bytes: protobuf decode, graph build (shapes, attributes, fusion)
//! and buffer planning, everything `Model::load` does before it touches a device.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sightline_engine::check_model_bytes(data);
});
