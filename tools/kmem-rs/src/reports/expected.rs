// SPDX-License-Identifier: GPL-2.0-only
//! The kernel reports that are expected and do not fail their run.
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

/// kmem.c's `dev_err()` in `dev_dax_kmem_remove()` when a range could not be
/// removed; the device data then stays allocated, unreferenced.
const KMEMC_STUCK: &str = "Hotplug regions stuck online until reboot";

/// The frame of kmem.c's allocation of its per-device data.
const KMEMC_PROBE_FRAME: &str = "dev_dax_kmem_probe+";

/// Why a report does not fail its run, in the summary and reports.txt.
pub const KMEMC_EXPECTED: &str = "kmem.c's device data left by a stuck unbind, by design";

/// The location of x86's `WARN_ON_ONCE(ret)` after `__add_pages()`.
const ADD_PAGES_WARN: (&str, &str) = ("arch/x86/mm/init_64.c:", " add_pages+");

/// What the kernel logs for each injected failure (with `verbose` >= 1).
const INJECTED: &str = "FAULT_INJECTION: forcing a failure";

/// How many log lines before a WARN its injected failure may be.
pub const INJECTED_WITHIN: usize = 60;

/// Why the `add_pages()` WARN does not fail a run.
pub const ADD_PAGES_EXPECTED: &str =
    "x86 add_pages() warns on an injected allocation failure in __add_pages() (core; finding 2)";

/// True for x86's `add_pages()` WARN (`headline`) when one of the log lines
/// `before` it is an injected failure.
pub fn core_add_pages_warn(headline: &str, before: &[&str]) -> bool {
    headline.starts_with("WARNING: ")
        && headline.contains(ADD_PAGES_WARN.0)
        && headline.contains(ADD_PAGES_WARN.1)
        && before.iter().any(|l| l.contains(INJECTED))
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::reports) const KMEMC_LEAK: &str = "\
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
    pub(in crate::reports) const OTHER_LEAK: &str = "\
unreferenced object 0xff1100000db79700 (size 64):
  comm \"dd\", pid 1166, jiffies 4294966335
  backtrace (crc 00000000):
    __kmalloc_noprof+0x2c0/0x540
    kstrdup+0x10/0x40
    dev_dax_kmem_probe+0x2a0/0x660 [kmem]
";
    pub(in crate::reports) const STUCK: &str =
        "[  339.354611] kmem dax0.0: Hotplug regions stuck online until reboot\n";
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
}
