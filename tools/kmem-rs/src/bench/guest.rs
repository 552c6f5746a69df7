// SPDX-License-Identifier: GPL-2.0-only
//! The guest side of the bench: the in-guest script's JSONL records and the
//! memory snapshots in them, the guest's shape per device size, and the boot
//! that runs the script and brings its records back.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::build::{Driver, Kernel};
use crate::ctx::Ctx;
use crate::vm::{self, GuestRun, Topology};

/// The in-guest benchmark, relative to the repository root.
pub const GUEST_BENCH: &str = "tools/kmem-rs/guest/kmem-rs-bench.py";
/// The operations timed per iteration, in order.
///
/// `unbind_warm` is the same unbind once more in the same load of the module:
/// each timed round loads its `kmem.ko` afresh, and under TCG the first run of
/// any code since insmod includes translating it, which the second run does
/// not pay.
pub const OPS: [&str; 5] = ["bind", "unplug", "online", "unbind", "unbind_warm"];

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
}

impl GuestRecord {
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
    pub size_gib: u32,
    pub reason: String,
    pub log: String,
}

// --- the guest's shape ---------------------------------------------------------

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A guest with `size_gib` of pmem: node 0 keeps 2 GiB and the CPUs, node 1
/// gets the pmem plus 2 GiB of RAM. Guest RAM above 4 GiB starts at 4 GiB
/// after the PCI hole (1 GiB of node 1 stays below it), so node 1 ends at
/// 5 GiB + size and the pmem fits exactly at 5 GiB.
pub fn topology(size_gib: u32) -> Topology {
    let numa: Vec<&'static str> = vec!["2G,cpus=0-1", leak(format!("{}G", size_gib + 2))];
    Topology {
        cpus: vm::TOPOLOGY.cpus,
        memory: leak(format!("{}G", size_gib + 4)),
        numa: Box::leak(numa.into_boxed_slice()),
        pmem: leak(format!("memmap={size_gib}G!5G")),
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

/// Boots one guest of `size_gib` and returns its records, or why it failed.
pub fn run_size(
    ctx: &Ctx,
    kernel: &Kernel,
    accel: vm::Accel,
    size_gib: u32,
    pairs: u32,
    warmup: u32,
    ref_reps: u32,
) -> std::result::Result<Vec<GuestRecord>, Failure> {
    let fail = |reason: String, log: &Path| Failure {
        size_gib,
        reason,
        log: log.display().to_string(),
    };
    let out = ctx
        .run_dir(&format!("bench-{size_gib}g"))
        .map_err(|e| fail(format!("{e:#}"), Path::new("")))?;
    let cmd = format!(
        "python3 {} --out {} --c {} --rust {} --pairs {} --warmup {} --ref-reps {} --order {}",
        vm::shell_quote(&ctx.repo.join(GUEST_BENCH).display().to_string()),
        vm::shell_quote(&out.display().to_string()),
        vm::shell_quote(&kernel.kmem_module(Driver::C).display().to_string()),
        vm::shell_quote(&kernel.kmem_module(Driver::Rust).display().to_string()),
        pairs,
        warmup,
        ref_reps,
        order(),
    );
    let mut echo = |line: &str| println!("    {line}");
    let topo = topology(size_gib);
    let name = format!("boot + bench, {size_gib} GiB pmem");
    // Generous: the 2-GiB probe run takes ~1 s per iteration under TCG.
    let timeout = Duration::from_secs(900 + 120 * u64::from(size_gib) * u64::from(pairs + 2));
    let res = GuestRun {
        name: &name,
        out: out.clone(),
        append: vec!["memory_hotplug.memmap_on_memory=1".into()],
        timeout,
        follow: Some(("exec.out", &mut echo)),
        module: Some(kernel.kmem_module(Driver::C)),
    }
    .run_relayed_on(&topo, ctx, kernel, accel, &["exec", "1", &cmd], "exec.rc");
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
    parse_jsonl(&text).map_err(|e| fail(format!("{e:#}"), &out.join("bench.jsonl")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_fits_pmem_in_node1() {
        let t = topology(16);
        assert_eq!(t.memory, "20G");
        assert_eq!(t.numa, ["2G,cpus=0-1", "18G"]);
        assert_eq!(t.pmem, "memmap=16G!5G");
        // Unlike the test platforms' memory-only node 1, the benchmark's
        // node 1 keeps 2 GiB of RAM from boot (the v1 figures' shape).
        assert_eq!(topology(2).cpus, vm::TOPOLOGY.cpus);
    }
}
