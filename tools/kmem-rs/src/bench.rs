// SPDX-License-Identifier: GPL-2.0-only
//! `bench`: the C and the Rust kmem.ko side by side in the same boot, per
//! device (pmem sizes, a multi-range HMEM device, a CXL region) and
//! memmap_on_memory setting, with the core's own per-block onlining as a
//! reference; memory overhead and module sizes. Writes JSON, the guest's raw
//! records, a markdown report, the cover letter's summary and SVG plots
//! under `tools/kmem-rs/bench-results/`.
//!
//! The guest side is `guest/kmem-rs-bench.py`; it times each operation
//! around the one write(2) that triggers it, as elapsed time and as the
//! writer's CPU time. Under `--clock icount` (the default) guest time counts
//! instructions. Targets of issues #7 and #15 are reported as measured
//! against target, never asserted. `--trace` (with the trace config variant)
//! keeps a function graph of each operation instead.
//!
//! The parts import one way: `guest` (the guest protocol and boot) and `size`
//! (module sizes) at the bottom, then `stats`, `results` (points and the
//! whole run), `targets` (verdicts, cell formatting), `report` (bench.md),
//! `plot` (the SVGs) and `summary` (cover letter and README); this file, the
//! entry point, uses them all.

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
mod summary;
mod targets;

use crate::build::{Driver, Kernel};
use crate::ctx::Ctx;
use crate::kconfig;
use crate::run::{capture, command};
use crate::vm;

pub use guest::Clock;
use guest::{order, run_source, Boot, Failure, Rounds, Source};
use report::markdown;
use results::{point, Results};
use size::module_size;
use stats::summarize;

/// Where results are kept, relative to the repository root.
pub const RESULTS_DIR: &str = "tools/kmem-rs/bench-results";
/// The cover letter's table (`@BENCH@`), in the results directory.
pub const SUMMARY: &str = "bench-summary.txt";
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

/// The devices benchmarked beside the pmem sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Device {
    /// A 1.5 GiB device of three ranges on the hmem platform.
    Hmem,
    /// The 512 MiB region of the cxl platform (QEMU 10, `cargo kmem setup`).
    Cxl,
    /// No device beside the pmem sizes.
    None,
}

pub struct Options {
    pub sizes: Vec<u32>,
    pub devices: Vec<Device>,
    pub clock: Clock,
    pub pairs: u32,
    pub warmup: u32,
    pub ref_reps: u32,
    pub out: Option<PathBuf>,
}

// --- the run -------------------------------------------------------------------

fn host_facts(ctx: &Ctx, accel: vm::Accel) -> BTreeMap<String, String> {
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
    // The CXL point runs on the pinned QEMU of versions.toml.
    if let Some(q) =
        crate::qemu::unpacked(ctx).and_then(|q| capture(command(q.binary()).arg("--version")))
    {
        h.insert(
            "qemu_pinned".into(),
            q.lines().next().unwrap_or("").to_string(),
        );
    }
    h
}

pub fn now_utc() -> String {
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
    // The sources the guests run, as they are when the run starts.
    let commit = capture(
        command("git")
            .arg("-C")
            .arg(&ctx.repo)
            .args(["describe", "--always", "--dirty"]),
    )
    .unwrap_or_default();
    let accel = vm::accel(ctx, kernel)?;
    let modules = modules(ctx, kernel)?;
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| ctx.repo.join(RESULTS_DIR));
    let raw = dir.join("raw");
    fs::create_dir_all(&raw)?;
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
    let mut sources: Vec<Source> = opts.sizes.iter().map(|&g| Source::Pmem(g)).collect();
    for d in &opts.devices {
        match d {
            Device::Hmem => sources.push(Source::Hmem),
            Device::Cxl => sources.push(Source::Cxl),
            Device::None => {}
        }
    }
    let rounds = Rounds {
        pairs: opts.pairs,
        warmup: opts.warmup,
        ref_reps: opts.ref_reps,
        clock: opts.clock,
        trace: false,
    };
    let mut points = Vec::new();
    let mut failed = Vec::new();
    let mut guests = Vec::new();
    for &source in &sources {
        println!("  ── {} ({} clock)", source.label(), opts.clock.name());
        match run_source(ctx, kernel, accel, source, rounds) {
            Ok(Boot { recs, text, .. }) => {
                fs::write(raw.join(format!("{}.jsonl", source.slug())), text)?;
                if let Some(g) = recs.iter().find(|r| r.kind == "guest") {
                    guests.push(g.clone());
                }
                for memmap in [false, true] {
                    match point(source, memmap, &recs) {
                        Ok(p) => points.push(p),
                        Err(e) => failed.push(Failure {
                            source: source.label(),
                            reason: format!("{e:#}"),
                            log: String::new(),
                        }),
                    }
                }
            }
            Err(f) => {
                eprintln!(
                    "  ✗ {} did not run: {}\n    log: {}",
                    f.source, f.reason, f.log
                );
                failed.push(f);
            }
        }
    }
    // The guest facts of the first pmem boot (else of any) head the report.
    let first = guests
        .iter()
        .find(|g| g.ranges.len() == 1)
        .or(guests.first())
        .cloned()
        .unwrap_or_default();
    let calibration: Vec<f64> = guests
        .iter()
        .flat_map(|g| g.calibration_ns.iter().map(|&ns| ns as f64))
        .collect();
    let calibration = summarize(&calibration);
    let calibration_boot_spread = guests
        .iter()
        .map(|g| boot_spread(&g.calibration_ns))
        .fold(0.0, f64::max);
    let results = Results {
        clock: opts.clock.name().into(),
        clocksource: first.clocksource.clone().unwrap_or_default(),
        calibration_spread: calibration.max / calibration.min - 1.0,
        calibration_boot_spread,
        cpu_overhead_ns: first
            .extra
            .get("cpu_overhead_ns")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
        calibration,
        date: now_utc(),
        commit,
        kernel_release: kernel.release(),
        guest_uname: first.uname.clone().unwrap_or_default(),
        guest_cmdline: first.cmdline.clone().unwrap_or_default(),
        guest_memmap_param: first.memmap_param.clone().unwrap_or_default(),
        config_sha256: format!("{:x}", Sha256::digest(dotconfig.as_bytes())),
        config,
        host: host_facts(ctx, accel),
        pairs: opts.pairs,
        warmup: opts.warmup,
        ref_reps: opts.ref_reps,
        order: order(),
        sizes_gib: opts.sizes.clone(),
        sources,
        points,
        failed,
        modules,
        seconds: started.elapsed().as_secs_f64(),
    };
    write(ctx, &dir, &results)?;
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

/// max/min − 1 of one boot's busy-loop times.
fn boot_spread(ns: &[u64]) -> f64 {
    let (min, max) = (ns.iter().min(), ns.iter().max());
    match (min, max) {
        (Some(&a), Some(&b)) if a > 0 => b as f64 / a as f64 - 1.0,
        _ => 0.0,
    }
}

/// The module sizes of both drivers, and of the Rust one rebuilt without
/// its KUnit tests.
fn modules(ctx: &Ctx, kernel: &Kernel) -> Result<Vec<size::ModuleSize>> {
    let mut modules = vec![
        module_size(Driver::C, &kernel.kmem_module(Driver::C))?,
        module_size(Driver::Rust, &kernel.kmem_module(Driver::Rust))?,
    ];
    let ko = size::rust_module_without_kunit(&kernel.dir, &ctx.run_dir("bench-size")?)?;
    // Named after the module it stands for, not the scratch directory.
    modules.push(size::ModuleSize {
        without_kunit: true,
        path: format!(
            "{}, rebuilt without its KUnit tests",
            kernel.kmem_module(Driver::Rust).display()
        ),
        ..module_size(Driver::Rust, &ko)?
    });
    Ok(modules)
}

/// Writes bench.json, bench.md, the cover letter's summary and the plots
/// into `dir`, and prints the table. Results in the repository's own
/// results directory also update README's bench block.
fn write(ctx: &Ctx, dir: &std::path::Path, results: &Results) -> Result<()> {
    fs::create_dir_all(dir)?;
    // The results first: nothing after them may lose them.
    let json = serde_json::to_string_pretty(results)?;
    fs::write(dir.join("bench.json"), json + "\n")?;
    let md = markdown(results);
    fs::write(dir.join("bench.md"), &md)?;
    fs::write(dir.join(SUMMARY), summary::cover_text(results))?;
    if !results.points.is_empty() {
        plot::plot(results, &dir.join("bench.svg"))?;
        plot::plot_blocks(results, &dir.join("bench-blocks.svg"))?;
    }
    println!("{md}");
    if dir == ctx.repo.join(RESULTS_DIR) {
        let path = ctx.repo.join("README.md");
        let readme = fs::read_to_string(&path)?;
        let block = summary::readme_block(results);
        let new = summary::replace_block(&readme, &block)
            .with_context(|| format!("results kept in {}; README not updated", dir.display()))?;
        fs::write(&path, new)?;
    }
    Ok(())
}

/// Remakes the report of the run in `dir` without booting anything: the
/// points from the guest records kept in `dir/raw`, the module sizes from
/// the build (which must be the one measured), then bench.json, bench.md
/// and the plots.
pub fn render(ctx: &Ctx, kernel: &Kernel, dir: Option<PathBuf>) -> Result<()> {
    let dir = dir.unwrap_or_else(|| ctx.repo.join(RESULTS_DIR));
    let path = dir.join("bench.json");
    let text = fs::read_to_string(&path).with_context(|| {
        format!(
            "no results to render: {} (run `cargo kmem bench`)",
            path.display()
        )
    })?;
    let mut r: Results = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a bench.json of this version", path.display()))?;
    let dotconfig = fs::read_to_string(kernel.dir.join(".config"))
        .with_context(|| format!("no .config in {}", kernel.dir.display()))?;
    let hash = format!("{:x}", Sha256::digest(dotconfig.as_bytes()));
    if hash != r.config_sha256 {
        bail!(
            "the kernel in {} is not the one measured (config sha256 {}…, results {}…): \
             run the bench again",
            kernel.dir.display(),
            &hash[..12],
            &r.config_sha256[..12.min(r.config_sha256.len())]
        );
    }
    r.modules = modules(ctx, kernel)?;
    let mut points = Vec::new();
    let mut boot: f64 = 0.0;
    for &source in &r.sources {
        let raw = dir.join("raw").join(format!("{}.jsonl", source.slug()));
        let Ok(text) = fs::read_to_string(&raw) else {
            continue;
        };
        let recs = guest::parse_jsonl(&text)?;
        if let Some(g) = recs.iter().find(|r| r.kind == "guest") {
            boot = boot.max(boot_spread(&g.calibration_ns));
        }
        for memmap in [false, true] {
            points.push(point(source, memmap, &recs)?);
        }
    }
    if !points.is_empty() {
        r.points = points;
        r.calibration_boot_spread = boot;
    }
    write(ctx, &dir, &r)
}

/// Traces each operation once per driver on the first pmem size (a kernel
/// with function-graph tracing: `cargo kmem --variant trace bench --trace`)
/// and keeps the traces in `trace/` of the results directory.
pub fn trace(ctx: &Ctx, kernel: &Kernel, opts: &Options) -> Result<()> {
    let config = fs::read_to_string(kernel.dir.join(".config"))?;
    if !kconfig::parse(&config).contains_key("CONFIG_FUNCTION_GRAPH_TRACER") {
        bail!(
            "{} has no function-graph tracer: run `cargo kmem --variant trace bench --trace`",
            kernel.dir.display()
        );
    }
    let size = *opts.sizes.first().context("--sizes is empty")?;
    let accel = vm::accel(ctx, kernel)?;
    let rounds = Rounds {
        pairs: 1,
        warmup: 0,
        ref_reps: 0,
        clock: opts.clock,
        trace: true,
    };
    let boot = run_source(ctx, kernel, accel, Source::Pmem(size), rounds)
        .map_err(|f| anyhow::anyhow!("the trace boot failed: {} (log {})", f.reason, f.log))?;
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| ctx.repo.join(RESULTS_DIR))
        .join("trace");
    fs::create_dir_all(&dir)?;
    let mut n = 0;
    for e in fs::read_dir(&boot.out)? {
        let path = e?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if name.ends_with("-c.txt") || name.ends_with("-rust.txt") {
            fs::copy(&path, dir.join(&name))?;
            n += 1;
        }
    }
    if n == 0 {
        bail!("the trace boot left no traces in {}", boot.out.display());
    }
    println!("==> {n} traces in {}", dir.display());
    Ok(())
}
