// SPDX-License-Identifier: GPL-2.0-only
//! The bench results: per-point statistics of the guest's records, and the
//! whole run as written to `bench.json`.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::guest::{Failure, GuestRecord, Source, OPS};
use super::size::ModuleSize;
use super::stats::{
    dram_kib_per_gib, nan_f64, nan_vec, pair_ratios, summarize, used_kib_per_gib, Summary,
};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpStats {
    pub op: String,
    /// Milliseconds, timed iterations only (no warm-up).
    #[serde(deserialize_with = "nan_vec")]
    pub c_ms: Vec<f64>,
    #[serde(deserialize_with = "nan_vec")]
    pub rust_ms: Vec<f64>,
    pub c: Summary,
    pub rust: Summary,
    /// Rust/C of each pair.
    pub ratio: Summary,
    #[serde(deserialize_with = "nan_f64")]
    pub c_ms_per_gib: f64,
    #[serde(deserialize_with = "nan_f64")]
    pub rust_ms_per_gib: f64,
    /// The writer thread's CPU time in the operation, ms: the time without
    /// the waits (under icount, the instructions it ran, in millions).
    #[serde(default)]
    pub c_cpu: Summary,
    #[serde(default)]
    pub rust_cpu: Summary,
    /// Rust/C of each pair's CPU time.
    #[serde(default)]
    pub cpu_ratio: Summary,
    /// How often the writer slept in the operation.
    #[serde(default)]
    pub c_waits: Summary,
    #[serde(default)]
    pub rust_waits: Summary,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Overhead {
    pub driver: String,
    /// (MemTotal rise − MemAvailable rise) per GiB added, KiB.
    pub dram_kib_per_gib: Summary,
    /// (MemTotal − MemFree) rise per GiB added, KiB.
    pub used_kib_per_gib: Summary,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reference {
    pub n: usize,
    /// kmem bind with policy offline: the driver adds, nothing is onlined.
    pub add_ms: Summary,
    /// Σ over blocks of `echo online_movable > memoryN/state`.
    pub online_ms: Summary,
    /// The same per block.
    pub block_online_ms: Summary,
    /// Mean per-block online time of the first and of the last 10 blocks
    /// onlined (medians over the rounds): does onlining a block cost more
    /// as the zone grows?
    #[serde(default, deserialize_with = "nan_f64")]
    pub first_blocks_ms: f64,
    #[serde(default, deserialize_with = "nan_f64")]
    pub last_blocks_ms: f64,
    /// Per-block online time by position, first block onlined to last
    /// (median over the rounds): the cost curve as the zone grows.
    #[serde(default)]
    pub block_curve_ms: Vec<f64>,
    /// Σ over blocks of `echo offline > memoryN/state`.
    pub offline_ms: Summary,
    /// kmem unbind of the offline blocks (remove_memory()).
    pub remove_ms: Summary,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Point {
    /// Where the memory came from.
    pub source: Source,
    /// GiB of device memory (1.5 for the HMEM device, 0.5 for CXL).
    pub size_gib: f64,
    /// Physical ranges of the device.
    #[serde(default)]
    pub ranges: usize,
    pub memmap_on_memory: bool,
    /// Bytes kmem really added ("System RAM (kmem)").
    pub added_bytes: u64,
    pub blocks: u64,
    pub block_size: u64,
    pub ops: Vec<OpStats>,
    pub overhead: Vec<Overhead>,
    pub reference: Option<Reference>,
}

impl Point {
    /// GiB of a pmem point: the size axis of the per-size tables.
    pub fn pmem_gib(&self) -> Option<u32> {
        match self.source {
            Source::Pmem(g) => Some(g),
            _ => None,
        }
    }
    pub fn op(&self, op: &str) -> Option<&OpStats> {
        self.ops.iter().find(|o| o.op == op)
    }
    pub fn overhead_of(&self, driver: &str) -> Option<&Overhead> {
        self.overhead.iter().find(|o| o.driver == driver)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// What guest time counted: "icount" (instructions) or "wall".
    pub clock: String,
    /// The guest's clocksource, and the busy loop timed to check the clock:
    /// its spread across the boots and repeats (max/min − 1).
    pub clocksource: String,
    pub calibration: Summary,
    #[serde(deserialize_with = "nan_f64")]
    pub calibration_spread: f64,
    /// The largest spread of the busy loop within one boot.
    #[serde(default)]
    pub calibration_boot_spread: f64,
    /// What the guest's clock reads around an empty write cost in CPU time
    /// (taken off every work figure), ns.
    #[serde(default)]
    pub cpu_overhead_ns: u64,
    pub date: String,
    pub commit: String,
    pub kernel_release: String,
    pub guest_uname: String,
    pub guest_cmdline: String,
    /// memory_hotplug.memmap_on_memory as the guest saw it.
    pub guest_memmap_param: String,
    pub config_sha256: String,
    pub config: BTreeMap<String, String>,
    pub host: BTreeMap<String, String>,
    pub pairs: u32,
    pub warmup: u32,
    pub ref_reps: u32,
    /// Which driver ran first in each pair.
    #[serde(default)]
    pub order: String,
    pub sizes_gib: Vec<u32>,
    /// Every boot's memory, in order; `raw/SLUG.jsonl` keeps its records.
    #[serde(default)]
    pub sources: Vec<Source>,
    pub points: Vec<Point>,
    pub failed: Vec<Failure>,
    pub modules: Vec<ModuleSize>,
    pub seconds: f64,
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The statistics of one boot's records for one memmap_on_memory setting.
pub fn point(source: Source, memmap: bool, recs: &[GuestRecord]) -> Result<Point> {
    let what = source.label();
    let m = u32::from(memmap);
    let guest = recs.iter().find(|r| r.kind == "guest");
    let timed: Vec<&GuestRecord> = recs
        .iter()
        .filter(|r| r.kind == "op" && r.memmap == m && !r.warmup)
        .collect();
    let by_pair = |drv: &str| -> BTreeMap<u32, &GuestRecord> {
        timed
            .iter()
            .filter(|r| r.driver == drv)
            .filter_map(|r| r.pair.map(|p| (p, *r)))
            .collect()
    };
    let (c, rust) = (by_pair("c"), by_pair("rust"));
    // Only complete pairs count, so that ratios pair up.
    let pairs: Vec<u32> = c.keys().filter(|p| rust.contains_key(p)).copied().collect();
    if pairs.is_empty() {
        bail!("{what}, memmap_on_memory={m}: no complete C/Rust pair");
    }
    let added = timed.iter().find_map(|r| r.kmem_bytes).unwrap_or(0);
    let gib = added as f64 / (1u64 << 30) as f64;
    let mut ops = Vec::new();
    for op in OPS {
        let col = |side: &BTreeMap<u32, &GuestRecord>,
                   f: &dyn Fn(&GuestRecord) -> Option<f64>|
         -> Vec<f64> {
            pairs
                .iter()
                .map(|p| f(side[p]).unwrap_or(f64::NAN))
                .collect()
        };
        let time = |r: &GuestRecord| r.op_ns(op).map(ms);
        let cpu = |r: &GuestRecord| r.op_cpu_ns(op).map(ms);
        let waits = |r: &GuestRecord| r.op_waits(op).map(|w| w as f64);
        let (cv, rv) = (col(&c, &time), col(&rust, &time));
        let (ccpu, rcpu) = (col(&c, &cpu), col(&rust, &cpu));
        // Records from before an operation was timed do not have it.
        if cv.iter().chain(&rv).all(|x| x.is_nan()) {
            continue;
        }
        let (cs, rs) = (summarize(&cv), summarize(&rv));
        ops.push(OpStats {
            op: op.to_string(),
            ratio: summarize(&pair_ratios(&cv, &rv)),
            c_ms_per_gib: cs.median / gib,
            rust_ms_per_gib: rs.median / gib,
            c_ms: cv,
            rust_ms: rv,
            c: cs,
            rust: rs,
            cpu_ratio: summarize(&pair_ratios(&ccpu, &rcpu)),
            c_cpu: summarize(&ccpu),
            rust_cpu: summarize(&rcpu),
            c_waits: summarize(&col(&c, &waits)),
            rust_waits: summarize(&col(&rust, &waits)),
        });
    }
    let mut overhead = Vec::new();
    for drv in ["c", "rust"] {
        let (mut dram, mut used) = (Vec::new(), Vec::new());
        for r in timed.iter().filter(|r| r.driver == drv) {
            if let (Some(b), Some(o), Some(k)) = (&r.mem_before, &r.mem_online, r.kmem_bytes) {
                dram.push(dram_kib_per_gib(b, o, k));
                used.push(used_kib_per_gib(b, o, k));
            }
        }
        overhead.push(Overhead {
            driver: drv.to_string(),
            dram_kib_per_gib: summarize(&dram),
            used_kib_per_gib: summarize(&used),
        });
    }
    let refs: Vec<&GuestRecord> = recs
        .iter()
        .filter(|r| r.kind == "ref" && r.memmap == m)
        .collect();
    let reference = (!refs.is_empty()).then(|| {
        let col = |f: &dyn Fn(&GuestRecord) -> Option<u64>| -> Summary {
            summarize(&refs.iter().filter_map(|r| f(r)).map(ms).collect::<Vec<_>>())
        };
        let per_block: Vec<f64> = refs
            .iter()
            .flat_map(|r| r.block_online_ns.iter().copied().map(ms))
            .collect();
        let ends = |last: bool| -> f64 {
            let v: Vec<f64> = refs
                .iter()
                .filter(|r| !r.block_online_ns.is_empty())
                .map(|r| {
                    let b = &r.block_online_ns;
                    let k = b.len().min(10);
                    let part = if last { &b[b.len() - k..] } else { &b[..k] };
                    part.iter().copied().map(ms).sum::<f64>() / k as f64
                })
                .collect();
            summarize(&v).median
        };
        let rounds: Vec<&Vec<u64>> = refs.iter().map(|r| &r.block_online_ns).collect();
        let len = rounds.iter().map(|b| b.len()).min().unwrap_or(0);
        let block_curve_ms = (0..len)
            .map(|i| summarize(&rounds.iter().map(|b| ms(b[i])).collect::<Vec<_>>()).median)
            .collect();
        Reference {
            n: refs.len(),
            block_curve_ms,
            first_blocks_ms: ends(false),
            last_blocks_ms: ends(true),
            add_ms: col(&|r| r.add_ns),
            online_ms: col(&|r| r.online_ns),
            block_online_ms: summarize(&per_block),
            offline_ms: col(&|r| r.offline_ns),
            remove_ms: col(&|r| r.remove_ns),
        }
    });
    Ok(Point {
        source,
        size_gib: source.size_gib(),
        ranges: guest.map_or(0, |g| g.ranges.len()),
        memmap_on_memory: memmap,
        added_bytes: added,
        blocks: guest.and_then(|g| g.blocks).unwrap_or(0),
        block_size: guest.and_then(|g| g.block_size).unwrap_or(0),
        ops,
        overhead,
        reference,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::bench::guest::parse_jsonl;

    pub(in crate::bench) fn op(
        driver: &str,
        pair: u32,
        memmap: u32,
        bind_ms: u64,
        warmup: bool,
    ) -> String {
        let mem = |t: u64, a: u64| {
            format!(r#"{{"MemTotal": {t}, "MemFree": {a}, "MemAvailable": {a}, "nodes": {{}}}}"#)
        };
        format!(
            r#"{{"kind": "op", "driver": "{driver}", "memmap": {memmap}, "pair": {pair}, "warmup": {warmup}, "bind_ns": {}, "bind_cpu_ns": {}, "bind_waits": 1, "unplug_ns": 2000000, "unplug_cpu_ns": 2000000, "online_ns": 3000000, "online_cpu_ns": 3000000, "unbind_ns": 500000, "unbind_cpu_ns": 500000, "kmem_bytes": 1073741824, "mem_before": {}, "mem_online": {}}}"#,
            bind_ms * 1_000_000,
            bind_ms * 1_000_000,
            mem(100, 50),
            mem(100 + 1_048_576, 50 + 1_048_576 - 16_384),
        )
    }

    /// A run of two pairs at 1 GiB, with a failed 16 GiB boot.
    pub(in crate::bench) fn results() -> Results {
        let lines: Vec<String> = (0..2)
            .flat_map(|p| [op("c", p, 1, 10, false), op("rust", p, 1, 10, false)])
            .collect();
        let recs = parse_jsonl(&lines.join("\n")).unwrap();
        Results {
            clock: "icount".into(),
            clocksource: "tsc".into(),
            calibration: crate::bench::stats::summarize(&[100.0, 101.0]),
            calibration_spread: 0.01,
            calibration_boot_spread: 0.001,
            cpu_overhead_ns: 900,
            date: "2026-01-01T00:00:00Z".into(),
            commit: "abc".into(),
            kernel_release: "7.3.4+".into(),
            guest_uname: "7.3.4+".into(),
            guest_cmdline: String::new(),
            guest_memmap_param: "Y".into(),
            config_sha256: "0123456789abcdef".into(),
            config: BTreeMap::new(),
            host: BTreeMap::new(),
            pairs: 2,
            warmup: 0,
            ref_reps: 0,
            order: "c,rust".into(),
            sizes_gib: vec![1, 16],
            sources: vec![Source::Pmem(1), Source::Pmem(16)],
            points: vec![point(Source::Pmem(1), true, &recs).unwrap()],
            failed: vec![Failure {
                source: Source::Pmem(16).label(),
                reason: "guest RAM".into(),
                log: "/x".into(),
            }],
            modules: vec![
                ModuleSize {
                    driver: "C".into(),
                    text_section: 1000,
                    ..Default::default()
                },
                ModuleSize {
                    driver: "Rust".into(),
                    text_section: 2000,
                    kunit_text: 600,
                    ..Default::default()
                },
            ],
            seconds: 1.0,
        }
    }

    #[test]
    fn point_from_guest_records() {
        let mut lines = vec![
            r#"{"kind": "guest", "uname": "7.3.4+", "block_size": 134217728, "blocks": 8, "mem": {}}"#.to_string(),
            op("c", 0, 0, 999, true),
            op("rust", 0, 0, 999, true),
        ];
        for (p, (c, r)) in [(10, 11), (20, 20), (30, 27)].iter().enumerate() {
            lines.push(op("c", p as u32, 0, *c, false));
            lines.push(op("rust", p as u32, 0, *r, false));
        }
        // An unpaired C iteration (the run died) must not skew the ratios.
        lines.push(op("c", 3, 0, 1000, false));
        lines.push(
            r#"{"kind": "ref", "driver": "c", "memmap": 0, "add_ns": 1000000, "block_online_ns": [1000000, 3000000], "online_ns": 4000000, "offline_ns": 5000000, "remove_ns": 600000, "rep": 0}"#.into(),
        );
        let recs = parse_jsonl(&lines.join("\n")).unwrap();
        let p = point(Source::Pmem(1), false, &recs).unwrap();
        assert_eq!(p.blocks, 8);
        let bind = p.op("bind").unwrap();
        assert_eq!(bind.c_ms, vec![10.0, 20.0, 30.0]);
        assert_eq!(bind.c.median, 20.0);
        assert_eq!(bind.ratio.median, 1.0);
        assert!((bind.ratio.max - 1.1).abs() < 1e-12);
        assert_eq!(bind.c_ms_per_gib, 20.0);
        assert_eq!((bind.c_cpu.median, bind.cpu_ratio.median), (20.0, 1.0));
        assert_eq!(bind.rust_waits.median, 1.0);
        assert_eq!(
            p.overhead_of("c").unwrap().dram_kib_per_gib.median,
            16_384.0
        );
        let rf = p.reference.as_ref().unwrap();
        assert_eq!(rf.online_ms.median, 4.0);
        assert_eq!(rf.block_online_ms.median, 2.0);
        assert_eq!((rf.first_blocks_ms, rf.last_blocks_ms), (2.0, 2.0));
        assert_eq!(rf.block_curve_ms, [1.0, 3.0]);
        // No memmap_on_memory=1 records: that point does not exist.
        assert!(point(Source::Pmem(1), true, &recs).is_err());
        // Records without the warm unbind (older runs) leave that operation out.
        assert!(p.op("unbind").is_some() && p.op("unbind_warm").is_none());
        let warm = |l: &String, ns: u64| {
            l.replace(
                "\"unbind_ns\"",
                &format!("\"unbind_warm_ns\": {ns}, \"unbind_ns\""),
            )
        };
        let lines: Vec<String> = lines
            .iter()
            .map(|l| {
                let rust = l.contains(r#""driver": "rust""#);
                warm(l, if rust { 400_000 } else { 200_000 })
            })
            .collect();
        let p = point(
            Source::Pmem(1),
            false,
            &parse_jsonl(&lines.join("\n")).unwrap(),
        )
        .unwrap();
        let w = p.op("unbind_warm").unwrap();
        assert_eq!((w.c.median, w.rust.median, w.ratio.median), (0.2, 0.4, 2.0));
    }
}
