// SPDX-License-Identifier: GPL-2.0-only
//! `test --record`: the run's summary (suite matrix, lane table, kernel
//! reports, times, verdict) written into `tools/kmem-rs/results/`, one file
//! per config variant, with what produced it: date, command, commit, kernel,
//! host and the lane's count overrides. README links these files instead of
//! quoting figures by hand.

use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::ctx::Ctx;
use crate::run;

/// The directory of the recorded results, relative to the repository.
pub const DIR: &str = "tools/kmem-rs/results";

/// How a run was asked for, as the results file states it.
pub struct Request<'a> {
    pub filters: &'a [String],
    pub drivers: &'a [&'a str],
    /// The lane's count overrides that reached the guests (`NAME=VALUE`).
    pub knobs: Vec<String>,
    /// How QEMU ran the guests (`Tcg` or `Kvm`).
    pub accel: String,
    /// The repository's commit when the run began ([`commit`]).
    pub commit: String,
}

/// The repository's commit (`git describe --always --dirty`), taken when a
/// run begins: the sources it built and tested, not what was committed
/// while it ran.
pub fn commit(ctx: &Ctx) -> String {
    run::capture(Command::new("git").current_dir(&ctx.repo).args([
        "describe",
        "--always",
        "--dirty",
        "--abbrev=12",
    ]))
    .unwrap_or_else(|| "unknown".to_string())
}

/// The lane's count overrides set in the host's environment, as `NAME=VALUE`.
pub fn knobs_set() -> Vec<String> {
    super::lanes::KNOBS
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}={v}")))
        .collect()
}

/// The results file of `variant`: `test.md`, or `test-VARIANT.md`.
pub fn path(ctx: &Ctx) -> PathBuf {
    let name = match &ctx.variant {
        Some(v) => format!("test-{v}.md"),
        None => "test.md".to_string(),
    };
    ctx.repo.join(DIR).join(name)
}

/// The command line that reproduces the run.
fn command(ctx: &Ctx, req: &Request) -> String {
    let mut cmd = String::new();
    for k in &req.knobs {
        let _ = write!(cmd, "{k} ");
    }
    cmd.push_str("cargo kmem");
    if let Some(v) = &ctx.variant {
        let _ = write!(cmd, " --variant {v}");
    }
    cmd.push_str(" test");
    for f in req.filters {
        let _ = write!(cmd, " -f {f}");
    }
    if req.drivers.len() == 1 {
        let _ = write!(cmd, " -d {}", req.drivers[0].to_lowercase());
    }
    cmd.push_str(" --record");
    cmd
}

/// The file's text: a header naming what produced `summary`, then `summary`.
pub fn render(ctx: &Ctx, req: &Request, date: &str, release: &str, summary: &str) -> String {
    let commit = &req.commit;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut s = String::new();
    let _ = writeln!(s, "# `cargo kmem test` results\n");
    let _ = writeln!(
        s,
        "Written by `cargo kmem test --record`; do not edit. Rerun the command below to \
         update it.\n"
    );
    let _ = writeln!(s, "- date: {date}");
    let _ = writeln!(s, "- command: `{}`", command(ctx, req));
    let _ = writeln!(s, "- commit (when the run began): {commit}");
    let _ = writeln!(s, "- kernel: {release}");
    let _ = writeln!(s, "- host: {cpus} CPUs, QEMU accelerator {}", req.accel);
    if !req.filters.is_empty() || req.drivers.len() == 1 {
        let _ = writeln!(s, "- partial run: only the suites and drivers named above");
    }
    let _ = writeln!(s, "\n```text\n{}```", summary);
    s
}

/// Pass counts of one group of suites (a platform, or the
/// driver-independent KUnit boots): per driver, (passed, run).
pub struct Group {
    pub name: String,
    pub c: (usize, usize),
    pub rust: (usize, usize),
    /// Driver-independent: `c` holds the counts, `rust` is unused.
    pub shared: bool,
}

/// The README markers of `variant`'s block.
fn markers(variant: Option<&str>) -> (String, String) {
    let tag = variant.map_or("test".to_string(), |v| format!("test-{v}"));
    (
        format!("<!-- {tag}:begin (written by `cargo kmem test --record`) -->"),
        format!("<!-- {tag}:end -->"),
    )
}

/// README's status block: pass counts per platform and driver, when and
/// how they were measured, and the results file.
pub fn readme_block(
    ctx: &Ctx,
    req: &Request,
    date: &str,
    groups: &[Group],
    total: (usize, usize),
) -> String {
    let (begin, end) = markers(ctx.variant.as_deref());
    let file = path(ctx);
    let rel = file
        .strip_prefix(&ctx.repo)
        .unwrap_or(&file)
        .display()
        .to_string();
    let cell = |(p, n): (usize, usize)| format!("{p}/{n}");
    let mut s = format!("{begin}\n| suites | C kmem | Rust kmem |\n| --- | ---: | ---: |\n");
    for g in groups {
        if g.shared {
            let _ = writeln!(s, "| {} | {} (driver-independent) | |", g.name, cell(g.c));
        } else {
            let _ = writeln!(s, "| {} | {} | {} |", g.name, cell(g.c), cell(g.rust));
        }
    }
    let _ = writeln!(
        s,
        "\n{} passed, {} failed; `{}`, {date}; every suite and the kernel reports: [`{rel}`]({rel}).",
        total.0,
        total.1,
        command(ctx, req)
    );
    let _ = writeln!(s, "{end}");
    s
}

/// `readme` with its block for this variant replaced by `block`; `None`
/// when README has no such block.
pub fn replace_block(ctx: &Ctx, readme: &str, block: &str) -> Option<String> {
    let (begin, end) = markers(ctx.variant.as_deref());
    let a = readme.find(&begin)?;
    let b = a + readme[a..].find(&end)? + end.len();
    let b = b + usize::from(readme[b..].starts_with('\n'));
    Some(format!("{}{}{}", &readme[..a], block, &readme[b..]))
}

/// Writes the results file and names it.
pub fn write(ctx: &Ctx, text: &str) -> Result<()> {
    let path = path(ctx);
    fs::create_dir_all(path.parent().expect("results file has a directory"))?;
    fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("# recorded in {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(variant: Option<&str>) -> Ctx {
        let mut ctx = Ctx::new(Some(std::env::temp_dir()), Some(1), None).unwrap();
        ctx.variant = variant.map(str::to_string);
        ctx
    }

    /// A run of every suite on both drivers, as CI makes it.
    fn full_run() -> Request<'static> {
        Request {
            filters: &[],
            drivers: &["C", "Rust"],
            knobs: Vec::new(),
            accel: "Tcg".to_string(),
            commit: "abc".to_string(),
        }
    }

    #[test]
    fn command_reproduces_the_run() {
        let req = Request {
            filters: &["stress".to_string()],
            drivers: &["Rust"],
            knobs: vec!["DAX_KMEM_STRESS_CYCLES=50".to_string()],
            accel: "Tcg".to_string(),
            commit: "abc".to_string(),
        };
        assert_eq!(
            command(&ctx(Some("debug")), &req),
            "DAX_KMEM_STRESS_CYCLES=50 cargo kmem --variant debug test -f stress -d rust --record"
        );
        let all = full_run();
        assert_eq!(command(&ctx(None), &all), "cargo kmem test --record");
    }

    #[test]
    fn readme_block_replaced_in_place() {
        let ctx = ctx(None);
        let req = full_run();
        let groups = [
            Group {
                name: "pmem".into(),
                c: (10, 10),
                rust: (9, 10),
                shared: false,
            },
            Group {
                name: "KUnit".into(),
                c: (4, 4),
                rust: (0, 0),
                shared: true,
            },
        ];
        let block = readme_block(&ctx, &req, "2026-12-04T18:00:00Z", &groups, (23, 1));
        assert!(block.contains("| pmem | 10/10 | 9/10 |\n"));
        assert!(block.contains("| KUnit | 4/4 (driver-independent) | |\n"));
        assert!(
            block.contains("23 passed, 1 failed; `cargo kmem test --record`, 2026-12-04T18:00:00Z")
        );
        let (begin, end) = markers(None);
        let readme = format!("a\n{begin}\nold\n{end}\nb\n");
        assert_eq!(
            replace_block(&ctx, &readme, &block).unwrap(),
            format!("a\n{block}b\n")
        );
        assert!(replace_block(&ctx, "no markers\n", &block).is_none());
        // Another variant's block is not this one's.
        assert!(replace_block(&ctx, &readme.replace("test:", "test-debug:"), &block).is_none());
    }

    #[test]
    fn file_per_variant_and_header() {
        assert!(path(&ctx(None)).ends_with("tools/kmem-rs/results/test.md"));
        assert!(path(&ctx(Some("debug"))).ends_with("tools/kmem-rs/results/test-debug.md"));
        let req = full_run();
        let text = render(
            &ctx(None),
            &req,
            "2026-12-04T18:00:00Z",
            "7.3.4+",
            "1 passed, 0 failed\n",
        );
        assert!(text.contains("- date: 2026-12-04T18:00:00Z\n"));
        assert!(text.contains("- kernel: 7.3.4+\n"));
        assert!(!text.contains("partial run"));
        assert!(text.ends_with("```text\n1 passed, 0 failed\n```\n"));
    }
}
