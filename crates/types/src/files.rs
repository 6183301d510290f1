//! Output files that are either complete or absent: a process killed while writing (a
//! SIGKILL, a full disk) must not leave a half-written report or shard that a later
//! `sightline eval merge` would read as truth.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `path` through `fill`: into a temporary file beside it, synced, then renamed
/// over `path` (atomic on one file system). When `fill` or a write fails, the temporary
/// file is removed and `path` keeps what it had.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let temporary = temporary_path(path);
    let result = (|| {
        let file = std::fs::File::create(&temporary)?;
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// `dir/.name.partial-PID`: same directory (so the rename stays on one file system),
/// hidden, and one per process.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sightline-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let path = scratch("shard.jsonl");
        std::fs::write(&path, "old\n").unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"half a line")?;
            Err(std::io::Error::other("killed"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "killed");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        assert!(!temporary_path(&path).exists());
    }

    #[test]
    fn a_complete_write_replaces_the_file() {
        let path = scratch("report.json");
        write_atomically(&path, |w| w.write_all(b"{}\n")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n");
        assert!(!temporary_path(&path).exists());
        let missing_dir = scratch("no/such/dir.json");
        assert!(write_atomically(&missing_dir, |w| w.write_all(b"x")).is_err());
    }
}
