// SPDX-License-Identifier: GPL-2.0-only
//! The test suites of the normal lane: what each runs in the guest, on
//! which machine, for how long, and on which kmem driver(s).

use std::time::Duration;

use crate::vm::PlatformKind;

/// Which suites a run asks for: those whose name contains one of `filters`
/// (all when there is none), less those whose name contains one of `skips`.
#[derive(Default)]
pub struct Selection {
    pub filters: Vec<String>,
    pub skips: Vec<String>,
}

impl Selection {
    pub fn picks(&self, name: &str) -> bool {
        let any = |l: &[String]| l.iter().any(|f| name.contains(f.as_str()));
        (self.filters.is_empty() || any(&self.filters)) && !any(&self.skips)
    }

    /// Whether the selection is every suite of the lane.
    pub fn is_all(&self) -> bool {
        self.filters.is_empty() && self.skips.is_empty()
    }
}

/// An in-guest test suite; its name is the guest script's `suite` argument.
pub struct Suite {
    pub name: &'static str,
    pub about: &'static str,
    /// Extra kernel command line for this suite's boot.
    pub append: &'static [&'static str],
    /// The whole boot, test included, is killed after this long.
    pub timeout: Duration,
    /// Runs once per kmem driver (and the results must match), or once, with
    /// the Rust driver loaded (for its KUnit tests).
    pub per_driver: bool,
    /// The machine it boots (tools/kmem-rs/src/vm.rs).
    pub platform: PlatformKind,
    /// A `memmap=` in place of the platform's own, for a smaller device.
    pub pmem: Option<&'static str>,
}

/// The pmem in the upper half of node 1, which keeps 1 GiB of RAM from boot,
/// for the suite that onlines the device as kernel memory and then unplugs
/// it: when the device's memory is the node's only memory, unmovable kernel
/// allocations for that node land in it once it is online_kernel, and the
/// unplug fails with EBUSY on both drivers (measured). That is the node's
/// nature, not the driver's; this suite tests the driver's state machine.
const RAM_AT_BOOT: &str = "memmap=1G!5G";

pub const SUITES: &[Suite] = &[
    Suite {
        name: "dax-kmem-hotplug",
        about: "upstream selftests/dax/dax-kmem-hotplug.sh with DAX_KMEM_TEST_UNBIND=1",
        append: &[],
        timeout: Duration::from_secs(600),
        per_driver: true,
        platform: PlatformKind::Pmem,
        pmem: None,
    },
    Suite {
        name: "mem-on-off",
        about: "upstream selftests/memory-hotplug/mem-on-off-test.sh over the hotplugged device",
        append: &[],
        timeout: Duration::from_secs(900),
        per_driver: true,
        platform: PlatformKind::Pmem,
        pmem: None,
    },
    // KUnit's filter_glob takes one "suite.test" glob, so our three sets of
    // tests take three boots. Each runs only our tests: the base tree's own
    // (some of which WARN on the debug kernel) stay out of the way.
    Suite {
        name: "kunit",
        about: "KUnit: the memory_hotplug tests, and the Rust driver's tests (loaded after boot)",
        append: &["kunit.enable=1", "kunit.filter_glob=rust_memory_hotplug"],
        timeout: Duration::from_secs(600),
        per_driver: false,
        platform: PlatformKind::Pmem,
        pmem: None,
    },
    Suite {
        name: "kunit-doctests-hotplug",
        about: "KUnit: the doctests of rust/kernel/memory_hotplug.rs",
        append: &[
            "kunit.enable=1",
            "kunit.filter_glob=rust_doctests_kernel.rust_doctest_kernel_memory_hotplug_rs_*",
        ],
        timeout: Duration::from_secs(600),
        per_driver: false,
        platform: PlatformKind::Pmem,
        pmem: None,
    },
    Suite {
        name: "kunit-doctests-attribute",
        about: "KUnit: the doctests of rust/kernel/device/attribute.rs",
        append: &[
            "kunit.enable=1",
            "kunit.filter_glob=rust_doctests_kernel.rust_doctest_kernel_device_attribute_rs_*",
        ],
        timeout: Duration::from_secs(600),
        per_driver: false,
        platform: PlatformKind::Pmem,
        pmem: None,
    },
    Suite {
        name: "kunit-doctests-dax",
        about: "KUnit: the doctests of rust/kernel/dax.rs",
        append: &[
            "kunit.enable=1",
            "kunit.filter_glob=rust_doctests_kernel.rust_doctest_kernel_dax_rs_*",
        ],
        timeout: Duration::from_secs(600),
        per_driver: false,
        platform: PlatformKind::Pmem,
        pmem: None,
    },
    Suite {
        name: "kmem-state",
        about:
            "selftests/dax/dax-kmem-state.sh: hostile state writes, stuck unbind, rmmod after it",
        append: &[],
        timeout: Duration::from_secs(600),
        per_driver: true,
        platform: PlatformKind::Pmem,
        pmem: Some(RAM_AT_BOOT),
    },
    Suite {
        name: "memmap-on-memory",
        about: "selftests/dax/dax-kmem-memmap.sh: the memory map carved from hotplugged memory",
        append: &["memory_hotplug.memmap_on_memory=1"],
        timeout: Duration::from_secs(600),
        per_driver: true,
        platform: PlatformKind::Pmem,
        pmem: None,
    },
    Suite {
        name: "small-region",
        about: "selftests/dax/dax-kmem-small.sh: a device smaller than one block is rejected",
        append: &["memmap=64M!1G"],
        timeout: Duration::from_secs(600),
        per_driver: true,
        platform: PlatformKind::Pmem,
        pmem: None,
    },
    Suite {
        name: "daxctl-roundtrip",
        about: "daxctl reconfigure-device system-ram/devdax: MemTotal, /proc/iomem, memory blocks",
        append: &[],
        timeout: Duration::from_secs(600),
        per_driver: true,
        platform: PlatformKind::Pmem,
        pmem: None,
    },
    Suite {
        name: "node",
        about: "selftests/dax/dax-kmem-node.sh through the kselftest install and run_kselftest.sh: node 1 gets memory, the default tier, and back",
        append: &[],
        timeout: Duration::from_secs(600),
        per_driver: true,
        platform: PlatformKind::Pmem,
        pmem: None,
    },
    Suite {
        name: "hmem",
        about: "HMEM with HMAT: dax-kmem-node.sh on two devices (HMAT's tier), dax-kmem-ranges.sh (three ranges, mapping refused while bound)",
        append: &["dax_hmem.region_idle=1"],
        timeout: Duration::from_secs(600),
        per_driver: true,
        platform: PlatformKind::Hmem,
        pmem: None,
    },
    Suite {
        name: "hmem-probe",
        about: "HMEM region as one kmem-type device: bound at insmod, onlined by the default policy",
        append: &["dax_hmem.region_idle=0", "memhp_default_state=online_movable"],
        timeout: Duration::from_secs(600),
        per_driver: true,
        platform: PlatformKind::Hmem,
        pmem: None,
    },
    Suite {
        name: "data",
        about: "selftests/dax/dax-kmem-data.sh on the pmem device: a pattern over 3/4 of it, \
                unplug (state, daxctl offline-memory) migrating a process's data, pinned data \
                refusing it, demotion into the device's tier",
        append: &[],
        timeout: Duration::from_secs(900),
        per_driver: true,
        platform: PlatformKind::Pmem,
        pmem: None,
    },
    Suite {
        name: "hmem-data",
        about: "selftests/dax/dax-kmem-data.sh on a 512 MiB device of the HMEM region (HMAT's tier)",
        append: &["dax_hmem.region_idle=1"],
        timeout: Duration::from_secs(900),
        per_driver: true,
        platform: PlatformKind::Hmem,
        pmem: None,
    },
    Suite {
        name: "cxl",
        about: "CXL type-3 RAM region made through sysfs: kmem at region creation, node and tier, \
                teardown; then with cxl create-region -t ram and daxctl reconfigure-device (ndctl 81)",
        append: &[],
        timeout: Duration::from_secs(900),
        per_driver: true,
        platform: PlatformKind::Cxl,
        pmem: None,
    },
    Suite {
        name: "cxl-data",
        about: "selftests/dax/dax-kmem-data.sh on the CXL region's device, with 48 and 32 MiB buffers \
                (its memory is MMIO under emulation)",
        append: &[],
        timeout: Duration::from_secs(1200),
        per_driver: true,
        platform: PlatformKind::Cxl,
        pmem: None,
    },
];

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Each of `suites` is a `suite_NAME()` of the guest script.
    pub(in crate::test) fn assert_in_guest_script(suites: &[Suite]) {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("guest/kmem-rs-guest.sh");
        let text = std::fs::read_to_string(script).unwrap();
        for s in suites {
            assert!(
                text.contains(&format!("suite_{}()", s.name.replace('-', "_"))),
                "{}",
                s.name
            );
        }
    }

    #[test]
    fn suites_exist_in_guest_script() {
        assert_in_guest_script(SUITES);
    }
}
