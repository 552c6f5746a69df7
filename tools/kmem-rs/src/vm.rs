// SPDX-License-Identifier: GPL-2.0-only
//! Booting the test kernel with virtme-ng: the guest sees the host's root
//! filesystem read-only (so Debian's ndctl, daxctl, bash and bc), has two
//! NUMA nodes, and emulated pmem in the memory-only node 1.
//!
//! The machines themselves (topology, HMAT, CXL) are the part `platform`;
//! this file boots them.

use anyhow::{bail, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::build::{Driver, Kernel};
use crate::ctx::Ctx;
use crate::run::{self, capture, command, Outcome, Step};
use crate::toolchain;
use crate::{ndctl, qemu};

mod platform;

pub use platform::{
    platform, platform_of, pmem_shaped, Platform, PlatformKind, Topology, PLATFORMS, TOPOLOGY,
};
use platform::{platform_args, Pinned};

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
        let pinned = pinned(ctx, platform);
        args_for_vng.extend(platform_args(platform, &pinned)?);
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
        if let Some(q) = &pinned.qemu {
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

/// The unpacked tools of the cache that `platform` runs with.
fn pinned(ctx: &Ctx, platform: &Platform) -> Pinned {
    Pinned {
        qemu: platform.pinned_qemu.then(|| qemu::unpacked(ctx)).flatten(),
        ndctl: platform
            .pinned_ndctl
            .then(|| ndctl::unpacked(ctx))
            .flatten(),
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
    let pinned = pinned(ctx, platform);
    args.extend(platform_args(platform, &pinned)?);
    let mut cmd = vng(ctx, &args);
    if let Some(q) = &pinned.qemu {
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
    fn quoting() {
        assert_eq!(shell_quote("/a/b.sh"), "/a/b.sh");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
