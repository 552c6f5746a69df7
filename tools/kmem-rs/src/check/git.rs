// SPDX-License-Identifier: GPL-2.0-only
//! git in the imported tree and its worktrees, blind to the user's and the
//! system's git configuration, and the committed patches the checks read.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ctx::Ctx;
use crate::patches::{is_cover_letter, posting_files, PATCHES_DIR};
use crate::run::{command, stdout_of};
use crate::series::Series;

pub fn git(dir: &Path) -> Command {
    let mut c = command("git");
    c.arg("-C")
        .arg(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    c
}

/// Runs `cmd`: its trimmed stdout, or an error with its output.
pub fn stdout(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    stdout_of(out, what)
}

/// The committed patches of series `s`, cover letter excluded, in order.
pub fn patch_files(ctx: &Ctx, series: &Series, s: usize) -> Result<Vec<PathBuf>> {
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
