// SPDX-License-Identifier: GPL-2.0-only
//! `bench`: the C and the Rust kmem.ko side by side in the same boot, per
//! device size and memmap_on_memory setting, with the core's own per-block
//! onlining as a reference; memory overhead and module sizes. Writes JSON, a
//! markdown table and an SVG plot under `tools/kmem-rs/bench-results/`.
//!
//! The guest side is `guest/kmem-rs-bench.py`; it times each operation with
//! CLOCK_MONOTONIC around the one write(2) that triggers it. Targets of issue
//! #7 are reported as measured against target, never asserted.
//!
//! The parts import one way: `guest` (the guest protocol and boot) and `size`
//! (module sizes) at the bottom, then `stats`, `results` (points and the
//! whole run), `targets` (verdicts, cell formatting), `report` (bench.md)
//! and `plot` (bench.svg); this file, the entry point, uses them all.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::Instant;

mod guest;
mod plot;
mod report;
mod results;
mod size;
mod stats;
mod targets;

use crate::build::{Driver, Kernel};
use crate::ctx::Ctx;
use crate::kconfig;
use crate::run::{capture, command};
use crate::vm;

use guest::{order, run_size, Failure};
use report::markdown;
use results::{point, Results};
use size::module_size;

/// Where results are kept, relative to the repository root.
pub const RESULTS_DIR: &str = "tools/kmem-rs/bench-results";
/// Config options worth quoting next to the results.
const KEY_OPTIONS: &[&str] = &[
    "CONFIG_MEMORY_HOTPLUG",
    "CONFIG_MEMORY_HOTREMOVE",
    "CONFIG_MHP_MEMMAP_ON_MEMORY",
    "CONFIG_MHP_DEFAULT_ONLINE_TYPE_OFFLINE",
    "CONFIG_SPARSEMEM_VMEMMAP",
    "CONFIG_ARCH_MEMORY_PROBE",
    "CONFIG_DEV_DAX_KMEM",
    "CONFIG_DEV_DAX_KMEM_RUST",
    "CONFIG_KUNIT",
    "CONFIG_DEBUG_VM",
    "CONFIG_PROVE_LOCKING",
    "CONFIG_KASAN",
    "CONFIG_INIT_ON_FREE_DEFAULT_ON",
    "CONFIG_PREEMPT_NONE",
    "CONFIG_PREEMPT_VOLUNTARY",
    "CONFIG_PREEMPT",
    "CONFIG_HZ",
];

pub struct Options {
    pub sizes: Vec<u32>,
    pub pairs: u32,
    pub warmup: u32,
    pub ref_reps: u32,
    pub out: Option<PathBuf>,
}

// --- the run -------------------------------------------------------------------

fn host_facts(accel: vm::Accel) -> BTreeMap<String, String> {
    let mut h = BTreeMap::new();
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if let Some(m) = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')))
    {
        h.insert("cpu".into(), m.1.trim().to_string());
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    h.insert("cores".into(), cores.to_string());
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    if let Some(kb) = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
    {
        h.insert("mem_gib".into(), format!("{:.1}", kb as f64 / 1048576.0));
    }
    h.insert(
        "accel".into(),
        match accel {
            vm::Accel::Kvm => "KVM",
            vm::Accel::Tcg => "TCG",
        }
        .into(),
    );
    if let Some(k) = capture(command("uname").arg("-r")) {
        h.insert("kernel".into(), k);
    }
    if let Some(q) = capture(command("qemu-system-x86_64").arg("--version")) {
        h.insert("qemu".into(), q.lines().next().unwrap_or("").to_string());
    }
    h
}

fn now_utc() -> String {
    capture(command("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])).unwrap_or_default()
}
pub fn run(ctx: &Ctx, kernel: &Kernel, opts: &Options) -> Result<()> {
    let started = Instant::now();
    println!(
        "==> bench: C vs Rust kmem, {} GiB, {} pairs (+{} warm-up) per point, kernel {}",
        opts.sizes
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join("/"),
        opts.pairs,
        opts.warmup,
        kernel.release()
    );
    if opts.pairs == 0 {
        bail!("--pairs must be at least 1");
    }
    let accel = vm::accel(ctx, kernel)?;
    let modules = vec![
        module_size(Driver::C, &kernel.kmem_module(Driver::C))?,
        module_size(Driver::Rust, &kernel.kmem_module(Driver::Rust))?,
    ];
    let dotconfig = fs::read_to_string(kernel.dir.join(".config"))
        .with_context(|| format!("no .config in {}", kernel.dir.display()))?;
    let all = kconfig::parse(&dotconfig);
    let config = KEY_OPTIONS
        .iter()
        .map(|k| {
            (
                k.to_string(),
                all.get(*k).cloned().unwrap_or_else(|| "n".into()),
            )
        })
        .collect();
    let mut points = Vec::new();
    let mut failed = Vec::new();
    let (mut guest_uname, mut guest_cmdline, mut guest_memmap_param) =
        (String::new(), String::new(), String::new());
    for &size in &opts.sizes {
        println!("  ── {size} GiB pmem (guest RAM {} GiB)", size + 4);
        match run_size(
            ctx,
            kernel,
            accel,
            size,
            opts.pairs,
            opts.warmup,
            opts.ref_reps,
        ) {
            Ok(recs) => {
                if let Some(g) = recs.iter().find(|r| r.kind == "guest") {
                    guest_uname = g.uname.clone().unwrap_or_default();
                    guest_cmdline = g.cmdline.clone().unwrap_or_default();
                    guest_memmap_param = g.memmap_param.clone().unwrap_or_default();
                }
                for memmap in [false, true] {
                    match point(size, memmap, &recs) {
                        Ok(p) => points.push(p),
                        Err(e) => failed.push(Failure {
                            size_gib: size,
                            reason: format!("{e:#}"),
                            log: String::new(),
                        }),
                    }
                }
            }
            Err(f) => {
                eprintln!(
                    "  ✗ {size} GiB did not run: {}\n    log: {}",
                    f.reason, f.log
                );
                failed.push(f);
            }
        }
    }
    let results = Results {
        date: now_utc(),
        commit: capture(
            command("git")
                .arg("-C")
                .arg(&ctx.repo)
                .args(["describe", "--always", "--dirty"]),
        )
        .unwrap_or_default(),
        kernel_release: kernel.release(),
        guest_uname,
        guest_cmdline,
        guest_memmap_param,
        config_sha256: format!("{:x}", Sha256::digest(dotconfig.as_bytes())),
        config,
        host: host_facts(accel),
        pairs: opts.pairs,
        warmup: opts.warmup,
        ref_reps: opts.ref_reps,
        order: order(),
        sizes_gib: opts.sizes.clone(),
        points,
        failed,
        modules,
        seconds: started.elapsed().as_secs_f64(),
    };
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| ctx.repo.join(RESULTS_DIR));
    fs::create_dir_all(&dir)?;
    let json = serde_json::to_string_pretty(&results)?;
    fs::write(dir.join("bench.json"), json + "\n")?;
    let md = markdown(&results);
    fs::write(dir.join("bench.md"), &md)?;
    if !results.points.is_empty() {
        plot::plot(&results, &dir.join("bench.svg"))?;
    }
    println!("{md}");
    println!(
        "==> bench done in {:.0} s; results in {}",
        results.seconds,
        dir.display()
    );
    if results.points.is_empty() {
        bail!("no size ran; see the failures above");
    }
    Ok(())
}
