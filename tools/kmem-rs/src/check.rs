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
//! - git send-email to a local sendmail stand-in, and b4 (`b4 prep
//!   --check`, `b4 send -o`) mails each series to the same people;
//! - config variants (no memory hot-remove, no Rust driver) compile;
//! - the test config compiles with the oldest rustc and bindgen the base
//!   tree supports (`msrv`).
//!
//! The parts import one way: `git` (git without the user's configuration,
//! the committed patches) and `docs` (the make-target checks) at the
//! bottom, then `am`, `checkpatch`, `bisect` and `b4`, then `variants` (which
//! judges its build logs as `bisect` does); this file, the entry point,
//! runs them in order and holds the checks of a few lines.

use anyhow::{bail, Context, Result};
use std::fs;
use std::path::Path;
use std::time::Instant;

mod am;
mod b4;
mod bisect;
mod checkpatch;
mod docs;
mod git;
mod variants;

use crate::build;
use crate::ctx::Ctx;
use crate::overlay;
use crate::patches::{self, posting_files, PATCHES_DIR};
use crate::restricted;
use crate::run::command;
use crate::send::{send_email, Via};
use crate::series::Series;
use am::git_am;
use b4::b4_check;
use bisect::bisect;
use checkpatch::checkpatch;
use docs::{htmldocs, make_target};
use variants::{msrv_build, variant};

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
        "b4",
        "b4 prep --check, --auto-to-cc and b4 send -o: clean, and the To/Cc of patches/",
    ),
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
    let full = Series::load(&ctx.repo)?;
    // What is mailed, and what the checks build: the posted series.
    let series = full.posted();
    overlay::apply(ctx, &series)?;
    let out = ctx.cache.join("series/check");
    let patches::Generated {
        posted,
        commits: generated,
    } = patches::generate(ctx, &full, &out)?;
    println!("TAP version 13\n1..{}", picked.len());
    let mut results = Vec::new();
    for (i, (name, about)) in picked.iter().enumerate() {
        let t = Instant::now();
        let r = match *name {
            "fresh" => fresh(ctx, &out),
            "git-am" => git_am(ctx, &posted, &generated),
            "checkpatch" => checkpatch(ctx, &posted),
            "bisect" => bisect(ctx, &full, &posted, &generated),
            "rustfmt" => make_target(ctx, "rustfmtcheck", &["rustfmtcheck"]),
            "rustdoc" => make_target(ctx, "rustdoc", &["rustdoc"]),
            "htmldocs" => htmldocs(ctx),
            "send-email" => send_all(ctx, &posted),
            "b4" => b4_check(ctx, &posted, &generated),
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
