// SPDX-License-Identifier: GPL-2.0-only
//! Booting the test kernel with virtme-ng: the guest sees the host's root
//! filesystem read-only (so Debian's ndctl, daxctl, bash and bc), has two
//! NUMA nodes, and emulated pmem in the memory-only node 1.

use anyhow::{bail, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::build::{Driver, Kernel};
use crate::ctx::Ctx;
use crate::qemu::{self, Qemu};
use crate::run::{self, capture, command, Outcome, Step};
use crate::toolchain;

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

/// vng arguments a platform adds to [`vng_args`]: its name for the guest
/// script (`kmem_rs.platform=`), its QEMU options, and the pinned QEMU with
/// its firmware directories when it needs that one.
pub fn platform_args(p: &Platform, qemu: Option<&Qemu>) -> Result<Vec<String>> {
    let mut a = vec![
        "--append".to_string(),
        format!("kmem_rs.platform={}", p.name),
    ];
    if p.pinned_qemu {
        let q = qemu.ok_or_else(|| {
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

/// The in-guest helper script, relative to the repository root.
pub const GUEST_SCRIPT: &str = "tools/kmem-rs/guest/kmem-rs-guest.sh";

/// vng from the project's venv, with the venv's other tools (virtme-run) on PATH.
fn vng(ctx: &Ctx, args: &[String]) -> Command {
    let vng = toolchain::vng_path(ctx);
    let mut path = vng
        .parent()
        .map(|p| p.as_os_str().to_owned())
        .unwrap_or_default();
    if let Some(old) = std::env::var_os("PATH") {
        path.push(":");
        path.push(old);
    }
    let mut c = command(vng);
    c.env("PATH", path).args(args);
    c
}

/// How QEMU runs the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

/// The vng command line for `kernel_dir`, without the executable.
pub fn vng_args(
    kernel_dir: &Path,
    topo: &Topology,
    accel: Accel,
    append: &[String],
    rwdir: Option<&Path>,
    exec: Option<&str>,
) -> Vec<String> {
    let mut a = vec![
        "--run".to_string(),
        kernel_dir.display().to_string(),
        "--verbose".into(),
        "--force-9p".into(),
        "--disable-microvm".into(),
        "--cpus".into(),
        topo.cpus.to_string(),
        "--memory".into(),
        topo.memory.into(),
    ];
    if accel == Accel::Tcg {
        a.push("--disable-kvm".into());
    }
    for n in topo.numa {
        a.push("--numa".into());
        a.push((*n).into());
    }
    if !topo.pmem.is_empty() {
        a.push("--append".into());
        a.push(topo.pmem.into());
    }
    for extra in append {
        a.push("--append".into());
        a.push(extra.clone());
    }
    if let Some(dir) = rwdir {
        a.push(format!("--rwdir={}", dir.display()));
    }
    if let Some(cmd) = exec {
        a.push("--exec".into());
        a.push(cmd.into());
    }
    a
}

/// The shell command that runs the guest helper with `args`, loading the
/// kmem.ko at `module` (if any) first.
pub fn guest_command(ctx: &Ctx, module: Option<&Path>, args: &[&str]) -> String {
    let mut s = format!(
        "KMEM_RS_KSRC={} ",
        shell_quote(&ctx.src().display().to_string())
    );
    if let Some(m) = module {
        s.push_str(&format!(
            "KMEM_RS_MODULE={} ",
            shell_quote(&m.display().to_string())
        ));
    }
    s.push_str(&format!(
        "bash {}",
        shell_quote(&ctx.repo.join(GUEST_SCRIPT).display().to_string())
    ));
    for a in args {
        s.push(' ');
        s.push_str(&shell_quote(a));
    }
    s
}

pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=,:+".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// KVM if /dev/kvm is usable and a guest really boots under it here, else
/// TCG. `KMEM_RS_ACCEL=kvm|tcg` overrides; the probe's verdict is cached per
/// host kernel and QEMU version.
pub fn accel(ctx: &Ctx, kernel: &Kernel) -> Result<Accel> {
    match std::env::var("KMEM_RS_ACCEL").as_deref() {
        Ok("kvm") => return Ok(Accel::Kvm),
        Ok("tcg") => return Ok(Accel::Tcg),
        Ok("auto") | Err(_) => {}
        Ok(other) => bail!("KMEM_RS_ACCEL={other}: use kvm, tcg or auto"),
    }
    let usable = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !usable {
        println!("  ✓ accelerator: TCG (/dev/kvm is not usable)");
        return Ok(Accel::Tcg);
    }
    let host = capture(command("uname").arg("-r")).unwrap_or_default();
    let qemu = capture(command("qemu-system-x86_64").arg("--version"))
        .and_then(|v| v.lines().next().map(str::to_string))
        .unwrap_or_default();
    let key = format!("{host} | {qemu}");
    let cache = ctx.cache.join("kvm-probe");
    if let Ok(text) = fs::read_to_string(&cache) {
        if let Some((k, verdict)) = text.trim().rsplit_once(" => ") {
            if k == key {
                let a = if verdict == "kvm" {
                    Accel::Kvm
                } else {
                    Accel::Tcg
                };
                println!(
                    "  ✓ accelerator: {verdict} (probed before; delete {} to probe again)",
                    cache.display()
                );
                return Ok(a);
            }
        }
    }
    // A guest that says its marker and powers off within the limit counts;
    // here KVM guests abort (MSR 0x10a) or hang, which is why we probe.
    let dir = ctx.run_dir("kvm-probe")?;
    let log = dir.join("console.log");
    let marker = "kmem-rs-kvm-probe-ok";
    let args = vng_args(
        &kernel.dir,
        &TOPOLOGY,
        Accel::Kvm,
        &[],
        None,
        Some(&format!("echo {marker}")),
    );
    let out = Step::new("probe KVM (boot once under KVM)", &log)
        .timeout(Duration::from_secs(60))
        .run(&mut vng(ctx, &args))?;
    let console = fs::read_to_string(&log).unwrap_or_default();
    let ok = out.success() && console.contains(marker);
    // Only a guest that got as far as QEMU says anything about KVM; vng
    // failing before that is a setup problem, not a verdict to cache.
    if !ok && !out.timed_out && !console.contains("qemu") && !console.contains("Linux version") {
        bail!("{}", run::failure_report("the KVM probe (vng)", &out));
    }
    let verdict = if ok { "kvm" } else { "tcg" };
    fs::write(&cache, format!("{key} => {verdict}\n"))?;
    println!(
        "  ✓ accelerator: {} (KVM probe {}; log {})",
        verdict.to_uppercase(),
        if ok { "booted" } else { "failed" },
        log.display()
    );
    Ok(if ok { Accel::Kvm } else { Accel::Tcg })
}

/// A file in a run's output directory to follow live, and what to do with
/// each of its lines.
pub type Follow<'a> = (&'a str, &'a mut dyn FnMut(&str));

/// One guest boot that runs `guest_args` of the helper script, with `out`
/// shared read-write. Console output goes to `out/console.log`.
pub struct GuestRun<'a> {
    pub name: &'a str,
    pub out: PathBuf,
    pub append: Vec<String>,
    pub timeout: Duration,
    pub follow: Option<Follow<'a>>,
    /// The kmem.ko the guest loads before anything else.
    pub module: Option<PathBuf>,
    /// QEMU options of this run only (the benchmark's `-icount`), one word
    /// each as [`Platform::qemu_opts`].
    pub qemu_opts: Vec<String>,
}

impl GuestRun<'_> {
    /// Runs the helper with `guest_args` on `platform`.
    pub fn run_platform(
        self,
        platform: &Platform,
        ctx: &Ctx,
        kernel: &Kernel,
        accel: Accel,
        guest_args: &[&str],
    ) -> Result<Outcome> {
        let topo = &platform.topology;
        let mut args: Vec<&str> = guest_args.to_vec();
        let out_dir = self.out.display().to_string();
        args.push(&out_dir);
        let exec = guest_command(ctx, self.module.as_deref(), &args);
        let mut args_for_vng = vng_args(
            &kernel.dir,
            topo,
            accel,
            &self.append,
            Some(&self.out),
            Some(&exec),
        );
        let pinned = platform.pinned_qemu.then(|| qemu::unpacked(ctx)).flatten();
        args_for_vng.extend(platform_args(platform, pinned.as_ref())?);
        for o in &self.qemu_opts {
            if o.contains(char::is_whitespace) {
                bail!("QEMU option {o:?}: vng joins options unquoted, so no blanks");
            }
            args_for_vng.push(format!("--qemu-opts={o}"));
        }
        let log = self.out.join("console.log");
        let watch = self.follow.as_ref().map(|(f, _)| self.out.join(f));
        let mut step = Step::new(self.name, &log).timeout(self.timeout);
        step.watch = watch.as_deref();
        if let Some((_, f)) = self.follow {
            step.on_line = Some(f);
        }
        let mut cmd = vng(ctx, &args_for_vng);
        if let Some(q) = &pinned {
            cmd.env("QEMU_MODULE_DIR", q.module_dir());
        }
        step.run(&mut cmd)
    }

    /// Runs like [`GuestRun::run_platform`], for a helper command that leaves its exit
    /// status in the file `status` of the output directory: fails unless that
    /// status is 0 (vng's own exit status does not carry the guest's).
    pub fn run_relayed(
        self,
        ctx: &Ctx,
        kernel: &Kernel,
        accel: Accel,
        guest_args: &[&str],
        status: &str,
    ) -> Result<()> {
        self.run_relayed_platform(
            platform_of(PlatformKind::Pmem),
            ctx,
            kernel,
            accel,
            guest_args,
            status,
        )
    }

    /// [`GuestRun::run_relayed`] on `platform`.
    pub fn run_relayed_platform(
        self,
        platform: &Platform,
        ctx: &Ctx,
        kernel: &Kernel,
        accel: Accel,
        guest_args: &[&str],
        status: &str,
    ) -> Result<()> {
        let (name, out) = (self.name.to_string(), self.out.clone());
        let outcome = self.run_platform(platform, ctx, kernel, accel, guest_args)?;
        relayed(&name, &out, &outcome, status)
    }
}

/// The verdict of a helper command that left its exit status in `status`.
fn relayed(name: &str, out: &Path, outcome: &Outcome, status: &str) -> Result<()> {
    let rc = fs::read_to_string(out.join(status)).unwrap_or_default();
    match rc.trim() {
        "0" => Ok(()),
        "" => bail!("{}", run::failure_report(name, outcome)),
        code => bail!(
            "{name}: the guest side exited with status {code}; output in {}",
            out.display()
        ),
    }
}

/// `vm`: an interactive shell, or one command with its output on the terminal.
pub fn interactive(
    ctx: &Ctx,
    kernel: &Kernel,
    platform: &Platform,
    append: &[String],
    driver: Driver,
    exec: Option<&str>,
    prepare: bool,
) -> Result<()> {
    let accel = accel(ctx, kernel)?;
    let module = kernel.kmem_module(driver);
    if let Some(cmd) = exec {
        // Run it through the guest helper: its output comes back without the
        // kernel's console messages, and its exit status comes back at all
        // (vng's own status does not carry it).
        let mut echo = |line: &str| println!("{line}");
        GuestRun {
            name: "boot + command",
            out: ctx.run_dir("vm")?,
            append: append.to_vec(),
            timeout: Duration::from_secs(3600),
            follow: Some(("exec.out", &mut echo)),
            module: prepare.then_some(module),
            qemu_opts: Vec::new(),
        }
        .run_relayed_platform(
            platform,
            ctx,
            kernel,
            accel,
            &["exec", if prepare { "1" } else { "0" }, cmd],
            "exec.rc",
        )?;
        return Ok(());
    }
    println!(
        "  guest shell: load the {} kmem and create dax0.0 with `{}`; leave with Ctrl-D",
        driver.name(),
        guest_command(ctx, Some(&module), &["prepare"])
    );
    let mut args = vng_args(&kernel.dir, &platform.topology, accel, append, None, None);
    args.retain(|a| a != "--verbose");
    let pinned = platform.pinned_qemu.then(|| qemu::unpacked(ctx)).flatten();
    args.extend(platform_args(platform, pinned.as_ref())?);
    let mut cmd = vng(ctx, &args);
    if let Some(q) = &pinned {
        cmd.env("QEMU_MODULE_DIR", q.module_dir());
    }
    // vng's status is not the shell's: it reports the guest's power-off.
    let _ = cmd.status()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vng_command_line() {
        let a = vng_args(
            Path::new("/b"),
            &TOPOLOGY,
            Accel::Tcg,
            &["x=1".into()],
            Some(Path::new("/out")),
            Some("true"),
        );
        let s = a.join(" ");
        assert!(
            s.starts_with("--run /b --verbose --force-9p --disable-microvm --cpus 2 --memory 4G")
        );
        assert!(s.contains("--disable-kvm"));
        assert!(s.contains("--numa 2G,cpus=0-1 --numa 2G"));
        assert!(s.contains("--append memmap=2G!4G --append x=1"));
        assert!(s.ends_with("--rwdir=/out --exec true"));
        let kvm = vng_args(Path::new("/b"), &TOPOLOGY, Accel::Kvm, &[], None, None);
        assert!(!kvm.iter().any(|x| x == "--disable-kvm" || x == "--exec"));
    }

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
        let h = platform_args(platform("hmem").unwrap(), None)
            .unwrap()
            .join(" ");
        assert!(h.starts_with("--append kmem_rs.platform=hmem"));
        assert!(h.contains("--qemu-opts=-machine --qemu-opts=hmat=on"));
        assert!(!h.contains("--qemu "));
        // HMAT is ignored unless the DRAM node's own figures are there too.
        assert!(h.contains("initiator=0,target=0"));
        let e = platform_args(platform("cxl").unwrap(), None).unwrap_err();
        assert!(format!("{e}").contains("cargo kmem setup"));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/a/b.sh"), "/a/b.sh");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
