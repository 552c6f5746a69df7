// SPDX-License-Identifier: GPL-2.0-only
//! The `git-am` check: every series of `patches/` applies, stacked, onto
//! the base and gives the series' trees; a series based on fewer series
//! than are stacked below it applies with only those.

use anyhow::{bail, Result};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use super::git::{git, patch_files, stdout};
use crate::ctx::Ctx;
use crate::overlay;
use crate::patches::Commits;
use crate::series::Series;
use crate::setup::BASE_TAG;

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
pub fn git_am(ctx: &Ctx, series: &Series, commits: &Commits) -> Result<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::tests::three;

    #[test]
    fn am_stacks_all_then_each_series_on_what_it_needs() {
        // All stacked; `other` alone on the base; `feat` on `fix` only.
        assert_eq!(am_runs(&three()), vec![vec![0, 1, 2], vec![1], vec![0, 2]]);
    }
}
