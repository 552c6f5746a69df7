// SPDX-License-Identifier: GPL-2.0-only
//! Kernel reports in a guest boot's logs: KASAN, lockdep, kmemleak, WARN,
//! BUG, Oops and panics, hung tasks and RCU stalls. Any one fails the run
//! that produced it, whatever its TAP said, and is saved beside the run's
//! logs (`reports.txt`). The scan is textual, over `console.log` (the whole
//! console, which survives a panic) and `dmesg.txt` (the guest's dmesg at the
//! end of the suite, which has what a quiet console may have left out).
//!
//! kmemleak only reports when asked: the guest helper runs `echo scan` at
//! the start of a suite, `echo clear`s what boot left behind and writes
//! [`KMEMLEAK_BASELINE`] to the kernel log, then scans again when the suite
//! ends. A kmemleak count before that marker is boot's, not the suite's:
//! it is listed as baseline, and does not fail the run.
//!
//! One kmemleak report is the C oracle's documented behaviour, not a fault:
//! unbinding kmem.c while its memory is online ("Hotplug regions stuck
//! online until reboot") returns from `dev_dax_kmem_remove()` without
//! freeing the `struct dax_kmem_data` that `dev_dax_kmem_probe()`
//! allocated, and the driver core then clears the only pointer to it.
//! [`kmemc_stuck_unbind`] recognises exactly that: every object the guest's
//! final `kmemleak.txt` lists was allocated directly by
//! `dev_dax_kmem_probe` in the `kmem` module (or, after `rmmod kmem`, by a
//! single bare module address that `dax_bus_probe` called), and kmem.c
//! logged at least as many stuck unbinds. Then the run's kmemleak reports
//! are listed as expected and do not fail it; any other object, or an
//! object without such an unbind, fails the run as before. The Rust driver
//! has no function of that name, and its probe allocates through several
//! frames of the module and the kernel crate, so nothing of it is excused.
//!
//! One WARN is the core's answer to fault injection, not a fault of either
//! driver: x86's `add_pages()` does `WARN_ON_ONCE()` on any error of
//! `__add_pages()`, and an injected allocation failure under it (the
//! section's usage map in `sparse_add_section()`) is such an error (README,
//! finding 2). [`core_add_pages_warn`] recognises exactly that: a WARNING
//! at `add_pages+` in arch/x86/mm/init_64.c whose log shows an injected
//! failure ("FAULT_INJECTION: forcing a failure") in the lines just before
//! it. Without the injection the same WARN fails the run.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

/// What the guest writes to /dev/kmsg after clearing boot-time kmemleak
/// suspects (tools/kmem-rs/guest/kmem-rs-guest.sh).
pub const KMEMLEAK_BASELINE: &str = "kmem-rs: kmemleak baseline cleared";

/// kmem.c's `dev_err()` in `dev_dax_kmem_remove()` when a range could not be
/// removed; the device data then stays allocated, unreferenced.
const KMEMC_STUCK: &str = "Hotplug regions stuck online until reboot";

/// The frame of kmem.c's allocation of its per-device data.
const KMEMC_PROBE_FRAME: &str = "dev_dax_kmem_probe+";

/// Why a report does not fail its run, in the summary and reports.txt.
const KMEMC_EXPECTED: &str = "kmem.c's device data left by a stuck unbind, by design";

/// The location of x86's `WARN_ON_ONCE(ret)` after `__add_pages()`.
const ADD_PAGES_WARN: (&str, &str) = ("arch/x86/mm/init_64.c:", " add_pages+");

/// What the kernel logs for each injected failure (with `verbose` >= 1).
const INJECTED: &str = "FAULT_INJECTION: forcing a failure";

/// How many log lines before a WARN its injected failure may be.
const INJECTED_WITHIN: usize = 60;

/// Why the `add_pages()` WARN does not fail a run.
const ADD_PAGES_EXPECTED: &str =
    "x86 add_pages() warns on an injected allocation failure in __add_pages() (core; finding 2)";

/// The kinds of report, in the order the summary lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Kasan,
    Lockdep,
    Kmemleak,
    Warn,
    Bug,
    Oops,
    Panic,
    Hang,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Kasan => "KASAN",
            Kind::Lockdep => "lockdep",
            Kind::Kmemleak => "kmemleak",
            Kind::Warn => "WARN",
            Kind::Bug => "BUG",
            Kind::Oops => "Oops",
            Kind::Panic => "panic",
            Kind::Hang => "hang",
        }
    }
}

/// Lockdep's own headlines: each is a "WARNING: " line of lockdep.c (or of
/// RCU's lockdep checks), not a WARN() with a CPU and a file.
const LOCKDEP: &[&str] = &[
    "WARNING: possible circular locking dependency detected",
    "WARNING: possible recursive locking detected",
    "WARNING: inconsistent lock state",
    "WARNING: possible irq lock inversion dependency detected",
    "WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected",
    "WARNING: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected",
    "WARNING: bad unlock balance detected!",
    "WARNING: held lock freed!",
    "WARNING: lock held when returning to user space!",
    "WARNING: suspicious RCU usage",
    "WARNING: Nested lock was not taken",
    "WARNING: bad contention detected!",
    "WARNING: Invalid wait context",
    "WARNING: locking bug",
    "BUG: sleeping function called from invalid context",
    "BUG: workqueue leaked atomic, lock or RCU",
    "BUG: held lock freed!",
    "INFO: trying to register non-static key",
];

/// One report: its kind, its first line, and the lines after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: Kind,
    /// The headline, without the printk timestamp.
    pub line: String,
    /// Which log it came from.
    pub source: String,
    /// The headline and what follows it, up to the end of the trace.
    pub context: Vec<String>,
    /// A kmemleak count from before the suite started (not a failure).
    pub baseline: bool,
    /// Why the report is expected and does not fail its run: kmem.c's
    /// stuck-unbind leak ([`kmemc_stuck_unbind`]) or the core's WARN under
    /// fault injection ([`core_add_pages_warn`]).
    pub expected: Option<&'static str>,
}

/// A log line without its printk timestamp (`[   12.345678] `), its
/// `<N>` level prefix or a dmesg `,seq,ts,-;` record prefix.
fn strip(line: &str) -> &str {
    let mut l = line.trim_end_matches('\r');
    if let Some(rest) = l.strip_prefix('<') {
        if let Some((lvl, rest)) = rest.split_once('>') {
            if !lvl.is_empty() && lvl.bytes().all(|b| b.is_ascii_digit()) {
                l = rest;
            }
        }
    }
    let t = l.trim_start();
    if let Some(rest) = t.strip_prefix('[') {
        if let Some((ts, rest)) = rest.split_once(']') {
            if ts.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.') && !ts.trim().is_empty() {
                return rest.trim_start();
            }
        }
    }
    l.trim_start()
}

/// The kind of report `line` (already stripped) starts, if any.
pub fn classify(line: &str) -> Option<Kind> {
    if LOCKDEP.iter().any(|p| line.starts_with(p)) {
        return Some(Kind::Lockdep);
    }
    if line.starts_with("BUG: KASAN:") || line.starts_with("KASAN: ") {
        return Some(Kind::Kasan);
    }
    if let Some(rest) = line.strip_prefix("kmemleak: ") {
        let n = rest.split(' ').next().unwrap_or("");
        if rest.contains(" new suspected memory leak") && n.parse::<u64>().is_ok_and(|n| n > 0) {
            return Some(Kind::Kmemleak);
        }
        return None;
    }
    if line.starts_with("Kernel panic - not syncing") {
        return Some(Kind::Panic);
    }
    if line.starts_with("Oops: ") || line.starts_with("general protection fault") {
        return Some(Kind::Oops);
    }
    if line.starts_with("BUG: ")
        || line.starts_with("kernel BUG at ")
        || line.starts_with("UBSAN: ")
        || line.starts_with("list_add corruption")
        || line.starts_with("list_del corruption")
        || line.starts_with("ODEBUG: ")
        || line.contains("rust_kernel: panicked at")
        || (line.contains(": panicked at ") && line.contains(".rs:"))
    {
        return Some(Kind::Bug);
    }
    if line.starts_with("WARNING: ") {
        return Some(Kind::Warn);
    }
    if (line.starts_with("INFO: task ") && line.contains(" blocked for more than "))
        || line.contains("detected stalls on CPUs/tasks")
        || line.contains("self-detected stall on CPU")
        || line.starts_with("watchdog: BUG: soft lockup")
    {
        return Some(Kind::Hang);
    }
    None
}

/// Where a report's context ends.
fn ends_context(line: &str) -> bool {
    line.starts_with("---[ end trace") || line.starts_with("---[ end Kernel panic")
}

/// The reports in one log's text. `source` names the log.
pub fn scan_text(text: &str, source: &str) -> Vec<Report> {
    let lines: Vec<&str> = text.lines().map(strip).collect();
    let baseline_end = lines
        .iter()
        .rposition(|l| l.contains(KMEMLEAK_BASELINE))
        .map(|i| i + 1)
        .unwrap_or(0);
    let mut out: Vec<Report> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(kind) = classify(lines[i]) else {
            i += 1;
            continue;
        };
        // A WARN() is "------------[ cut here ]------------" then "WARNING:
        // CPU: ...": the headline is the WARNING line. Reports nested in
        // one already open (a BUG inside a panic's trace) start their own.
        let mut end = i + 1;
        while end < lines.len() && end - i < 80 {
            if ends_context(lines[end]) {
                end += 1;
                break;
            }
            if classify(lines[end]).is_some() {
                break;
            }
            end += 1;
        }
        out.push(Report {
            kind,
            line: lines[i].to_string(),
            source: source.to_string(),
            context: lines[i..end].iter().map(|s| s.to_string()).collect(),
            baseline: kind == Kind::Kmemleak && i < baseline_end,
            expected: (kind == Kind::Warn
                && core_add_pages_warn(lines[i], &lines[i.saturating_sub(INJECTED_WITHIN)..i]))
            .then_some(ADD_PAGES_EXPECTED),
        });
        i = end;
    }
    out
}

/// True for x86's `add_pages()` WARN (`headline`) when one of the log lines
/// `before` it is an injected failure.
pub fn core_add_pages_warn(headline: &str, before: &[&str]) -> bool {
    headline.starts_with("WARNING: ")
        && headline.contains(ADD_PAGES_WARN.0)
        && headline.contains(ADD_PAGES_WARN.1)
        && before.iter().any(|l| l.contains(INJECTED))
}

/// The reports of a run directory: its `console.log` and `dmesg.txt`, the
/// second's reports dropped where the first has the same headline.
pub fn scan_dir(dir: &Path) -> Vec<Report> {
    let mut all = Vec::new();
    for name in ["console.log", "dmesg.txt"] {
        let Ok(bytes) = fs::read(dir.join(name)) else {
            continue;
        };
        for r in scan_text(&String::from_utf8_lossy(&bytes), name) {
            if !all.iter().any(|o: &Report| {
                o.kind == r.kind
                    && o.line == r.line
                    && o.baseline == r.baseline
                    && o.source != r.source
            }) {
                all.push(r);
            }
        }
    }
    all
}

/// The reports that fail a run (all but kmemleak's boot-time baseline and
/// the expected ones: kmem.c's stuck-unbind leak, the core's `add_pages()`
/// WARN under fault injection).
pub fn failing(reports: &[Report]) -> Vec<&Report> {
    reports
        .iter()
        .filter(|r| !r.baseline && r.expected.is_none())
        .collect()
}

/// The objects of a kmemleak listing (`cat /sys/kernel/debug/kmemleak`),
/// each as its lines, from "unreferenced object" on.
fn kmemleak_objects(list: &str) -> Vec<Vec<&str>> {
    let mut objs: Vec<Vec<&str>> = Vec::new();
    for l in list.lines() {
        if l.trim_start().starts_with("unreferenced object ") {
            objs.push(vec![l.trim()]);
        } else if let Some(o) = objs.last_mut() {
            o.push(l.trim());
        }
    }
    objs
}

/// The lowest address of x86-64's module area: a frame there that kmemleak
/// prints as a bare address belongs to a module unloaded since.
const MODULES_VADDR: u64 = 0xffff_ffff_a000_0000;

/// Whether a backtrace frame is a bare address in the module area.
fn unloaded_module_frame(f: &str) -> bool {
    f.strip_prefix("0x")
        .filter(|h| h.len() == 16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .is_some_and(|a| a >= MODULES_VADDR)
}

/// Whether a kmemleak object was allocated by kmem.c's probe: the first
/// backtrace frame outside the allocator is `dev_dax_kmem_probe` of the
/// `kmem` module; or, once the module is unloaded (kmemleak then prints
/// the bare address), a single module frame called by `dax_bus_probe`:
/// kmem.c's probe allocates directly, while every allocation of the Rust
/// driver's probe goes through several frames of the module and the
/// kernel crate.
fn from_kmemc_probe(obj: &[&str]) -> bool {
    let Some(bt) = obj.iter().position(|l| l.starts_with("backtrace")) else {
        return false;
    };
    let alloc = |f: &str| {
        [
            "__kmalloc",
            "kmalloc",
            "__kvmalloc",
            "kvmalloc",
            "kmem_cache_alloc",
            "__kmem_cache_alloc",
        ]
        .iter()
        .any(|p| f.starts_with(p))
    };
    let Some(i) = obj[bt + 1..].iter().position(|f| !alloc(f)) else {
        return false;
    };
    let (f, caller) = (obj[bt + 1 + i], obj.get(bt + 2 + i));
    (f.starts_with(KMEMC_PROBE_FRAME) && f.ends_with("[kmem]"))
        || (unloaded_module_frame(f) && caller.is_some_and(|c| c.starts_with("dax_bus_probe+")))
}

/// Whether every object of the run's final kmemleak listing (`list`) is
/// kmem.c's per-device data left by a stuck unbind, with no more of them
/// than the stuck unbinds that one of `logs` records. `None` when there is nothing to
/// excuse (no listing, or an empty one); else the number of objects, or
/// why not.
pub fn kmemc_stuck_unbind(list: &str, logs: &[&str]) -> Option<Result<usize, String>> {
    let objs = kmemleak_objects(list);
    if objs.is_empty() {
        return None;
    }
    let stuck = logs
        .iter()
        .map(|log| {
            log.lines()
                .filter(|l| l.contains(" kmem dax") && l.contains(KMEMC_STUCK))
                .count()
        })
        .max()
        .unwrap_or(0);
    let ours = objs.iter().filter(|o| from_kmemc_probe(o)).count();
    if ours == objs.len() && ours <= stuck {
        Some(Ok(ours))
    } else {
        Some(Err(format!(
            "{} object(s), {ours} from dev_dax_kmem_probe, {stuck} stuck unbind(s)",
            objs.len()
        )))
    }
}

/// "2 KASAN, 1 WARN", or "none".
pub fn summary(reports: &[&Report]) -> String {
    let mut kinds: Vec<Kind> = reports.iter().map(|r| r.kind).collect();
    kinds.sort();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < kinds.len() {
        let n = kinds[i..].iter().take_while(|k| **k == kinds[i]).count();
        parts.push(format!("{n} {}", kinds[i].name()));
        i += n;
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// The text of `reports.txt`: every report in full.
pub fn render(reports: &[Report]) -> String {
    let mut s = String::new();
    for r in reports {
        let why = if r.baseline {
            " (boot-time baseline, not a failure)".to_string()
        } else if let Some(why) = r.expected {
            format!(" (expected: {why}; not a failure)")
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "=== {}{why} (from {}): {}",
            r.kind.name(),
            r.source,
            r.line
        );
        for l in &r.context {
            let _ = writeln!(s, "    {l}");
        }
        s.push('\n');
    }
    s
}

/// Scans `dir`, saves what it found to `dir/reports.txt` (when anything),
/// and returns the failing reports' headlines as failure messages.
///
/// The kmemleak reports of a run whose final `kmemleak.txt` holds only
/// kmem.c's stuck-unbind leak ([`kmemc_stuck_unbind`]) are expected: kept in
/// `reports.txt` and named in the summary, but not failures.
pub fn check_run(dir: &Path) -> (Vec<String>, String) {
    let mut all = scan_dir(dir);
    let mut note = String::new();
    let read =
        |n: &str| String::from_utf8_lossy(&fs::read(dir.join(n)).unwrap_or_default()).into_owned();
    if all.iter().any(|r| r.kind == Kind::Kmemleak && !r.baseline) {
        let logs = [read("dmesg.txt"), read("console.log")];
        match kmemc_stuck_unbind(&read("kmemleak.txt"), &[&logs[0], &logs[1]]) {
            Some(Ok(n)) => {
                for r in all
                    .iter_mut()
                    .filter(|r| r.kind == Kind::Kmemleak && !r.baseline)
                {
                    r.expected = Some(KMEMC_EXPECTED);
                }
                note = format!("; {n} expected kmemleak (kmem.c stuck unbind)");
            }
            Some(Err(why)) => note = format!(" (kmemleak.txt: {why})"),
            None => {}
        }
    }
    let warns = all
        .iter()
        .filter(|r| r.expected == Some(ADD_PAGES_EXPECTED))
        .count();
    if warns > 0 {
        note += &format!("; {warns} expected WARN (x86 add_pages under fault injection)");
    }
    if !all.is_empty() {
        let _ = fs::write(dir.join("reports.txt"), render(&all));
    }
    let bad = failing(&all);
    let msgs = bad
        .iter()
        .map(|r| format!("kernel report ({}): {}", r.kind.name(), r.line))
        .collect();
    (msgs, summary(&bad) + &note)
}

#[cfg(test)]
mod tests {
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

    const KMEMC_LEAK: &str = "\
unreferenced object 0xff1100000db79600 (size 192):
  comm \"dd\", pid 1166, jiffies 4294966335
  hex dump (first 32 bytes):
    00 93 a5 05 00 00 11 ff 00 00 00 00 03 00 00 00  ................
  backtrace (crc d6e10c4f):
    __kmalloc_noprof+0x2c0/0x540
    dev_dax_kmem_probe+0x2a0/0x660 [kmem]
    dax_bus_probe+0xde/0x180
    really_probe+0x205/0x4e0
";
    const OTHER_LEAK: &str = "\
unreferenced object 0xff1100000db79700 (size 64):
  comm \"dd\", pid 1166, jiffies 4294966335
  backtrace (crc 00000000):
    __kmalloc_noprof+0x2c0/0x540
    kstrdup+0x10/0x40
    dev_dax_kmem_probe+0x2a0/0x660 [kmem]
";
    const STUCK: &str = "[  339.354611] kmem dax0.0: Hotplug regions stuck online until reboot\n";
    /// kmem.c's leak after `rmmod kmem`: the probe frame is a bare address.
    const KMEMC_LEAK_UNLOADED: &str = "\
unreferenced object 0xff1100000962af00 (size 192):
  comm \"daxctl\", pid 71, jiffies 4294904157
  backtrace (crc d1030752):
    __kmalloc_noprof+0x2ce/0x5d0
    0xffffffffa00002d0
    dax_bus_probe+0xde/0x180
    really_probe+0x205/0x4e0
";

    #[test]
    fn kmemc_leak_after_unload() {
        assert_eq!(
            kmemc_stuck_unbind(KMEMC_LEAK_UNLOADED, &[STUCK]),
            Some(Ok(1))
        );
        // A bare address that dax_bus_probe did not call, or one outside the
        // module area, is not kmem.c's probe.
        let deeper = KMEMC_LEAK_UNLOADED.replace(
            "    dax_bus_probe",
            "    0xffffffffa0001000\n    dax_bus_probe",
        );
        assert!(matches!(
            kmemc_stuck_unbind(&deeper, &[STUCK]),
            Some(Err(_))
        ));
        let core = KMEMC_LEAK_UNLOADED.replace("0xffffffffa00002d0", "0xffffffff81000000");
        assert!(matches!(kmemc_stuck_unbind(&core, &[STUCK]), Some(Err(_))));
    }

    #[test]
    fn kmemc_stuck_unbind_leak_only() {
        assert_eq!(kmemc_stuck_unbind("", &[STUCK]), None);
        assert_eq!(kmemc_stuck_unbind(KMEMC_LEAK, &[STUCK, ""]), Some(Ok(1)));
        // No stuck unbind logged, or more objects than stuck unbinds.
        assert!(matches!(
            kmemc_stuck_unbind(KMEMC_LEAK, &[""]),
            Some(Err(_))
        ));
        let two = format!("{KMEMC_LEAK}{KMEMC_LEAK}");
        assert!(matches!(
            kmemc_stuck_unbind(&two, &[STUCK, STUCK]),
            Some(Err(_))
        ));
        // Another object (even one allocated under the probe) is not excused.
        let mixed = format!("{KMEMC_LEAK}{OTHER_LEAK}");
        assert!(matches!(kmemc_stuck_unbind(&mixed, &[STUCK]), Some(Err(_))));
        // The Rust driver's probe has another name.
        let rust = KMEMC_LEAK.replace("dev_dax_kmem_probe", "_RNvMs_kmem_probe");
        assert!(matches!(kmemc_stuck_unbind(&rust, &[STUCK]), Some(Err(_))));
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
        assert_eq!(sum, "none; 1 expected kmemleak (kmem.c stuck unbind)");
        let saved = fs::read_to_string(dir.join("reports.txt")).unwrap();
        assert!(saved.contains("=== kmemleak (expected: kmem.c's device data"));
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
}
