//! rosbag2's `metadata.yaml` (versions 1–9 read, version 9 written).

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::error::BagError;
use crate::reader::TopicInfo;

pub(crate) const FILE_NAME: &str = "metadata.yaml";

#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct MetadataFile {
    pub rosbag2_bagfile_information: Metadata,
}

#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct Metadata {
    pub version: u32,
    pub storage_identifier: String,
    pub duration: Nanoseconds,
    pub starting_time: SinceEpoch,
    pub message_count: u64,
    pub topics_with_message_count: Vec<TopicWithCount>,
    #[serde(default)]
    pub compression_format: String,
    #[serde(default)]
    pub compression_mode: String,
    pub relative_file_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<serde_yaml::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ros_distro: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, Default, Clone, Copy)]
pub(crate) struct Nanoseconds {
    pub nanoseconds: u64,
}

#[derive(Debug, Deserialize, Serialize, Default, Clone, Copy)]
pub(crate) struct SinceEpoch {
    pub nanoseconds_since_epoch: i64,
}

#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct TopicWithCount {
    pub topic_metadata: TopicMetadata,
    pub message_count: u64,
}

#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct TopicMetadata {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub serialization_format: String,
    /// A YAML string before version 9, a list from version 9 on; kept as-is.
    #[serde(default)]
    pub offered_qos_profiles: serde_yaml::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_description_hash: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct FileInfo {
    pub path: String,
    pub starting_time: SinceEpoch,
    pub duration: Nanoseconds,
    pub message_count: u64,
}

impl SinceEpoch {
    pub fn from_ns(ns: u64) -> SinceEpoch {
        SinceEpoch {
            nanoseconds_since_epoch: i64::try_from(ns).unwrap_or(i64::MAX),
        }
    }
}

impl Metadata {
    /// Version 9 metadata for these topics (with their counts) and storage files.
    pub fn describe(
        storage_identifier: &str,
        topics: &[TopicInfo],
        range: Option<(u64, u64)>,
        files: Vec<FileInfo>,
    ) -> Metadata {
        let (start, end) = range.unwrap_or((0, 0));
        Metadata {
            version: 9,
            storage_identifier: storage_identifier.into(),
            duration: Nanoseconds {
                nanoseconds: end.saturating_sub(start),
            },
            starting_time: SinceEpoch::from_ns(start),
            message_count: topics.iter().map(|t| t.message_count).sum(),
            topics_with_message_count: topics
                .iter()
                .map(|t| TopicWithCount {
                    topic_metadata: TopicMetadata {
                        name: t.name.clone(),
                        type_name: t.type_name.clone(),
                        serialization_format: t.serialization_format.clone(),
                        offered_qos_profiles: serde_yaml::Value::Sequence(Vec::new()),
                        type_description_hash: Some(String::new()),
                    },
                    message_count: t.message_count,
                })
                .collect(),
            compression_format: String::new(),
            compression_mode: String::new(),
            relative_file_paths: files.iter().map(|f| f.path.clone()).collect(),
            files: Some(files),
            custom_data: Some(serde_yaml::Value::Mapping(Default::default())),
            ros_distro: Some(String::new()),
        }
    }

    pub fn load(dir: &Path) -> Result<Metadata, BagError> {
        let path = dir.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BagError::MissingMetadata {
                    path: dir.to_path_buf(),
                })
            }
            Err(e) => return Err(BagError::Io { path, source: e }),
        };
        let file: MetadataFile =
            serde_yaml::from_str(&text).map_err(|e| BagError::BadMetadata {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        Ok(file.rosbag2_bagfile_information)
    }

    pub fn store(self, dir: &Path) -> Result<(), BagError> {
        let path = dir.join(FILE_NAME);
        let text = serde_yaml::to_string(&MetadataFile {
            rosbag2_bagfile_information: self,
        })
        .map_err(|e| BagError::BadMetadata {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        // Write then rename, so that a reader never sees half a metadata file.
        let tmp = dir.join(".metadata.yaml.tmp");
        std::fs::write(&tmp, text).map_err(BagError::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(BagError::io(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-5 file as written by rosbag2 on Humble (qos as a YAML string).
    const HUMBLE: &str = r#"
rosbag2_bagfile_information:
  version: 5
  storage_identifier: sqlite3
  duration:
    nanoseconds: 2000
  starting_time:
    nanoseconds_since_epoch: 1000
  message_count: 2
  topics_with_message_count:
    - topic_metadata:
        name: /camera/image_raw
        type: sensor_msgs/msg/Image
        serialization_format: cdr
        offered_qos_profiles: "- history: 3\n  depth: 0\n"
      message_count: 2
  compression_format: ""
  compression_mode: ""
  relative_file_paths:
    - bag_0.db3
  files:
    - path: bag_0.db3
      starting_time:
        nanoseconds_since_epoch: 1000
      duration:
        nanoseconds: 2000
      message_count: 2
"#;

    #[test]
    fn reads_humble_metadata() {
        let m: MetadataFile = serde_yaml::from_str(HUMBLE).unwrap();
        let m = m.rosbag2_bagfile_information;
        assert_eq!(m.version, 5);
        assert_eq!(m.storage_identifier, "sqlite3");
        assert_eq!(m.relative_file_paths, ["bag_0.db3"]);
        assert_eq!(
            m.topics_with_message_count[0].topic_metadata.type_name,
            "sensor_msgs/msg/Image"
        );
        assert_eq!(m.starting_time.nanoseconds_since_epoch, 1000);
    }
}
