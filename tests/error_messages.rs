//! The CLI's error messages name each cause once: `main` prints the anyhow chain
//! (`{:#}`), so a library error must not repeat its source in its own message.

mod common;

#[test]
fn corrupt_mcap_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.mcap");
    // MCAP magic, then a private record (opcode 0x8b) longer than any file
    let mut bytes = b"\x89MCAP0\r\n".to_vec();
    bytes.push(0x8b);
    bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
    bytes.extend_from_slice(&[0; 16]);
    std::fs::write(&path, &bytes).unwrap();

    let out = common::sightline()
        .args(["bag", "info"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: {}: corrupted or truncated MCAP before the first message: \
             record with opcode 8b length exceeds limit: `{}`",
            path.display(),
            1u64 << 40
        )
    );
}

#[test]
fn a_bad_tiling_value_is_named_before_the_model_loads() {
    let out = common::sightline()
        .args([
            "detect",
            "--tiling",
            "grid:3",
            "--model",
            "/no/such.onnx",
            "x.png",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--tiling")
            && stderr.contains("tiling \"grid:3\": a grid is COLSxROWS")
            && !stderr.contains("/no/such.onnx"),
        "{stderr}"
    );
}
