// SPDX-License-Identifier: GPL-2.0-only
//! `setup`: toolchain and base kernel import; the `setup` command then
//! applies the overlay (main.rs: the overlay sits above this module).
//! Idempotent; each step checks its own result first, so a finished setup
//! takes seconds and an interrupted one resumes where it stopped.

use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

use crate::apt::{sha256_file, Pinned, PrivateApt};
use crate::ctx::Ctx;
use crate::run::{self, capture, command, Step};
use crate::toolchain::{bindgen_path, make, vng_path, RUSTC};
use crate::{ndctl, qemu};

/// Tag of the imported base commit in the source tree.
pub const BASE_TAG: &str = "kmem-rs-base";
/// Stamp written into the source tree's .git once an import completed.
const IMPORT_STAMP: &str = "kmem-rs-import";

/// Toolchain and base kernel; with `check`, only reports what is missing.
/// The `setup` command then applies the overlay and runs
/// [`rustavailable`] (main.rs), which this module leaves to its callers:
/// the overlay sits above it.
pub fn install(ctx: &Ctx, check: bool) -> Result<()> {
    println!("==> setup (cache: {})", ctx.cache.display());
    let mut problems = Vec::new();
    let mut step = |name: &str, r: Result<()>| -> Result<()> {
        match r {
            Ok(()) => Ok(()),
            Err(e) if check => {
                println!("  ✗ {name}: {e:#}");
                problems.push(name.to_string());
                Ok(())
            }
            Err(e) => Err(e.context(format!("setup step '{name}' failed"))),
        }
    };
    step("packages", packages(ctx, check))?;
    step("rustc", rustc(ctx))?;
    step("bindgen", bindgen(ctx, check))?;
    step("virtme-ng", venv(ctx, check))?;
    step("base kernel", source(ctx, check))?;
    step("QEMU (CXL platform)", qemu::ensure(ctx, check).map(drop))?;
    let tools = format!("ndctl {} (CXL platform)", ctx.versions.ndctl.version);
    step(&tools, ndctl::ensure(ctx, check).map(drop))?;
    if !problems.is_empty() {
        bail!(
            "setup is incomplete ({}); run `cargo kmem setup`",
            problems.join(", ")
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Debian packages

fn packages(ctx: &Ctx, check: bool) -> Result<()> {
    let wanted = &ctx.versions.toolchain.apt_packages;
    let missing = missing_packages(wanted)?;
    if missing.is_empty() {
        println!("  ✓ {} Debian packages installed", wanted.len());
        return Ok(());
    }
    let fix = format!(
        "apt-get install --no-install-recommends {}",
        missing.join(" ")
    );
    if check {
        bail!(
            "missing Debian packages: {}; fix: {fix}",
            missing.join(", ")
        );
    }
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "missing Debian packages: {}; as root, run: {fix}",
            missing.join(", ")
        );
    }
    let log = ctx.log("apt-update")?;
    Step::new("apt-get update", &log).run_ok(command("apt-get").args(["update", "-q"]))?;
    // One retry: dpkg has been seen to lose its temporary files mid-install.
    let mut last = None;
    for attempt in 1..=2 {
        let log = ctx.log("apt-install")?;
        let name = format!("apt-get install {} (attempt {attempt})", missing.join(" "));
        let out = Step::new(&name, &log).run(
            command("apt-get")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .args(["install", "-y", "-q", "--no-install-recommends"])
                .args(&missing),
        )?;
        if out.success() {
            break;
        }
        last = Some((name, out));
    }
    let still = missing_packages(wanted)?;
    if !still.is_empty() {
        let detail = last
            .map(|(n, o)| run::failure_report(&n, &o))
            .unwrap_or_default();
        bail!(
            "could not install Debian packages: {}\n{detail}\n  fix: check `apt-cache policy {}` and the network, then rerun",
            still.join(", "),
            still.join(" ")
        );
    }
    Ok(())
}

fn missing_packages(wanted: &[String]) -> Result<Vec<String>> {
    let out = command("dpkg-query")
        .args(["-W", "-f", "${Package} ${db:Status-Abbrev}\n"])
        .args(wanted)
        .output()
        .context("cannot run dpkg-query: kmem-rs needs a Debian (or derivative) host")?;
    Ok(parse_missing(&String::from_utf8_lossy(&out.stdout), wanted))
}

/// Packages of `wanted` that `dpkg-query -W -f '${Package} ${db:Status-Abbrev}\n'`
/// does not report as installed (`ii`).
fn parse_missing(dpkg: &str, wanted: &[String]) -> Vec<String> {
    let installed: Vec<&str> = dpkg
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next()?;
            let status = it.next()?;
            (status == "ii").then_some(name.split(':').next().unwrap_or(name))
        })
        .collect();
    wanted
        .iter()
        .filter(|w| !installed.contains(&w.as_str()))
        .cloned()
        .collect()
}

fn rustc(ctx: &Ctx) -> Result<()> {
    let want = &ctx.versions.toolchain.rustc;
    let got = capture(command(RUSTC).arg("--version")).unwrap_or_default();
    if !got.starts_with(&format!("rustc {want}.")) {
        bail!(
            "{} reports '{got}', want rustc {want}.x from Debian's rustc-web; fix: apt-get install rustc-web",
            RUSTC
        );
    }
    println!("  ✓ {got} ({})", RUSTC);
    Ok(())
}

// ---------------------------------------------------------------------------
// bindgen and virtme-ng, installed into the cache

fn bindgen(ctx: &Ctx, check: bool) -> Result<()> {
    let want = &ctx.versions.toolchain.bindgen_cli;
    let bin = bindgen_path(ctx);
    let have = capture(command(&bin).arg("--version"));
    if have.as_deref() == Some(&format!("bindgen {want}")) {
        println!("  ✓ bindgen {want}");
        return Ok(());
    }
    if check {
        bail!("bindgen-cli {want} is not installed in {}", bin.display());
    }
    let log = ctx.log("bindgen")?;
    Step::new(&format!("cargo install bindgen-cli {want}"), &log).run_ok(
        command("cargo")
            .args(["install", "--locked", "--force", "--root"])
            .arg(ctx.cache.join("tools"))
            .arg(format!("bindgen-cli@{want}")),
    )?;
    Ok(())
}

fn venv(ctx: &Ctx, check: bool) -> Result<()> {
    let want = &ctx.versions.toolchain.virtme_ng;
    let have = capture(command(vng_path(ctx)).arg("--version"));
    if have.as_deref() == Some(&format!("virtme-ng {want}")) {
        println!("  ✓ virtme-ng {want}");
        return Ok(());
    }
    if check {
        bail!(
            "virtme-ng {want} is not installed in {}",
            ctx.cache.join("venv").display()
        );
    }
    let venv = ctx.cache.join("venv");
    if venv.exists() {
        // A venv whose vng does not answer is broken or stale: start over.
        fs::remove_dir_all(&venv)?;
    }
    let log = ctx.log("venv")?;
    Step::new("python3 -m venv", &log)
        .run_ok(command("/usr/bin/python3").args(["-m", "venv"]).arg(&venv))?;
    let log = ctx.log("pip")?;
    Step::new(&format!("pip install virtme-ng=={want}"), &log).run_ok(
        command(venv.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check"])
            .arg(format!("virtme-ng=={want}")),
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// The base kernel: a private apt fetch, a checksum, an import into git

fn deb_path(ctx: &Ctx) -> PathBuf {
    let b = &ctx.versions.base;
    ctx.cache
        .join("downloads")
        .join(format!("{}_{}_all.deb", b.package, b.version))
}

/// The base package, downloaded and checksummed.
fn fetch_deb(ctx: &Ctx) -> Result<PathBuf> {
    let b = &ctx.versions.base;
    let deb = deb_path(ctx);
    if deb.exists() {
        if sha256_file(&deb)? == b.sha256 {
            println!("  ✓ {} {} (sha256 ok)", b.package, b.version);
            return Ok(deb);
        }
        println!(
            "  ! {} has the wrong checksum: downloading it again",
            deb.display()
        );
        fs::remove_file(&deb)?;
    }
    let apt = PrivateApt::new(ctx.cache.join("apt"), &ctx.versions.base.apt_source)?;
    let log = ctx.log("apt-base-update")?;
    Step::new("apt-get update (private trixie-backports list)", &log)
        .run_ok(command("apt-get").args(apt.opts()).arg("update"))?;
    fs::create_dir_all(ctx.cache.join("downloads"))?;
    let log = ctx.log("apt-base-download")?;
    let pinned = Pinned {
        name: &b.package,
        version: &b.version,
        sha256: &b.sha256,
        section: "base",
    };
    apt.download(&pinned, &deb, &log)?;
    Ok(deb)
}

/// Why an existing source tree cannot be used, or None if it can.
fn source_problem(ctx: &Ctx) -> Option<String> {
    let src = ctx.src();
    if !src.join(".git").is_dir() {
        return Some("not imported yet".into());
    }
    let stamp = fs::read_to_string(src.join(".git").join(IMPORT_STAMP)).unwrap_or_default();
    if stamp.trim() != ctx.versions.base.version {
        return Some(format!(
            "import of '{}' is incomplete or for another version",
            stamp.trim()
        ));
    }
    let tree = capture(
        command("git")
            .arg("-C")
            .arg(&src)
            .args(["rev-parse", &format!("{BASE_TAG}^{{tree}}")]),
    );
    if tree.as_deref() != Some(ctx.versions.base.tree.as_str()) {
        return Some(format!(
            "base tag {BASE_TAG} has tree {}, pinned is {}",
            tree.unwrap_or_else(|| "(missing)".into()),
            ctx.versions.base.tree
        ));
    }
    None
}

fn source(ctx: &Ctx, check: bool) -> Result<()> {
    match source_problem(ctx) {
        None => {
            println!(
                "  ✓ base kernel {} imported in {}",
                ctx.versions.base.version,
                ctx.src().display()
            );
            return Ok(());
        }
        Some(why) if check => bail!("source tree {}: {why}", ctx.src().display()),
        Some(why) => println!("  … source tree {}: {why}: importing", ctx.src().display()),
    }
    let deb = fetch_deb(ctx)?;
    import(ctx, &deb)?;
    if let Some(why) = source_problem(ctx) {
        bail!("the freshly imported tree is not the pinned one: {why}");
    }
    Ok(())
}

/// Unpacks the .deb's tarball into a scratch directory, commits it as the
/// base with a fixed identity and date (so the commit id is the same on
/// every machine), and only then moves it into place.
fn import(ctx: &Ctx, deb: &Path) -> Result<()> {
    let src = ctx.src();
    let tmp = src.with_extension("importing");
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    fs::create_dir_all(&tmp)?;
    let b = &ctx.versions.base;
    let log = ctx.log("unpack")?;
    let script = format!(
        "set -euo pipefail; dpkg-deb --fsys-tarfile \"$1\" | tar -xO --wildcards '*{}' | tar -xJ -C \"$2\" --strip-components=1",
        b.tarball
    );
    Step::new("unpack kernel source", &log).run_ok(
        command("bash")
            .args(["-c", &script, "unpack"])
            .arg(deb)
            .arg(&tmp),
    )?;
    let log = ctx.log("import")?;
    let msg = format!(
        "Linux {} (Debian {} {})",
        ctx.versions.kernel_release(),
        b.package,
        b.version
    );
    let script = "set -euo pipefail
        g() { git -c core.autocrlf=false -c core.safecrlf=false -c commit.gpgsign=false \
                  -c core.hooksPath=/dev/null -c init.defaultBranch=kmem-rs \"$@\"; }
        g init -q .
        g add -A -f .
        g commit -q -m \"$1\"
        g tag -f kmem-rs-base";
    Step::new("import kernel source into git", &log).run_ok(
        command("bash")
            .current_dir(&tmp)
            .args(["-c", script, "import", &msg])
            .env("GIT_AUTHOR_NAME", "kmem-rs")
            .env("GIT_AUTHOR_EMAIL", "kmem-rs@localhost")
            .env("GIT_COMMITTER_NAME", "kmem-rs")
            .env("GIT_COMMITTER_EMAIL", "kmem-rs@localhost")
            .env("GIT_AUTHOR_DATE", "2000-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2000-01-01T00:00:00Z"),
    )?;
    fs::write(
        tmp.join(".git").join(IMPORT_STAMP),
        format!("{}\n", b.version),
    )?;
    if src.exists() {
        fs::remove_dir_all(&src)?;
    }
    fs::rename(&tmp, &src)?;
    // Builds made from an older import are stale: their sources moved.
    let build = ctx.build_dir();
    if build.exists() {
        println!("  … removing stale build directory {}", build.display());
        fs::remove_dir_all(&build)?;
    }
    Ok(())
}

/// `make rustavailable`: the toolchain as the kernel sees it.
pub fn rustavailable(ctx: &Ctx) -> Result<()> {
    let log = ctx.log("rustavailable")?;
    Step::new("make rustavailable", &log).run_ok(make(ctx, false).arg("rustavailable"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn dpkg_missing_and_half_installed() {
        let dpkg = "bc ii \nclang-19 rc \nqemu-system-x86 ii \nlibssl-dev:amd64 ii \n";
        let wanted = s(&["bc", "clang-19", "qemu-system-x86", "ndctl", "libssl-dev"]);
        assert_eq!(parse_missing(dpkg, &wanted), s(&["clang-19", "ndctl"]));
    }

    #[test]
    fn dpkg_nothing_missing() {
        assert!(parse_missing("bc ii \n", &s(&["bc"])).is_empty());
    }
}
