// SPDX-License-Identifier: GPL-2.0-only
//! Issue #7's targets, the verdicts against them, and the cell formatting
//! the report's tables share.

use std::fmt::Write as _;

use super::guest::OPS;
use super::results::{OpStats, Results};
use super::stats::{spread, Summary};

/// Issue #7's targets; the Rust/C target of issue #15 for the icount clock,
/// which measures instructions, not host time.
pub const TARGET_RATIO: f64 = 1.02;
pub const TARGET_RATIO_ICOUNT: f64 = 1.01;
/// Under icount, the busy loop must repeat this closely within a boot, or
/// guest time is not following the instruction count.
pub const ICOUNT_LOOP_SPREAD: f64 = 0.001;
pub const TARGET_TEXT_RATIO: f64 = 1.5;
pub const TARGET_MEMMAP_OVERHEAD: f64 = 0.01;
/// "Roughly constant" time per GiB: the largest over the smallest ms/GiB of
/// an operation across sizes, at most this.
pub const TARGET_PER_GIB_SPREAD: f64 = 1.25;

// --- cell formatting -----------------------------------------------------------

/// Whether the run counted instructions (`--clock icount`).
pub fn icount(r: &Results) -> bool {
    r.clock == "icount"
}

/// The Rust/C target of the run's clock.
pub fn target_ratio(r: &Results) -> f64 {
    if icount(r) {
        TARGET_RATIO_ICOUNT
    } else {
        TARGET_RATIO
    }
}

/// The unit of the run's times: under icount a guest millisecond is a
/// million instructions.
pub fn unit(r: &Results) -> &'static str {
    if icount(r) {
        "M instr"
    } else {
        "ms"
    }
}

/// What the run's clock measured, for the report.
pub fn clock_text(r: &Results) -> String {
    if icount(r) {
        format!(
            "Clock: **icount**. QEMU ran with `-icount shift=0,align=off,sleep=off`: guest time \
             advances 1 ns per instruction executed, so a time is an instruction count, free of \
             the host's load and of TCG's translation time (a wait with every vCPU idle jumps \
             to the next timer instead). The guest has one vCPU, so that no other vCPU's \
             instructions land in an operation's figures. Guest clocksource `{}`; a fixed busy \
             loop took {} [{}–{}] ns over {} runs in all boots: within one boot it repeats to \
             {:.3}% at worst, across boots to {:.3}% (not located; both drivers of a pair \
             always run in the same boot, so the ratios do not see it). The clock reads around a write \
             cost {} ns of CPU time, taken off every work figure.",
            r.clocksource,
            f0(r.calibration.median),
            f0(r.calibration.min),
            f0(r.calibration.max),
            r.calibration.n,
            r.calibration_boot_spread * 100.0,
            r.calibration_spread * 100.0,
            r.cpu_overhead_ns
        )
    } else {
        format!(
            "Clock: **wall**. Host time as TCG gives it: translation and the host's load \
             included. Guest clocksource `{}`; a fixed busy loop took {} [{}–{}] ns over {} \
             runs in all boots.",
            r.clocksource,
            f0(r.calibration.median),
            f0(r.calibration.min),
            f0(r.calibration.max),
            r.calibration.n
        )
    }
}

/// A median time in the run's unit: under icount an instruction count
/// (M = millions, k = thousands), else milliseconds.
pub fn amount(r: &Results, ms: f64) -> String {
    if !ms.is_finite() {
        "–".into()
    } else if !icount(r) {
        format!("{ms:.3} ms")
    } else if ms >= 1.0 {
        format!("{ms:.2} M")
    } else {
        format!("{:.1} k", ms * 1000.0)
    }
}

/// The figures a verdict is on: under icount the work (the writer's CPU
/// time, without the waits), else the elapsed time. C's sample and the
/// pair ratios.
pub fn judged_figures<'a>(r: &Results, o: &'a OpStats) -> (&'a Summary, &'a Summary) {
    if icount(r) {
        (&o.c_cpu, &o.cpu_ratio)
    } else {
        (&o.c, &o.ratio)
    }
}

/// The median Rust/C ratio a verdict is on ([`judged_figures`]).
pub fn judged(r: &Results, o: &OpStats) -> f64 {
    judged_figures(r, o).1.median
}

pub fn f0(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.0}")
    } else {
        "–".into()
    }
}

/// The spread of a sample, max − min, as a share of its median.
pub fn pct(s: &Summary) -> String {
    let p = (s.max - s.min) / s.median * 100.0;
    if !p.is_finite() {
        "–".into()
    } else if p < 0.1 {
        format!("{p:.3}%")
    } else {
        format!("{p:.1}%")
    }
}

pub fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

pub fn f1(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "–".into()
    }
}

pub fn f2(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        "–".into()
    }
}

pub fn f3(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "–".into()
    }
}

pub fn onoff(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// Ratio verdicts per op: is the median pair ratio within target everywhere?
pub fn ratio_misses(r: &Results) -> Vec<String> {
    let mut out = Vec::new();
    for p in &r.points {
        for o in &p.ops {
            if judged(r, o).is_nan() || judged(r, o) > target_ratio(r) {
                out.push(format!(
                    "{} {} memmap {}: {}",
                    o.op,
                    p.source.label(),
                    onoff(p.memmap_on_memory),
                    f3(judged(r, o))
                ));
            }
        }
    }
    out
}

/// The targets table, the last section of the report; `sizes` are the sizes
/// that ran, in order.
pub fn table(s: &mut String, r: &Results, sizes: &[u32]) {
    let _ = writeln!(s, "\n#### Targets (measured, not asserted)\n");
    let _ = writeln!(s, "| target | measured | verdict |");
    let _ = writeln!(s, "| --- | --- | :---: |");
    if icount(r) {
        let _ = writeln!(
            s,
            "| guest time follows icount: the busy loop repeats within {:.1}% in every boot | worst {:.3}% | {} |",
            ICOUNT_LOOP_SPREAD * 100.0,
            r.calibration_boot_spread * 100.0,
            verdict(r.calibration_boot_spread <= ICOUNT_LOOP_SPREAD)
        );
    }
    let worst = r
        .points
        .iter()
        .flat_map(|p| p.ops.iter().map(move |o| (p, o)))
        .max_by(|a, b| judged(r, a.1).total_cmp(&judged(r, b.1)));
    if let Some((p, o)) = worst {
        let misses = ratio_misses(r);
        let _ = writeln!(
            s,
            "| Rust/C median ratio ≤ {}, every operation and device{} | worst {} ({} on {}, memmap {}); {} of {} points above | {} |",
            target_ratio(r),
            if icount(r) { " (work: instructions of the writer)" } else { "" },
            f3(judged(r, o)),
            o.op,
            p.source.label(),
            onoff(p.memmap_on_memory),
            misses.len(),
            r.points.len() * OPS.len(),
            verdict(misses.is_empty())
        );
    }
    if sizes.len() >= 2 {
        let mut worst_sp: (f64, String) = (0.0, String::new());
        for op in ["bind", "unplug", "online"] {
            for memmap in [false, true] {
                for rust in [false, true] {
                    let v: Vec<f64> = r
                        .points
                        .iter()
                        .filter(|p| p.memmap_on_memory == memmap)
                        .filter_map(|p| p.op(op))
                        .map(|o| {
                            if rust {
                                o.rust_ms_per_gib
                            } else {
                                o.c_ms_per_gib
                            }
                        })
                        .collect();
                    let sp = spread(&v);
                    if sp > worst_sp.0 {
                        worst_sp = (
                            sp,
                            format!(
                                "{op}, memmap {}, {}",
                                onoff(memmap),
                                if rust { "Rust" } else { "C" }
                            ),
                        );
                    }
                }
            }
        }
        let _ = writeln!(
            s,
            "| time per GiB roughly constant, {}–{} GiB (spread ≤ {TARGET_PER_GIB_SPREAD}) | worst spread {} ({}) | {} |",
            sizes.first().unwrap_or(&0),
            sizes.last().unwrap_or(&0),
            f2(worst_sp.0),
            worst_sp.1,
            verdict(worst_sp.0 <= TARGET_PER_GIB_SPREAD)
        );
    } else {
        let _ = writeln!(
            s,
            "| time per GiB roughly constant | only one size ran | – |"
        );
    }
    let rels: Vec<(u32, f64)> = sizes
        .iter()
        .filter_map(|z| {
            let get = |memmap: bool| {
                r.points
                    .iter()
                    .find(|p| p.pmem_gib() == Some(*z) && p.memmap_on_memory == memmap)
                    .and_then(|p| p.overhead_of("c"))
                    .map(|o| o.used_kib_per_gib.median)
            };
            let rel = get(true)? / get(false)?;
            rel.is_finite().then_some((*z, rel))
        })
        .collect();
    if let Some(worst) = rels.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        let _ = writeln!(
            s,
            "| DRAM used with memmap_on_memory ≤ {:.0}% of C without | worst {:.2}% ({} GiB) | {} |",
            TARGET_MEMMAP_OVERHEAD * 100.0,
            worst.1 * 100.0,
            worst.0,
            verdict(worst.1 <= TARGET_MEMMAP_OVERHEAD)
        );
    }
    let c = r.modules.iter().find(|m| m.driver == "C");
    // The module rebuilt without its KUnit tests, else the one measured.
    let rust = r
        .modules
        .iter()
        .filter(|m| m.driver == "Rust")
        .max_by_key(|m| m.without_kunit);
    if let (Some(c), Some(rust)) = (c, rust) {
        let ratio = rust.text_section as f64 / c.text_section as f64;
        let how = if rust.without_kunit {
            "KUnit tests compiled out"
        } else {
            "KUnit tests built in"
        };
        let _ = writeln!(
            s,
            "| Rust `kmem.ko` .text ≤ {TARGET_TEXT_RATIO}× C | {ratio:.2}× ({} / {} bytes, {how}) | {} |",
            rust.text_section,
            c.text_section,
            verdict(ratio <= TARGET_TEXT_RATIO)
        );
    }
}
