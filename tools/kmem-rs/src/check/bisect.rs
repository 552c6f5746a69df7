// SPDX-License-Identifier: GPL-2.0-only
//! The `bisect` check: every commit of every series builds with CLIPPY=1,
//! in stacked order, with no warning in a file of the series.

use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::fs;
use std::time::Instant;

use super::git::git;
use crate::build;
use crate::ctx::Ctx;
use crate::overlay;
use crate::patches::Commits;
use crate::run::Step;
use crate::series::Series;
use crate::toolchain;

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

/// Builds every commit of every posted series (`posted`, the posted view of
/// `series`) in the test build directory with CLIPPY=1, newest first, then
/// puts the overlay of `posted` (what that build directory carries) back. Newest first because
/// the tree starts at the newest commit's state (the overlay): a patch that
/// changes a widely included header (ioport.h, memory_hotplug.h) then costs
/// one near-full rebuild, at the commit before it, instead of one there and
/// one to get back to the base at the start.
pub fn bisect(ctx: &Ctx, series: &Series, posted: &Series, commits: &Commits) -> Result<String> {
    // Every file of the tested tree, held patches' too: a posted commit
    // that lacks one builds with the base's.
    let paths: BTreeSet<String> = overlay::desired(ctx, series)?.into_keys().collect();
    let series_files: BTreeSet<String> = paths
        .iter()
        .filter(|p| p.ends_with(".rs") || p.ends_with(".c") || p.ends_with(".h"))
        .cloned()
        .collect();
    let plan = bisect_plan(posted, commits);
    let result = (|| -> Result<String> {
        let mut times = Vec::new();
        for step in plan.iter().rev() {
            materialize(ctx, &step.commit, &paths)?;
            build::configure_tree(ctx, true, posted)?;
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
            posted.postings.len(),
            times.join(", ")
        ))
    })();
    overlay::apply(ctx, posted)?;
    build::configure_tree(ctx, false, posted)?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::tests::three;

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
}
