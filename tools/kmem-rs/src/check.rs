// SPDX-License-Identifier: GPL-2.0-only
//! `check`: what a maintainer runs before taking the series. Each check is
//! timed and reported as TAP; any failure fails the command.
//!
//! - `patches/` is what the sources generate;
//! - `git am` of every series of `patches/`, stacked in order onto the base,
//!   gives the series' trees, and a series based on nothing applies alone;
//! - checkpatch.pl --strict: no errors, no warnings;
//! - every commit of every series builds (`make CLIPPY=1`), in stacked
//!   order, with no warning in a series file;
//! - rustfmtcheck, rustdoc, htmldocs of the new page;
//! - git send-email to a local sendmail stand-in;
//! - config variants (no memory hot-remove, no Rust driver) compile;
//! - the test config compiles with the oldest rustc and bindgen the base
//!   tree supports (`msrv`).

use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::build;
use crate::ctx::Ctx;
use crate::msrv;
use crate::overlay;
use crate::patches::{self, is_cover_letter, posting_files, Commits, PATCHES_DIR};
use crate::restricted;
use crate::run::{command, Step};
use crate::send::{send_email, Via};
use crate::series::Series;
use crate::setup::BASE_TAG;
use crate::toolchain;

/// The checks, in the order they run.
pub const CHECKS: &[(&str, &str)] = &[
    ("fresh", "patches/ is what the sources generate"),
    (
        "git-am",
        "git am of every series onto the base reproduces every commit",
    ),
    (
        "checkpatch",
        "scripts/checkpatch.pl --strict on every patch",
    ),
    (
        "restricted",
        "__add_memory_driver_managed stays kmem-only: a Rust module of another name fails modpost",
    ),
    (
        "bisect",
        "every commit of every series builds with CLIPPY=1, no warning in series files",
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
    (
        "msrv",
        "rust/ and drivers/dax/ compile with the oldest rustc and bindgen the base supports",
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
    let series = Series::load(&ctx.repo)?;
    overlay::apply(ctx, &series)?;
    let out = ctx.cache.join("series/check");
    let generated = patches::generate(ctx, &series, &out)?;
    println!("TAP version 13\n1..{}", picked.len());
    let mut results = Vec::new();
    for (i, (name, about)) in picked.iter().enumerate() {
        let t = Instant::now();
        let r = match *name {
            "fresh" => fresh(ctx, &out),
            "git-am" => git_am(ctx, &series, &generated),
            "checkpatch" => checkpatch(ctx, &series),
            "bisect" => bisect(ctx, &series, &generated),
            "rustfmt" => make_target(ctx, "rustfmtcheck", &["rustfmtcheck"]),
            "rustdoc" => make_target(ctx, "rustdoc", &["rustdoc"]),
            "htmldocs" => htmldocs(ctx),
            "send-email" => send_all(ctx, &series),
            "nohotremove" => variant(ctx, &series, "nohotremove"),
            "norustdriver" => variant(ctx, &series, "norustdriver"),
            "nonuma" => variant(ctx, &series, "nonuma"),
            "msrv" => msrv_build(ctx, &series),
            "restricted" => build::build(ctx, false, &series).and_then(|_| restricted::check(ctx)),
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
    let n = count_files(&committed)?;
    Ok(format!("{n} files up to date"))
}

/// Files under `dir`, recursively.
fn count_files(dir: &Path) -> Result<usize> {
    let mut n = 0;
    for e in fs::read_dir(dir)? {
        let p = e?.path();
        n += if p.is_dir() { count_files(&p)? } else { 1 };
    }
    Ok(n)
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

/// The committed patches of series `s`, cover letter excluded, in order.
fn patch_files(ctx: &Ctx, series: &Series, s: usize) -> Result<Vec<PathBuf>> {
    let dir = ctx.repo.join(PATCHES_DIR).join(&series.postings[s].id);
    let v: Vec<PathBuf> = posting_files(&dir)?
        .into_iter()
        .filter(|p| !is_cover_letter(p))
        .collect();
    if v.is_empty() {
        bail!(
            "{} holds no patches: run `cargo kmem patches`",
            dir.display()
        );
    }
    Ok(v)
}

/// The `git am` runs that check `patches/`: first every series stacked in
/// order, whose trees are compared with the series' commits; then each
/// series that is based on fewer series than are stacked below it, alone on
/// the base with the series it is based on (it must apply there).
pub fn am_runs(series: &Series) -> Vec<Vec<usize>> {
    let all: Vec<usize> = (0..series.postings.len()).collect();
    let mut runs = vec![all];
    for (s, p) in series.postings.iter().enumerate() {
        let mut own: Vec<usize> = (0..s)
            .filter(|b| p.based_on.contains(&series.postings[*b].id))
            .collect();
        if own.len() < s {
            own.push(s);
            runs.push(own);
        }
    }
    runs
}

/// A sparse worktree of the base commit at `wt` (only the files the series
/// touches are checked out).
fn base_worktree(ctx: &Ctx, wt: &Path, touched: &BTreeSet<String>) -> Result<()> {
    let src = ctx.src();
    let _ = git(&src)
        .args(["worktree", "remove", "--force"])
        .arg(wt)
        .output();
    let _ = fs::remove_dir_all(wt);
    let _ = git(&src).args(["worktree", "prune"]).output();
    stdout(
        git(&src)
            .args(["worktree", "add", "--no-checkout", "--detach"])
            .arg(wt)
            .arg(BASE_TAG),
        "git worktree add",
    )?;
    stdout(
        git(wt)
            .args(["sparse-checkout", "set", "--no-cone"])
            .args(touched.iter().map(|p| format!("/{p}"))),
        "git sparse-checkout",
    )?;
    stdout(git(wt).args(["checkout", "--quiet"]), "git checkout")?;
    Ok(())
}

/// `git am` of `patches/` in sparse worktrees of the base commit: the runs
/// of [`am_runs`].
fn git_am(ctx: &Ctx, series: &Series, commits: &Commits) -> Result<String> {
    let mut files = Vec::new();
    for s in 0..series.postings.len() {
        let f = patch_files(ctx, series, s)?;
        if f.len() != series.patch_range(s).len() {
            bail!(
                "patches/{} has {} patches, the series {}: regenerate with `cargo kmem patches`",
                series.postings[s].id,
                f.len(),
                series.patch_range(s).len()
            );
        }
        files.push(f);
    }
    let wt = ctx.cache.join("series/am");
    let src = ctx.src();
    let touched: BTreeSet<String> = overlay::desired(ctx, series)?.into_keys().collect();
    let who = &series.identity;
    let mut alone = Vec::new();
    for (r, run) in am_runs(series).iter().enumerate() {
        base_worktree(ctx, &wt, &touched)?;
        let names: Vec<&str> = run
            .iter()
            .map(|s| series.postings[*s].id.as_str())
            .collect();
        stdout(
            git(&wt)
                .args(["am", "--quiet", "--whitespace=error"])
                .args(run.iter().flat_map(|s| files[*s].iter()))
                .env("GIT_COMMITTER_NAME", &who.name)
                .env("GIT_COMMITTER_EMAIL", &who.email),
            &format!("git am of {}", names.join(" + ")),
        )?;
        if r > 0 {
            alone.push(names.join("+"));
            continue;
        }
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
                let s = series.posting_of(i);
                bail!(
                    "after git am, patch {}/{} of series {} ({subject}) gives tree {got}, the series {want}",
                    i - series.patch_range(s).start + 1,
                    series.patch_range(s).len(),
                    series.postings[s].id
                );
            }
        }
    }
    let _ = git(&src)
        .args(["worktree", "remove", "--force"])
        .arg(&wt)
        .output();
    Ok(format!(
        "{} series ({} patches) stacked, every tree matches; applied on the base alone: {}",
        series.postings.len(),
        commits.commits.len(),
        if alone.is_empty() {
            "-".to_string()
        } else {
            alone.join(", ")
        }
    ))
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

/// Files a patch adds (`new file mode`).
pub fn new_files(patch: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = None;
    for l in patch.lines() {
        if let Some(rest) = l.strip_prefix("diff --git a/") {
            current = rest.split_once(" b/").map(|(_, b)| b.to_string());
        } else if l.starts_with("new file mode") {
            out.extend(current.take());
        }
    }
    out
}

/// Whether `get_maintainer` output (with `--rolestats`) names a maintainer
/// from an entry that `base_maintainers` (MAINTAINERS of the base) has.
pub fn maintained_in_base(get_maintainer: &str, base_maintainers: &str) -> bool {
    get_maintainer.lines().any(|l| {
        l.split_once("(maintainer:").is_some_and(|(_, entry)| {
            let entry = entry.trim_end();
            let entry = entry.strip_suffix(')').unwrap_or(entry);
            base_maintainers.lines().any(|m| m == entry)
        })
    })
}

/// Whether checkpatch warnings of `types` are all ones that say nothing
/// about the patch: FILE_PATH_CHANGES when the base's MAINTAINERS already
/// covers the added files, UNKNOWN_COMMIT_ID when the tree has no history.
pub fn waivable(types: &[&str], covered: bool, no_history: bool) -> bool {
    !types.is_empty()
        && types.iter().all(|t| match *t {
            "FILE_PATH_CHANGES" => covered,
            "UNKNOWN_COMMIT_ID" => no_history,
            _ => false,
        })
}

/// The ids of checkpatch's "Unknown commit id 'ID'" warnings in `text`.
fn unknown_commit_ids(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("WARNING:UNKNOWN_COMMIT_ID:"))
        .filter_map(|l| l.split('\'').nth(1))
        .map(str::to_string)
        .collect()
}

/// The checkpatch warning types (`--show-types`) in `text`.
fn warning_types(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("WARNING:"))
        .map(|w| w.split(':').next().unwrap_or_default())
        .collect()
}

fn checkpatch(ctx: &Ctx, series: &Series) -> Result<String> {
    let mut bad = Vec::new();
    let mut checks = 0;
    let mut waived = Vec::new();
    let mut unknown_ids: Vec<String> = Vec::new();
    let base_has_history = git(&ctx.src())
        .args(["rev-parse", "-q", "--verify", &format!("{BASE_TAG}^")])
        .output()
        .is_ok_and(|o| o.status.success());
    let base_maintainers = stdout(
        git(&ctx.src()).args(["show", &format!("{BASE_TAG}:MAINTAINERS")]),
        "git show MAINTAINERS",
    )?;
    for s in 0..series.postings.len() {
        for p in patch_files(ctx, series, s)? {
            let out = command("perl")
                .current_dir(ctx.src())
                // Debian's python3, with python3-ply, for the SPDX check (not a
                // pyenv or venv python3 that may come first on PATH).
                .env("PATH", debian_path())
                .args([
                    "scripts/checkpatch.pl",
                    "--strict",
                    "--no-color",
                    "--show-types",
                ])
                .arg(&p)
                .output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let name = format!(
                "{}/{}",
                series.postings[s].id,
                p.file_name().unwrap_or_default().to_string_lossy()
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !stderr.trim().is_empty() {
                bail!(
                    "checkpatch.pl on {name} complained on stderr (a missing tool?):\n{}",
                    stderr.trim()
                );
            }
            let mut totals = checkpatch_totals(&text);
            // Two warnings that say nothing about a patch here: "does
            // MAINTAINERS need updating?" when an entry of the base already
            // maintains every file it adds, and "Unknown commit id" when the
            // imported tree has no history to look Fixes: ids up in.
            if let Some((0, w, c)) = totals {
                let types = warning_types(&text);
                if w > 0 && types.len() as u32 == w {
                    let covered = if types.contains(&"FILE_PATH_CHANGES") {
                        let added = new_files(&fs::read_to_string(&p)?);
                        let mut all = !added.is_empty();
                        for f in &added {
                            let who = command("perl")
                                .current_dir(ctx.src())
                                .args([
                                    "scripts/get_maintainer.pl",
                                    "--no-git",
                                    "--no-git-fallback",
                                    "--rolestats",
                                    "-f",
                                ])
                                .arg(f)
                                .output()?;
                            all &= maintained_in_base(
                                &String::from_utf8_lossy(&who.stdout),
                                &base_maintainers,
                            );
                        }
                        all
                    } else {
                        false
                    };
                    if waivable(&types, covered, !base_has_history) {
                        waived.push(format!("{name} ({})", types.join(", ")));
                        unknown_ids.extend(unknown_commit_ids(&text));
                        totals = Some((0, 0, c));
                    }
                }
            }
            match totals {
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
    }
    if !bad.is_empty() {
        bail!("{}", bad.join("\n"));
    }
    let mut detail = format!("0 errors, 0 warnings, {checks} checks");
    if !waived.is_empty() {
        detail.push_str(&format!("; waived: {}", waived.join(", ")));
    }
    if !unknown_ids.is_empty() {
        unknown_ids.sort();
        unknown_ids.dedup();
        detail.push_str(&format!(
            "; commit ids not in the base's history (it has none), check them upstream: {}",
            unknown_ids.join(" ")
        ));
    }
    Ok(detail)
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

/// One build of the bisect check.
#[derive(Debug, PartialEq, Eq)]
pub struct BuildStep {
    pub commit: String,
    /// e.g. `dax 2/3 (7/13 stacked): dax/kmem: ...`
    pub label: String,
    /// The log's name, in build order.
    pub log: String,
}

/// What the bisect check builds: every commit of every series, in stacked
/// order (each series on top of the ones before it).
pub fn bisect_plan(series: &Series, commits: &Commits) -> Vec<BuildStep> {
    let total = commits.commits.len();
    commits
        .commits
        .iter()
        .enumerate()
        .map(|(i, (commit, subject))| {
            let s = series.posting_of(i);
            let r = series.patch_range(s);
            let id = &series.postings[s].id;
            let k = i - r.start + 1;
            BuildStep {
                commit: commit.clone(),
                label: format!(
                    "{id} {k}/{} ({}/{total} stacked): {subject}",
                    r.len(),
                    i + 1
                ),
                log: format!("bisect-{:02}-{id}-{k}", i + 1),
            }
        })
        .collect()
}

/// Builds every commit of every series in the test build directory with
/// CLIPPY=1, newest first, then puts the overlay back. Newest first because
/// the tree starts at the newest commit's state (the overlay): a patch that
/// changes a widely included header (ioport.h, memory_hotplug.h) then costs
/// one near-full rebuild, at the commit before it, instead of one there and
/// one to get back to the base at the start.
fn bisect(ctx: &Ctx, series: &Series, commits: &Commits) -> Result<String> {
    let paths: BTreeSet<String> = overlay::desired(ctx, series)?.into_keys().collect();
    let series_files: BTreeSet<String> = paths
        .iter()
        .filter(|p| p.ends_with(".rs") || p.ends_with(".c") || p.ends_with(".h"))
        .cloned()
        .collect();
    let plan = bisect_plan(series, commits);
    let result = (|| -> Result<String> {
        let mut times = Vec::new();
        for step in plan.iter().rev() {
            materialize(ctx, &step.commit, &paths)?;
            build::configure_tree(ctx, true, series)?;
            let log = ctx.log(&step.log)?;
            let name = format!("make CLIPPY=1 at {}", step.label);
            let t = Instant::now();
            Step::new(&name, &log)
                .run_ok(
                    toolchain::make(ctx, true)
                        .arg(format!("-j{}", ctx.jobs))
                        .arg("CLIPPY=1")
                        .args(["bzImage", "modules"]),
                )
                .with_context(|| format!("{} does not build", step.label))?;
            let warnings = series_warnings(&fs::read_to_string(&log)?, &series_files);
            if !warnings.is_empty() {
                bail!(
                    "{} builds with warnings in series files (log {}):\n{}",
                    step.label,
                    log.display(),
                    warnings.join("\n")
                );
            }
            times.push(format!("{:.0}s", t.elapsed().as_secs_f64()));
        }
        Ok(format!(
            "{} commits of {} series build, 0 warnings (newest first: {})",
            plan.len(),
            series.postings.len(),
            times.join(", ")
        ))
    })();
    overlay::apply(ctx, series)?;
    build::configure_tree(ctx, false, series)?;
    result
}

/// A make target in the test build directory that must succeed quietly.
fn make_target(ctx: &Ctx, what: &str, args: &[&str]) -> Result<String> {
    let log = ctx.log(what)?;
    Step::new(&format!("make {}", args.join(" ")), &log).run_ok(
        toolchain::make(ctx, true)
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
    let mk = toolchain::make(ctx, true);
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

/// git send-email of every series, each as its own thread: first
/// --dry-run, then for real into a sendmail stand-in that keeps the mails
/// in a directory (the only real send the placeholder identity may make).
fn send_all(ctx: &Ctx, series: &Series) -> Result<String> {
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
    let me = &series.identity;
    let mut total = 0;
    for p in &series.postings {
        let files = posting_files(&ctx.repo.join(PATCHES_DIR).join(&p.id))?;
        send_email(&files, me, me, Via::DryRun)
            .with_context(|| format!("series {} (dry run)", p.id))?;
        send_email(
            &files,
            me,
            me,
            Via::StandIn {
                sendmail: &sendmail,
                outbox: &dir,
            },
        )
        .with_context(|| format!("series {}", p.id))?;
        total += files.len();
        let mails = fs::read_dir(&dir)?.count();
        if mails != total {
            bail!(
                "the sendmail stand-in got {mails} mails for {total} patches and cover letters (series {})",
                p.id
            );
        }
    }
    Ok(format!(
        "--dry-run ok; {total} mails of {} series delivered to the local stand-in",
        series.postings.len()
    ))
}

/// A config variant: configure, then compile rust/ and drivers/dax/.
fn variant(ctx: &Ctx, series: &Series, name: &str) -> Result<String> {
    let v = Ctx::new(
        Some(ctx.cache.clone()),
        Some(ctx.jobs),
        Some(name.to_string()),
    )?;
    fs::create_dir_all(v.build_dir())?;
    build::configure_tree(&v, false, series)?;
    let log = v.log(&format!("variant-{name}"))?;
    Step::new(&format!("make rust/ drivers/dax/ ({name})"), &log).run_ok(
        toolchain::make(&v, true)
            .arg(format!("-j{}", v.jobs))
            .arg("CLIPPY=1")
            .args(["rust/", "drivers/dax/"]),
    )?;
    let text = fs::read_to_string(&log)?;
    let files: BTreeSet<String> = overlay::desired(ctx, series)?
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

/// The test config's rust/ and drivers/dax/, in their own build directory,
/// with the oldest rustc and bindgen the base tree supports (with their
/// clippy), and no warning in a series file.
fn msrv_build(ctx: &Ctx, series: &Series) -> Result<String> {
    // The series' files first: a series that does not parse fails before the build.
    let files: BTreeSet<String> = overlay::desired(ctx, series)?
        .into_keys()
        .filter(|p| p.ends_with(".rs") || p.ends_with(".c"))
        .collect();
    let m = msrv::ensure(ctx)?;
    let v = Ctx::new(
        Some(ctx.cache.clone()),
        Some(ctx.jobs),
        Some("msrv".to_string()),
    )?;
    fs::create_dir_all(v.build_dir())?;
    build::configure_tree(&v, false, series)?;
    msrv::configure(&v, &m)?;
    let rustc = &ctx.versions.msrv.rustc;
    let log = v.log("variant-msrv")?;
    Step::new(
        &format!("make CLIPPY=1 rust/ drivers/dax/ (rustc {rustc})"),
        &log,
    )
    .run_ok(
        m.make(&v)
            .arg(format!("-j{}", v.jobs))
            .arg("CLIPPY=1")
            .args(["rust/", "drivers/dax/"]),
    )?;
    let warnings = series_warnings(&fs::read_to_string(&log)?, &files);
    if !warnings.is_empty() {
        bail!(
            "warnings in series files with rustc {rustc} (log {}):\n{}",
            log.display(),
            warnings.join("\n")
        );
    }
    // What was built, and by whom: the Rust driver and rust/kernel.o by the
    // old rustc, the bindings by the old bindgen (kbuild's .cmd files name
    // the command), and the C objects of drivers/dax.
    let dir = v.build_dir();
    let mut by_old = Vec::new();
    for obj in [
        "drivers/dax/kmem_rs.o",
        "rust/kernel.o",
        "rust/bindings/bindings_generated.rs",
    ] {
        let (d, f) = obj.rsplit_once('/').unwrap_or_default();
        let cmd = fs::read_to_string(dir.join(d).join(format!(".{f}.cmd"))).unwrap_or_default();
        if !dir.join(obj).is_file() || !m.built(&cmd) {
            bail!(
                "{obj} was not built by the msrv toolchain in {}",
                dir.display()
            );
        }
        by_old.push(obj);
    }
    let c_objects = c_objects(&dir.join("drivers/dax"), "")?;
    if c_objects.is_empty() {
        bail!("no C object of drivers/dax/ in {}", dir.display());
    }
    Ok(format!(
        "rustc {rustc}, bindgen {}, CLIPPY=1: 0 warnings in series files; built by them: {}; C in drivers/dax: {} ({})",
        ctx.versions.msrv.bindgen_cli,
        by_old.join(", "),
        c_objects.join(" "),
        dir.display()
    ))
}

/// The objects under `dir` that kbuild compiled from a C file (their
/// `.cmd` names a `.c` source; linked composites name none), by path
/// relative to `dir`.
fn c_objects(dir: &Path, rel: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(dir.join(rel))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if e.path().is_dir() {
            out.extend(c_objects(dir, &r)?);
        } else if name.ends_with(".o") {
            let cmd = fs::read_to_string(e.path().with_file_name(format!(".{name}.cmd")))
                .unwrap_or_default();
            if compiled_from_c(&cmd) {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// Whether kbuild's `.cmd` text of an object names a C source
/// (`source_OBJ := FILE.c`).
pub fn compiled_from_c(cmd: &str) -> bool {
    cmd.lines()
        .any(|l| l.starts_with("source_") && l.trim_end().ends_with(".c"))
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
    fn objects_compiled_from_c() {
        let compiled = "savedcmd_drivers/dax/bus.o := clang -c -o drivers/dax/bus.o ../drivers/dax/bus.c\n\n\
                        source_drivers/dax/bus.o := ../drivers/dax/bus.c\n\ndeps_drivers/dax/bus.o := \\\n";
        assert!(compiled_from_c(compiled));
        let linked = "savedcmd_drivers/dax/kmem.o := ld.lld -m elf_x86_64 -r -o drivers/dax/kmem.o @drivers/dax/kmem.mod\n";
        assert!(!compiled_from_c(linked));
        let rust = "savedcmd_drivers/dax/kmem_rs.o := OBJTREE=/b rustc --edition=2021 ../drivers/dax/kmem_rs.rs\n\n\
                    source_drivers/dax/kmem_rs.o := ../drivers/dax/kmem_rs.rs\n";
        assert!(!compiled_from_c(rust));
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

    /// Three series: `fix` and `other` apply to the base, `feat` on top of
    /// `fix` only.
    fn three() -> Series {
        Series::parse(
            r#"
            date = "2026-01-01T00:00:00+00:00"
            test_matrix = "m"
            [identity]
            name = "A"
            email = "a@b"
            [[series]]
            id = "fix"
            [[series]]
            id = "other"
            [[series]]
            id = "feat"
            cover_letter = "c"
            based_on = ["fix"]
            [[patch]]
            id = "f1"
            series = "fix"
            message = "1"
            paths = []
            [[patch]]
            id = "o1"
            series = "other"
            message = "2"
            paths = []
            [[patch]]
            id = "a1"
            series = "feat"
            message = "3"
            paths = []
            [[patch]]
            id = "a2"
            series = "feat"
            message = "4"
            paths = []
            "#,
        )
        .unwrap()
    }

    fn commits(n: usize) -> Commits {
        Commits {
            base: "base".into(),
            commits: (1..=n)
                .map(|i| (format!("c{i}"), format!("s{i}")))
                .collect(),
        }
    }

    #[test]
    fn bisect_builds_every_series_stacked() {
        let s = three();
        let c = commits(4);
        let plan = bisect_plan(&s, &c);
        let got: Vec<(&str, &str)> = plan
            .iter()
            .map(|p| (p.commit.as_str(), p.log.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("c1", "bisect-01-fix-1"),
                ("c2", "bisect-02-other-1"),
                ("c3", "bisect-03-feat-1"),
                ("c4", "bisect-04-feat-2"),
            ]
        );
        assert_eq!(plan[3].label, "feat 2/2 (4/4 stacked): s4");
        assert_eq!(c.span(&s, 0), ("base", "c1"));
        assert_eq!(c.span(&s, 2), ("c2", "c4"));
    }

    #[test]
    fn am_stacks_all_then_each_series_on_what_it_needs() {
        // All stacked; `other` alone on the base; `feat` on `fix` only.
        assert_eq!(am_runs(&three()), vec![vec![0, 1, 2], vec![1], vec![0, 2]]);
    }

    #[test]
    fn added_files_and_their_maintainers() {
        let patch =
            "diff --git a/rust/kernel/device/attribute.rs b/rust/kernel/device/attribute.rs\n\
                     new file mode 100644\n\
                     index 000000000000..111111111111\n\
                     --- /dev/null\n\
                     +++ b/rust/kernel/device/attribute.rs\n\
                     diff --git a/rust/kernel/driver.rs b/rust/kernel/driver.rs\n\
                     index 222222222222..333333333333 100644\n";
        assert_eq!(new_files(patch), ["rust/kernel/device/attribute.rs"]);
        let base = "DRIVER CORE, KOBJECTS, DEBUGFS AND SYSFS\nM:\tGreg\n";
        let gm = "Greg Kroah-Hartman <gregkh@linuxfoundation.org> (maintainer:DRIVER CORE, KOBJECTS, DEBUGFS AND SYSFS)\n";
        assert!(maintained_in_base(gm, base));
        let ours = "Kmem <k@x> (maintainer:DEVICE DIRECT ACCESS (DAX) KMEM [RUST])\nlinux-kernel@vger.kernel.org (open list)\n";
        assert!(!maintained_in_base(ours, base));
        let text = "WARNING:FILE_PATH_CHANGES: added, moved or deleted file(s)\nCHECK:X: y\n";
        assert_eq!(warning_types(text), ["FILE_PATH_CHANGES"]);
    }

    #[test]
    fn checkpatch_waivers() {
        let text = "WARNING:UNKNOWN_COMMIT_ID: Unknown commit id 'ba72b4c8cf60', maybe rebased or not pulled?\n";
        assert_eq!(warning_types(text), ["UNKNOWN_COMMIT_ID"]);
        assert_eq!(unknown_commit_ids(text), ["ba72b4c8cf60"]);
        assert!(waivable(&["UNKNOWN_COMMIT_ID"], false, true));
        assert!(!waivable(&["UNKNOWN_COMMIT_ID"], true, false));
        assert!(waivable(
            &["FILE_PATH_CHANGES", "UNKNOWN_COMMIT_ID"],
            true,
            true
        ));
        assert!(!waivable(&["FILE_PATH_CHANGES"], false, true));
        assert!(!waivable(&["LONG_LINE", "UNKNOWN_COMMIT_ID"], true, true));
        assert!(!waivable(&[], true, true));
    }
}
