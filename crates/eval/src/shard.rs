//! Shards: `--shard K/N` keeps frames `i` (in id order) with `i % N == K`, and writes
//! them — ground truth and detections, the raw material of every metric — as JSONL
//! after one header line. [`merge`] puts shards back together; since a report is a pure
//! function of the frames sorted by id and numbers round-trip exactly through JSON, the
//! merged report equals a single run's.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::dataset::{DatasetKind, Skipped};
use crate::error::{EvalError, Result};
use crate::frame::Frame;

/// Shard `index` of `count` (0-based index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSpec {
    pub index: usize,
    pub count: usize,
}

impl FromStr for ShardSpec {
    type Err = EvalError;
    /// `K/N` with 0 ≤ K < N.
    fn from_str(s: &str) -> Result<Self> {
        let err = |msg: &str| EvalError::Shards(format!("--shard {s:?}: {msg}"));
        let (k, n) = s.split_once('/').ok_or_else(|| err("expected K/N"))?;
        let index: usize = k.trim().parse().map_err(|_| err("K is not a number"))?;
        let count: usize = n.trim().parse().map_err(|_| err("N is not a number"))?;
        if count == 0 || index >= count {
            return Err(err("need 0 <= K < N"));
        }
        Ok(ShardSpec { index, count })
    }
}

impl ShardSpec {
    /// The frames of this shard; `frames` must be sorted by id.
    pub fn select(&self, frames: Vec<Frame>) -> Vec<Frame> {
        frames
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index)
            .map(|(_, f)| f)
            .collect()
    }
}

/// First line of a shard file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardHeader {
    pub sightline_eval_shard: u32,
    pub dataset: DatasetKind,
    pub shard: ShardSpec,
    /// Images the dataset reader left out (the whole dataset's, same in every shard).
    pub skipped: Vec<Skipped>,
}

/// Writes a shard file, whole or not at all (a killed shard is absent, not truncated).
pub fn write(path: &Path, header: &ShardHeader, frames: &[Frame]) -> Result<()> {
    sightline_types::files::write_atomically(path, |w| {
        writeln!(w, "{}", serde_json::to_string(header)?)?;
        for f in frames {
            writeln!(w, "{}", serde_json::to_string(f)?)?;
        }
        Ok(())
    })
    .map_err(|e| EvalError::io(path, e))
}

/// Reads one shard file.
pub fn read(path: &Path) -> Result<(ShardHeader, Vec<Frame>)> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, first) = lines
        .next()
        .ok_or_else(|| EvalError::line(path, 1, "empty shard file"))?;
    let header: ShardHeader = serde_json::from_str(first)
        .map_err(|e| EvalError::line(path, 1, format!("not a shard header: {e}")))?;
    let frames = lines
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| EvalError::line(path, i + 1, e.to_string()))
        })
        .collect::<Result<Vec<Frame>>>()?;
    Ok((header, frames))
}

/// The frames of a complete set of shards, sorted by id, with the dataset kind and the
/// skipped images. Errors on mixed datasets, missing or repeated shards.
pub fn merge(paths: &[PathBuf]) -> Result<(DatasetKind, Vec<Frame>, Vec<Skipped>)> {
    let mut all = Vec::new();
    let mut first: Option<ShardHeader> = None;
    let mut seen = Vec::new();
    for path in paths {
        let (h, frames) = read(path)?;
        if let Some(f) = &first {
            if f.dataset != h.dataset || f.shard.count != h.shard.count {
                return Err(EvalError::Shards(format!(
                    "{} is shard {}/{} of a {:?} set, {} is {}/{} of {:?}",
                    paths[0].display(),
                    f.shard.index,
                    f.shard.count,
                    f.dataset,
                    path.display(),
                    h.shard.index,
                    h.shard.count,
                    h.dataset
                )));
            }
        }
        if seen.contains(&h.shard.index) {
            return Err(EvalError::Shards(format!(
                "shard {}/{} given twice ({})",
                h.shard.index,
                h.shard.count,
                path.display()
            )));
        }
        seen.push(h.shard.index);
        all.extend(frames);
        first.get_or_insert(h);
    }
    let h = first.ok_or_else(|| EvalError::Shards("no shard files given".into()))?;
    let missing: Vec<usize> = (0..h.shard.count).filter(|k| !seen.contains(k)).collect();
    if !missing.is_empty() {
        return Err(EvalError::Shards(format!(
            "missing shard(s) {missing:?} of {}",
            h.shard.count
        )));
    }
    crate::sort_frames(&mut all);
    if let Some(w) = all.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(EvalError::Shards(format!(
            "frame {:?} is in two shards",
            w[0].id
        )));
    }
    Ok((h.dataset, all, h.skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_spec_parses() {
        assert_eq!(
            "2/3".parse::<ShardSpec>().unwrap(),
            ShardSpec { index: 2, count: 3 }
        );
        assert!("3/3".parse::<ShardSpec>().is_err());
        assert!("1/0".parse::<ShardSpec>().is_err());
        assert!("1".parse::<ShardSpec>().is_err());
    }
}
