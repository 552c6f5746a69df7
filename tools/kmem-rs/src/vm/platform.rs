// SPDX-License-Identifier: GPL-2.0-only
//! The machines a test kernel boots on: the guest's topology (CPUs, NUMA
//! nodes, where the device memory comes from) and what QEMU adds for each
//! platform (pmem, HMEM with HMAT, a CXL type-3 device).

use anyhow::{bail, Result};

use crate::ndctl::Ndctl;
use crate::qemu::Qemu;

/// The guest's shape. One place for the topology every test relies on.
#[derive(Clone, Copy, Debug)]
pub struct Topology {
    pub cpus: u32,
    pub memory: &'static str,
    /// `--numa` arguments: node 0 with the CPUs, then memory-only nodes.
    /// vng appends what follows the size to QEMU's `-numa node,memdev=...`.
    pub numa: &'static [&'static str],
    /// `memmap=...`: what turns guest RAM into the device's memory (legacy
    /// pmem with `!`, soft-reserved with `%...+0xefffffff`); empty for none.
    /// Guest RAM above 2 GiB continues at 4 GiB after the PCI hole (q35), so
    /// with 2 GiB in node 0, node 1 spans 4..6 GiB of physical addresses.
    pub pmem: &'static str,
}

/// The pmem platform: node 1 has no memory until kmem onlines the pmem,
/// which is the whole of it (like a pmem or CXL node on real machines).
pub const TOPOLOGY: Topology = Topology {
    cpus: 2,
    memory: "4G",
    numa: &["2G,cpus=0-1", "2G"],
    pmem: "memmap=2G!4G",
};

/// Where the device memory of a test boot comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformKind {
    /// Legacy pmem (`memmap=!`) in the memory-only node 1, no HMAT.
    Pmem,
    /// Soft-reserved memory (HMEM) filling node 1, with HMAT data.
    Hmem,
    /// A CXL type-3 volatile device behind a host bridge (QEMU 10).
    Cxl,
}

/// A machine to boot: the topology, and what QEMU and the kernel add to it.
#[derive(Clone, Copy, Debug)]
pub struct Platform {
    pub kind: PlatformKind,
    pub name: &'static str,
    pub about: &'static str,
    pub topology: Topology,
    /// QEMU options (vng `--qemu-opts=`, one word each: vng joins them
    /// unquoted into a shell command).
    pub qemu_opts: &'static [&'static str],
    /// Runs on the pinned QEMU of versions.toml instead of the installed one.
    pub pinned_qemu: bool,
    /// The guest gets the pinned ndctl, cxl and daxctl of versions.toml
    /// (`kmem_rs.cxl_tools=` on its command line) beside the installed ones.
    pub pinned_ndctl: bool,
}

/// The unpacked tools of versions.toml a boot runs with, where its platform
/// wants them and the cache has them.
#[derive(Clone, Debug, Default)]
pub struct Pinned {
    pub qemu: Option<Qemu>,
    pub ndctl: Option<Ndctl>,
}

/// HMAT figures of the HMEM platform, QEMU units (ns, bytes/s): node 0 is
/// the DRAM every tier is measured against (the kernel ignores HMAT without
/// it), node 1 the slow memory. The selftests read them back from sysfs.
const HMAT: &[&str] = &[
    "-machine",
    "hmat=on",
    "-numa",
    "hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,latency=80",
    "-numa",
    "hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-bandwidth,bandwidth=20G",
    "-numa",
    "hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-latency,latency=240",
    "-numa",
    "hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-bandwidth,bandwidth=5G",
];

/// The CXL platform: one host bridge, one root port, one 512 MiB volatile
/// type-3 device, a 4 GiB fixed memory window. Small, because CXL memory
/// is MMIO under TCG: every access to it is slow.
const CXL: &[&str] = &[
    "-machine",
    "cxl=on",
    "-object",
    "memory-backend-ram,id=cxl-vmem0,share=on,size=512M",
    "-device",
    "pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1",
    "-device",
    "cxl-rp,port=0,bus=cxl.1,id=cxl-rp0,chassis=0,slot=2",
    "-device",
    "cxl-type3,bus=cxl-rp0,volatile-memdev=cxl-vmem0,id=cxl-mem0",
    "-M",
    "cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G",
];

pub const PLATFORMS: &[Platform] = &[
    Platform {
        kind: PlatformKind::Pmem,
        name: "pmem",
        about: "2 GiB legacy pmem (memmap=2G!4G) that is all of node 1; no HMAT",
        topology: TOPOLOGY,
        qemu_opts: &[],
        pinned_qemu: false,
        pinned_ndctl: false,
    },
    Platform {
        kind: PlatformKind::Hmem,
        name: "hmem",
        about: "2 GiB soft-reserved memory (dax_hmem) that is all of node 1, with HMAT latency and bandwidth",
        topology: Topology {
            cpus: 2,
            memory: "4G",
            numa: &["2G,cpus=0-1", "2G,initiator=0"],
            pmem: "memmap=2G%4G+0xefffffff",
        },
        qemu_opts: HMAT,
        pinned_qemu: false,
        pinned_ndctl: false,
    },
    Platform {
        kind: PlatformKind::Cxl,
        name: "cxl",
        about: "a 512 MiB CXL type-3 volatile device; its window becomes node 1 (QEMU 10)",
        topology: Topology {
            cpus: 2,
            memory: "2G",
            numa: &["2G,cpus=0-1"],
            pmem: "",
        },
        qemu_opts: CXL,
        pinned_qemu: true,
        pinned_ndctl: true,
    },
];

/// The platform called `name`, or an error listing them.
pub fn platform(name: &str) -> Result<&'static Platform> {
    PLATFORMS.iter().find(|p| p.name == name).ok_or_else(|| {
        let names: Vec<_> = PLATFORMS.iter().map(|p| p.name).collect();
        anyhow::anyhow!("no platform {name:?}; platforms: {}", names.join(", "))
    })
}

/// The platform of kind `kind`.
pub fn platform_of(kind: PlatformKind) -> &'static Platform {
    PLATFORMS
        .iter()
        .find(|p| p.kind == kind)
        .expect("every PlatformKind has a platform")
}

/// The pmem platform in another shape (the benchmark sizes its device).
pub fn pmem_shaped(topology: Topology) -> Platform {
    Platform {
        topology,
        ..*platform_of(PlatformKind::Pmem)
    }
}

/// vng arguments a platform adds to the common ones (`vm::vng_args`): its
/// name for the guest script (`kmem_rs.platform=`), its QEMU options, the
/// pinned QEMU with its firmware directories when it needs that one, and
/// where the pinned ndctl's wrappers are (`kmem_rs.cxl_tools=`). Without
/// them the guest script fails the tests that need them, and says why.
pub fn platform_args(p: &Platform, pinned: &Pinned) -> Result<Vec<String>> {
    let mut a = vec![
        "--append".to_string(),
        format!("kmem_rs.platform={}", p.name),
    ];
    if let (true, Some(n)) = (p.pinned_ndctl, &pinned.ndctl) {
        let dir = n.bin_dir().display().to_string();
        if dir.contains(char::is_whitespace) {
            bail!("{dir}: a kernel command-line parameter cannot carry blanks; use a --cache without them");
        }
        a.push("--append".into());
        a.push(format!("kmem_rs.cxl_tools={dir}"));
    }
    if p.pinned_qemu {
        let q = pinned.qemu.as_ref().ok_or_else(|| {
            anyhow::anyhow!(
                "the {} platform needs the pinned QEMU: run `cargo kmem setup`",
                p.name
            )
        })?;
        a.push("--qemu".into());
        a.push(q.binary().display().to_string());
        for d in q.firmware_dirs() {
            a.push("--qemu-opts=-L".into());
            a.push(format!("--qemu-opts={}", d.display()));
        }
    }
    for o in p.qemu_opts {
        debug_assert!(!o.contains(char::is_whitespace));
        a.push(format!("--qemu-opts={o}"));
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numa_sizes_add_up_to_memory() {
        let gib = |s: &str| {
            s.split(',')
                .next()
                .unwrap()
                .trim_end_matches('G')
                .parse::<u32>()
                .unwrap()
        };
        for p in PLATFORMS {
            let t = &p.topology;
            let sum: u32 = t.numa.iter().map(|n| gib(n)).sum();
            assert_eq!(sum, gib(t.memory), "{}", p.name);
        }
    }

    #[test]
    fn platforms() {
        assert_eq!(platform("pmem").unwrap().topology.pmem, TOPOLOGY.pmem);
        assert!(platform("nvme").is_err());
        for k in [PlatformKind::Pmem, PlatformKind::Hmem, PlatformKind::Cxl] {
            assert_eq!(platform_of(k).kind, k);
        }
        // Every QEMU option is one shell word (vng joins them unquoted).
        for p in PLATFORMS {
            assert!(p.qemu_opts.iter().all(|o| !o.contains(char::is_whitespace)));
        }
        let h = platform_args(platform("hmem").unwrap(), &Pinned::default())
            .unwrap()
            .join(" ");
        assert!(h.starts_with("--append kmem_rs.platform=hmem"));
        assert!(h.contains("--qemu-opts=-machine --qemu-opts=hmat=on"));
        assert!(!h.contains("--qemu "));
        // HMAT is ignored unless the DRAM node's own figures are there too.
        assert!(h.contains("initiator=0,target=0"));
        let e = platform_args(platform("cxl").unwrap(), &Pinned::default()).unwrap_err();
        assert!(format!("{e}").contains("cargo kmem setup"));
    }

    /// The CXL guest learns where the pinned ndctl is; no other guest does,
    /// and without an unpack the CXL guest gets no path (its tests say why).
    #[test]
    fn cxl_tools_on_the_command_line() {
        let both = Pinned {
            qemu: Some(Qemu::at("/c/qemu/10.0.2")),
            ndctl: Some(Ndctl::at("/c/ndctl/81")),
        };
        let c = platform_args(platform("cxl").unwrap(), &both)
            .unwrap()
            .join(" ");
        assert!(c.contains("--append kmem_rs.cxl_tools=/c/ndctl/81/bin"));
        let p = platform_args(platform("pmem").unwrap(), &both)
            .unwrap()
            .join(" ");
        assert!(!p.contains("cxl_tools"));
        let qemu_only = Pinned {
            ndctl: None,
            ..both.clone()
        };
        let c = platform_args(platform("cxl").unwrap(), &qemu_only)
            .unwrap()
            .join(" ");
        assert!(!c.contains("cxl_tools"));
        let blank = Pinned {
            ndctl: Some(Ndctl::at("/my cache/ndctl/81")),
            ..both
        };
        assert!(platform_args(platform("cxl").unwrap(), &blank).is_err());
    }
}
