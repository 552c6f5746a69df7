// SPDX-License-Identifier: GPL-2.0-only
//! The `msrv` check's toolchain: the oldest rustc and bindgen the base tree
//! supports (its `scripts/min-tool-version.sh`), pinned in versions.toml
//! `[msrv]`.
//!
//! rustc, rustdoc and clippy-driver are Debian trixie's, fetched through a
//! private apt list, checksummed and unpacked (never installed) into
//! `$KMEM_RS_CACHE/msrv/<rustc>/`. They need a newer glibc than the
//! machine's, so small wrapper scripts in its `bin/` run them through
//! trixie's own dynamic loader with the unpacked libraries first; rustc
//! finds its sysroot (libstd, rust-src) from where its driver library lies.
//! bindgen-cli comes from crates.io into `msrv/bindgen-<version>/`. A failed
//! fetch or a bad checksum leaves an earlier good unpack as it was. Below
//! `check`; uses the toolchain module, never the series or the build.

use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::apt::{self, fetch_pinned, loader_wrapper};
use crate::ctx::Ctx;
use crate::kconfig;
use crate::run::{capture, command, Step};
use crate::toolchain;

/// The tools that get a wrapper script, by their names in the unpack's usr/bin.
const TOOLS: [&str; 3] = ["rustc", "rustdoc", "clippy-driver"];

/// The oldest supported toolchain, ready to use.
pub struct Msrv {
    root: PathBuf,
    bindgen: PathBuf,
}

impl Msrv {
    /// The wrapper of `tool` (one of [`TOOLS`]).
    pub fn wrapper(&self, tool: &str) -> PathBuf {
        self.root.join("bin").join(tool)
    }

    /// The make variables that put this toolchain in place of the project's.
    pub fn make_vars(&self) -> Vec<(&'static str, String)> {
        let w = |t: &str| self.wrapper(t).display().to_string();
        vec![
            ("RUSTC", w("rustc")),
            ("HOSTRUSTC", w("rustc")),
            ("RUSTDOC", w("rustdoc")),
            ("CLIPPY_DRIVER", w("clippy-driver")),
            ("BINDGEN", self.bindgen.display().to_string()),
        ]
    }

    /// `make` of `ctx`'s build directory as [`toolchain::make`] has it, with
    /// this toolchain, under `nice` (a check should not slow a build that
    /// runs beside it).
    pub fn make(&self, ctx: &Ctx) -> Command {
        let base = toolchain::make(ctx, true);
        let args: Vec<String> = base
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut c = command("nice");
        c.args(["-n", "10"])
            .arg(base.get_program())
            .args(override_vars(&args, &self.make_vars()));
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        c
    }

    /// Whether kbuild's `.cmd` text of a file names one of our wrappers or
    /// our bindgen as the command that made it.
    pub fn built(&self, cmd_text: &str) -> bool {
        let ours = [
            self.root.join("bin").display().to_string(),
            self.bindgen.display().to_string(),
        ];
        cmd_text
            .lines()
            .filter(|l| l.starts_with("savedcmd_"))
            .any(|l| ours.iter().any(|o| l.contains(o.as_str())))
    }
}

/// The wrapper script of `tool`: [`loader_wrapper`] for Debian's rustc.
pub fn wrapper_script(tool: &str, rustc: &str) -> String {
    loader_wrapper(tool, &format!("Debian's rustc {rustc} (trixie)"), "msrv")
}

/// `args` with every `NAME=value` of `vars` in place of the argument that
/// set NAME, or appended where none did.
pub fn override_vars(args: &[String], vars: &[(&str, String)]) -> Vec<String> {
    let mut out: Vec<String> = args
        .iter()
        .filter(|a| {
            !vars
                .iter()
                .any(|(k, _)| a.split_once('=').is_some_and(|(n, _)| n == *k))
        })
        .cloned()
        .collect();
    out.extend(vars.iter().map(|(k, v)| format!("{k}={v}")));
    out
}

/// Whether `pinned` is a release of the oldest supported `min`: the same
/// major and minor version, and not an older patch.
pub fn is_oldest(pinned: &str, min: &str) -> bool {
    let parse = |v: &str| -> Option<(u32, u32, u32)> {
        let mut it = v.trim().split('.').map(|n| n.parse::<u32>().ok());
        Some((it.next()??, it.next()??, it.next().unwrap_or(Some(0))?))
    };
    match (parse(pinned), parse(min)) {
        (Some(p), Some(m)) => p.0 == m.0 && p.1 == m.1 && p.2 >= m.2,
        _ => false,
    }
}

/// `CONFIG_RUSTC_VERSION` of a rustc version: `1.85.1` is 108501.
pub fn rustc_version_number(v: &str) -> Option<u32> {
    let n: Vec<u32> = v
        .split('.')
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    match n[..] {
        [a, b, c] => Some(a * 100_000 + b * 100 + c),
        _ => None,
    }
}

/// Whether `--version` output `out` is `tool want` (then a space or nothing).
pub fn answers(out: &str, tool: &str, want: &str) -> bool {
    let first = out.lines().next().unwrap_or_default();
    first
        .strip_prefix(&format!("{tool} {want}"))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// The version each wrapper must answer with: clippy-driver calls itself
/// `clippy 0.1.MINOR`.
fn expected(tool: &str, rustc: &str) -> (&'static str, String) {
    match tool {
        "clippy-driver" => {
            let minor = rustc.split('.').nth(1).unwrap_or_default();
            ("clippy", format!("0.1.{minor}"))
        }
        "rustdoc" => ("rustdoc", rustc.to_string()),
        _ => ("rustc", rustc.to_string()),
    }
}

/// The base tree's minimum version of `tool` on x86.
fn min_version(ctx: &Ctx, tool: &str) -> Result<String> {
    capture(
        command("sh")
            .current_dir(ctx.src())
            .args(["scripts/min-tool-version.sh", tool])
            .env("SRCARCH", "x86")
            .env("ARCH", "x86_64"),
    )
    .with_context(|| {
        format!(
            "scripts/min-tool-version.sh {tool} failed in {}",
            ctx.src().display()
        )
    })
}

/// The oldest toolchain, fetched, unpacked and installed if it is not yet;
/// fails first if versions.toml no longer pins the base tree's minimum.
pub fn ensure(ctx: &Ctx) -> Result<Msrv> {
    let m = &ctx.versions.msrv;
    for (tool, pinned) in [("rustc", &m.rustc), ("bindgen", &m.bindgen_cli)] {
        let min = min_version(ctx, tool)?;
        if !is_oldest(pinned, &min) {
            bail!("the base tree's oldest supported {tool} is {min} (scripts/min-tool-version.sh), [msrv] in versions.toml pins {pinned}: pin a {min} release");
        }
    }
    let root = ensure_rustc(ctx)?;
    let bindgen = ensure_bindgen(ctx)?;
    Ok(Msrv { root, bindgen })
}

fn root(ctx: &Ctx) -> PathBuf {
    ctx.cache.join("msrv").join(&ctx.versions.msrv.rustc)
}

/// Writes the wrappers into `root/bin` (where they differ) and checks that
/// each answers with the pinned release.
fn wrappers(ctx: &Ctx, root: &Path) -> Result<()> {
    let rustc = &ctx.versions.msrv.rustc;
    apt::write_wrappers(root, &TOOLS, |tool| wrapper_script(tool, rustc))?;
    for tool in TOOLS {
        let path = root.join("bin").join(tool);
        let (name, want) = expected(tool, rustc);
        let got = capture(command(&path).arg("--version")).unwrap_or_default();
        if !answers(&got, name, &want) {
            bail!(
                "{} answers '{}', not {name} {want}: a library may be missing (run it with LD_DEBUG=libs)",
                path.display(),
                got.lines().next().unwrap_or("nothing")
            );
        }
    }
    Ok(())
}

fn ensure_rustc(ctx: &Ctx) -> Result<PathBuf> {
    let root = root(ctx);
    let rustc = &ctx.versions.msrv.rustc;
    let packages = &ctx.versions.msrv.packages;
    if apt::is_unpacked(&root, packages) {
        match wrappers(ctx, &root) {
            Ok(()) => {
                println!("  ✓ rustc {rustc} (msrv) in {}", root.display());
                return Ok(root);
            }
            Err(e) => println!("  ! {e:#}: unpacking again"),
        }
    }
    let debs = download(ctx)?;
    apt::unpack(ctx, "msrv", &root, &debs, packages, |tmp| {
        wrappers(ctx, tmp)
    })?;
    println!("  ✓ rustc {rustc} (msrv) unpacked in {}", root.display());
    Ok(root)
}

/// The pinned .debs, verified; ones already downloaded and intact are kept.
fn download(ctx: &Ctx) -> Result<Vec<PathBuf>> {
    let m = &ctx.versions.msrv;
    fetch_pinned(ctx, "msrv", &m.apt_source, "trixie", &m.packages)
}

fn ensure_bindgen(ctx: &Ctx) -> Result<PathBuf> {
    let want = &ctx.versions.msrv.bindgen_cli;
    let dir = ctx.cache.join("msrv").join(format!("bindgen-{want}"));
    let bin = dir.join("bin/bindgen");
    let got = capture(command(&bin).arg("--version")).unwrap_or_default();
    if answers(&got, "bindgen", want) {
        println!("  ✓ bindgen {want} (msrv)");
        return Ok(bin);
    }
    let log = ctx.log("msrv-bindgen")?;
    Step::new(&format!("cargo install bindgen-cli {want} (msrv)"), &log)
        .run_ok(
            command("nice")
                .args([
                    "-n", "10", "cargo", "install", "--locked", "--force", "--root",
                ])
                .arg(&dir)
                .arg(format!("bindgen-cli@{want}")),
        )
        .with_context(|| format!("cannot install bindgen-cli {want} ([msrv] in versions.toml)"))?;
    let got = capture(command(&bin).arg("--version")).unwrap_or_default();
    if !answers(&got, "bindgen", want) {
        bail!(
            "{} answers '{got}' after cargo install, not bindgen {want}",
            bin.display()
        );
    }
    Ok(bin)
}

/// Brings the build directory's .config to the old rustc (`olddefconfig`
/// with it) and checks that every option of the test config survived and
/// that kbuild sees the pinned rustc; then `make rustavailable`.
pub fn configure(ctx: &Ctx, m: &Msrv) -> Result<()> {
    let log = ctx.log("msrv-config")?;
    let rustc = &ctx.versions.msrv.rustc;
    Step::new(&format!("make olddefconfig (rustc {rustc})"), &log)
        .run_ok(m.make(ctx).arg("olddefconfig"))?;
    let dot = fs::read_to_string(ctx.build_dir().join(".config"))?;
    let mut wanted = String::new();
    for f in ctx.config_fragments() {
        wanted.push_str(&fs::read_to_string(f)?);
        wanted.push('\n');
    }
    let dropped = kconfig::dropped(&wanted, &dot);
    if !dropped.is_empty() {
        bail!(
            "with rustc {rustc}, olddefconfig dropped options of the test config:\n    {}",
            dropped.join("\n    ")
        );
    }
    let want = rustc_version_number(rustc).context("[msrv] rustc is not X.Y.Z")?;
    let have = kconfig::parse(&dot).remove("CONFIG_RUSTC_VERSION");
    if have != Some(want.to_string()) {
        bail!("the .config has CONFIG_RUSTC_VERSION={have:?}, not {want}: kbuild did not take the msrv rustc");
    }
    Step::new(&format!("make rustavailable (rustc {rustc})"), &log)
        .run_ok(m.make(ctx).arg("rustavailable"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_versions() {
        assert!(is_oldest("1.85.1", "1.85.0"));
        assert!(is_oldest("0.71.1", "0.71.1"));
        assert!(!is_oldest("1.86.0", "1.85.0"));
        assert!(!is_oldest("0.71.0", "0.71.1"));
        assert!(!is_oldest("1.85.1", "nothing"));
        assert_eq!(rustc_version_number("1.85.1"), Some(108_501));
        assert_eq!(rustc_version_number("1.85"), None);
    }

    #[test]
    fn version_answers() {
        let out = "rustc 1.85.1 (4eb161250 2025-03-15) (built from a source tarball)\n";
        assert!(answers(out, "rustc", "1.85.1"));
        assert!(!answers(out, "rustc", "1.85"));
        assert!(answers("bindgen 0.71.1\n", "bindgen", "0.71.1"));
        assert!(!answers("", "bindgen", "0.71.1"));
        assert_eq!(
            expected("clippy-driver", "1.85.1"),
            ("clippy", "0.1.85".into())
        );
        assert!(answers("clippy 0.1.85\n", "clippy", "0.1.85"));
    }

    #[test]
    fn make_variables_replaced_not_doubled() {
        let args: Vec<String> = [
            "-C",
            "/src",
            "O=/b",
            "LLVM=-19",
            "RUSTC=/usr/bin/rustc",
            "BINDGEN=/x",
        ]
        .map(String::from)
        .into();
        let vars = [
            ("RUSTC", "/m/bin/rustc".to_string()),
            ("HOSTRUSTC", "/m/bin/rustc".to_string()),
            ("BINDGEN", "/m/bg".to_string()),
        ];
        assert_eq!(
            override_vars(&args, &vars),
            [
                "-C",
                "/src",
                "O=/b",
                "LLVM=-19",
                "RUSTC=/m/bin/rustc",
                "HOSTRUSTC=/m/bin/rustc",
                "BINDGEN=/m/bg"
            ]
        );
    }

    #[test]
    fn made_by_us_per_kbuild_cmd_file() {
        let m = Msrv {
            root: "/c/msrv/1.85.1".into(),
            bindgen: "/c/msrv/bindgen-0.71.1/bin/bindgen".into(),
        };
        let rust = "savedcmd_drivers/dax/kmem_rs.o := OBJTREE=/b /c/msrv/1.85.1/bin/clippy-driver --edition=2021 x.rs\n";
        assert!(m.built(rust));
        let bg = "savedcmd_rust/bindings/bindings_generated.rs := /c/msrv/bindgen-0.71.1/bin/bindgen h.h\n";
        assert!(m.built(bg));
        let other = "savedcmd_rust/kernel.o := OBJTREE=/b /usr/bin/rustc x.rs\nsource_x := /c/msrv/1.85.1/bin/rustc\n";
        assert!(!m.built(other));
        assert!(!m.built(""));
    }

    #[test]
    fn wrapper_runs_the_tool_through_its_own_loader() {
        let s = wrapper_script("clippy-driver", "1.85.1");
        assert!(s.starts_with("#!/bin/sh\n"));
        let exec = s.lines().last().unwrap();
        assert_eq!(
            exec,
            "exec \"$lib/ld-linux-x86-64.so.2\" --library-path \"$lib\" \"$root/usr/bin/clippy-driver\" \"$@\""
        );
        assert!(s.contains("lib=\"$root/usr/lib/x86_64-linux-gnu\""));
        assert!(s.contains("Debian's rustc 1.85.1 (trixie)"));
    }
}
