// SPDX-License-Identifier: GPL-2.0-only
//! The human table: `bench.md`, the markdown report of a run.

use std::fmt::Write as _;

use super::guest::OPS;
use super::results::{Overhead, Results};
use super::stats::spread;
use super::targets::{
    self, amount, clock_text, f0, f1, f2, f3, icount, judged, onoff, pct, target_ratio, verdict,
    TARGET_MEMMAP_OVERHEAD, TARGET_PER_GIB_SPREAD,
};

/// What each operation is, for the tables.
const OP_TEXT: [&str; 5] = [
    "bind to kmem, policy online_movable, until every block is online",
    "`state` → `unplugged`",
    "`state` → `online_movable`",
    "unbind (device unplugged)",
    "unbind again in the same module load (code already run once)",
];

/// The pmem sizes that ran, in order: the size axis of the per-size tables.
pub fn pmem_sizes(r: &Results) -> Vec<u32> {
    let mut v: Vec<u32> = r.points.iter().filter_map(|p| p.pmem_gib()).collect();
    v.dedup();
    v
}

pub fn markdown(r: &Results) -> String {
    let mut s = String::new();
    let h = |k: &str| r.host.get(k).cloned().unwrap_or_default();
    let _ = writeln!(s, "### kmem-rs bench, {}\n", r.date);
    let _ = writeln!(
        s,
        "Kernel {} (config sha256 {}…; `MEMORY_HOTPLUG={}`, `MHP_MEMMAP_ON_MEMORY={}`, `KUNIT={}`), \
         host {} ({} cores, {} GiB), {} guest; commit {}. \
         {} C/Rust pairs per point, alternating {}…, one `kmem.ko` loaded at a time, \
         after {} warm-up pair(s); times are CLOCK_MONOTONIC around the one write(2) in the guest. \
         Whole run: {:.0} s.\n",
        r.kernel_release,
        &r.config_sha256[..12.min(r.config_sha256.len())],
        r.config.get("CONFIG_MEMORY_HOTPLUG").map_or("n", String::as_str),
        r.config.get("CONFIG_MHP_MEMMAP_ON_MEMORY").map_or("n", String::as_str),
        r.config.get("CONFIG_KUNIT").map_or("n", String::as_str),
        h("cpu"),
        h("cores"),
        h("mem_gib"),
        h("accel"),
        r.commit,
        r.pairs,
        if r.order == "rust,c" {
            "Rust, C, Rust, C"
        } else {
            "C, Rust, C, Rust"
        },
        r.warmup,
        r.seconds
    );
    let ran: Vec<u32> = pmem_sizes(r);
    let _ = writeln!(
        s,
        "Sizes tried: {} GiB; ran: {} GiB.",
        r.sizes_gib
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        if ran.is_empty() {
            "none".to_string()
        } else {
            ran.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    for f in &r.failed {
        let _ = writeln!(
            s,
            "**{} failed**: {} (log `{}`).",
            f.source, f.reason, f.log
        );
    }
    let _ = writeln!(s);

    let target = target_ratio(r);
    let _ = writeln!(s, "#### Cost per operation\n");
    let _ = writeln!(s, "{}\n", clock_text(r));
    let _ = writeln!(
        s,
        "Per operation, medians over the pairs. **Work** is the writer thread's own CPU time \
         (CLOCK_THREAD_CPUTIME_ID around the write): under icount the instructions it ran, \
         without its waits. **Elapsed** is CLOCK_MONOTONIC around the write: the work plus \
         the waits, which under icount jump to the next timer when both vCPUs are idle, and \
         plus what the other vCPU ran meanwhile. Sleeps are the writer's voluntary context \
         switches. ± is the spread (max − min) as a share of the median; Rust/C is the median \
         of the pair-by-pair ratios [min–max]. The verdict (target ≤ {target}) is on {}.\n",
        if icount(r) {
            "the work"
        } else {
            "the elapsed time"
        }
    );
    let _ = writeln!(
        s,
        "| device | memmap_on_memory | operation | work C | work Rust | work Rust/C | elapsed C / Rust | elapsed Rust/C | sleeps C / Rust | target |"
    );
    let _ = writeln!(
        s,
        "| --- | :---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | :---: |"
    );
    for p in &r.points {
        for o in &p.ops {
            let i = OPS.iter().position(|x| *x == o.op);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} ±{} | {} ±{} | {} [{}–{}] | {} / {} | {} [{}–{}] | {} / {} | {} |",
                p.source.label(),
                onoff(p.memmap_on_memory),
                i.map_or(o.op.as_str(), |i| OP_TEXT[i]),
                amount(r, o.c_cpu.median),
                pct(&o.c_cpu),
                amount(r, o.rust_cpu.median),
                pct(&o.rust_cpu),
                f3(o.cpu_ratio.median),
                f3(o.cpu_ratio.min),
                f3(o.cpu_ratio.max),
                amount(r, o.c.median),
                amount(r, o.rust.median),
                f3(o.ratio.median),
                f3(o.ratio.min),
                f3(o.ratio.max),
                f0(o.c_waits.median),
                f0(o.rust_waits.median),
                verdict(judged(r, o) <= target)
            );
        }
    }

    let _ = writeln!(s, "\n#### Reference: the core alone\n");
    let _ = writeln!(
        s,
        "kmem bound with policy `offline` (it adds the memory, onlines nothing; driver and core), \
         then each `memoryN/state` written by itself: onlining and offlining by the core alone \
         (`CONFIG_ARCH_MEMORY_PROBE` is not in the test config, so no `probe` file). \
         Core share = Σ per-block online / the driver's `state` → `online_movable` (add + online), \
         C / Rust medians; per-block writes pay one syscall and one lock round per block that \
         the driver's single add does not, so the share can exceed 100%.\n"
    );
    let _ = writeln!(
        s,
        "| size | memmap_on_memory | add (kmem, offline) ms | Σ per-block online ms | per-block online ms | first → last 10 blocks ms | Σ per-block offline ms | remove ms | `online_movable` C / Rust ms | core share C / Rust |"
    );
    let _ = writeln!(
        s,
        "| ---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for p in &r.points {
        let Some(rf) = &p.reference else { continue };
        let core = rf.online_ms.median;
        let (c, ru) = p
            .op("online")
            .map_or((f64::NAN, f64::NAN), |o| (o.c.median, o.rust.median));
        let _ = writeln!(
            s,
            "| {} GiB | {} | {} | {} | {} | {} → {} | {} | {} | {} / {} | {:.0}% / {:.0}% |",
            p.size_gib,
            onoff(p.memmap_on_memory),
            f2(rf.add_ms.median),
            f2(rf.online_ms.median),
            f2(rf.block_online_ms.median),
            f2(rf.first_blocks_ms),
            f2(rf.last_blocks_ms),
            f2(rf.offline_ms.median),
            f2(rf.remove_ms.median),
            f2(c),
            f2(ru),
            100.0 * core / c,
            100.0 * core / ru
        );
    }

    let _ = writeln!(s, "\n#### Time per GiB\n");
    let _ = writeln!(
        s,
        "Median ms per GiB added; spread = largest / smallest across sizes (\"roughly constant\": ≤ {TARGET_PER_GIB_SPREAD}).\n"
    );
    let sizes = pmem_sizes(r);
    let _ = write!(s, "| operation | memmap_on_memory | driver |");
    for z in &sizes {
        let _ = write!(s, " {z} GiB |");
    }
    let _ = writeln!(s, " spread | target |");
    let _ = writeln!(
        s,
        "| --- | :---: | --- |{} ---: | :---: |",
        " ---: |".repeat(sizes.len())
    );
    for op in ["bind", "unplug", "online"] {
        for memmap in [false, true] {
            for drv in ["C", "Rust"] {
                let v: Vec<f64> = sizes
                    .iter()
                    .map(|z| {
                        r.points
                            .iter()
                            .find(|p| p.pmem_gib() == Some(*z) && p.memmap_on_memory == memmap)
                            .and_then(|p| p.op(op))
                            .map_or(f64::NAN, |o| {
                                if drv == "C" {
                                    o.c_ms_per_gib
                                } else {
                                    o.rust_ms_per_gib
                                }
                            })
                    })
                    .collect();
                let sp = spread(&v);
                let _ = write!(s, "| {op} | {} | {drv} |", onoff(memmap));
                for x in &v {
                    let _ = write!(s, " {} |", f2(*x));
                }
                let verdict_str = if sizes.len() < 2 {
                    "–"
                } else {
                    verdict(sp <= TARGET_PER_GIB_SPREAD)
                };
                let _ = writeln!(s, " {} | {} |", f2(sp), verdict_str);
            }
        }
    }

    let _ = writeln!(s, "\n#### DRAM overhead\n");
    let _ = writeln!(
        s,
        "KiB per GiB hotplugged, median over the timed iterations, caches dropped before each \
         snapshot. First the DRAM used: how much more of the RAM that was there before is in use \
         after bind, the rise of MemTotal − MemFree (the added memory counts in both; with \
         memmap_on_memory its memory map lives in it and is in neither). In brackets the \
         MemAvailable drop (MemTotal rise − MemAvailable rise): it also holds back the new \
         ZONE_MOVABLE's watermarks and the DRAM zones' `lowmem_reserve` against it (1/32 of it by \
         `lowmem_reserve_ratio`, 32 MiB per GiB), memory reserved, not consumed. \
         Target: DRAM used with memmap_on_memory at most {:.0}% of the C figure without it.\n",
        TARGET_MEMMAP_OVERHEAD * 100.0
    );
    let _ = writeln!(
        s,
        "| size | off: C | off: Rust | on: C | on: Rust | on (C) / off (C) | target |"
    );
    let _ = writeln!(s, "| ---: | ---: | ---: | ---: | ---: | ---: | :---: |");
    for z in &sizes {
        let get = |memmap: bool, drv: &str| {
            r.points
                .iter()
                .find(|p| p.pmem_gib() == Some(*z) && p.memmap_on_memory == memmap)
                .and_then(|p| p.overhead_of(drv))
        };
        let cell = |o: Option<&Overhead>| {
            o.map_or("–".into(), |o| {
                format!(
                    "{} [{}]",
                    f1(o.used_kib_per_gib.median),
                    f1(o.dram_kib_per_gib.median)
                )
            })
        };
        let off_c = get(false, "c").map_or(f64::NAN, |o| o.used_kib_per_gib.median);
        let on_c = get(true, "c").map_or(f64::NAN, |o| o.used_kib_per_gib.median);
        let rel = on_c / off_c;
        let _ = writeln!(
            s,
            "| {z} GiB | {} | {} | {} | {} | {} | {} |",
            cell(get(false, "c")),
            cell(get(false, "rust")),
            cell(get(true, "c")),
            cell(get(true, "rust")),
            if rel.is_finite() {
                format!("{:.2}%", rel * 100.0)
            } else {
                "–".into()
            },
            // Nothing measured without memmap_on_memory: no ratio to judge.
            if rel.is_finite() {
                verdict(rel <= TARGET_MEMMAP_OVERHEAD)
            } else {
                "–"
            }
        );
    }

    let _ = writeln!(s, "\n#### Module size (llvm-size-19)\n");
    let _ = writeln!(
        s,
        "The Rust module is measured as built (KUnit tests in, as in the test config) and \
         rebuilt from the same rustc, ld and objtool commands with \
         `CONFIG_DEV_DAX_KMEM_RUST_KUNIT_TEST` dropped from its configuration.\n"
    );
    let _ = writeln!(
        s,
        "| kmem.ko | .text | .data | .rodata | text/data/bss (Berkeley) | .text in KUnit tests |"
    );
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: |");
    for m in &r.modules {
        let _ = writeln!(
            s,
            "| {}{} | {} | {} | {} | {}/{}/{} | {} |",
            m.driver,
            if m.without_kunit {
                ", KUnit compiled out"
            } else {
                ""
            },
            m.text_section,
            m.data_section,
            m.rodata_section,
            m.text,
            m.data,
            m.bss,
            m.kunit_text
        );
    }
    for m in r
        .modules
        .iter()
        .filter(|m| m.driver == "C" || m.without_kunit)
    {
        let _ = writeln!(
            s,
            "\nLargest text symbols of the {} module (`llvm-nm-19 -S -C --size-sort`):\n",
            m.driver
        );
        let _ = writeln!(s, "| bytes | symbol |");
        let _ = writeln!(s, "| ---: | --- |");
        for (name, size) in &m.largest {
            let _ = writeln!(s, "| {size} | `{}` |", name.replace('|', "\\|"));
        }
    }

    targets::table(&mut s, r, &sizes);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::results::tests::results;
    use crate::bench::targets::ratio_misses;

    #[test]
    fn results_json_roundtrip_and_table() {
        let r = results();
        let json = serde_json::to_string(&r).unwrap();
        let back: Results = serde_json::from_str(&json).unwrap();
        assert_eq!(back.points[0].ops[0].c, r.points[0].ops[0].c);
        assert_eq!(back.modules, r.modules);
        let md = markdown(&r);
        assert!(md.contains("**16 GiB pmem failed**: guest RAM"));
        assert!(md.contains("| 1 GiB pmem | on | bind to kmem"));
        assert!(md.contains("Clock: **icount**"));
        assert!(md.contains("| 10.00 M / 10.00 M |"));
        assert!(md.contains("The verdict (target ≤ 1.01) is on the work."));
        assert!(md.contains("| worst 0.100% | met |"), "{md}");
        assert!(md.contains("2.00× (2000 / 1000 bytes, KUnit tests built in) | **missed** |"));
        assert!(ratio_misses(&r).is_empty());
    }
}
