//! One MCAP storage file: indexed reading in log-time order when the file has a summary,
//! a linear scan (file order) when it does not, e.g. a recording cut short.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use mcap::sans_io::indexed_reader::{IndexedReadEvent, IndexedReader, IndexedReaderOptions};
use mcap::sans_io::summary_reader::{SummaryReadEvent, SummaryReader, SummaryReaderOptions};
use mcap::sans_io::LinearReaderOptions;
use mcap::{McapError, McapResult, Summary};

use super::{Contents, Stored, TopicInfo};

/// `(topic, type)` per channel.
type ChannelNames = HashMap<u16, (Arc<str>, Arc<str>)>;

pub(crate) enum McapFile {
    Indexed {
        file: File,
        file_len: u64,
        reader: IndexedReader,
        channels: ChannelNames,
        buf: Vec<u8>,
    },
    Linear {
        reader: mcap::io::MessageReader<BufReader<File>>,
        topics: Option<BTreeSet<String>>,
    },
}

fn open(path: &Path) -> std::io::Result<(File, u64)> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    Ok((file, len))
}

/// The summary section, `None` when the file has none (or no readable footer).
fn read_summary(file: &mut File, file_len: u64) -> McapResult<Option<Summary>> {
    let limit = usize::try_from(file_len).unwrap_or(usize::MAX);
    let options = SummaryReaderOptions::default()
        .with_file_size(file_len)
        .with_record_length_limit(limit);
    let mut reader = SummaryReader::new_with_options(options);
    while let Some(event) = reader.next_event() {
        match event? {
            SummaryReadEvent::ReadRequest(need) => {
                let n = file.read(reader.insert(need))?;
                reader.notify_read(n);
            }
            SummaryReadEvent::SeekRequest(to) => reader.notify_seeked(file.seek(to)?),
        }
    }
    Ok(reader.finish())
}

fn channel_names(summary: &Summary) -> ChannelNames {
    summary
        .channels
        .iter()
        .map(|(&id, ch)| {
            let ty = ch.schema.as_ref().map(|s| s.name.as_str()).unwrap_or("");
            (id, (Arc::from(ch.topic.as_str()), Arc::from(ty)))
        })
        .collect()
}

impl McapFile {
    /// `topics`: only these (all when `None`).
    pub fn open(path: &Path, topics: Option<&BTreeSet<String>>) -> McapResult<McapFile> {
        let (mut file, file_len) = open(path)?;
        // A file without a footer (cut short) has no summary: fall back to a linear scan.
        let summary = read_summary(&mut file, file_len).unwrap_or(None);
        match summary {
            Some(summary) if !summary.chunk_indexes.is_empty() => {
                let mut options = IndexedReaderOptions::new();
                if let Some(topics) = topics {
                    options = options.include_topics(topics.iter().cloned());
                }
                let limit = usize::try_from(file_len).unwrap_or(usize::MAX);
                let reader = IndexedReader::new_with_options(
                    &summary,
                    options.with_record_length_limit(limit),
                )?;
                Ok(McapFile::Indexed {
                    file,
                    file_len,
                    reader,
                    channels: channel_names(&summary),
                    buf: Vec::new(),
                })
            }
            _ => {
                file.seek(SeekFrom::Start(0))?;
                Ok(McapFile::linear(file, file_len, topics.cloned()))
            }
        }
    }

    fn linear(file: File, file_len: u64, topics: Option<BTreeSet<String>>) -> McapFile {
        let limit = usize::try_from(file_len).unwrap_or(usize::MAX);
        let options = LinearReaderOptions::default().with_record_length_limit(limit);
        let reader = mcap::io::MessageReader::new_with_options(BufReader::new(file), options);
        McapFile::Linear { reader, topics }
    }

    pub fn next_message(&mut self) -> Option<McapResult<Stored>> {
        match self {
            McapFile::Indexed {
                file,
                file_len,
                reader,
                channels,
                buf,
            } => loop {
                match reader.next_event()? {
                    Err(e) => return Some(Err(e)),
                    Ok(IndexedReadEvent::ReadChunkRequest { offset, length }) => {
                        // The index says where the chunk is; check before allocating.
                        if offset.saturating_add(length as u64) > *file_len {
                            return Some(Err(McapError::UnexpectedEof));
                        }
                        buf.resize(length, 0);
                        let read = file
                            .seek(SeekFrom::Start(offset))
                            .and_then(|_| file.read_exact(buf));
                        if let Err(e) = read {
                            return Some(Err(e.into()));
                        }
                        if let Err(e) = reader.insert_chunk_record_data(offset, buf) {
                            return Some(Err(e));
                        }
                    }
                    Ok(IndexedReadEvent::Message { header, data }) => {
                        let Some((topic, type_name)) = channels.get(&header.channel_id) else {
                            return Some(Err(McapError::UnknownChannel(0, header.channel_id)));
                        };
                        return Some(Ok(Stored {
                            topic: topic.clone(),
                            type_name: type_name.clone(),
                            log_time_ns: header.log_time,
                            data: data.to_vec(),
                        }));
                    }
                }
            },
            McapFile::Linear { reader, topics } => loop {
                let message = match reader.next()? {
                    Ok(m) => m,
                    Err(e) => return Some(Err(e)),
                };
                if topics
                    .as_ref()
                    .is_some_and(|t| !t.contains(&message.channel.topic))
                {
                    continue;
                }
                let ty = message
                    .channel
                    .schema
                    .as_ref()
                    .map(|s| s.name.as_str())
                    .unwrap_or("");
                return Some(Ok(Stored {
                    topic: Arc::from(message.channel.topic.as_str()),
                    type_name: Arc::from(ty),
                    log_time_ns: message.log_time,
                    data: message.data.into_owned(),
                }));
            },
        }
    }
}

/// Topics, counts and time range of a single `.mcap` file, from its summary or by a scan.
pub(crate) fn summarize(path: &Path) -> McapResult<Contents> {
    let (mut file, file_len) = open(path)?;
    if let Ok(Some(summary)) = read_summary(&mut file, file_len) {
        if let Some(stats) = &summary.stats {
            let mut topics: Vec<TopicInfo> = summary
                .channels
                .values()
                .map(|ch| TopicInfo {
                    name: ch.topic.clone(),
                    type_name: ch
                        .schema
                        .as_ref()
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                    serialization_format: ch.message_encoding.clone(),
                    message_count: stats
                        .channel_message_counts
                        .get(&ch.id)
                        .copied()
                        .unwrap_or(0),
                })
                .collect();
            topics.sort_by(|a, b| a.name.cmp(&b.name));
            let range = (stats.message_count > 0)
                .then_some((stats.message_start_time, stats.message_end_time));
            return Ok((topics, range));
        }
    }
    file.seek(SeekFrom::Start(0))?;
    let mut reader = McapFile::linear(file, file_len, None);
    let mut topics: Vec<TopicInfo> = Vec::new();
    let mut range: Option<(u64, u64)> = None;
    while let Some(message) = reader.next_message() {
        let m = message?;
        let t = m.log_time_ns;
        range = Some(range.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
        match topics.iter_mut().find(|x| *x.name == *m.topic) {
            Some(info) => info.message_count += 1,
            None => topics.push(TopicInfo {
                name: m.topic.to_string(),
                type_name: m.type_name.to_string(),
                serialization_format: "cdr".into(),
                message_count: 1,
            }),
        }
    }
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((topics, range))
}
