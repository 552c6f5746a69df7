// SPDX-License-Identifier: GPL-2.0-only
//! `check`: what a maintainer runs before taking the series. Each check is
//! timed and reported as TAP; any failure fails the command.
//!
//! - `patches/` is what the sources generate;
//! - `git am` of `patches/` onto the base gives the series' trees;
//! - checkpatch.pl --strict: no errors, no warnings;
//! - every commit builds (`make CLIPPY=1`), with no warning in a series file;
//! - rustfmtcheck, rustdoc, htmldocs of the new page;
//! - git send-email to a local sendmail stand-in;
//! - config variants (no memory hot-remove, no Rust driver) compile.

use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::build;
use crate::ctx::Ctx;
use crate::overlay;
use crate::patches::{self, Commits, PATCHES_DIR};
use crate::run::{command, Step};
use crate::series::Series;
use crate::setup::BASE_TAG;

/// The checks, in the order they run.
pub const CHECKS: &[(&str, &str)] = &[
    ("fresh", "patches/ is what the sources generate"),
    (
        "git-am",
        "git am of patches/ onto the base reproduces every commit",
    ),
    (
        "checkpatch",
        "scripts/checkpatch.pl --strict on every patch",
    ),
    (
        "bisect",
        "every commit builds with CLIPPY=1, no warning in series files",
    ),
    ("rustfmt", "make rustfmtcheck"),
    ("rustdoc", "make rustdoc"),
    (
        "htmldocs",
        "make htmldocs SPHINXDIRS=driver-api/nvdimm, no warning",
    ),
    ("send-email", "git send-email to a local sendmail stand-in"),
    (
        "nohotremove",
        "CONFIG_MEMORY_HOTREMOVE=n: rust/ and drivers/dax/ compile",
    ),
    (
        "norustdriver",
        "CONFIG_DEV_DAX_KMEM_RUST=n: the abstractions still compile",
    ),
    (
        "nonuma",
        "CONFIG_NUMA=n, MEMORY_HOTPLUG=y: rust/ and drivers/dax/ compile",
    ),
];

pub fn list() {
    for (name, about) in CHECKS {
        println!("{name:<13} {about}");
    }
}

/// Runs the checks; returns how many passed and failed.
pub fn run(ctx: &Ctx, filters: &[String]) -> Result<(usize, usize)> {
    let picked: Vec<_> = CHECKS
        .iter()
        .filter(|(n, _)| filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str())))
        .collect();
    if picked.is_empty() {
        bail!("no check matches {filters:?}: see `cargo kmem check --list`");
    }
    println!("==> check ({} check(s))", picked.len());
    overlay::apply(ctx)?;
    let series = Series::load(&ctx.repo)?;
    let out = ctx.cache.join("series/check");
    let generated = patches::generate(ctx, &out)?;
    println!("TAP version 13\n1..{}", picked.len());
    let mut results = Vec::new();
    for (i, (name, about)) in picked.iter().enumerate() {
        let t = Instant::now();
        let r = match *name {
            "fresh" => fresh(ctx, &out),
            "git-am" => git_am(ctx, &series, &generated),
            "checkpatch" => checkpatch(ctx),
            "bisect" => bisect(ctx, &generated),
            "rustfmt" => make_target(ctx, "rustfmtcheck", &["rustfmtcheck"]),
            "rustdoc" => make_target(ctx, "rustdoc", &["rustdoc"]),
            "htmldocs" => htmldocs(ctx),
            "send-email" => send_email(ctx),
            "nohotremove" => variant(ctx, "nohotremove"),
            "norustdriver" => variant(ctx, "norustdriver"),
            "nonuma" => variant(ctx, "nonuma"),
            _ => unreachable!(),
        };
        let secs = t.elapsed().as_secs_f64();
        match &r {
            Ok(detail) => println!("ok {} {name} # {detail} ({secs:.0}s)", i + 1),
            Err(e) => {
                println!("not ok {} {name} # {about} ({secs:.0}s)", i + 1);
                for l in format!("{e:#}").lines() {
                    println!("    # {l}");
                }
            }
        }
        results.push((name, r.is_ok(), secs));
    }
    let failed: Vec<_> = results.iter().filter(|r| !r.1).map(|r| *r.0).collect();
    let total: f64 = results.iter().map(|r| r.2).sum();
    println!(
        "# check: {} passed, {} failed, {total:.0}s",
        results.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        println!("# failed checks: {}", failed.join(", "));
    }
    Ok((results.len() - failed.len(), failed.len()))
}

/// The regenerated series equals the committed one.
fn fresh(ctx: &Ctx, regenerated: &Path) -> Result<String> {
    let committed = ctx.repo.join(PATCHES_DIR);
    let out = command("diff")
        .args(["-ru", "--exclude=.*"])
        .arg(&committed)
        .arg(regenerated)
        .output()?;
    if !out.status.success() {
        let diff = String::from_utf8_lossy(&out.stdout);
        let excerpt: Vec<&str> = diff.lines().take(20).collect();
        bail!(
            "patches/ is stale: regenerate it with `cargo kmem patches` and commit it\n{}",
            excerpt.join("\n")
        );
    }
    let n = fs::read_dir(&committed)?.count();
    Ok(format!("{n} files up to date"))
}

fn git(dir: &Path) -> Command {
    let mut c = command("git");
    c.arg("-C")
        .arg(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    c
}

fn stdout(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The committed patches, cover letter excluded, in order.
fn patch_files(ctx: &Ctx) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(ctx.repo.join(PATCHES_DIR))
        .context("no patches/: run `cargo kmem patches`")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "patch")
                && !p.to_string_lossy().ends_with("-0000-cover-letter.patch")
        })
        .collect();
    v.sort();
    if v.is_empty() {
        bail!("patches/ holds no patches: run `cargo kmem patches`");
    }
    Ok(v)
}

/// `git am` in a sparse worktree of the base commit (only the files the
/// series touches are checked out), then each commit's tree is compared.
fn git_am(ctx: &Ctx, series: &Series, commits: &Commits) -> Result<String> {
    let files = patch_files(ctx)?;
    if files.len() != commits.commits.len() {
        bail!(
            "patches/ has {} patches, the series {}: regenerate with `cargo kmem patches`",
            files.len(),
            commits.commits.len()
        );
    }
    let wt = ctx.cache.join("series/am");
    let src = ctx.src();
    let _ = git(&src)
        .args(["worktree", "remove", "--force"])
        .arg(&wt)
        .output();
    let _ = fs::remove_dir_all(&wt);
    let _ = git(&src).args(["worktree", "prune"]).output();
    stdout(
        git(&src)
            .args(["worktree", "add", "--no-checkout", "--detach"])
            .arg(&wt)
            .arg(BASE_TAG),
        "git worktree add",
    )?;
    let touched: BTreeSet<String> = overlay::desired(ctx)?.into_keys().collect();
    stdout(
        git(&wt)
            .args(["sparse-checkout", "set", "--no-cone"])
            .args(touched.iter().map(|p| format!("/{p}"))),
        "git sparse-checkout",
    )?;
    stdout(git(&wt).args(["checkout", "--quiet"]), "git checkout")?;
    let who = &series.identity;
    stdout(
        git(&wt)
            .args(["am", "--quiet", "--whitespace=error"])
            .args(&files)
            .env("GIT_COMMITTER_NAME", &who.name)
            .env("GIT_COMMITTER_EMAIL", &who.email),
        "git am",
    )?;
    let n = commits.commits.len();
    for (i, (id, subject)) in commits.commits.iter().enumerate() {
        let want = stdout(
            git(&src).args(["rev-parse", &format!("{id}^{{tree}}")]),
            "git rev-parse",
        )?;
        let got = stdout(
            git(&wt).args(["rev-parse", &format!("HEAD~{}^{{tree}}", n - 1 - i)]),
            "git rev-parse",
        )?;
        if want != got {
            bail!(
                "after git am, patch {} ({subject}) gives tree {got}, the series {want}",
                i + 1
            );
        }
    }
    let _ = git(&src)
        .args(["worktree", "remove", "--force"])
        .arg(&wt)
        .output();
    Ok(format!("{n} patches applied; every tree matches"))
}

/// `total: E errors, W warnings, C checks, …` of checkpatch.pl.
pub fn checkpatch_totals(text: &str) -> Option<(u32, u32, u32)> {
    let line = text.lines().rev().find(|l| l.starts_with("total: "))?;
    let nums: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    match nums[..] {
        [e, w, c, ..] => Some((e, w, c)),
        _ => None,
    }
}

fn checkpatch(ctx: &Ctx) -> Result<String> {
    let mut bad = Vec::new();
    let mut checks = 0;
    for p in patch_files(ctx)? {
        let out = command("perl")
            .current_dir(ctx.src())
            // Debian's python3, with python3-ply, for the SPDX check (not a
            // pyenv or venv python3 that may come first on PATH).
            .env("PATH", debian_path())
            .args(["scripts/checkpatch.pl", "--strict", "--no-color"])
            .arg(&p)
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.trim().is_empty() {
            bail!(
                "checkpatch.pl on {name} complained on stderr (a missing tool?):\n{}",
                stderr.trim()
            );
        }
        match checkpatch_totals(&text) {
            Some((0, 0, c)) => checks += c,
            Some((e, w, _)) => bad.push(format!(
                "{name}: {e} error(s), {w} warning(s):\n{}",
                text.lines()
                    .filter(|l| l.starts_with("ERROR:") || l.starts_with("WARNING:"))
                    .take(10)
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
            None => bad.push(format!("{name}: no checkpatch summary line")),
        }
    }
    if !bad.is_empty() {
        bail!("{}", bad.join("\n"));
    }
    Ok(format!("0 errors, 0 warnings, {checks} checks"))
}

/// PATH with Debian's /usr/bin first.
fn debian_path() -> std::ffi::OsString {
    let mut p = std::ffi::OsString::from("/usr/bin:/bin:");
    p.push(std::env::var_os("PATH").unwrap_or_default());
    p
}

/// Makes the source tree hold commit `id` for the paths the overlay touches.
fn materialize(ctx: &Ctx, id: &str, paths: &BTreeSet<String>) -> Result<()> {
    let src = ctx.src();
    let mut changed = 0;
    for p in paths {
        let out = git(&src).args(["show", &format!("{id}:{p}")]).output()?;
        let dest = src.join(p);
        if out.status.success() {
            overlay::write_if_changed(&dest, &out.stdout, None, &mut changed)?;
        } else if dest.exists() {
            fs::remove_file(&dest)?;
        }
    }
    Ok(())
}

/// Lines of a build log that warn about a file of the series.
pub fn series_warnings(log: &str, files: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let lines: Vec<&str> = log.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let is_warning = l.starts_with("warning:") || l.contains(": warning:");
        if !is_warning {
            continue;
        }
        // rustc/clippy name the file on a later "  --> path:line:col" line;
        // C compilers on the same line.
        let loc = lines[i..]
            .iter()
            .take(6)
            .find_map(|x| x.trim_start().strip_prefix("--> "))
            .unwrap_or(l);
        if files.iter().any(|f| loc.contains(f.as_str())) {
            out.push(format!("{l} ({})", loc.trim()));
        }
    }
    out
}

/// Builds every commit of the series in the test build directory with
/// CLIPPY=1, then puts the overlay back.
fn bisect(ctx: &Ctx, commits: &Commits) -> Result<String> {
    let paths: BTreeSet<String> = overlay::desired(ctx)?.into_keys().collect();
    let series_files: BTreeSet<String> = paths
        .iter()
        .filter(|p| p.ends_with(".rs") || p.ends_with(".c") || p.ends_with(".h"))
        .cloned()
        .collect();
    let result = (|| -> Result<String> {
        let mut times = Vec::new();
        for (i, (id, subject)) in commits.commits.iter().enumerate() {
            materialize(ctx, id, &paths)?;
            build::configure_tree(ctx, true)?;
            let log = ctx.log(&format!("bisect-{}", i + 1))?;
            let name = format!("make CLIPPY=1 at patch {}/{}", i + 1, commits.commits.len());
            let t = Instant::now();
            Step::new(&name, &log)
                .run_ok(
                    build::make(ctx, true)
                        .arg(format!("-j{}", ctx.jobs))
                        .arg("CLIPPY=1")
                        .args(["bzImage", "modules"]),
                )
                .with_context(|| format!("patch {} ({subject}) does not build", i + 1))?;
            let warnings = series_warnings(&fs::read_to_string(&log)?, &series_files);
            if !warnings.is_empty() {
                bail!(
                    "patch {} ({subject}) builds with warnings in series files (log {}):\n{}",
                    i + 1,
                    log.display(),
                    warnings.join("\n")
                );
            }
            times.push(format!("{:.0}s", t.elapsed().as_secs_f64()));
        }
        Ok(format!(
            "{} commits build, 0 warnings ({})",
            commits.commits.len(),
            times.join(", ")
        ))
    })();
    overlay::apply(ctx)?;
    build::configure_tree(ctx, false)?;
    result
}

/// A make target in the test build directory that must succeed quietly.
fn make_target(ctx: &Ctx, what: &str, args: &[&str]) -> Result<String> {
    let log = ctx.log(what)?;
    Step::new(&format!("make {}", args.join(" ")), &log).run_ok(
        build::make(ctx, true)
            .arg(format!("-j{}", ctx.jobs))
            .args(args),
    )?;
    let text = fs::read_to_string(&log)?;
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains("warning")).collect();
    if !warnings.is_empty() {
        bail!(
            "{} warning(s) (log {}):\n{}",
            warnings.len(),
            log.display(),
            warnings.join("\n")
        );
    }
    Ok("clean".into())
}

/// Sphinx from PyPI, pinned, in its own venv.
fn sphinx(ctx: &Ctx) -> Result<PathBuf> {
    let venv = ctx.cache.join("venv-docs");
    let docs = &ctx.versions.docs;
    let stamp = venv.join(".kmem-rs-pins");
    let pins = docs.pip.join(" ");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(pins.as_str()) {
        return Ok(venv.join("bin"));
    }
    let _ = fs::remove_dir_all(&venv);
    let log = ctx.log("venv-docs")?;
    Step::new("python3 -m venv (docs)", &log)
        .run_ok(command("/usr/bin/python3").args(["-m", "venv"]).arg(&venv))?;
    Step::new(&format!("pip install {pins}"), &log)
        .run_ok(command(venv.join("bin/pip")).args(["install", "--quiet"]).args(&docs.pip))
        .context("cannot install Sphinx from PyPI (network? the pins in tools/kmem-rs/versions.toml [docs]?)")?;
    fs::write(&stamp, pins)?;
    Ok(venv.join("bin"))
}

fn htmldocs(ctx: &Ctx) -> Result<String> {
    let bin = sphinx(ctx)?;
    let log = ctx.log("htmldocs")?;
    let mut path = bin.into_os_string();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    // Documentation/Makefile uses RUSTDOC for a flag of its own: drop our
    // RUSTDOC=/usr/bin/rustdoc from the make command line.
    // From scratch: Sphinx repeats no warning for a page it does not rebuild.
    let _ = fs::remove_dir_all(ctx.build_dir().join("Documentation/output"));
    let mk = build::make(ctx, true);
    let mut cmd = command(mk.get_program());
    cmd.args(
        mk.get_args()
            .filter(|a| !a.to_string_lossy().starts_with("RUSTDOC=")),
    );
    for (k, v) in mk.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    Step::new("make htmldocs SPHINXDIRS=driver-api/nvdimm", &log).run_ok(
        cmd.args(["htmldocs", "SPHINXDIRS=driver-api/nvdimm"])
            .env("PATH", path),
    )?;
    let text = fs::read_to_string(&log)?;
    // Warnings about the documents (file.rst:LINE: WARNING: …); the build
    // environment's own (no graphviz `dot`, say) are not the series'.
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| (l.contains("WARNING") || l.contains("ERROR")) && l.contains(".rst"))
        .collect();
    if !warnings.is_empty() {
        bail!(
            "{} Sphinx warning(s) (log {}):\n{}",
            warnings.len(),
            log.display(),
            warnings.join("\n")
        );
    }
    let page = ctx
        .build_dir()
        .join("Documentation/output/driver-api/nvdimm/kmem-rust.html");
    if !page.is_file() {
        bail!("Sphinx made no {}", page.display());
    }
    Ok("kmem-rust.html built, 0 warnings".into())
}

/// git send-email of the whole series: first --dry-run, then for real into
/// a sendmail stand-in that keeps the mails in a directory.
fn send_email(ctx: &Ctx) -> Result<String> {
    let dir = ctx.cache.join("series/outbox");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let sendmail = ctx.cache.join("series/sendmail");
    fs::write(
        &sendmail,
        "#!/bin/sh\n# kmem-rs: a sendmail that keeps mail on this machine.\nn=$(ls \"$OUTBOX\" | wc -l)\ncat > \"$OUTBOX/mail-$n.eml\"\n",
    )?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&sendmail, fs::Permissions::from_mode(0o755))?;
    let mut files = vec![];
    for e in fs::read_dir(ctx.repo.join(PATCHES_DIR))? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "patch") {
            files.push(p);
        }
    }
    files.sort();
    let series = Series::load(&ctx.repo)?;
    let send = |dry: bool| -> Result<String> {
        let mut c = git(&ctx.repo);
        c.arg("send-email")
            .arg(format!("--from={}", series.identity))
            .arg(format!("--smtp-server={}", sendmail.display()))
            .args(["--confirm=never", "--quiet", "--8bit-encoding=UTF-8"])
            .env("GIT_AUTHOR_NAME", &series.identity.name)
            .env("GIT_AUTHOR_EMAIL", &series.identity.email)
            .env("GIT_COMMITTER_NAME", &series.identity.name)
            .env("GIT_COMMITTER_EMAIL", &series.identity.email)
            .env("OUTBOX", &dir);
        if dry {
            c.arg("--dry-run");
        }
        c.args(&files);
        stdout(
            &mut c,
            "git send-email (is the git-email package installed?)",
        )
    };
    send(true)?;
    send(false)?;
    let mails = fs::read_dir(&dir)?.count();
    if mails != files.len() {
        bail!(
            "the sendmail stand-in got {mails} mails for {} patches",
            files.len()
        );
    }
    Ok(format!(
        "--dry-run ok; {mails} mails delivered to the local stand-in"
    ))
}

/// A config variant: configure, then compile rust/ and drivers/dax/.
fn variant(ctx: &Ctx, name: &str) -> Result<String> {
    let v = Ctx::new(
        Some(ctx.cache.clone()),
        Some(ctx.jobs),
        Some(name.to_string()),
    )?;
    fs::create_dir_all(v.build_dir())?;
    build::configure_tree(&v, false)?;
    let log = v.log(&format!("variant-{name}"))?;
    Step::new(&format!("make rust/ drivers/dax/ ({name})"), &log).run_ok(
        build::make(&v, true)
            .arg(format!("-j{}", v.jobs))
            .arg("CLIPPY=1")
            .args(["rust/", "drivers/dax/"]),
    )?;
    let text = fs::read_to_string(&log)?;
    let files: BTreeSet<String> = overlay::desired(ctx)?
        .into_keys()
        .filter(|p| p.ends_with(".rs") || p.ends_with(".c"))
        .collect();
    let warnings = series_warnings(&text, &files);
    if !warnings.is_empty() {
        bail!(
            "warnings in series files (log {}):\n{}",
            log.display(),
            warnings.join("\n")
        );
    }
    Ok(format!(
        "compiles, 0 warnings ({})",
        v.build_dir().display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpatch_summary() {
        let t = "WARNING: x\n\ntotal: 0 errors, 2 warnings, 1 checks, 763 lines checked\n";
        assert_eq!(checkpatch_totals(t), Some((0, 2, 1)));
        assert_eq!(checkpatch_totals("nothing"), None);
    }

    #[test]
    fn warnings_in_series_files_only() {
        let files: BTreeSet<String> = [
            "drivers/dax/kmem_rs.rs".to_string(),
            "rust/helpers/memory_hotplug.c".to_string(),
        ]
        .into();
        let log = "warning: unused variable: `x`\n  --> drivers/dax/kmem_rs.rs:10:9\n   |\n\
                   warning: this is base tree noise\n  --> rust/kernel/list.rs:3:1\n\
                   ../rust/helpers/memory_hotplug.c:5:2: warning: unused [-Wunused]\n";
        let w = series_warnings(log, &files);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("kmem_rs.rs:10:9"));
        assert!(w[1].contains("memory_hotplug.c:5:2"));
    }
}
