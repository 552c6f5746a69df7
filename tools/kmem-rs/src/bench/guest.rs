// SPDX-License-Identifier: GPL-2.0-only
//! The guest side of the bench: the in-guest script's JSONL records and the
//! memory snapshots in them, the guest's shape per device size, and the boot
//! that runs the script and brings its records back.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::build::{Driver, Kernel};
use crate::ctx::Ctx;
use crate::vm::{self, GuestRun, Platform, PlatformKind, Topology};

/// The in-guest benchmark, relative to the repository root.
pub const GUEST_BENCH: &str = "tools/kmem-rs/guest/kmem-rs-bench.py";
/// The operations timed per iteration, in order.
///
/// `unbind_warm` is the same unbind once more in the same load of the module:
/// each timed round loads its `kmem.ko` afresh, and under TCG the first run of
/// any code since insmod includes translating it, which the second run does
/// not pay.
pub const OPS: [&str; 5] = ["bind", "unplug", "online", "unbind", "unbind_warm"];

/// What guest time counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Clock {
    /// QEMU counts instructions (`-icount shift=0`): guest time advances by
    /// 1 ns per instruction executed, free of host load and of translation
    /// time. What README and the cover letter quote.
    Icount,
    /// Host time, as TCG gives it: translation and the host's load included.
    Wall,
}

impl Clock {
    pub fn name(self) -> &'static str {
        match self {
            Clock::Icount => "icount",
            Clock::Wall => "wall",
        }
    }

    /// vCPUs of the guest: one under icount, where every vCPU's
    /// instructions advance the one clock, so that another vCPU's work
    /// (kworkers, RCU, timers) cannot land in an operation's figures; the
    /// test platforms' two otherwise.
    pub fn cpus(self) -> u32 {
        match self {
            Clock::Icount => 1,
            Clock::Wall => vm::TOPOLOGY.cpus,
        }
    }

    /// QEMU options of this clock: with `align=off` the guest does not wait
    /// for the host to catch up, with `sleep=off` an idle guest jumps to its
    /// next timer instead of waiting for it in host time.
    pub fn qemu_opts(self) -> Vec<String> {
        match self {
            Clock::Icount => vec!["-icount".into(), "shift=0,align=off,sleep=off".into()],
            Clock::Wall => Vec::new(),
        }
    }
}

/// Where a benchmark point's memory comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Legacy pmem of this many GiB, one range, in node 1 beside 2 GiB of RAM.
    Pmem(u32),
    /// A device of three ranges carved from the hmem platform's
    /// soft-reserved node (`mapping` writes), with HMAT.
    Hmem,
    /// The cxl platform's 512 MiB RAM region (QEMU 10).
    Cxl,
}

impl Source {
    /// The size axis of tables and plots: GiB of device memory.
    pub fn size_gib(self) -> f64 {
        match self {
            Source::Pmem(g) => f64::from(g),
            Source::Hmem => 1.5,
            Source::Cxl => 0.5,
        }
    }

    pub fn label(self) -> String {
        match self {
            Source::Pmem(g) => format!("{g} GiB pmem"),
            Source::Hmem => "1.5 GiB HMEM, 3 ranges".into(),
            Source::Cxl => "512 MiB CXL".into(),
        }
    }

    /// The name of its run directory and of its records in `raw/`.
    pub fn slug(self) -> String {
        match self {
            Source::Pmem(g) => format!("{g}g"),
            Source::Hmem => "hmem".into(),
            Source::Cxl => "cxl".into(),
        }
    }

    /// The machine of this source with `cpus` vCPUs, all in node 0.
    fn platform(self, cpus: u32) -> Platform {
        let mut p = match self {
            Source::Pmem(g) => vm::pmem_shaped(topology(g)),
            Source::Hmem => *vm::platform_of(PlatformKind::Hmem),
            Source::Cxl => *vm::platform_of(PlatformKind::Cxl),
        };
        p.topology = with_cpus(p.topology, cpus);
        p
    }
}

/// `topo` with `cpus` vCPUs, all in its first node (the CPUs' node in
/// every platform).
pub fn with_cpus(topo: Topology, cpus: u32) -> Topology {
    let first = format!("cpus=0-{}", topo.cpus - 1);
    let want = if cpus == 1 {
        "cpus=0".to_string()
    } else {
        format!("cpus=0-{}", cpus - 1)
    };
    let numa: Vec<&'static str> = topo
        .numa
        .iter()
        .map(|n| {
            if n.contains(&first) {
                leak(n.replace(&first, &want))
            } else {
                *n
            }
        })
        .collect();
    Topology {
        cpus,
        numa: Box::leak(numa.into_boxed_slice()),
        ..topo
    }
}

/// The ranges the HMEM point's device gets through `mapping`: offsets and
/// sizes in MiB inside the 2 GiB region, each block-aligned, with holes
/// between them so that none merges with the next.
pub const HMEM_RANGES_MIB: [(u64, u64); 3] = [(0, 512), (768, 512), (1536, 512)];

// --- what the guest reports ---------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemInfo {
    #[serde(rename = "MemTotal")]
    pub mem_total: u64,
    #[serde(rename = "MemFree")]
    pub mem_free: u64,
    #[serde(rename = "MemAvailable")]
    pub mem_available: u64,
}

/// One line of the guest's bench.jsonl.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct GuestRecord {
    pub kind: String,
    #[serde(default)]
    pub driver: String,
    #[serde(default)]
    pub memmap: u32,
    #[serde(default)]
    pub warmup: bool,
    #[serde(default)]
    pub pair: Option<u32>,
    // kind == "op"
    pub bind_ns: Option<u64>,
    pub unplug_ns: Option<u64>,
    pub online_ns: Option<u64>,
    pub unbind_ns: Option<u64>,
    #[serde(default)]
    pub unbind_warm_ns: Option<u64>,
    pub kmem_bytes: Option<u64>,
    pub mem_before: Option<MemInfo>,
    pub mem_online: Option<MemInfo>,
    // kind == "ref"
    pub add_ns: Option<u64>,
    pub offline_ns: Option<u64>,
    pub remove_ns: Option<u64>,
    #[serde(default)]
    pub block_online_ns: Vec<u64>,
    // kind == "guest"
    pub uname: Option<String>,
    pub cmdline: Option<String>,
    pub block_size: Option<u64>,
    pub blocks: Option<u64>,
    pub memmap_param: Option<String>,
    pub clocksource: Option<String>,
    #[serde(default)]
    pub calibration_ns: Vec<u64>,
    #[serde(default)]
    pub ranges: Vec<(u64, u64)>,
    /// The rest: `OP_cpu_ns` and `OP_waits` of each operation.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl GuestRecord {
    /// CPU time of the writer thread in `op`, ns.
    pub fn op_cpu_ns(&self, op: &str) -> Option<u64> {
        self.extra.get(&format!("{op}_cpu_ns"))?.as_u64()
    }

    /// Times the writer slept in `op` (voluntary context switches).
    pub fn op_waits(&self, op: &str) -> Option<u64> {
        self.extra.get(&format!("{op}_waits"))?.as_u64()
    }

    pub fn op_ns(&self, op: &str) -> Option<u64> {
        match op {
            "bind" => self.bind_ns,
            "unplug" => self.unplug_ns,
            "online" => self.online_ns,
            "unbind" => self.unbind_ns,
            "unbind_warm" => self.unbind_warm_ns,
            _ => None,
        }
    }
}

pub fn parse_jsonl(text: &str) -> Result<Vec<GuestRecord>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("bench.jsonl line {}", i + 1))
        })
        .collect()
}

/// A size that did not run, or a point that could not be computed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Failure {
    pub source: String,
    pub reason: String,
    pub log: String,
}

// --- the guest's shape ---------------------------------------------------------

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A guest with `size_gib` of pmem: node 0 keeps 2 GiB and the CPUs, node 1
/// gets 2 GiB of RAM and then the pmem. QEMU's q35 puts the first 2 GiB
/// below 4 GiB (node 0) and the rest from 4 GiB up, so node 1 is RAM at
/// 4-6 GiB and the pmem from 6 GiB. The pmem goes last so that the highest
/// RAM address stays at 6 GiB: x86 picks 2 GiB memory blocks instead of
/// 128 MiB ones when boot RAM ends at or above 64 GiB
/// (`probe_memory_block_size()`), and the per-block curve would lose its
/// resolution. 6 GiB is 2 GiB-aligned, so no size loses memory to
/// alignment either.
pub fn topology(size_gib: u32) -> Topology {
    let numa: Vec<&'static str> = vec!["2G,cpus=0-1", leak(format!("{}G", size_gib + 2))];
    Topology {
        cpus: vm::TOPOLOGY.cpus,
        memory: leak(format!("{}G", size_gib + 4)),
        numa: Box::leak(numa.into_boxed_slice()),
        pmem: leak(format!("memmap={size_gib}G!6G")),
    }
}

// --- the run -------------------------------------------------------------------

/// Which driver goes first in each pair: `c,rust` (C, Rust, C, Rust..., the
/// default) or `rust,c` from `KMEM_RS_BENCH_ORDER`, to tell an order effect
/// from a driver one.
pub fn order() -> String {
    match std::env::var("KMEM_RS_BENCH_ORDER").as_deref() {
        Ok("rust,c") => "rust,c".into(),
        _ => "c,rust".into(),
    }
}

/// How many rounds a boot runs, and on which clock.
#[derive(Clone, Copy, Debug)]
pub struct Rounds {
    pub pairs: u32,
    pub warmup: u32,
    pub ref_reps: u32,
    pub clock: Clock,
    /// Instead of the rounds, trace each operation once per driver.
    pub trace: bool,
}

/// What a boot brought back: its records, as parsed and as written, and
/// its run directory (the traces of a trace boot).
pub struct Boot {
    pub recs: Vec<GuestRecord>,
    pub text: String,
    pub out: std::path::PathBuf,
}

/// Boots one guest with the memory of `source` and returns its records, or
/// why it failed.
pub fn run_source(
    ctx: &Ctx,
    kernel: &Kernel,
    accel: vm::Accel,
    source: Source,
    rounds: Rounds,
) -> std::result::Result<Boot, Failure> {
    let fail = |reason: String, log: &Path| Failure {
        source: source.label(),
        reason,
        log: log.display().to_string(),
    };
    let out = ctx
        .run_dir(&format!("bench-{}", source.slug()))
        .map_err(|e| fail(format!("{e:#}"), Path::new("")))?;
    let mut cmd = format!(
        "python3 {} --out {} --c {} --rust {} --pairs {} --warmup {} --ref-reps {} --order {} --clock {} --dax \"$KMEM_RS_DAX\"",
        vm::shell_quote(&ctx.repo.join(GUEST_BENCH).display().to_string()),
        vm::shell_quote(&out.display().to_string()),
        vm::shell_quote(&kernel.kmem_module(Driver::C).display().to_string()),
        vm::shell_quote(&kernel.kmem_module(Driver::Rust).display().to_string()),
        rounds.pairs,
        rounds.warmup,
        rounds.ref_reps,
        order(),
        rounds.clock.name(),
    );
    if rounds.trace {
        cmd.push_str(" --trace");
    }
    let mut append = vec!["memory_hotplug.memmap_on_memory=1".to_string()];
    if source == Source::Hmem {
        // An idle region: its seed device starts empty, for `mapping`.
        append.push("dax_hmem.region_idle=1".into());
        let ranges: Vec<String> = HMEM_RANGES_MIB
            .iter()
            .map(|(off, size)| format!("{off}:{size}"))
            .collect();
        cmd.push_str(&format!(" --make-ranges {}", ranges.join(",")));
    }
    let mut echo = |line: &str| println!("    {line}");
    let name = format!("boot + bench, {}", source.label());
    // Generous: the 2-GiB probe run takes ~1 s per iteration under TCG, and
    // boots take twice as long under icount.
    let gib = source.size_gib().ceil() as u64;
    let timeout =
        Duration::from_secs(1200 + 120 * gib * u64::from(rounds.pairs + rounds.warmup + 2));
    let res = GuestRun {
        name: &name,
        out: out.clone(),
        append,
        timeout,
        follow: Some(("exec.out", &mut echo)),
        module: Some(kernel.kmem_module(Driver::C)),
        qemu_opts: rounds.clock.qemu_opts(),
    }
    .run_relayed_platform(
        &source.platform(rounds.clock.cpus()),
        ctx,
        kernel,
        accel,
        &["exec", "1", &cmd],
        "exec.rc",
    );
    let console = out.join("console.log");
    if let Err(e) = res {
        let tail = fs::read_to_string(out.join("exec.out")).unwrap_or_default();
        let last = tail
            .lines()
            .rev()
            .find(|l| l.starts_with("kmem-rs"))
            .unwrap_or("");
        let why = if last.is_empty() {
            format!("{e:#}")
        } else {
            format!("{e:#}; {last}")
        };
        return Err(fail(why, &console));
    }
    let text = fs::read_to_string(out.join("bench.jsonl")).unwrap_or_default();
    let recs = parse_jsonl(&text).map_err(|e| fail(format!("{e:#}"), &out.join("bench.jsonl")))?;
    Ok(Boot { recs, text, out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_fits_pmem_in_node1() {
        let t = topology(16);
        assert_eq!(t.memory, "20G");
        assert_eq!(t.numa, ["2G,cpus=0-1", "18G"]);
        assert_eq!(t.pmem, "memmap=16G!6G");
        // Unlike the test platforms' memory-only node 1, the benchmark's
        // node 1 keeps 2 GiB of RAM from boot (the v1 figures' shape).
        assert_eq!(topology(2).cpus, vm::TOPOLOGY.cpus);
    }

    #[test]
    fn clock_and_sources() {
        assert_eq!(
            Clock::Icount.qemu_opts(),
            ["-icount", "shift=0,align=off,sleep=off"]
        );
        assert!(Clock::Wall.qemu_opts().is_empty());
        assert_eq!(Source::Pmem(64).platform(2).topology.memory, "68G");
        assert_eq!(Source::Hmem.platform(2).kind, PlatformKind::Hmem);
        assert!(Source::Cxl.platform(2).pinned_qemu);
        let one = Source::Hmem.platform(Clock::Icount.cpus()).topology;
        assert_eq!(
            (one.cpus, one.numa),
            (1, &["2G,cpus=0", "2G,initiator=0"][..])
        );
        assert_eq!(Source::Pmem(1).platform(2).topology.numa[0], "2G,cpus=0-1");
        // The HMEM ranges are whole 128 MiB blocks inside the 2 GiB node,
        // apart from each other, and add up to the size the tables show.
        let mut end = 0;
        for (i, (off, size)) in HMEM_RANGES_MIB.iter().enumerate() {
            assert!(off % 128 == 0 && size % 128 == 0 && off + size <= 2048);
            assert!(i == 0 || *off > end);
            end = off + size;
        }
        let total: u64 = HMEM_RANGES_MIB.iter().map(|r| r.1).sum();
        assert_eq!(total as f64 / 1024.0, Source::Hmem.size_gib());
        let rec: GuestRecord = serde_json::from_str(
            r#"{"kind": "op", "bind_ns": 5, "bind_cpu_ns": 4, "bind_waits": 1}"#,
        )
        .unwrap();
        assert_eq!(
            (
                rec.op_ns("bind"),
                rec.op_cpu_ns("bind"),
                rec.op_waits("bind")
            ),
            (Some(5), Some(4), Some(1))
        );
        assert_eq!(rec.op_cpu_ns("unplug"), None);
    }
}
