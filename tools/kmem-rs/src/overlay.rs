// SPDX-License-Identifier: GPL-2.0-only
//! The overlay: this repository's kernel files, written into the imported
//! tree at their in-tree paths, plus fragments that edit existing files.
//!
//! New files live in the repository under `drivers/`, `rust/`,
//! `Documentation/` and `tools/testing/`, and are copied as they are.
//! An edit to a file the base tree already has is a `*.fragment` file; its
//! format, and how its hunks apply, are the part `fragment`
//! (overlay/fragment.rs).
//! The target is always rebuilt from the base commit plus its fragments, so
//! applying is idempotent, and files the overlay no longer has are restored.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::ctx::Ctx;
use crate::run::command;
use crate::setup::BASE_TAG;

mod fragment;

pub use fragment::{Fragment, Hunk};

/// Stands for the series identity ("Name <email>") in fragment bodies.
pub const IDENTITY_MARK: &str = "@KMEM_RS_IDENTITY@";

/// Repository directories whose files are copied into the kernel tree.
pub const OVERLAY_DIRS: &[&str] = &["drivers/", "rust/", "Documentation/", "tools/testing/"];

/// What the overlay needs to know of the patch series: which patch carries
/// each file and fragment hunk, the identity, the files no patch carries.
/// The series (`series.rs`, above this module) implements it; the overlay
/// does not read series.toml itself.
pub trait Owners {
    /// How many patches the series has.
    fn patch_count(&self) -> usize;
    /// Overlay files the tests use that no patch carries.
    fn unsent(&self) -> &[String];
    /// What [`IDENTITY_MARK`] stands for ("Name <email>").
    fn identity(&self) -> String;
    /// Fails unless every overlay file (fragments aside, whose hunks say
    /// where they go) is carried by exactly one patch.
    fn check_covers(&self, files: &[String]) -> Result<()>;
    /// The index of the patch that carries the repository file `path`.
    fn owner(&self, path: &str) -> Option<usize>;
    /// The index of the patch a fragment hunk belongs to.
    fn hunk_owner(&self, fragment: &str, hunk: &Hunk) -> Result<usize>;
}

/// The repository's files, as git sees them (tracked and untracked, not ignored).
fn repo_files(repo: &Path) -> Result<Vec<String>> {
    let out = command("git")
        .arg("-C")
        .arg(repo)
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
        ])
        .output()
        .context("cannot list the repository's files with git")?;
    if !out.status.success() {
        bail!("git ls-files failed in {}", repo.display());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|p| !p.is_empty() && repo.join(p).is_file())
        .map(str::to_string)
        .collect())
}

/// `series` without some of its patches (`--without`): their files and
/// fragment hunks are left out of the tree, so that a test can show what
/// those patches fix. The later patches must still apply without them.
pub struct Without<'a> {
    pub series: &'a dyn Owners,
    /// Indices of the patches left out.
    pub skip: Vec<usize>,
}

impl Owners for Without<'_> {
    fn patch_count(&self) -> usize {
        self.series.patch_count()
    }
    fn unsent(&self) -> &[String] {
        self.series.unsent()
    }
    fn identity(&self) -> String {
        self.series.identity()
    }
    fn check_covers(&self, files: &[String]) -> Result<()> {
        self.series.check_covers(files)
    }
    fn owner(&self, path: &str) -> Option<usize> {
        self.series.owner(path).filter(|i| !self.skip.contains(i))
    }
    fn hunk_owner(&self, fragment: &str, hunk: &Hunk) -> Result<usize> {
        // A left-out hunk belongs to no patch within any `upto`.
        let i = self.series.hunk_owner(fragment, hunk)?;
        Ok(if self.skip.contains(&i) {
            usize::MAX
        } else {
            i
        })
    }
}

/// The kernel tree's files as the overlay of `series` wants them: path,
/// content, mode.
pub fn desired(ctx: &Ctx, series: &dyn Owners) -> Result<BTreeMap<String, (Vec<u8>, u32)>> {
    let mut want = desired_upto(ctx, series, series.patch_count())?;
    for path in series.unsent() {
        let full = ctx.repo.join(path);
        if full.is_file() {
            let mode = fs::metadata(&full)?.permissions().mode() & 0o777;
            want.insert(path.clone(), (fs::read(&full)?, mode));
        }
    }
    Ok(want)
}

/// The tree after the first `upto` patches of `series`: their files, and
/// the fragment hunks that belong to them (not the series' `unsent` files,
/// which [`desired`] adds).
pub fn desired_upto(
    ctx: &Ctx,
    series: &dyn Owners,
    upto: usize,
) -> Result<BTreeMap<String, (Vec<u8>, u32)>> {
    let mut want = BTreeMap::new();
    let mut fragments: BTreeMap<String, Vec<(String, Fragment)>> = BTreeMap::new();
    let files = overlay_files(&ctx.repo)?;
    series.check_covers(&files)?;
    for path in files {
        let full = ctx.repo.join(&path);
        if path.ends_with(".fragment") {
            let text = fs::read_to_string(&full)?;
            let f = Fragment::parse(&path, &text)?;
            fragments
                .entry(f.target.clone())
                .or_default()
                .push((path, f));
        } else if series.owner(&path).is_some_and(|i| i < upto) {
            let mode = fs::metadata(&full)?.permissions().mode() & 0o777;
            want.insert(path, (fs::read(&full)?, mode));
        }
    }
    let identity = series.identity();
    for (target, frags) in fragments {
        if want.contains_key(&target) {
            bail!("{target} is both an overlay file and a fragment target");
        }
        let base = base_file(ctx, &target)?
            .with_context(|| format!("fragment target {target} is not in the base tree"))?;
        let text = apply_fragments(series, upto, &base, &frags)?;
        if text == base {
            continue;
        }
        let text = text.replace(IDENTITY_MARK, &identity);
        let mode = fs::metadata(ctx.src().join(&target))
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0o644);
        want.insert(target, (text.into_bytes(), mode));
    }
    Ok(want)
}

/// `base` (a target's base content) after the hunks of `frags` (all of
/// that target's fragments) that belong to the first `upto` patches.
pub fn apply_fragments(
    series: &dyn Owners,
    upto: usize,
    base: &str,
    frags: &[(String, Fragment)],
) -> Result<String> {
    let mut text = base.to_string();
    for (name, f) in frags {
        for h in &f.hunks {
            series.hunk_owner(name, h)?;
        }
        text = f.apply_some(name, &text, |h| {
            series.hunk_owner(name, h).is_ok_and(|i| i < upto)
        })?;
    }
    Ok(text)
}

/// The repository files that are part of the overlay: files under
/// [`OVERLAY_DIRS`] and fragments.
pub fn overlay_files(repo: &Path) -> Result<Vec<String>> {
    Ok(repo_files(repo)?
        .into_iter()
        .filter(|p| p.ends_with(".fragment") || OVERLAY_DIRS.iter().any(|d| p.starts_with(d)))
        .collect())
}

/// A file of the base commit, or None if the base has no such file.
fn base_file(ctx: &Ctx, path: &str) -> Result<Option<String>> {
    base_file_in(&ctx.src(), path)
}

/// A file of the base commit of the kernel tree `src`.
pub fn base_file_in(src: &Path, path: &str) -> Result<Option<String>> {
    let out = command("git")
        .arg("-C")
        .arg(src)
        .args(["show", &format!("{BASE_TAG}:{path}")])
        .output()?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Makes the kernel tree match base + the overlay of `series`. Only files
/// whose content changes are written, so an unchanged overlay triggers no
/// rebuild.
pub fn apply(ctx: &Ctx, series: &dyn Owners) -> Result<()> {
    let src = ctx.src();
    let state = src.join(".git/kmem-rs-overlay");
    let want = desired(ctx, series)?;
    let before: Vec<String> = fs::read_to_string(&state)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let mut changed = 0;
    // Files an earlier overlay wrote that this one does not: back to base.
    for path in before.iter().filter(|p| !want.contains_key(*p)) {
        let dest = src.join(path);
        match base_file(ctx, path)? {
            Some(text) => write_if_changed(&dest, text.as_bytes(), None, &mut changed)?,
            None if dest.exists() => {
                fs::remove_file(&dest)?;
                changed += 1;
            }
            None => {}
        }
    }
    // Edits to base files that the overlay does not own are damage: restore.
    let owned: Vec<&String> = want.keys().collect();
    let dirty = modified_base_files(ctx)?;
    let stray: Vec<&String> = dirty.iter().filter(|p| !owned.contains(p)).collect();
    if !stray.is_empty() {
        println!(
            "  ! restoring {} base file(s) edited outside the overlay: {}",
            stray.len(),
            stray
                .iter()
                .take(5)
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let st = command("git")
            .arg("-C")
            .arg(&src)
            .args(["checkout", BASE_TAG, "--"])
            .args(&stray)
            .status()?;
        if !st.success() {
            bail!("cannot restore base files in {}", src.display());
        }
        changed += stray.len();
    }
    for (path, (content, mode)) in &want {
        write_if_changed(&src.join(path), content, Some(*mode), &mut changed)?;
    }
    let list: String = want.keys().map(|p| format!("{p}\n")).collect();
    fs::write(&state, list)?;
    println!(
        "  ✓ overlay applied: {} file(s), {changed} changed",
        want.len()
    );
    Ok(())
}

fn modified_base_files(ctx: &Ctx) -> Result<Vec<String>> {
    let out = command("git")
        .arg("-C")
        .arg(ctx.src())
        .args(["diff", "--name-only", "-z", BASE_TAG])
        .output()?;
    if !out.status.success() {
        bail!(
            "git diff against {BASE_TAG} failed in {}",
            ctx.src().display()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect())
}

pub fn write_if_changed(
    dest: &Path,
    content: &[u8],
    mode: Option<u32>,
    changed: &mut usize,
) -> Result<()> {
    if fs::read(dest).ok().as_deref() != Some(content) {
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(dest, content).with_context(|| format!("cannot write {}", dest.display()))?;
        *changed += 1;
    }
    if let Some(mode) = mode {
        let perms = fs::metadata(dest)?.permissions();
        if perms.mode() & 0o777 != mode {
            fs::set_permissions(dest, fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_fragments_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for name in repo_files(&root)
            .unwrap()
            .iter()
            .filter(|p| p.ends_with(".fragment"))
        {
            let text = fs::read_to_string(root.join(name)).unwrap();
            let f = Fragment::parse(name, &text).unwrap();
            assert!(!f.target.is_empty(), "{name}");
        }
    }
}
