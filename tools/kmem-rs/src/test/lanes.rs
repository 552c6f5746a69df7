// SPDX-License-Identifier: GPL-2.0-only
//! Test lanes: the suites a config variant adds to [`super::suites::SUITES`],
//! and the scenario table the harness prints for them.
//!
//! The debug lane (`cargo kmem test --variant debug`, configs/debug.config:
//! KASAN, lockdep, kmemleak, fault injection, panic_on_warn) runs every suite
//! of the normal lane, then the full stress and fault-injection suites, which
//! are too slow for CI's budget and need the debug kernel's fault injection.

use std::time::Duration;

use super::suites::Suite;
use crate::vm::PlatformKind;

/// The variant whose lane adds [`DEBUG_SUITES`].
pub const DEBUG_VARIANT: &str = "debug";

/// A 512 MiB pmem region in place of the usual 2 GiB (4 blocks instead of
/// 16), which makes each hotplug of the many in these suites about four
/// times cheaper. Node 1 keeps 1.5 GiB of RAM from boot on: these suites
/// test the driver's paths, not the node's transitions.
const SMALL_PMEM: &str = "memmap=512M!4G";

pub const DEBUG_SUITES: &[Suite] = &[
    Suite {
        name: "stress",
        about: "selftests/dax/dax-kmem-stress.sh in full: 200 bind/unbind and 200 state cycles, \
                4 writers racing state for 30 s, unplug in use, 10,000 hostile writes, reloads, \
                kmemleak clean",
        append: &[],
        timeout: Duration::from_secs(5400),
        per_driver: true,
        platform: PlatformKind::Pmem,
        pmem: Some(SMALL_PMEM),
    },
    Suite {
        name: "stress-hmem",
        about: "selftests/dax/dax-kmem-stress.sh on a two-range device of the HMEM region",
        append: &["dax_hmem.region_idle=1"],
        timeout: Duration::from_secs(5400),
        per_driver: true,
        platform: PlatformKind::Hmem,
        pmem: None,
    },
    Suite {
        name: "stress-cxl",
        about: "selftests/dax/dax-kmem-stress.sh on the CXL region's device, 40 cycles and a 15 s \
                race by default (slow CXL memory under emulation)",
        append: &[],
        timeout: Duration::from_secs(5400),
        per_driver: true,
        platform: PlatformKind::Cxl,
        pmem: None,
    },
    Suite {
        name: "faults",
        about: "selftests/dax/dax-kmem-faults.sh: fail-nth, failslab and fail_page_alloc sweeps \
                over probe and state, memory notifier errors, reloads, kmemleak clean",
        append: &[],
        timeout: Duration::from_secs(5400),
        per_driver: true,
        platform: PlatformKind::Pmem,
        pmem: Some(SMALL_PMEM),
    },
    Suite {
        name: "fixes",
        about: "selftests/dax/dax-kmem-faults.sh parts 4-6: one fail-nth sweep per core fix, \
                failing only allocations under the function it guards (alloc_low_pages, \
                __add_pages, kasan_mem_notifier); the 2 GiB device, whose direct map needs \
                new page tables",
        append: &[],
        timeout: Duration::from_secs(5400),
        per_driver: true,
        platform: PlatformKind::Pmem,
        pmem: None,
    },
    Suite {
        name: "partial",
        about: "selftests/dax/dax-kmem-partial.sh: a two-range HMEM device bound with fail-nth \
                under one range's reservation, then under its add: refused with nothing left, \
                or bound with the first range only, which unplug, online and unbind recover",
        append: &["dax_hmem.region_idle=1"],
        timeout: Duration::from_secs(1800),
        per_driver: true,
        platform: PlatformKind::Hmem,
        pmem: None,
    },
];

/// The stress and fault scripts' count knobs. Set in the host's environment
/// (e.g. `DAX_KMEM_STRESS_CYCLES=20 cargo kmem test --variant debug`), they
/// reach the lane's guests as `kmem_rs.NAME=VALUE` on the kernel command
/// line (a dotted parameter the kernel leaves alone), which the guest
/// script's suite exports. Unset, the scripts' defaults run: the issue's
/// full counts. The TAP descriptions carry the counts that ran.
pub const KNOBS: &[&str] = &[
    "DAX_KMEM_STRESS_CYCLES",
    "DAX_KMEM_STRESS_RACE_SECS",
    "DAX_KMEM_STRESS_WRITES",
    "DAX_KMEM_FAULT_DENSE",
    "DAX_KMEM_FAULT_GROWTH",
    "DAX_KMEM_FAULT_PARTS",
    "DAX_KMEM_FAULT_SHADOW",
    "DAX_KMEM_FIX_PARTS",
];

/// The kernel command line for `suite`'s boot that carries the knobs set in
/// the host's environment: nothing for the suites of other lanes.
pub fn knob_args(suite: &str) -> Vec<String> {
    knob_args_from(suite, |k| std::env::var(k).ok())
}

fn knob_args_from(suite: &str, get: impl Fn(&str) -> Option<String>) -> Vec<String> {
    if !DEBUG_SUITES.iter().any(|s| s.name == suite) {
        return Vec::new();
    }
    KNOBS
        .iter()
        .filter_map(|k| {
            let v = get(k)?;
            (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| format!("kmem_rs.{k}={v}"))
        })
        .collect()
}

/// The suites `variant` adds to the common ones.
pub fn extra_suites(variant: Option<&str>) -> &'static [Suite] {
    match variant {
        Some(DEBUG_VARIANT) => DEBUG_SUITES,
        _ => &[],
    }
}

/// Kernel parameters every boot of `variant`'s lane adds.
///
/// The debug kernel boots with 4-level paging (`no5lvl`, read by the
/// decompressor, so it cannot be built into the kernel's command line):
/// `identify_cpu()` clears `boot_cpu_data`'s capabilities and reads them
/// again with interrupts on, and while LA57 reads as off, KASAN takes the
/// 5-level direct map for wild addresses. An interrupt in that window was
/// a false "KASAN: wild-memory-access in do_raw_spin_lock" in
/// `handle_edge_irq()`, 4 ms into boot, under `__cpuid_reset_table()`, long
/// before any driver, at an address of the 5-level direct map (twice in 19
/// debug boots on 2026-12-04, after none in the 35 before; QEMU's TCG CPU
/// has LA57). A base-tree bug, not this project's; kmem does not depend on
/// the paging depth.
///
/// An Oops panics (`oops=panic`; virtme's `panic=-1` then ends the guest),
/// as a WARN does: the Oops fails the run either way, and a task killed
/// while it held the hotplug locks would otherwise leave the suite hanging
/// until its time limit.
pub fn variant_args(variant: Option<&str>) -> &'static [&'static str] {
    match variant {
        Some(DEBUG_VARIANT) => &["no5lvl", "oops=panic"],
        _ => &[],
    }
}

/// One row of the scenario table: a test of a per-driver suite, with the
/// verdict of each driver ("ok", "FAIL" or "-" when it did not run).
pub struct Row {
    pub scenario: String,
    pub c: String,
    pub rust: String,
}

/// Scenario rows from the C and Rust test descriptions and verdicts, test by
/// test. The description is the C driver's, cut at the first ':' (details
/// such as counts follow it and may differ).
pub fn rows(suite: &str, c: &[(String, bool)], rust: &[(String, bool)]) -> Vec<Row> {
    let verdict = |t: Option<&(String, bool)>| match t {
        Some((_, true)) => "ok".to_string(),
        Some((_, false)) => "FAIL".to_string(),
        None => "-".to_string(),
    };
    (0..c.len().max(rust.len()))
        .map(|i| {
            let desc = c.get(i).or(rust.get(i)).map(|t| t.0.as_str()).unwrap_or("");
            let short = desc.split(':').next().unwrap_or(desc).trim();
            Row {
                scenario: format!("{suite} {}: {short}", i + 1),
                c: verdict(c.get(i)),
                rust: verdict(rust.get(i)),
            }
        })
        .collect()
}

/// The table, one line per row, each starting with "# ".
pub fn render(rows: &[Row], reports: &[(String, String, String)]) -> String {
    let w = rows
        .iter()
        .map(|r| r.scenario.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut s = format!("# {:<w$}  {:>6}  {:>6}\n", "scenario", "C", "Rust");
    for r in rows {
        s.push_str(&format!(
            "# {:<w$}  {:>6}  {:>6}\n",
            r.scenario, r.c, r.rust
        ));
    }
    s.push_str("# kernel reports (KASAN, lockdep, kmemleak, WARN, BUG, Oops, panic, hang):\n");
    for (suite, c, rust) in reports {
        s.push_str(&format!("#   {suite:<22} C: {c:<24} Rust: {rust}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_boots_use_four_level_paging() {
        assert_eq!(variant_args(Some(DEBUG_VARIANT)), ["no5lvl", "oops=panic"]);
        assert!(variant_args(None).is_empty());
    }

    #[test]
    fn lane_suites() {
        assert_eq!(extra_suites(None).len(), 0);
        assert_eq!(extra_suites(Some("nohotremove")).len(), 0);
        let names: Vec<_> = extra_suites(Some("debug")).iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            vec![
                "stress",
                "stress-hmem",
                "stress-cxl",
                "faults",
                "fixes",
                "partial"
            ]
        );
        for s in DEBUG_SUITES {
            assert!(s.per_driver, "{}: the C/Rust comparison needs both", s.name);
            assert!(
                !crate::test::suites::SUITES.iter().any(|t| t.name == s.name),
                "{} is in both lists",
                s.name
            );
        }
    }

    #[test]
    fn lane_suites_exist_in_guest_script() {
        crate::test::suites::tests::assert_in_guest_script(DEBUG_SUITES);
    }

    #[test]
    fn knobs_reach_lane_suites_only() {
        let get = |k: &str| match k {
            "DAX_KMEM_STRESS_CYCLES" => Some("20".to_string()),
            "DAX_KMEM_STRESS_WRITES" => Some("1e4".to_string()),
            _ => None,
        };
        assert_eq!(
            knob_args_from("stress", get),
            vec!["kmem_rs.DAX_KMEM_STRESS_CYCLES=20".to_string()]
        );
        assert!(knob_args_from("kmem-state", get).is_empty());
    }

    #[test]
    fn scenario_rows() {
        let c = vec![
            ("200 bind/unbind cycles: 0 leaks".to_string(), true),
            ("reload".to_string(), true),
        ];
        let r = vec![("200 bind/unbind cycles: 1 leak".to_string(), false)];
        let rows = rows("stress", &c, &r);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].scenario, "stress 1: 200 bind/unbind cycles");
        assert_eq!((rows[0].c.as_str(), rows[0].rust.as_str()), ("ok", "FAIL"));
        assert_eq!(rows[1].rust, "-");
        let t = render(&rows, &[("stress".into(), "none".into(), "1 KASAN".into())]);
        assert!(t.contains("stress 2: reload"));
        assert!(t.contains("Rust: 1 KASAN"));
        assert!(t.lines().all(|l| l.starts_with('#')));
    }
}
