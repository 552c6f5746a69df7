// SPDX-License-Identifier: GPL-2.0-only
//! The tests of the scan and the run verdicts of `reports`: sample logs
//! with each kind of report, the baseline, and the expected ones.

use super::expected::tests::{KMEMC_LEAK, OTHER_LEAK, STUCK};
use super::*;

const KASAN: &str = "\
[   41.123456] ==================================================================
[   41.123457] BUG: KASAN: slab-use-after-free in dev_dax_kmem_remove+0x1a/0x2b [kmem]
[   41.123458] Read of size 8 at addr ffff888003a1b2c0 by task bash/123
[   41.123459] Call Trace:
[   41.123460]  <TASK>
[   41.123461] ==================================================================
";

const WARN: &str = "\
[   10.000000] ------------[ cut here ]------------
[   10.000001] WARNING: CPU: 1 PID: 77 at drivers/dax/kmem.c:294 dax_kmem_cleanup_resources+0x5/0x9 [kmem]
[   10.000002] Modules linked in: kmem
[   10.000003] ---[ end trace 0000000000000000 ]---
[   10.000004] dax0.0: something after
[   10.000005] Kernel panic - not syncing: kernel: panic_on_warn set ...
[   10.000006] ---[ end Kernel panic - not syncing: kernel: panic_on_warn set ... ]---
";

#[test]
fn strips_prefixes() {
    assert_eq!(strip("[   1.5] BUG: x"), "BUG: x");
    assert_eq!(strip("<4>[ 1.5] WARNING: y"), "WARNING: y");
    assert_eq!(strip("plain"), "plain");
    assert_eq!(strip("[not a time] BUG: z"), "[not a time] BUG: z");
}

#[test]
fn finds_kasan_with_context() {
    let r = scan_text(KASAN, "console.log");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].kind, Kind::Kasan);
    assert!(r[0].line.starts_with("BUG: KASAN: slab-use-after-free"));
    assert!(r[0].context.iter().any(|l| l.contains("Read of size 8")));
}

#[test]
fn warn_then_panic() {
    let r = scan_text(WARN, "console.log");
    let kinds: Vec<_> = r.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, vec![Kind::Warn, Kind::Panic]);
    // The WARN's context stops at its end-of-trace marker.
    assert_eq!(r[0].context.len(), 3);
    assert_eq!(summary(&failing(&r)), "1 WARN, 1 panic");
}

#[test]
fn lockdep_is_not_a_plain_warn() {
    let t = "[ 5.1] WARNING: possible circular locking dependency detected\n\
             [ 5.2] 7.3.4+ #1 Not tainted\n\
             [ 5.3] BUG: sleeping function called from invalid context at mm/x.c:1\n";
    let r = scan_text(t, "dmesg.txt");
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|r| r.kind == Kind::Lockdep));
}

#[test]
fn kmemleak_counts_and_baseline() {
    let t = "kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\n\
             kmem-rs: kmemleak baseline cleared\n\
             kmemleak: 0 new suspected memory leaks\n\
             kmemleak: Kernel memory leak detector initialized (mem pool available: 15000)\n\
             kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\n";
    let r = scan_text(t, "dmesg.txt");
    assert_eq!(r.len(), 2);
    assert!(r[0].baseline && !r[1].baseline);
    let bad = failing(&r);
    assert_eq!(bad.len(), 1);
    assert_eq!(summary(&bad), "1 kmemleak");
}

#[test]
fn other_kinds() {
    for (line, kind) in [
        (
            "Oops: general protection fault, probably for non-canonical address",
            Kind::Oops,
        ),
        (
            "general protection fault: 0000 [#1] PREEMPT SMP KASAN",
            Kind::Oops,
        ),
        (
            "BUG: unable to handle page fault for address: ffffffffc0000000",
            Kind::Bug,
        ),
        ("kernel BUG at rust/kernel/lib.rs:200!", Kind::Bug),
        (
            "rust_kernel: panicked at drivers/dax/kmem_rs.rs:10:5:",
            Kind::Bug,
        ),
        (
            "list_del corruption. prev->next should be ffff888",
            Kind::Bug,
        ),
        ("UBSAN: array-index-out-of-bounds in mm/x.c:3:4", Kind::Bug),
        (
            "INFO: task bash:120 blocked for more than 122 seconds.",
            Kind::Hang,
        ),
        (
            "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
            Kind::Hang,
        ),
        (
            "WARNING: CPU: 0 PID: 1 at mm/memory_hotplug.c:1 x",
            Kind::Warn,
        ),
    ] {
        assert_eq!(classify(line), Some(kind), "{line}");
    }
}

#[test]
fn quiet_lines_are_not_reports() {
    for line in [
        "dax0.0: DAX region truncated by 94.0 MiB due to alignment",
        "FAULT_INJECTION: forcing a failure.",
        "bash: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)",
        "kmemleak: Kernel memory leak detector initialized",
        "kmemleak: 0 new suspected memory leaks",
        "Memory hotplug will reserve 0 pages",
        "dax0.0: Hotplug regions stuck online until reboot",
        "kmem-rs: kmemleak baseline cleared",
        "# not ok 3 BUG: in a test description is not at line start",
    ] {
        assert_eq!(classify(strip(line)), None, "{line}");
    }
}

#[test]
fn expected_kmemleak_does_not_fail() {
    let dir = std::env::temp_dir().join(format!("kmem-rs-kmemc-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let dmesg = format!(
        "kmem-rs: kmemleak baseline cleared\n{STUCK}\
         [  382.2] kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\n"
    );
    fs::write(dir.join("dmesg.txt"), &dmesg).unwrap();
    fs::write(dir.join("kmemleak.txt"), KMEMC_LEAK).unwrap();
    let (msgs, sum) = check_run(&dir);
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(sum, "none; 1 expected kmemleak (kmem stuck unbind)");
    let saved = fs::read_to_string(dir.join("reports.txt")).unwrap();
    assert!(saved.contains("=== kmemleak (expected: kmem's device data"));
    // One more object of another origin: every kmemleak report fails.
    fs::write(
        dir.join("kmemleak.txt"),
        format!("{KMEMC_LEAK}{OTHER_LEAK}"),
    )
    .unwrap();
    let (msgs, sum) = check_run(&dir);
    assert_eq!(msgs.len(), 1);
    assert!(
        sum.starts_with("1 kmemleak (kmemleak.txt: 2 object(s)"),
        "{sum}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

const ADD_PAGES: &str = "\
[  301.000000] FAULT_INJECTION: forcing a failure.
[  301.000001] name failslab, interval 1, probability 0, space 0, times 0
[  301.000002] ------------[ cut here ]------------
[  301.000003] WARNING: arch/x86/mm/init_64.c:973 at add_pages+0x16b/0x180, CPU#1: python3/812
[  301.000004] Call Trace:
[  301.000005]  __add_memory_driver_managed+0x2f/0x60
[  301.000006] ---[ end trace 0000000000000000 ]---
";

#[test]
fn add_pages_warn_expected_only_under_injection() {
    let r = scan_text(ADD_PAGES, "console.log");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].kind, Kind::Warn);
    assert_eq!(r[0].expected, Some(ADD_PAGES_EXPECTED));
    assert!(failing(&r).is_empty());
    // The same WARN without an injected failure before it fails.
    let plain: String = ADD_PAGES
        .lines()
        .skip(2)
        .map(|l| format!("{l}\n"))
        .collect();
    let r = scan_text(&plain, "console.log");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].expected, None);
    assert_eq!(failing(&r).len(), 1);
    // Another WARN after an injected failure fails too.
    let other = ADD_PAGES.replace(
        "arch/x86/mm/init_64.c:973 at add_pages",
        "mm/sparse.c:9 at x",
    );
    assert_eq!(failing(&scan_text(&other, "console.log")).len(), 1);
}

#[test]
fn add_pages_warn_in_check_run() {
    let dir = std::env::temp_dir().join(format!("kmem-rs-reports-ap-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("console.log"), ADD_PAGES).unwrap();
    fs::write(dir.join("dmesg.txt"), ADD_PAGES).unwrap();
    let (msgs, sum) = check_run(&dir);
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(
        sum,
        "none; 1 expected WARN (x86 add_pages under fault injection)"
    );
    let saved = fs::read_to_string(dir.join("reports.txt")).unwrap();
    assert!(saved.contains("=== WARN (expected: x86 add_pages() warns"));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dir_dedups_console_and_dmesg() {
    let dir = std::env::temp_dir().join(format!("kmem-rs-reports-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("console.log"), KASAN).unwrap();
    fs::write(
        dir.join("dmesg.txt"),
        format!("{KASAN}kmemleak: 2 new suspected memory leaks (see x)\n"),
    )
    .unwrap();
    let (msgs, sum) = check_run(&dir);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(sum, "1 KASAN, 1 kmemleak");
    let saved = fs::read_to_string(dir.join("reports.txt")).unwrap();
    assert!(saved.contains("=== KASAN (from console.log)"));
    assert!(saved.contains("=== kmemleak (from dmesg.txt)"));
    fs::remove_dir_all(&dir).unwrap();
    let empty = std::env::temp_dir().join(format!("kmem-rs-noreports-{}", std::process::id()));
    fs::create_dir_all(&empty).unwrap();
    assert_eq!(check_run(&empty), (vec![], "none".to_string()));
    assert!(!empty.join("reports.txt").exists());
    fs::remove_dir_all(&empty).unwrap();
}
