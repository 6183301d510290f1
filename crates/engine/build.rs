//! Generates the ONNX protobuf types from the vendored `proto/onnx.proto` with prost.
//! protox compiles the schema in pure Rust, so no `protoc` is needed on the build machine.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let descriptors = protox::compile(["proto/onnx.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
