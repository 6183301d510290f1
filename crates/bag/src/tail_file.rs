//! The file under an output bag's MCAP writer, kept readable by ordinary MCAP readers
//! after the process is killed.
//!
//! Readers that seek (the `mcap` package's `make_reader`, `rosbags`) start from the
//! footer at the end of the file; a file cut off mid-record has none, and they refuse it
//! outright. So the bytes written since the last commit stay in memory, and each commit
//! writes them followed by a *provisional end*: a footer with no summary plus the closing
//! magic, which tells those readers to scan the data section linearly. The next commit
//! overwrites the provisional end with new records and a new provisional end, in one
//! write at the same position, so a SIGKILL leaves either the old or the new state.
//! [`TailFile::close`] writes the real summary and footer in its place.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

/// MCAP footer (opcode 0x02, length 20, `summary_start` 0, `summary_offset_start` 0,
/// `summary_crc` 0) and the closing magic.
const PROVISIONAL_END: [u8; 37] = {
    let mut end = [0u8; 37];
    end[0] = 0x02;
    end[1] = 20;
    let magic = *b"\x89MCAP0\r\n";
    let mut i = 0;
    while i < magic.len() {
        end[29 + i] = magic[i];
        i += 1;
    }
    end
};

/// Bytes held back before they are written without waiting for a commit (large writers
/// such as `bag from-images` never commit between chunks; memory stays bounded and the
/// file is then readable only by streaming readers until the next commit).
const MAX_PENDING_BYTES: usize = 8 << 20;

pub(crate) struct TailFile {
    file: File,
    /// Length of the data committed (the provisional end follows it).
    committed: u64,
    pending: Vec<u8>,
}

impl TailFile {
    pub fn new(file: File) -> TailFile {
        TailFile {
            file,
            committed: 0,
            pending: Vec::new(),
        }
    }

    fn write_pending(&mut self, provisional_end: bool) -> io::Result<()> {
        let data_len = self.pending.len() as u64;
        if provisional_end {
            self.pending.extend_from_slice(&PROVISIONAL_END);
        }
        self.file.seek(SeekFrom::Start(self.committed))?;
        self.file.write_all(&self.pending)?;
        self.committed += data_len;
        self.pending.clear();
        Ok(())
    }

    /// Writes what is pending and ends the file there (the finished MCAP's own footer).
    pub fn close(mut self) -> io::Result<()> {
        self.write_pending(false)?;
        self.file.set_len(self.committed)?;
        self.file.flush()
    }
}

impl Write for TailFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() > MAX_PENDING_BYTES {
            self.write_pending(false)?;
        }
        Ok(buf.len())
    }

    /// A commit: the MCAP writer flushes only between records (after closing a chunk).
    fn flush(&mut self) -> io::Result<()> {
        self.write_pending(true)
    }
}

/// Only the position is asked for (`stream_position`): the MCAP writer runs with
/// seeking disabled and keeps chunks in memory until they are complete.
impl Seek for TailFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match pos {
            SeekFrom::Current(0) => Ok(self.committed + self.pending.len() as u64),
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "an output bag is written front to back",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(dir: &tempfile::TempDir) -> Vec<u8> {
        std::fs::read(dir.path().join("f")).unwrap()
    }

    #[test]
    fn each_commit_ends_the_file_with_a_footer_that_the_next_one_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let mut tail = TailFile::new(File::create(dir.path().join("f")).unwrap());
        tail.write_all(b"magic+header").unwrap();
        assert!(contents(&dir).is_empty(), "nothing before a commit");
        tail.flush().unwrap();
        assert_eq!(
            contents(&dir),
            [&b"magic+header"[..], &PROVISIONAL_END].concat()
        );
        tail.write_all(b"chunk").unwrap();
        assert_eq!(tail.stream_position().unwrap(), 17);
        tail.flush().unwrap();
        let want = [&b"magic+headerchunk"[..], &PROVISIONAL_END].concat();
        assert_eq!(contents(&dir), want);
        tail.write_all(b"summary").unwrap();
        tail.close().unwrap();
        assert_eq!(contents(&dir), b"magic+headerchunksummary");
    }

    #[test]
    fn the_provisional_end_is_a_footer_without_summary_and_the_magic() {
        assert_eq!(&PROVISIONAL_END[..9], b"\x02\x14\0\0\0\0\0\0\0");
        assert!(PROVISIONAL_END[9..29].iter().all(|&b| b == 0));
        assert_eq!(&PROVISIONAL_END[29..], b"\x89MCAP0\r\n");
    }
}
