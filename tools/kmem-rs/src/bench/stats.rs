// SPDX-License-Identifier: GPL-2.0-only
//! The bench statistics: quantiles and summaries of a sample, pair-by-pair
//! Rust/C ratios, the spread across sizes, and the DRAM cost per GiB added.

use serde::{Deserialize, Deserializer, Serialize};

use super::guest::MemInfo;

/// JSON has no NaN: serde_json writes a missing figure (NaN) as `null`,
/// and these read it back as NaN.
pub fn nan_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// [`nan_f64`] for each value of a list.
pub fn nan_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(Vec::<Option<f64>>::deserialize(d)?
        .into_iter()
        .map(|x| x.unwrap_or(f64::NAN))
        .collect())
}

/// Median, quartiles and range of a sample.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    #[serde(deserialize_with = "nan_f64")]
    pub median: f64,
    #[serde(deserialize_with = "nan_f64")]
    pub p25: f64,
    #[serde(deserialize_with = "nan_f64")]
    pub p75: f64,
    #[serde(deserialize_with = "nan_f64")]
    pub min: f64,
    #[serde(deserialize_with = "nan_f64")]
    pub max: f64,
}

/// The q-quantile (0..=1) of sorted `v`, interpolating linearly.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        }
    }
}

pub fn summarize(v: &[f64]) -> Summary {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(|a, b| a.total_cmp(b));
    Summary {
        n: s.len(),
        median: quantile(&s, 0.5),
        p25: quantile(&s, 0.25),
        p75: quantile(&s, 0.75),
        min: s.first().copied().unwrap_or(f64::NAN),
        max: s.last().copied().unwrap_or(f64::NAN),
    }
}

/// Rust/C ratio of each pair (same index = same pair, measured back to back).
pub fn pair_ratios(c: &[f64], rust: &[f64]) -> Vec<f64> {
    c.iter()
        .zip(rust)
        .filter(|(c, _)| **c > 0.0)
        .map(|(c, r)| r / c)
        .collect()
}

/// DRAM that hotplugging cost, in KiB per GiB added: how much less
/// MemAvailable rose than MemTotal did (the memory map and the other
/// bookkeeping come out of existing RAM; with memmap_on_memory the map comes
/// out of the added memory, which MemTotal then does not count).
pub fn dram_kib_per_gib(before: &MemInfo, online: &MemInfo, added_bytes: u64) -> f64 {
    let total = online.mem_total as f64 - before.mem_total as f64;
    let avail = online.mem_available as f64 - before.mem_available as f64;
    (total - avail) / (added_bytes as f64 / (1u64 << 30) as f64)
}

/// The same from MemFree: how much more of the existing RAM is in use.
pub fn used_kib_per_gib(before: &MemInfo, online: &MemInfo, added_bytes: u64) -> f64 {
    let used = |m: &MemInfo| m.mem_total as f64 - m.mem_free as f64;
    (used(online) - used(before)) / (added_bytes as f64 / (1u64 << 30) as f64)
}

/// Largest over smallest of the finite positive values (1.0 for one value).
pub fn spread(v: &[f64]) -> f64 {
    let v: Vec<f64> = v
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    let max = v.iter().copied().fold(f64::NAN, f64::max);
    let min = v.iter().copied().fold(f64::NAN, f64::min);
    max / min
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_summary() {
        let s = summarize(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(s.n, 5);
        assert_eq!(s.median, 3.0);
        assert_eq!(s.p25, 2.0);
        assert_eq!(s.p75, 4.0);
        assert_eq!((s.min, s.max), (1.0, 5.0));
        let even = summarize(&[4.0, 1.0, 2.0, 3.0]);
        assert_eq!(even.median, 2.5);
        assert_eq!(even.p25, 1.75);
        assert_eq!(summarize(&[7.0]).median, 7.0);
        assert!(summarize(&[]).median.is_nan());
        // NaN (a missing sample) is left out, not sorted into the middle.
        assert_eq!(summarize(&[f64::NAN, 1.0, 3.0]).median, 2.0);
    }

    #[test]
    fn ratios_pair_by_pair() {
        let r = pair_ratios(&[10.0, 20.0, 0.0], &[11.0, 18.0, 5.0]);
        assert_eq!(r, vec![1.1, 0.9]);
        // The median of pair ratios is not the ratio of medians.
        let s = summarize(&pair_ratios(&[1.0, 10.0, 100.0], &[2.0, 10.0, 50.0]));
        assert_eq!(s.median, 1.0);
        assert_eq!(spread(&[2.0, 4.0, f64::NAN]), 2.0);
        assert_eq!(spread(&[3.0]), 1.0);
    }

    #[test]
    fn overhead_per_gib() {
        let before = MemInfo {
            mem_total: 4_000_000,
            mem_free: 3_000_000,
            mem_available: 3_500_000,
        };
        // 1 GiB added, 16 MiB of its memory map from existing RAM.
        let online = MemInfo {
            mem_total: 4_000_000 + 1_048_576,
            mem_free: 3_000_000 + 1_048_576 - 16_384,
            mem_available: 3_500_000 + 1_048_576 - 16_384,
        };
        assert_eq!(dram_kib_per_gib(&before, &online, 1 << 30), 16_384.0);
        assert_eq!(used_kib_per_gib(&before, &online, 1 << 30), 16_384.0);
        assert_eq!(dram_kib_per_gib(&before, &online, 2 << 30), 8_192.0);
    }
}
