// SPDX-License-Identifier: GPL-2.0-only
//! The kernel reports that are expected and do not fail their run.
//!
//! One kmemleak report is both drivers' documented behaviour, not a fault:
//! unbinding kmem while its memory is online ("Hotplug regions stuck
//! online until reboot") keeps what the device's memory needs until
//! reboot. kmem.c returns from `dev_dax_kmem_remove()` without freeing the
//! `struct dax_kmem_data` that `dev_dax_kmem_probe()` allocated, and the
//! driver core then clears the only pointer to it; the Rust driver forgets
//! its `Hotplug`, whose vector of ranges is then unreferenced, and so is
//! its own node memory type when the node has another of the same
//! distance (allocated by the kernel crate's `NodeMemoryType::init()` for
//! the probe). (The
//! reference that a stuck device kept on the dax device, through a
//! `Devres` allocated in the kernel crate, was a bug: it is not excused.)
//! [`kmem_stuck_unbind`] recognises exactly that: every object the guest's
//! final `kmemleak.txt` lists was allocated by the driver's probe in the
//! `kmem` module, directly (`dev_dax_kmem_probe`) or through frames of the
//! module only (`<KmemDriver as dax::Driver>::probe`), or, after `rmmod
//! kmem`, by bare module addresses that `dax_bus_probe` called (or is such
//! a node memory type); and the driver logged at least as many stuck
//! unbinds as objects of each kind. Then the run's kmemleak
//! reports are listed as expected and do not fail it; any other object,
//! or an object without such an unbind, fails the run as before.
//!
//! One WARN is the core's answer to fault injection, not a fault of either
//! driver: x86's `add_pages()` does `WARN_ON_ONCE()` on any error of
//! `__add_pages()`, and an injected allocation failure under it (the
//! section's usage map in `sparse_add_section()`) is such an error (docs/debug-lane.md,
//! finding 2). [`core_add_pages_warn`] recognises exactly that: a WARNING
//! at `add_pages+` in arch/x86/mm/init_64.c whose log shows an injected
//! failure ("FAULT_INJECTION: forcing a failure") in the lines just before
//! it. Without the injection the same WARN fails the run.

/// kmem.c's `dev_err()` in `dev_dax_kmem_remove()` when a range could not be
/// removed, which the Rust driver logs too; the device data (kmem.c) or the
/// ranges (Rust) then stay allocated, unreferenced.
const KMEM_STUCK: &str = "Hotplug regions stuck online until reboot";

/// The frame of kmem.c's allocation of its per-device data.
const KMEMC_PROBE_FRAME: &str = "dev_dax_kmem_probe+";

/// Whether a frame is the Rust driver's probe, `<KmemDriver as
/// dax::Driver>::probe` (v0-mangled) in the `kmem` module.
fn rust_probe_frame(f: &str) -> bool {
    f.starts_with("_R")
        && f.contains("10KmemDriver")
        && f.contains("6Driver5probe+")
        && f.ends_with("[kmem]")
}

/// Why a report does not fail its run, in the summary and reports.txt.
pub const KMEM_EXPECTED: &str = "kmem's device data left by a stuck unbind, by design";

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

/// What a stuck unbind leaves unreferenced, by design: the driver's device
/// data (kmem.c's `struct dax_kmem_data`, the Rust driver's vector of
/// ranges), and the Rust driver's own node memory type when the node's type
/// is another one of the same distance (then only the forgotten
/// `NodeMemoryType` pointed at it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leak {
    Data,
    NodeType,
}

/// Whether a kmemleak object was allocated by the kmem driver's probe: the
/// first backtrace frame outside the allocator is `dev_dax_kmem_probe` of
/// the `kmem` module; or frames of the `kmem` module only (the kernel
/// crate's generic code instantiated there) lead to the Rust driver's probe;
/// or, once the module is unloaded (kmemleak then prints bare addresses),
/// module frames only lead to `dax_bus_probe`.
fn from_kmem_probe(obj: &[&str]) -> Option<Leak> {
    let bt = obj.iter().position(|l| l.starts_with("backtrace"))?;
    let alloc = |f: &str| {
        [
            "__kmalloc",
            "kmalloc",
            "krealloc",
            "__kvmalloc",
            "kvmalloc",
            "kmem_cache_alloc",
            "__kmem_cache_alloc",
        ]
        .iter()
        .any(|p| f.starts_with(p))
    };
    let i = obj[bt + 1..].iter().position(|f| !alloc(f))?;
    let frames = &obj[bt + 1 + i..];
    if frames[0].starts_with(KMEMC_PROBE_FRAME) && frames[0].ends_with("[kmem]") {
        return Some(Leak::Data);
    }
    // The Rust driver's node memory type, allocated by the kernel crate for
    // the probe and forgotten with the rest of its `Hotplug`.
    if frames[0].starts_with("alloc_memory_type+")
        && frames
            .get(1)
            .is_some_and(|f| f.contains("14NodeMemoryType4init+"))
    {
        return module_probe(&frames[2..]).then_some(Leak::NodeType);
    }
    module_probe(frames).then_some(Leak::Data)
}

/// Whether `frames` (callers first to last) are frames of the `kmem`
/// module only down to the Rust driver's probe, or bare module addresses
/// (after `rmmod kmem`) down to `dax_bus_probe`.
fn module_probe(frames: &[&str]) -> bool {
    if let Some(p) = frames.iter().position(|f| rust_probe_frame(f)) {
        return frames[..p].iter().all(|f| f.ends_with("[kmem]"));
    }
    let n = frames
        .iter()
        .take_while(|f| unloaded_module_frame(f))
        .count();
    n > 0
        && frames
            .get(n)
            .is_some_and(|c| c.starts_with("dax_bus_probe+"))
}

/// Whether every object of the run's final kmemleak listing (`list`) is
/// the kmem driver's device data left by a stuck unbind, with no more of them
/// than the stuck unbinds that one of `logs` records. `None` when there is nothing to
/// excuse (no listing, or an empty one); else the number of objects, or
/// why not.
pub fn kmem_stuck_unbind(list: &str, logs: &[&str]) -> Option<Result<usize, String>> {
    let objs = kmemleak_objects(list);
    if objs.is_empty() {
        return None;
    }
    let stuck = logs
        .iter()
        .map(|log| {
            log.lines()
                .filter(|l| l.contains(" kmem dax") && l.contains(KMEM_STUCK))
                .count()
        })
        .max()
        .unwrap_or(0);
    let kinds: Vec<_> = objs.iter().filter_map(|o| from_kmem_probe(o)).collect();
    let ours = kinds.len();
    let at_most_one_each =
        [Leak::Data, Leak::NodeType].map(|k| kinds.iter().filter(|&&x| x == k).count() <= stuck);
    if ours == objs.len() && at_most_one_each == [true, true] {
        Some(Ok(ours))
    } else {
        Some(Err(format!(
            "{} object(s), {ours} from kmem's probe, {stuck} stuck unbind(s)",
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
            kmem_stuck_unbind(KMEMC_LEAK_UNLOADED, &[STUCK]),
            Some(Ok(1))
        );
        // Several module frames (the Rust driver's probe) are the probe too.
        let deeper = KMEMC_LEAK_UNLOADED.replace(
            "    dax_bus_probe",
            "    0xffffffffa0001000\n    dax_bus_probe",
        );
        assert_eq!(kmem_stuck_unbind(&deeper, &[STUCK]), Some(Ok(1)));
        // Module frames that dax_bus_probe did not call, or a frame outside
        // the module area, are not the probe.
        let via_core = KMEMC_LEAK_UNLOADED.replace(
            "    dax_bus_probe",
            "    devres_add+0x10/0x40\n    dax_bus_probe",
        );
        assert!(matches!(
            kmem_stuck_unbind(&via_core, &[STUCK]),
            Some(Err(_))
        ));
        let core = KMEMC_LEAK_UNLOADED.replace("0xffffffffa00002d0", "0xffffffff81000000");
        assert!(matches!(kmem_stuck_unbind(&core, &[STUCK]), Some(Err(_))));
    }

    #[test]
    fn kmem_stuck_unbind_leak_only() {
        assert_eq!(kmem_stuck_unbind("", &[STUCK]), None);
        assert_eq!(kmem_stuck_unbind(KMEMC_LEAK, &[STUCK, ""]), Some(Ok(1)));
        // No stuck unbind logged, or more objects than stuck unbinds.
        assert!(matches!(kmem_stuck_unbind(KMEMC_LEAK, &[""]), Some(Err(_))));
        let two = format!("{KMEMC_LEAK}{KMEMC_LEAK}");
        assert!(matches!(
            kmem_stuck_unbind(&two, &[STUCK, STUCK]),
            Some(Err(_))
        ));
        // Another object (even one allocated under the probe) is not excused.
        let mixed = format!("{KMEMC_LEAK}{OTHER_LEAK}");
        assert!(matches!(kmem_stuck_unbind(&mixed, &[STUCK]), Some(Err(_))));
        // A function of another name is not kmem.c's probe.
        let other = KMEMC_LEAK.replace("dev_dax_kmem_probe", "_RNvMs_kmem_probe");
        assert!(matches!(kmem_stuck_unbind(&other, &[STUCK]), Some(Err(_))));
    }

    /// The Rust driver's ranges, forgotten by a stuck unbind (debug lane,
    /// 2026-12-04): allocated in the module only, down to its probe.
    const RUST_RANGES_LEAK: &str = "\
unreferenced object 0xff11000005f70600 (size 96):
  comm \"bash\", pid 79, jiffies 4294935833
  backtrace (crc 741dc52e):
    __kmalloc_node_track_caller_noprof+0x2f7/0x5d0
    krealloc_node_align_noprof+0x16f/0x310
    _RNvMs0_NtNtCsl7L7n58I0Vr_6kernel5alloc4kvecINtB5_3VecNtCsliqwIxv1gxp_7kmem_rs5RangeNtNtB7_9allocator7KmallocE7reserveBR_+0x131/0x1c4 [kmem]
    _RNvMs0_NtNtCsl7L7n58I0Vr_6kernel5alloc4kvecINtB5_3VecNtCsliqwIxv1gxp_7kmem_rs5RangeNtNtB7_9allocator7KmallocE4pushBR_+0x18/0x3a [kmem]
    _RNvXs1_CsliqwIxv1gxp_7kmem_rsNtB5_10KmemDriverNtNtCsl7L7n58I0Vr_6kernel3dax6Driver5probe+0x4ef/0x99d [kmem]
    dax_bus_probe+0xde/0x180
";

    /// The `Devres` of the device's memory that a stuck unbind kept, with its
    /// reference on the device (the same run): allocated by the kernel
    /// crate, a bug, never excused.
    const RUST_DEVRES_LEAK: &str = "\
unreferenced object 0xff1100000597d300 (size 192):
  comm \"bash\", pid 79, jiffies 4294935833
  backtrace (crc 8e19e2f):
    __kmalloc_node_track_caller_noprof+0x2f7/0x5d0
    krealloc_node_align_noprof+0x16f/0x310
    _RNvMsj_NtNtCsl7L7n58I0Vr_6kernel4sync3arcINtB5_9UniqueArcINtNtB9_6devres5InnerNtNtB9_3dax6MemoryEE10new_uninitB9_+0x37/0xb4
    _RNvMs4_NtCsl7L7n58I0Vr_6kernel3daxINtB5_6DeviceNtNtB7_6device5BoundE6memory+0xfb/0x190
    _RNvXs1_CsliqwIxv1gxp_7kmem_rsNtB5_10KmemDriverNtNtCsl7L7n58I0Vr_6kernel3dax6Driver5probe+0x85e/0x99d [kmem]
    dax_bus_probe+0xde/0x180
";

    /// The same leak after `rmmod kmem`, with the node memory type the
    /// forgotten `NodeMemoryType` alone pointed at (debug lane, kmem-state).
    const RUST_LEAK_UNLOADED: &str = "\
unreferenced object 0xff1100000b048800 (size 96):
  comm \"daxctl\", pid 76, jiffies 4294913160
  backtrace (crc e81ee987):
    __kmalloc_node_track_caller_noprof+0x2f7/0x5d0
    krealloc_node_align_noprof+0x16f/0x310
    0xffffffffa000267f
    0xffffffffa000252c
    0xffffffffa00041ea
    0xffffffffa0000abd
    dax_bus_probe+0xde/0x180
unreferenced object 0xff1100000c167d00 (size 64):
  comm \"daxctl\", pid 76, jiffies 4294913161
  backtrace (crc be26a2db):
    __kmalloc_cache_noprof+0x28b/0x520
    alloc_memory_type+0x4a/0x140
    _RNvMs7_NtCsl7L7n58I0Vr_6kernel14memory_hotplugNtB5_14NodeMemoryType4init+0x2b/0x192
    0xffffffffa0004309
    0xffffffffa0000abd
    dax_bus_probe+0xde/0x180
";

    #[test]
    fn rust_stuck_unbind_leak_with_node_type() {
        assert_eq!(kmem_stuck_unbind(RUST_LEAK_UNLOADED, &[STUCK]), Some(Ok(2)));
        // Two node types for one stuck unbind are one too many.
        let extra = RUST_LEAK_UNLOADED
            .split_inclusive('\n')
            .skip(10)
            .collect::<String>();
        let two = format!("{RUST_LEAK_UNLOADED}{extra}");
        assert!(matches!(kmem_stuck_unbind(&two, &[STUCK]), Some(Err(_))));
        // A memory type that kmem's probe did not allocate is not excused.
        let other = RUST_LEAK_UNLOADED.replace("14NodeMemoryType4init", "9SomethingElse");
        assert!(matches!(kmem_stuck_unbind(&other, &[STUCK]), Some(Err(_))));
    }

    #[test]
    fn rust_stuck_unbind_leak() {
        assert_eq!(kmem_stuck_unbind(RUST_RANGES_LEAK, &[STUCK]), Some(Ok(1)));
        assert!(matches!(
            kmem_stuck_unbind(RUST_RANGES_LEAK, &[""]),
            Some(Err(_))
        ));
        let both = format!("{RUST_RANGES_LEAK}{RUST_DEVRES_LEAK}");
        assert!(matches!(
            kmem_stuck_unbind(&both, &[STUCK, STUCK]),
            Some(Err(_))
        ));
    }
}
