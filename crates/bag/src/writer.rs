//! Writing a rosbag2 directory with MCAP storage: `metadata.yaml` + `<name>_0.mcap`
//! (profile `ros2`, `ros2msg` schemas, `cdr` messages, uncompressed chunks).
//!
//! The MCAP summary and `metadata.yaml` are written by [`BagWriter::finish`], or on drop if
//! the writer is abandoned (an error, or a replay stopped by Ctrl-C), so the bag always holds
//! what was written before. For a process killed outright (SIGKILL), each
//! [`BagWriter::checkpoint`] leaves a valid rosbag2 folder behind: the MCAP file ends in a
//! footer without summary (readers then scan it; [`crate::tail_file`]) and `metadata.yaml`
//! counts what the file holds. `sightline bag recover` makes an indexed copy of such a
//! folder (docs/reliability.md).

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{BagError, Position};
use crate::metadata::{FileInfo, Metadata, Nanoseconds, SinceEpoch};
use crate::msgs::{to_cdr, Message};
use crate::reader::TopicInfo;
use crate::tail_file::TailFile;

/// A topic added with [`BagWriter::add_topic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicId(usize);

struct Topic {
    name: String,
    type_name: String,
    channel: u16,
    count: u64,
}

/// Target size of an MCAP chunk (`CHUNK_BYTES`, the mcap crate's default is 1 MiB): a
/// chunk reaches the file when it is full, or at a [`BagWriter::checkpoint`].
pub const CHUNK_BYTES: u64 = 256 * 1024;
/// How often [`BagWriter::checkpoint`] closes the open chunk (`CHECKPOINT_INTERVAL`).
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

pub struct BagWriter {
    dir: PathBuf,
    file_name: String,
    mcap: Option<mcap::Writer<TailFile>>,
    topics: Vec<Topic>,
    range: Option<(u64, u64)>,
    last_checkpoint: std::time::Instant,
}

impl BagWriter {
    /// Creates the bag directory; it must not exist yet (as with `ros2 bag record -o`).
    pub fn create(dir: impl AsRef<Path>) -> Result<BagWriter, BagError> {
        let dir = dir.as_ref().to_path_buf();
        if dir.exists() {
            return Err(BagError::OutputExists { path: dir });
        }
        std::fs::create_dir_all(&dir).map_err(BagError::io(&dir))?;
        let stem = dir
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty())
            .unwrap_or("bag");
        let file_name = format!("{stem}_0.mcap");
        let path = dir.join(&file_name);
        let file = File::create(&path).map_err(BagError::io(&path))?;
        let options = mcap::WriteOptions::new()
            .profile("ros2")
            .library(concat!("sightline-bag ", env!("CARGO_PKG_VERSION")))
            .compression(None)
            .chunk_size(Some(CHUNK_BYTES))
            // Whole chunks reach the file (TailFile), never a placeholder length.
            .disable_seeking(true);
        let mcap = options
            .create(TailFile::new(file))
            .map_err(|source| BagError::Mcap {
                path: path.clone(),
                position: Position::BeforeFirstMessage,
                source,
            })?;
        let mut writer = BagWriter {
            dir,
            file_name,
            mcap: Some(mcap),
            topics: Vec::new(),
            range: None,
            last_checkpoint: std::time::Instant::now(),
        };
        // A valid, empty bag from the start: a folder killed before its first checkpoint
        // still opens.
        writer.commit()?;
        Ok(writer)
    }

    /// Call between units of output (a replayed frame's messages): when the last
    /// checkpoint is [`CHECKPOINT_INTERVAL`] old, closes the open chunk and flushes it, so
    /// that a writer killed later loses at most that interval's messages, never part of a
    /// unit.
    pub fn checkpoint(&mut self) -> Result<(), BagError> {
        if self.last_checkpoint.elapsed() < CHECKPOINT_INTERVAL {
            return Ok(());
        }
        self.last_checkpoint = std::time::Instant::now();
        self.commit()
    }

    /// A checkpoint now: closes the open chunk, writes it with a provisional end, then
    /// `metadata.yaml` for what the file now holds (in that order, so the metadata never
    /// counts more).
    pub fn commit(&mut self) -> Result<(), BagError> {
        let result = match self.mcap.as_mut() {
            Some(mcap) => mcap.flush(),
            None => return Ok(()),
        };
        result.map_err(|e| self.mcap_error(e))?;
        self.metadata().store(&self.dir)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn mcap_error(&self, source: mcap::McapError) -> BagError {
        let position = match self.topics.iter().rfind(|t| t.count > 0) {
            Some(t) => Position::After {
                topic: t.name.clone(),
                index: t.count - 1,
            },
            None => Position::BeforeFirstMessage,
        };
        BagError::Mcap {
            path: self.dir.join(&self.file_name),
            position,
            source,
        }
    }

    /// Adds a topic of a type whose definition this crate carries (see [`crate::msgdef`]).
    pub fn add_topic(&mut self, name: &str, type_name: &str) -> Result<TopicId, BagError> {
        let Some(schema) = crate::msgdef::schema_text(type_name) else {
            return Err(BagError::UnknownType {
                path: self.dir.clone(),
                topic: name.into(),
                type_name: type_name.into(),
            });
        };
        self.add_topic_with_schema(name, type_name, "ros2msg", schema.as_bytes())
    }

    /// Adds a topic of any type, with its definition as a recording carries it (`bag
    /// recover` copies a recording's topics this way).
    pub fn add_topic_with_schema(
        &mut self,
        name: &str,
        type_name: &str,
        schema_encoding: &str,
        schema: &[u8],
    ) -> Result<TopicId, BagError> {
        if let Some(i) = self
            .topics
            .iter()
            .position(|t| t.name == name && t.type_name == type_name)
        {
            return Ok(TopicId(i));
        }
        let Some(mcap) = self.mcap.as_mut() else {
            return Err(self.mcap_error(mcap::McapError::AttemptedWriteAfterFailure));
        };
        let channel = mcap
            .add_schema(type_name, schema_encoding, schema)
            .and_then(|schema_id| mcap.add_channel(schema_id, name, "cdr", &Default::default()));
        let channel = channel.map_err(|e| self.mcap_error(e))?;
        self.topics.push(Topic {
            name: name.into(),
            type_name: type_name.into(),
            channel,
            count: 0,
        });
        Ok(TopicId(self.topics.len() - 1))
    }

    /// Writes one serialised message (CDR with encapsulation header).
    pub fn write_raw(
        &mut self,
        topic: TopicId,
        log_time_ns: u64,
        cdr: &[u8],
    ) -> Result<(), BagError> {
        let Some(t) = self.topics.get(topic.0) else {
            return Err(BagError::UnknownTopic {
                path: self.dir.clone(),
                topic: format!("#{}", topic.0),
                known: String::new(),
            });
        };
        let header = mcap::records::MessageHeader {
            channel_id: t.channel,
            sequence: u32::try_from(t.count).unwrap_or(u32::MAX),
            log_time: log_time_ns,
            publish_time: log_time_ns,
        };
        let result = match self.mcap.as_mut() {
            Some(mcap) => mcap.write_to_known_channel(&header, cdr),
            None => Err(mcap::McapError::UnexpectedEof),
        };
        result.map_err(|e| self.mcap_error(e))?;
        self.topics[topic.0].count += 1;
        self.range = Some(self.range.map_or((log_time_ns, log_time_ns), |(a, b)| {
            (a.min(log_time_ns), b.max(log_time_ns))
        }));
        Ok(())
    }

    pub fn write<'a, M: Message<'a>>(
        &mut self,
        topic: TopicId,
        log_time_ns: u64,
        message: &M,
    ) -> Result<(), BagError> {
        self.write_raw(topic, log_time_ns, &to_cdr(message))
    }

    /// Finishes the MCAP file and writes `metadata.yaml`; returns the bag directory.
    pub fn finish(mut self) -> Result<PathBuf, BagError> {
        self.finish_inner()?;
        Ok(self.dir.clone())
    }

    fn finish_inner(&mut self) -> Result<(), BagError> {
        let Some(mut mcap) = self.mcap.take() else {
            return Ok(());
        };
        mcap.finish().map_err(|e| self.mcap_error(e))?;
        let path = self.dir.join(&self.file_name);
        mcap.into_inner().close().map_err(BagError::io(&path))?;
        self.metadata().store(&self.dir)
    }

    fn metadata(&self) -> Metadata {
        let topics: Vec<TopicInfo> = self
            .topics
            .iter()
            .map(|t| TopicInfo {
                name: t.name.clone(),
                type_name: t.type_name.clone(),
                serialization_format: "cdr".into(),
                message_count: t.count,
            })
            .collect();
        let (start, end) = self.range.unwrap_or((0, 0));
        let file = FileInfo {
            path: self.file_name.clone(),
            starting_time: SinceEpoch::from_ns(start),
            duration: Nanoseconds {
                nanoseconds: end - start,
            },
            message_count: topics.iter().map(|t| t.message_count).sum(),
        };
        Metadata::describe("mcap", &topics, self.range, vec![file])
    }
}

impl Drop for BagWriter {
    fn drop(&mut self) {
        if self.mcap.is_some() {
            match self.finish_inner() {
                Ok(()) => {
                    tracing::info!(bag = %self.dir.display(), "bag closed early; contents so far are readable")
                }
                Err(e) => tracing::error!("closing {}: {e}", self.dir.display()),
            }
        }
    }
}
