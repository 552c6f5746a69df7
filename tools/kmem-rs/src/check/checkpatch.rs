// SPDX-License-Identifier: GPL-2.0-only
//! The `checkpatch` check: scripts/checkpatch.pl --strict on every patch,
//! no errors and no warnings but the two that say nothing about a patch
//! here (they are waived and named).

use anyhow::{bail, Result};
use std::fs;

use super::git::{git, patch_files, stdout};
use crate::ctx::Ctx;
use crate::patches::{posting_files, HELD_DIR, PATCHES_DIR};
use crate::run::command;
use crate::series::Series;
use crate::setup::BASE_TAG;

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

pub fn checkpatch(ctx: &Ctx, series: &Series) -> Result<String> {
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
    // Every posted patch, and the held ones: they are read and tested.
    let mut files = Vec::new();
    for s in 0..series.postings.len() {
        for p in patch_files(ctx, series, s)? {
            files.push((series.postings[s].id.clone(), p));
        }
    }
    if !series.held.is_empty() {
        let held = ctx.repo.join(PATCHES_DIR).join(HELD_DIR);
        let got = posting_files(&held)?;
        if got.len() != series.held.len() {
            bail!(
                "{} has {} patches, series.toml holds {}: regenerate with `cargo kmem patches`",
                held.display(),
                got.len(),
                series.held.len()
            );
        }
        files.extend(got.into_iter().map(|p| (HELD_DIR.to_string(), p)));
    }
    for (dir, p) in files {
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
            "{dir}/{}",
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
