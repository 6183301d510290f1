//! Damaged bags give errors that name the file, topic and message index.

mod common;

use sightline_bag::msgs::Image;
use sightline_bag::{with_causes, Bag, BagError, Position};

/// A copy of the fixture bag of one storage, to damage.
fn copy_of(storage: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, _) = common::fixtures();
    let bag = dir.path().join(format!("damaged_{storage}"));
    common::copy_dir(&dir.path().join(storage), &bag);
    (dir, bag)
}

#[test]
fn truncated_mcap_names_file_and_last_good_message() {
    let (_dir, bag) = copy_of("mcap");
    let good: Vec<_> = Bag::open(&bag)
        .unwrap()
        .messages(&[])
        .unwrap()
        .map(|m| m.unwrap())
        .collect();
    let file = common::storage_file(&bag, "mcap");
    let bytes = std::fs::read(&file).unwrap();
    // Cut inside the data section (the fixture's chunks hold a few messages each).
    std::fs::write(&file, &bytes[..bytes.len() * 2 / 3]).unwrap();

    let bag = Bag::open(&bag).unwrap(); // metadata.yaml is intact
    let mut read = Vec::new();
    let mut errors = Vec::new();
    for m in bag.messages(&[]).unwrap() {
        match m {
            Ok(m) => read.push(m),
            Err(e) => errors.push(e),
        }
    }
    assert_eq!(errors.len(), 1, "one error, then the file is given up");
    // Without its summary the file is read in file order (the fixture's is not time order);
    // each message read before the cut is the intact bag's message of that topic and index.
    assert!(
        !read.is_empty() && read.len() < good.len(),
        "read {} of {}",
        read.len(),
        good.len()
    );
    for a in &read {
        let b = good
            .iter()
            .find(|b| b.topic == a.topic && b.index == a.index)
            .unwrap();
        assert_eq!(
            (a.log_time_ns, &a.data),
            (b.log_time_ns, &b.data),
            "{} #{}",
            a.topic,
            a.index
        );
    }
    let err = &errors[0];
    let text = err.to_string();
    assert!(text.contains(&file.display().to_string()), "{text}");
    match (err, read.last()) {
        (
            BagError::Mcap {
                position: Position::After { topic, index },
                ..
            },
            Some(last),
        ) => {
            assert_eq!((topic.as_str(), *index), (&*last.topic, last.index));
            assert!(
                text.contains(&format!("{topic} message #{index}")),
                "{text}"
            );
        }
        (
            BagError::Mcap {
                position: Position::BeforeFirstMessage,
                ..
            },
            None,
        ) => {}
        other => panic!("unexpected {other:?}"),
    }

    // The storage file on its own (no metadata to lean on) fails to open, naming the file.
    let err = Bag::open(&file).unwrap_err().to_string();
    assert!(err.contains(&file.display().to_string()), "{err}");
}

#[test]
fn bad_cdr_length_names_file_topic_and_index() {
    let (_dir, bag) = copy_of("sqlite3");
    let db = common::storage_file(&bag, "db3");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        // Message #1 of /cam_mono/image_raw: set the `data` length to 1 GiB.
        let (id, mut data): (i64, Vec<u8>) = conn
            .query_row(
                "SELECT m.id, m.data FROM messages m JOIN topics t ON t.id = m.topic_id \
                 WHERE t.name = '/cam_mono/image_raw' ORDER BY m.timestamp LIMIT 1 OFFSET 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let img: Image = sightline_bag::msgs::from_cdr(&data).unwrap();
        let len_at = data.len() - img.data.len() - 4;
        data[len_at..len_at + 4].copy_from_slice(&(1u32 << 30).to_le_bytes());
        conn.execute(
            "UPDATE messages SET data = ?1 WHERE id = ?2",
            rusqlite::params![data, id],
        )
        .unwrap();
    }
    let bag = Bag::open(&bag).unwrap();
    let mut errors = Vec::new();
    let mut decoded = 0;
    for m in bag.messages(&["/cam_mono/image_raw".into()]).unwrap() {
        let m = m.unwrap();
        match m.decode::<Image>() {
            Ok(_) => decoded += 1,
            Err(e) => errors.push(e),
        }
    }
    assert_eq!(
        (decoded, errors.len()),
        (2, 1),
        "the other messages still decode"
    );
    let text = with_causes(&errors[0]);
    for part in [
        db.display().to_string(),
        "/cam_mono/image_raw".into(),
        "#1".into(),
        "`data`".into(),
    ] {
        assert!(text.contains(&part), "{part:?} missing in: {text}");
    }
    assert!(matches!(&errors[0], BagError::Decode { index: 1, .. }));
}

#[test]
fn unknown_storage_missing_metadata_and_missing_files() {
    let (_dir, bag) = copy_of("mcap");
    let meta = bag.join("metadata.yaml");
    let text = std::fs::read_to_string(&meta).unwrap();

    std::fs::write(
        &meta,
        text.replace("storage_identifier: mcap", "storage_identifier: rosbag_v3"),
    )
    .unwrap();
    let err = Bag::open(&bag).unwrap_err();
    assert!(
        matches!(&err, BagError::UnknownStorage { id, .. } if id == "rosbag_v3"),
        "{err}"
    );
    assert!(err.to_string().contains(&bag.display().to_string()));

    std::fs::write(
        &meta,
        text.replace("compression_mode: ''", "compression_mode: FILE"),
    )
    .unwrap();
    assert!(matches!(Bag::open(&bag), Err(BagError::Compressed { .. })));

    std::fs::write(&meta, "rosbag2_bagfile_information: {version: 9}\n").unwrap();
    let err = Bag::open(&bag).unwrap_err();
    assert!(matches!(err, BagError::BadMetadata { .. }), "{err}");

    std::fs::remove_file(&meta).unwrap();
    let err = Bag::open(&bag).unwrap_err();
    assert!(matches!(err, BagError::MissingMetadata { .. }), "{err}");
    assert!(err.to_string().contains("metadata.yaml"));

    std::fs::write(&meta, &text).unwrap();
    let file = common::storage_file(&bag, "mcap");
    std::fs::remove_file(&file).unwrap();
    let err = Bag::open(&bag).unwrap_err().to_string();
    assert!(err.contains(&file.display().to_string()), "{err}");

    let err = Bag::open(bag.join("nothing_here")).unwrap_err();
    assert!(matches!(err, BagError::Io { .. }));
}

/// Found by `fuzz/bag_mcap`: inside an uncompressed chunk, a record whose length runs past
/// the chunk's end made mcap 0.26's linear reader subtract past zero (a panic in debug
/// builds, reads beyond the chunk in release). third_party/mcap refuses it.
#[test]
fn a_record_longer_than_its_chunk_is_an_error_naming_the_file() {
    let (_dir, bag) = copy_of("mcap");
    let file = common::storage_file(&bag, "mcap");
    let mut bytes = std::fs::read(&file).unwrap();
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());

    // Top-level records after the 8-byte magic: opcode (u8), length (u64 LE), body.
    let mut at = 8;
    let chunk = loop {
        assert!(at + 9 <= bytes.len(), "no chunk in the fixture");
        let (opcode, len) = (bytes[at], u64_at(&bytes, at + 1) as usize);
        if opcode == 0x06 {
            break at;
        }
        at += 9 + len;
    };
    // Chunk body: start time, end time, uncompressed size (u64 each), crc (u32),
    // compression (u32-length string), records (u64 length + bytes).
    let body = chunk + 9;
    let crc_at = body + 24;
    let compression_len = u32::from_le_bytes(bytes[crc_at + 4..crc_at + 8].try_into().unwrap());
    assert_eq!(compression_len, 0, "the fixture's chunks are uncompressed");
    let records_len_at = crc_at + 8;
    let records_len = u64_at(&bytes, records_len_at);
    // No crc to check, and the chunk's first record claims one byte more than the chunk
    // holds after its opcode and length.
    bytes[crc_at..crc_at + 4].fill(0);
    let first_len_at = records_len_at + 8 + 1;
    bytes[first_len_at..first_len_at + 8].copy_from_slice(&(records_len - 9 + 1).to_le_bytes());
    // The rest of the file stays (the byte past the chunk is there to read, as it was for
    // the fuzzer), but a damaged end magic hides the summary: the file is read linearly.
    let end = bytes.len();
    bytes[end - 8..].fill(0);
    std::fs::write(&file, &bytes).unwrap();

    let bag = Bag::open(&bag).unwrap();
    let results: Vec<_> = bag.messages(&[]).unwrap().collect();
    let errors: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(
        (results.len(), errors.len()),
        (1, 1),
        "no message before the bad record, then one error"
    );
    let text = with_causes(errors[0]);
    assert!(text.contains(&file.display().to_string()), "{text}");
}

/// Found by `fuzz/bag_mcap`: message counts as a file claims them (MCAP statistics,
/// `metadata.yaml`) were added unchecked; two claims near `u64::MAX` overflowed.
#[test]
fn claimed_message_counts_that_add_past_u64_saturate() {
    let (_dir, bag) = copy_of("sqlite3");
    let meta = bag.join("metadata.yaml");
    let text = std::fs::read_to_string(&meta).unwrap();
    let mut claims = 0;
    let edited: String = text
        .lines()
        .map(|line| {
            // Each topic's count (rosbags writes `- message_count: N` items under
            // topics_with_message_count), not the totals.
            if let Some((indent, _)) = line.split_once("- message_count:") {
                claims += 1;
                format!("{indent}- message_count: {}", u64::MAX)
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(claims >= 2, "the fixture has several topics:\n{text}");
    std::fs::write(&meta, edited).unwrap();

    let bag = Bag::open(&bag).unwrap();
    assert_eq!(bag.info().message_count(), u64::MAX);
    let frames = sightline_bag::frames::Frames::spawn(&bag, &Default::default()).unwrap();
    assert_eq!(frames.total(), u64::MAX);
}
