//! Range error of matched detections against KITTI 3D labels.
//!
//! Range is the *horizontal* distance from the camera to the object's bottom centre:
//! for ground truth `hypot(x, z)` of the KITTI label location (camera x right, z
//! forward; y, the height, is left out); for a detection its `range_m` if present, else
//! `hypot(x, y)` of its `base_link` position (x forward, y left), which assumes the
//! calibration puts `base_link` under the camera, as the KITTI calibration does. The
//! error of one match is `|range − true| / true`; a bin reports the median and the 90th
//! percentile (numpy's default linear interpolation) and the count.

use serde::{Deserialize, Serialize};

use crate::frame::{Detection, KittiAttrs};

/// Distance bins (metres): [0,10), [10,20), [20,30), [30,50), [50,∞).
pub const BIN_EDGES: [f64; 5] = [0.0, 10.0, 20.0, 30.0, 50.0];

/// Ground-truth horizontal range from a KITTI label.
pub fn true_range(k: &KittiAttrs) -> f64 {
    k.location[0].hypot(k.location[2])
}

/// A detection's range, if it was localized.
pub fn det_range(d: &Detection) -> Option<f64> {
    d.range_m.or_else(|| d.position.map(|p| p[0].hypot(p[1])))
}

/// `np.percentile(x, q*100)` with linear interpolation; `x` sorted, non-empty.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Median / p90 of relative errors in one bin (or all).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RangeStats {
    pub n: usize,
    pub median_rel: Option<f64>,
    pub p90_rel: Option<f64>,
}

impl RangeStats {
    fn of(mut rel: Vec<f64>) -> Self {
        rel.sort_by(f64::total_cmp);
        let some = |q| (!rel.is_empty()).then(|| percentile(&rel, q));
        RangeStats {
            n: rel.len(),
            median_rel: some(0.5),
            p90_rel: some(0.9),
        }
    }
}

/// One distance bin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RangeBin {
    pub from_m: f64,
    /// `None`: unbounded.
    pub to_m: Option<f64>,
    #[serde(flatten)]
    pub stats: RangeStats,
}

/// Range error of one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RangeReport {
    #[serde(flatten)]
    pub all: RangeStats,
    pub bins: Vec<RangeBin>,
    /// Matched detections with a 3D label but no range of their own.
    pub n_unlocalized: usize,
}

/// Builds the report from (true range, detected range) pairs.
pub fn report(pairs: &[(f64, f64)], n_unlocalized: usize) -> RangeReport {
    let rel = |&(t, r): &(f64, f64)| (r - t).abs() / t;
    let bins = BIN_EDGES
        .iter()
        .enumerate()
        .map(|(i, &from)| {
            let to = BIN_EDGES.get(i + 1).copied();
            let v = pairs
                .iter()
                .filter(|(t, _)| *t >= from && to.is_none_or(|to| *t < to))
                .map(rel)
                .collect();
            RangeBin {
                from_m: from,
                to_m: to,
                stats: RangeStats::of(v),
            }
        })
        .collect();
    RangeReport {
        all: RangeStats::of(pairs.iter().map(rel).collect()),
        bins,
        n_unlocalized,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy_linear() {
        // np.percentile([1, 2, 3, 4], [50, 90]) == [2.5, 3.7]
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile(&x, 0.5) - 2.5).abs() < 1e-12);
        assert!((percentile(&x, 0.9) - 3.7).abs() < 1e-12);
        assert_eq!(percentile(&[5.0], 0.9), 5.0);
    }

    #[test]
    fn bins_split_by_true_range() {
        let r = report(&[(5.0, 5.5), (15.0, 15.0), (60.0, 45.0)], 2);
        assert_eq!(r.all.n, 3);
        assert_eq!(r.bins[0].stats.median_rel, Some(0.1));
        assert_eq!(r.bins[1].stats.median_rel, Some(0.0));
        assert_eq!(r.bins[2].stats.n, 0);
        assert_eq!(r.bins[4].stats.median_rel, Some(0.25));
        assert_eq!(r.n_unlocalized, 2);
    }
}
