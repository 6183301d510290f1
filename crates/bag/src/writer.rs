//! Writing a rosbag2 directory with MCAP storage: `metadata.yaml` + `<name>_0.mcap`
//! (profile `ros2`, `ros2msg` schemas, `cdr` messages, uncompressed chunks).
//!
//! The MCAP summary and `metadata.yaml` are written by [`BagWriter::finish`], or on drop if
//! the writer is abandoned (an error, or a replay stopped by Ctrl-C), so the bag always holds
//! what was written before. A process killed outright (SIGKILL, power loss) writes neither:
//! its file is then readable by a streaming MCAP reader up to the last closed chunk, and
//! [`BagWriter::checkpoint`] bounds what that loses (docs/replay.md).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::error::{BagError, Position};
use crate::metadata::{FileInfo, Metadata, Nanoseconds, SinceEpoch, TopicMetadata, TopicWithCount};
use crate::msgs::{to_cdr, Message};

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
    mcap: Option<mcap::Writer<BufWriter<File>>>,
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
            .chunk_size(Some(CHUNK_BYTES));
        let mcap = options
            .create(BufWriter::new(file))
            .map_err(|source| BagError::Mcap {
                path: path.clone(),
                position: Position::BeforeFirstMessage,
                source,
            })?;
        Ok(BagWriter {
            dir,
            file_name,
            mcap: Some(mcap),
            topics: Vec::new(),
            range: None,
            last_checkpoint: std::time::Instant::now(),
        })
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
        let result = match self.mcap.as_mut() {
            Some(mcap) => mcap.flush(),
            None => Ok(()),
        };
        result.map_err(|e| self.mcap_error(e))
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
        if let Some(i) = self
            .topics
            .iter()
            .position(|t| t.name == name && t.type_name == type_name)
        {
            return Ok(TopicId(i));
        }
        let unknown = || BagError::UnknownType {
            path: self.dir.clone(),
            topic: name.into(),
            type_name: type_name.into(),
        };
        let schema = crate::msgdef::schema_text(type_name).ok_or_else(unknown)?;
        let Some(mcap) = self.mcap.as_mut() else {
            return Err(unknown());
        };
        let channel = mcap
            .add_schema(type_name, "ros2msg", schema.as_bytes())
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
        let (start, end) = self.range.unwrap_or((0, 0));
        let message_count = self.topics.iter().map(|t| t.count).sum();
        let since_epoch = SinceEpoch {
            nanoseconds_since_epoch: i64::try_from(start).unwrap_or(i64::MAX),
        };
        let duration = Nanoseconds {
            nanoseconds: end - start,
        };
        let metadata = Metadata {
            version: 9,
            storage_identifier: "mcap".into(),
            duration,
            starting_time: since_epoch,
            message_count,
            topics_with_message_count: self
                .topics
                .iter()
                .map(|t| TopicWithCount {
                    topic_metadata: TopicMetadata {
                        name: t.name.clone(),
                        type_name: t.type_name.clone(),
                        serialization_format: "cdr".into(),
                        offered_qos_profiles: serde_yaml::Value::Sequence(Vec::new()),
                        type_description_hash: Some(String::new()),
                    },
                    message_count: t.count,
                })
                .collect(),
            compression_format: String::new(),
            compression_mode: String::new(),
            relative_file_paths: vec![self.file_name.clone()],
            files: Some(vec![FileInfo {
                path: self.file_name.clone(),
                starting_time: since_epoch,
                duration,
                message_count,
            }]),
            custom_data: Some(serde_yaml::Value::Mapping(Default::default())),
            ros_distro: Some(String::new()),
        };
        metadata.store(&self.dir)
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
