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

use super::store::{self, Store};
use super::suites::Selection;
use crate::ctx::Ctx;
use crate::run;

/// The directory of the recorded results, relative to the repository.
pub const DIR: &str = "tools/kmem-rs/results";

/// How a run was asked for, as the results file states it.
pub struct Request<'a> {
    pub sel: &'a Selection,
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

/// The store of `variant`'s recorded outcomes, beside its results file.
pub fn store_path(ctx: &Ctx) -> PathBuf {
    path(ctx).with_extension("json")
}

/// The command line that reproduces the run.
pub fn command(ctx: &Ctx, req: &Request) -> String {
    let mut cmd = String::new();
    for k in &req.knobs {
        let _ = write!(cmd, "{k} ");
    }
    cmd.push_str("cargo kmem");
    if let Some(v) = &ctx.variant {
        let _ = write!(cmd, " --variant {v}");
    }
    cmd.push_str(" test");
    for f in &req.sel.filters {
        let _ = write!(cmd, " -f {f}");
    }
    for f in &req.sel.skips {
        let _ = write!(cmd, " --skip {f}");
    }
    if req.drivers.len() == 1 {
        let _ = write!(cmd, " -d {}", req.drivers[0].to_lowercase());
    }
    cmd.push_str(" --record");
    cmd
}

/// The file's text: a header naming the runs that produced `summary` (the
/// outcomes `store` holds, all of kernel build `build`), then `summary`.
pub fn render(req: &Request, store: &Store, build: &str, release: &str, summary: &str) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut s = String::new();
    let _ = writeln!(s, "# `cargo kmem test` results\n");
    let _ = writeln!(
        s,
        "Written by `cargo kmem test --record`; do not edit. Rerun the command below to \
         update it.\n"
    );
    match &store.runs[..] {
        [run] => {
            let _ = writeln!(s, "- date: {}", run.date);
            let _ = writeln!(s, "- command: `{}`", run.command);
            let _ = writeln!(s, "- commit (when the run began): {}", run.commit);
        }
        runs => {
            let _ = writeln!(
                s,
                "- runs, merged (one kernel build; each suite names the run its \
                 figures come from):"
            );
            for (i, run) in runs.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "  - {}: {}, `{}`, commit {}",
                    store::run_tag(i),
                    run.date,
                    run.command,
                    run.commit
                );
            }
        }
    }
    let _ = writeln!(s, "- kernel: {release}");
    let _ = writeln!(
        s,
        "- kernel build: {build} (SHA-256 of bzImage and the two kmem modules)"
    );
    let _ = writeln!(s, "- host: {cpus} CPUs, QEMU accelerator {}", req.accel);
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
    store: &Store,
    groups: &[Group],
    total: (usize, usize),
    missing: usize,
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
    let how = match &store.runs[..] {
        [run] => format!("`{}`, {}", run.command, run.date),
        runs => format!(
            "{} runs merged, the latest `{}`, {}",
            runs.len(),
            runs[runs.len() - 1].command,
            runs[runs.len() - 1].date
        ),
    };
    let missing = match missing {
        0 => String::new(),
        n => format!(" ({n} suite(s) not recorded yet)"),
    };
    let _ = writeln!(
        s,
        "\n{} passed, {} failed{missing}; {how}; every suite and the kernel reports: [`{rel}`]({rel}).",
        total.0,
        total.1,
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
        static ALL: Selection = Selection {
            filters: Vec::new(),
            skips: Vec::new(),
        };
        Request {
            sel: &ALL,
            drivers: &["C", "Rust"],
            knobs: Vec::new(),
            accel: "Tcg".to_string(),
            commit: "abc".to_string(),
        }
    }

    #[test]
    fn command_reproduces_the_run() {
        let sel = Selection {
            filters: vec!["stress".to_string()],
            skips: vec!["cxl".to_string()],
        };
        let req = Request {
            sel: &sel,
            drivers: &["Rust"],
            knobs: vec!["DAX_KMEM_STRESS_CYCLES=50".to_string()],
            accel: "Tcg".to_string(),
            commit: "abc".to_string(),
        };
        assert_eq!(
            command(&ctx(Some("debug")), &req),
            "DAX_KMEM_STRESS_CYCLES=50 cargo kmem --variant debug test -f stress --skip cxl -d rust \
             --record"
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
        let store = one_run(&req, &ctx);
        let block = readme_block(&ctx, &store, &groups, (23, 1), 0);
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
        // Merged runs: the latest named, and the suites still missing.
        let mut two = one_run(&req, &ctx);
        two.runs.push(store::Run {
            date: "2026-12-05T01:00:00Z".into(),
            command: "cargo kmem test -f cxl --record".into(),
            commit: "def".into(),
        });
        let block = readme_block(&ctx, &two, &groups, (23, 0), 3);
        assert!(block.contains(
            "23 passed, 0 failed (3 suite(s) not recorded yet); 2 runs merged, the latest \
             `cargo kmem test -f cxl --record`, 2026-12-05T01:00:00Z;"
        ));
    }

    /// A store of one run of `req`.
    fn one_run(req: &Request, ctx: &Ctx) -> Store {
        Store {
            build: "k".into(),
            runs: vec![store::Run {
                date: "2026-12-04T18:00:00Z".into(),
                command: command(ctx, req),
                commit: req.commit.clone(),
            }],
            entries: Vec::new(),
        }
    }

    #[test]
    fn file_per_variant_and_header() {
        assert!(path(&ctx(None)).ends_with("tools/kmem-rs/results/test.md"));
        assert!(path(&ctx(Some("debug"))).ends_with("tools/kmem-rs/results/test-debug.md"));
        let req = full_run();
        let mut store = one_run(&req, &ctx(None));
        let text = render(&req, &store, "k", "7.3.4+", "1 passed, 0 failed\n");
        assert!(text.contains("- date: 2026-12-04T18:00:00Z\n"));
        assert!(text.contains("- command: `cargo kmem test --record`\n"));
        assert!(text.contains("- kernel: 7.3.4+\n"));
        assert!(text.contains("- kernel build: k "));
        assert!(text.ends_with("```text\n1 passed, 0 failed\n```\n"));
        store.runs.push(store.runs[0].clone());
        let text = render(&req, &store, "k", "7.3.4+", "");
        assert!(
            text.contains("  - B: 2026-12-04T18:00:00Z, `cargo kmem test --record`, commit abc\n")
        );
        assert!(!text.contains("- date:"));
        assert!(path(&ctx(None))
            .with_extension("json")
            .ends_with("results/test.json"));
        assert!(store_path(&ctx(Some("debug"))).ends_with("results/test-debug.json"));
    }
}
