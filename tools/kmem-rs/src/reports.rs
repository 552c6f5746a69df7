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
//! Two reports are known and do not fail their run: kmem's stuck-unbind
//! leak and the core's `add_pages()` WARN under fault injection (the part
//! `expected`).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

mod expected;

pub use expected::{core_add_pages_warn, kmem_stuck_unbind};
use expected::{ADD_PAGES_EXPECTED, INJECTED_WITHIN, KMEM_EXPECTED};

/// What the guest writes to /dev/kmsg after clearing boot-time kmemleak
/// suspects (tools/kmem-rs/guest/kmem-rs-guest.sh).
pub const KMEMLEAK_BASELINE: &str = "kmem-rs: kmemleak baseline cleared";

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
    /// Why the report is expected and does not fail its run: kmem's
    /// stuck-unbind leak ([`kmem_stuck_unbind`]) or the core's WARN under
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
/// the expected ones: kmem's stuck-unbind leak, the core's `add_pages()`
/// WARN under fault injection).
pub fn failing(reports: &[Report]) -> Vec<&Report> {
    reports
        .iter()
        .filter(|r| !r.baseline && r.expected.is_none())
        .collect()
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
/// kmem's stuck-unbind leak ([`kmem_stuck_unbind`]) are expected: kept in
/// `reports.txt` and named in the summary, but not failures.
pub fn check_run(dir: &Path) -> (Vec<String>, String) {
    let mut all = scan_dir(dir);
    let mut note = String::new();
    let read =
        |n: &str| String::from_utf8_lossy(&fs::read(dir.join(n)).unwrap_or_default()).into_owned();
    if all.iter().any(|r| r.kind == Kind::Kmemleak && !r.baseline) {
        let logs = [read("dmesg.txt"), read("console.log")];
        match kmem_stuck_unbind(&read("kmemleak.txt"), &[&logs[0], &logs[1]]) {
            Some(Ok(n)) => {
                for r in all
                    .iter_mut()
                    .filter(|r| r.kind == Kind::Kmemleak && !r.baseline)
                {
                    r.expected = Some(KMEM_EXPECTED);
                }
                note = format!("; {n} expected kmemleak (kmem stuck unbind)");
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
mod tests;
