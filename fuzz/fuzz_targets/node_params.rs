//! The node's parameters as rcl hands them over (a flat name → typed value map), then
//! validation into a `NodeConfig` and its warnings. The input is one `name=value` per
//! line; the value's form gives its type (true/false, integer, double, `[a,b]` string
//! array, `~type` another type, else string), as a params YAML would.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sightline_ros::{NodeConfig, ParamValue, RawParams};

fn value(text: &str) -> ParamValue {
    if let Ok(b) = text.parse::<bool>() {
        return ParamValue::Bool(b);
    }
    if let Ok(i) = text.parse::<i64>() {
        return ParamValue::Integer(i);
    }
    if let Ok(d) = text.parse::<f64>() {
        return ParamValue::Double(d);
    }
    if let Some(list) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return ParamValue::StringArray(list.split(',').map(str::to_string).collect());
    }
    if text.starts_with('~') {
        return ParamValue::Other("double array");
    }
    ParamValue::String(text.to_string())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let params: RawParams = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, v)| (name.to_string(), value(v)))
        .collect();
    if let Ok(config) = NodeConfig::from_params(&params, Path::new("/work")) {
        let _ = config.warnings();
        for camera in &config.cameras {
            let _ = (camera.input_topic(), camera.calibration_parameter());
        }
    }
});
