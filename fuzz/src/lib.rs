//! What the fuzz targets share: a scratch folder for the readers that take paths.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A folder of this process's own, made once and reused: each run overwrites the files
/// it needs, so a run costs a file write, not a mkdir. It lies under
/// `SIGHTLINE_FUZZ_SCRATCH`, which `scripts/fuzz.sh` makes and removes (libFuzzer ends
/// the process with `exit`, so nothing here would run to clean up), or else on tmpfs
/// where there is one.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if let Some(dir) = std::env::var_os("SIGHTLINE_FUZZ_SCRATCH") {
            PathBuf::from(dir)
        } else if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("sightline-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    })
}

/// Writes `bytes` to `name` in the scratch folder and returns its path.
pub fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    std::fs::write(&path, bytes).expect("scratch file");
    path
}

/// Splits the first byte off as a selector (0 when empty).
pub fn selector(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((&first, rest)) => (first, rest),
        None => (0, data),
    }
}

/// Opens a bag file and reads it as replay does: every message, image messages decoded
/// to pixels, camera infos decoded. Errors are fine; panics, hangs and huge
/// allocations are what the fuzzer looks for.
pub fn read_bag(path: &Path) {
    use sightline_bag::frames::decode_frame;
    use sightline_bag::msgs::CameraInfo;
    let Ok(bag) = sightline_bag::Bag::open(path) else {
        return;
    };
    let _ = bag.info().message_count();
    let Ok(messages) = bag.messages(&[]) else {
        return;
    };
    for message in messages.take(256) {
        let Ok(message) = message else {
            continue;
        };
        match &*message.type_name {
            "sensor_msgs/msg/Image" | "sensor_msgs/msg/CompressedImage" => {
                let _ = decode_frame(message);
            }
            "sensor_msgs/msg/CameraInfo" => {
                let _ = message.decode::<CameraInfo>();
            }
            _ => {}
        }
    }
}
