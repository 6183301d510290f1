//! Camera frames out of a bag, decoded on worker threads so the consumer (the detector)
//! never waits for storage reads, CDR decoding or JPEG/PNG decompression.
//!
//! One thread reads messages in bag order and numbers them; `workers` threads decode;
//! the iterator hands frames back in bag order (a small reorder buffer), each with its
//! topic, per-topic index and header. Memory is capped twice: bounded channels limit the
//! frames in flight, and a byte budget ([`FrameOptions::max_bytes`]) what they weigh
//! once decoded, so a bag of decompression bombs cannot fill memory 16 frames at a time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::{bounded, Receiver};

use crate::msgs::{CompressedImage, Header, Image};
use crate::pixels::decode_compressed;
use crate::{with_causes, Bag, BagError, BagInfo, RawMessage};

const IMAGE: &str = "sensor_msgs/msg/Image";
const COMPRESSED: &str = "sensor_msgs/msg/CompressedImage";

/// The topics of a bag that carry images, in name order.
pub fn image_topics(info: &BagInfo) -> Vec<String> {
    info.topics
        .iter()
        .filter(|t| t.type_name == IMAGE || t.type_name == COMPRESSED)
        .map(|t| t.name.clone())
        .collect()
}

/// 8-bit interleaved pixels; raw images keep their message buffer (no copy) and `step`.
#[derive(Debug, Clone)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub step: usize,
    /// ROS encoding: whatever a raw image says (`rgb8`, `bgr8`, `mono8`, ...), `rgb8` for
    /// decompressed ones.
    pub encoding: String,
    buf: Vec<u8>,
    offset: usize,
}

impl Pixels {
    pub fn data(&self) -> &[u8] {
        &self.buf[self.offset..]
    }

    /// The pixel bytes, owned (the message's buffer, less what came before the pixels).
    pub fn into_data(mut self) -> Vec<u8> {
        self.buf.drain(..self.offset);
        self.buf
    }
}

/// One decoded image message.
#[derive(Debug, Clone)]
pub struct Frame {
    pub topic: Arc<str>,
    /// Position within its topic (as in [`RawMessage::index`]).
    pub index: u64,
    pub log_time_ns: u64,
    pub header: Header,
    /// Whether the message was a `CompressedImage`.
    pub compressed: bool,
    pub pixels: Pixels,
}

fn bad(raw: &RawMessage, reason: String) -> BagError {
    BagError::BadImage {
        path: raw.path.to_path_buf(),
        topic: raw.topic.to_string(),
        index: raw.index,
        reason,
    }
}

/// Decodes one image message (raw or compressed) into a [`Frame`].
pub fn decode_frame(raw: RawMessage) -> Result<Frame, BagError> {
    if &*raw.type_name == COMPRESSED {
        let msg: CompressedImage = raw.decode()?;
        let img = decode_compressed(&msg).map_err(|e| bad(&raw, with_causes(&e)))?;
        let pixels = Pixels {
            width: img.width,
            height: img.height,
            step: img.width as usize * 3,
            encoding: img.encoding.into(),
            buf: img.data,
            offset: 0,
        };
        let header = msg.header;
        return Ok(Frame {
            topic: raw.topic,
            index: raw.index,
            log_time_ns: raw.log_time_ns,
            header,
            compressed: true,
            pixels,
        });
    }
    let msg: Image = raw.decode()?;
    // The node's rule: exactly step × height bytes.
    sightline_types::pixels::check_dimensions(msg.width, msg.height)
        .map_err(|e| bad(&raw, e.to_string()))?;
    sightline_types::pixels::check_raw_size(msg.data.len(), msg.step, msg.height)
        .map_err(|e| bad(&raw, e.to_string()))?;
    // `data` borrows from `raw.data`: keep that buffer and remember where the pixels start.
    let offset = msg.data.as_ptr() as usize - raw.data.as_ptr() as usize;
    let Image {
        header,
        width,
        height,
        step,
        encoding,
        ..
    } = msg;
    let RawMessage {
        topic,
        index,
        log_time_ns,
        data,
        ..
    } = raw;
    let pixels = Pixels {
        width,
        height,
        step: step as usize,
        encoding,
        buf: data,
        offset,
    };
    Ok(Frame {
        topic,
        index,
        log_time_ns,
        header,
        compressed: false,
        pixels,
    })
}

/// Default byte budget of the frames between the bag reader and the consumer
/// (`MAX_BYTES_IN_FLIGHT`): 512 MiB, e.g. 40 decoded 1920×1080 rgb8 frames.
pub const MAX_BYTES_IN_FLIGHT: usize = 512 << 20;

/// Bytes reserved by frames on their way to the consumer. The reader reserves in bag
/// order and the consumer releases in bag order, so the oldest frame always gets through;
/// one frame over the whole budget still passes alone.
struct Budget {
    used: Mutex<usize>,
    freed: Condvar,
    limit: usize,
}

impl Budget {
    /// Waits until `bytes` fit (or nothing else is in flight); `false` if stopped first.
    fn reserve(&self, bytes: usize, stop: &AtomicBool) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && used.saturating_add(bytes) > self.limit {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            used = self
                .freed
                .wait_timeout(used, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *used += bytes;
        true
    }

    fn release(&self, bytes: usize) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(bytes);
        self.freed.notify_all();
    }
}

/// What a message will weigh once decoded: its bytes, plus for a compressed image the
/// rgb8 pixels its header claims (capped by the pixel limit, which decoding enforces).
fn weight(raw: &RawMessage) -> usize {
    let pixels = if &*raw.type_name == COMPRESSED {
        raw.decode::<CompressedImage>()
            .ok()
            .and_then(|m| sightline_types::pixels::claimed_size(m.data))
            .map_or(0, |(w, h)| {
                let px =
                    (u64::from(w) * u64::from(h)).min(sightline_types::pixels::MAX_IMAGE_PIXELS);
                3 * px as usize
            })
    } else {
        0
    };
    raw.data.len() + pixels
}

/// Options of [`Frames::spawn`].
#[derive(Debug, Clone)]
pub struct FrameOptions {
    /// Topics to decode; empty means every image topic.
    pub topics: Vec<String>,
    /// Decode threads (at least 1).
    pub workers: usize,
    /// Messages queued ahead of the consumer.
    pub queue: usize,
    /// Bytes those messages may weigh decoded (see [`MAX_BYTES_IN_FLIGHT`]).
    pub max_bytes: usize,
}

impl Default for FrameOptions {
    fn default() -> Self {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8));
        FrameOptions {
            topics: Vec::new(),
            workers,
            queue: 16,
            max_bytes: MAX_BYTES_IN_FLIGHT,
        }
    }
}

/// A message's number in bag order, its reserved bytes, and it.
type Numbered<T> = (u64, usize, Result<T, BagError>);

/// Decoded frames in bag order; see the module docs. Dropping it stops the threads.
pub struct Frames {
    done: Option<Receiver<Numbered<Frame>>>,
    pending: BTreeMap<u64, (usize, Result<Frame, BagError>)>,
    next: u64,
    stop: Arc<AtomicBool>,
    budget: Arc<Budget>,
    threads: Vec<JoinHandle<()>>,
    total: u64,
}

impl Frames {
    pub fn spawn(bag: &Bag, options: &FrameOptions) -> Result<Frames, BagError> {
        let topics = if options.topics.is_empty() {
            image_topics(bag.info())
        } else {
            options.topics.clone()
        };
        let total = topics
            .iter()
            .filter_map(|t| bag.info().topic(t))
            .map(|t| t.message_count)
            .fold(0, u64::saturating_add); // claimed counts: see BagInfo::message_count
        let messages = bag.messages(&topics)?;
        let stop = Arc::new(AtomicBool::new(false));
        let budget = Arc::new(Budget {
            used: Mutex::new(0),
            freed: Condvar::new(),
            limit: options.max_bytes,
        });
        let (work_tx, work_rx) = bounded::<Numbered<RawMessage>>(options.queue.max(1));
        let (done_tx, done_rx) = bounded::<Numbered<Frame>>(options.queue.max(1));
        let mut threads = Vec::new();
        let (reader_stop, reader_budget) = (stop.clone(), budget.clone());
        threads.push(std::thread::spawn(move || {
            for (seq, message) in (0u64..).zip(messages) {
                let bytes = message.as_ref().map_or(0, weight);
                if !reader_budget.reserve(bytes, &reader_stop)
                    || reader_stop.load(Ordering::Relaxed)
                    || work_tx.send((seq, bytes, message)).is_err()
                {
                    break;
                }
            }
        }));
        for _ in 0..options.workers.max(1) {
            let (rx, tx) = (work_rx.clone(), done_tx.clone());
            threads.push(std::thread::spawn(move || {
                for (seq, bytes, message) in rx {
                    if tx
                        .send((seq, bytes, message.and_then(decode_frame)))
                        .is_err()
                    {
                        break;
                    }
                }
            }));
        }
        Ok(Frames {
            done: Some(done_rx),
            pending: BTreeMap::new(),
            next: 0,
            stop,
            budget,
            threads,
            total,
        })
    }

    /// Image messages on the selected topics, per the bag's metadata (for progress and ETA).
    pub fn total(&self) -> u64 {
        self.total
    }
}

impl Iterator for Frames {
    type Item = Result<Frame, BagError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((bytes, item)) = self.pending.remove(&self.next) {
                self.next += 1;
                self.budget.release(bytes);
                return Some(item);
            }
            match self.done.as_ref()?.recv() {
                Ok((seq, bytes, item)) => {
                    self.pending.insert(seq, (bytes, item));
                }
                // All threads finished; every number was delivered, so nothing is pending.
                Err(_) => {
                    let (_, (bytes, item)) = self.pending.pop_first()?;
                    self.budget.release(bytes);
                    return Some(item);
                }
            }
        }
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.budget.freed.notify_all();
        // Closing the result channel makes blocked workers fail their send and exit; they
        // drop the work receiver, which unblocks the reader.
        self.done = None;
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                tracing::error!("a frame decoding thread panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::to_cdr;
    use std::path::Path;

    fn message(type_name: &str, data: Vec<u8>) -> RawMessage {
        RawMessage {
            path: Arc::from(Path::new("test.mcap")),
            topic: Arc::from("/cam/image_raw"),
            type_name: Arc::from(type_name),
            log_time_ns: 0,
            index: 3,
            data,
        }
    }

    fn image(len: usize) -> RawMessage {
        let data = vec![7u8; len];
        let msg = Image {
            header: Header::default(),
            height: 2,
            width: 4,
            encoding: "rgb8".into(),
            is_bigendian: 0,
            step: 12,
            data: &data,
        };
        message(IMAGE, to_cdr(&msg))
    }

    #[test]
    fn the_byte_budget_holds_back_the_reader_but_never_the_oldest_frame() {
        let budget = Arc::new(Budget {
            used: Mutex::new(0),
            freed: Condvar::new(),
            limit: 100,
        });
        let stop = AtomicBool::new(false);
        // Alone, a frame over the whole budget passes.
        assert!(budget.reserve(250, &stop));
        let (b, started) = (budget.clone(), std::time::Instant::now());
        let waiter = std::thread::spawn(move || {
            let stop = AtomicBool::new(false);
            assert!(b.reserve(10, &stop));
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(300));
        budget.release(250);
        let waited = waiter.join().unwrap();
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
        assert_eq!(*budget.used.lock().unwrap(), 10);
        // A stopped reader gives up instead of waiting for ever.
        stop.store(true, Ordering::Relaxed);
        assert!(!budget.reserve(95, &stop));
    }

    #[test]
    fn a_compressed_frame_weighs_its_claimed_pixels() {
        let img = image::RgbImage::from_fn(64, 32, |x, _| image::Rgb([x as u8, 0, 0]));
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let png = png.into_inner();
        let msg = CompressedImage {
            header: Header::default(),
            format: "png".into(),
            data: &png,
        };
        let raw = message(COMPRESSED, to_cdr(&msg));
        assert_eq!(weight(&raw), raw.data.len() + 64 * 32 * 3);
        let raw = image(24);
        assert_eq!(weight(&raw), raw.data.len());
    }

    /// The node's rule: exactly step × height bytes, neither fewer nor more.
    #[test]
    fn raw_images_hold_exactly_step_times_height() {
        let frame = decode_frame(image(24)).unwrap();
        assert_eq!(frame.pixels.into_data(), vec![7u8; 24]);
        for len in [23, 36] {
            let err = decode_frame(image(len)).unwrap_err().to_string();
            assert!(
                err.contains(&format!("{len} bytes")) && err.contains("#3"),
                "{err}"
            );
        }
    }
}
