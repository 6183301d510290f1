//! A writer that dies without closing its bag (SIGKILL: nothing after the last
//! checkpoint reaches the file, no destructor runs) leaves a folder that ordinary tools
//! open up to that checkpoint, and `recover` turns it into a complete, indexed bag.
//! `std::mem::forget` stands in for the kill: the writer's memory is lost, its file and
//! `metadata.yaml` stay as the last checkpoint left them.

mod common;

use serde_json::Value;
use sightline_bag::msgs::{CompressedImage, Header, Time};
use sightline_bag::recover::recover;
use sightline_bag::BagWriter;
use std::path::Path;

const FIRST_NS: u64 = 1_700_000_000_000_000_000;

/// Writes `n` images 0.1 s apart from `FIRST_NS`, committing after `committed` of them.
fn write_then_die(dir: &Path, n: u64, committed: u64) {
    let mut writer = BagWriter::create(dir).unwrap();
    let topic = writer
        .add_topic("/cam/image/compressed", "sensor_msgs/msg/CompressedImage")
        .unwrap();
    let data = vec![7u8; 3000];
    for i in 0..n {
        let t = FIRST_NS + i * 100_000_000;
        let image = CompressedImage {
            header: Header {
                stamp: Time {
                    sec: (t / 1_000_000_000) as i32,
                    nanosec: (t % 1_000_000_000) as u32,
                },
                frame_id: "cam".into(),
            },
            format: "jpeg".into(),
            data: &data,
        };
        writer.write(topic, t, &image).unwrap();
        if i + 1 == committed {
            writer.commit().unwrap();
        }
    }
    std::mem::forget(writer);
}

fn open_check(dir: &Path) -> Value {
    let out = common::run_script("bag_open_check.py", &[dir]);
    serde_json::from_str(&out).unwrap()
}

fn times(read: &Value, tool: &str) -> Vec<u64> {
    let topics = read[tool].as_object().unwrap();
    assert!(!topics.contains_key("error"), "{tool}: {read}");
    topics
        .get("/cam/image/compressed")
        .map(|t| {
            t.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn expected(n: u64) -> Vec<u64> {
    (0..n).map(|i| FIRST_NS + i * 100_000_000).collect()
}

#[test]
fn a_killed_writers_folder_opens_up_to_its_last_checkpoint_and_recovers_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let killed = tmp.path().join("killed");
    write_then_die(&killed, 9, 5);

    // The folder as the kill left it: both tools read the five committed messages.
    let read = open_check(&killed);
    assert_eq!(times(&read, "rosbags"), expected(5), "{read}");
    assert_eq!(times(&read, "mcap"), expected(5), "{read}");
    assert_eq!(read["mcap_summary"], false, "{read}");

    let recovered = recover(&killed, &tmp.path().join("recovered")).unwrap();
    assert_eq!(recovered.message_count(), 5);
    assert!(recovered.stopped.is_empty(), "{:?}", recovered.stopped);
    let read = open_check(&recovered.output);
    assert_eq!(times(&read, "rosbags"), expected(5), "{read}");
    assert_eq!(times(&read, "mcap"), expected(5), "{read}");
    assert_eq!(read["mcap_summary"], true, "indexed: {read}");
}

#[test]
fn a_writer_killed_before_its_first_message_leaves_an_empty_bag_that_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let killed = tmp.path().join("killed");
    write_then_die(&killed, 3, 0);
    let read = open_check(&killed);
    assert!(times(&read, "rosbags").is_empty(), "{read}");
    assert!(times(&read, "mcap").is_empty(), "{read}");
}

/// A file torn part-way through a record (a crash mid-write of an older writer, or a
/// copy cut short): recovery keeps every message before the tear and says where it
/// stopped; metadata.yaml missing too.
#[test]
fn recovery_keeps_the_messages_before_a_torn_record_and_names_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let killed = tmp.path().join("killed");
    write_then_die(&killed, 4, 4);
    std::fs::remove_file(killed.join("metadata.yaml")).unwrap();
    let file = killed.join("killed_0.mcap");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.truncate(bytes.len() - 37); // the provisional end
                                      // A chunk record whose length was never filled in, as a seeking writer leaves it.
    bytes.extend_from_slice(&[
        0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3,
    ]);
    std::fs::write(&file, &bytes).unwrap();

    let recovered = recover(&killed, &tmp.path().join("recovered")).unwrap();
    assert_eq!(recovered.message_count(), 4);
    let stopped: Vec<String> = recovered
        .stopped
        .iter()
        .map(|e| sightline_bag::with_causes(e))
        .collect();
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    assert!(
        stopped[0].contains("killed_0.mcap")
            && stopped[0].contains("after /cam/image/compressed message #3"),
        "{stopped:?}"
    );
    let read = open_check(&recovered.output);
    assert_eq!(times(&read, "rosbags"), expected(4), "{read}");
    assert_eq!(times(&read, "mcap"), expected(4), "{read}");
}

#[test]
fn a_sqlite_recording_without_metadata_is_copied_with_one() {
    let (fixtures, _) = common::fixtures();
    let tmp = tempfile::tempdir().unwrap();
    let damaged = tmp.path().join("damaged");
    std::fs::create_dir(&damaged).unwrap();
    let db = common::storage_file(&fixtures.path().join("sqlite3"), "db3");
    std::fs::copy(&db, damaged.join("rec_0.db3")).unwrap();
    let before = std::fs::read(damaged.join("rec_0.db3")).unwrap();

    let recovered = recover(&damaged, &tmp.path().join("recovered")).unwrap();
    assert!(recovered.message_count() > 0);
    assert_eq!(
        std::fs::read(damaged.join("rec_0.db3")).unwrap(),
        before,
        "input untouched"
    );
    let read = open_check(&recovered.output);
    let topics = read["rosbags"].as_object().unwrap();
    assert!(!topics.contains_key("error"), "{read}");
    let total: usize = topics.values().map(|t| t.as_array().unwrap().len()).sum();
    assert_eq!(total as u64, recovered.message_count(), "{read}");
}

#[test]
fn recovering_into_an_existing_folder_or_from_nothing_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = recover(&empty, &tmp.path().join("out")).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    let killed = tmp.path().join("killed");
    write_then_die(&killed, 1, 1);
    let err = recover(&killed, &empty).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}
