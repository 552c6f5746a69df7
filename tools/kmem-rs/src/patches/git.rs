// SPDX-License-Identifier: GPL-2.0-only
//! git plumbing in the imported tree, blind to the user's and the system's
//! git configuration, and the trimmed output of a command that must succeed.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::process::{Command, Stdio};

use crate::ctx::Ctx;
use crate::run::command;

/// git in the imported tree, blind to the user's and the system's git
/// configuration (a diff.algorithm there would change the patches).
pub fn git(ctx: &Ctx) -> Command {
    let mut c = command("git");
    c.arg("-C")
        .arg(ctx.src())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GIT_INDEX_FILE");
    c
}

pub fn output(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs git with `args`, `input` on its standard input; its trimmed output.
pub fn git_with_input(ctx: &Ctx, args: &[&str], input: &[u8]) -> Result<String> {
    let what = format!("git {}", args.join(" "));
    let mut child = git(ctx)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {what}"))?;
    child
        .stdin
        .take()
        .with_context(|| format!("no stdin for {what}"))?
        .write_all(input)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn hash_object(ctx: &Ctx, content: &[u8]) -> Result<String> {
    git_with_input(ctx, &["hash-object", "-w", "--stdin"], content)
}
