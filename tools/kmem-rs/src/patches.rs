// SPDX-License-Identifier: GPL-2.0-only
//! `patches`: the series in `patches/<series>/`, generated from the sources.
//!
//! Each patch of `tools/kmem-rs/series/series.toml` becomes a commit, all of
//! them stacked in list order on the base commit of the imported tree, built
//! with git plumbing in a private index (the source tree's checkout is not
//! touched), with the series' identity and date, so that unchanged sources
//! give byte-identical patches. Each series is then `git format-patch`ed on
//! its own: its numbering, version, cover letter, base-commit (with the
//! patches of the series it is based on as prerequisites) and recipients,
//! from `scripts/get_maintainer.pl`.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::ctx::Ctx;
use crate::overlay;
use crate::series::{Identity, Series};
use crate::setup::BASE_TAG;

mod cover;
mod git;
mod recipients;

use cover::fill_cover_letter;
use git::{git, git_with_input, hash_object, output};
use recipients::{recipients, Recipients};

/// Where the series live in the repository, one directory each.
pub const PATCHES_DIR: &str = "patches";
/// The generated recipients file in each series' directory.
pub const RECIPIENTS: &str = "recipients.txt";
/// The ref that holds the posted series' last commit in the imported tree.
pub const SERIES_REF: &str = "refs/kmem-rs/series";
/// The ref that holds the tested stack's last commit (held patches too).
pub const TESTED_REF: &str = "refs/kmem-rs/tested";
/// The directory of `patches/` that keeps the held patches for reading.
pub const HELD_DIR: &str = "held";
/// The list of the held patches and why, in [`HELD_DIR`].
pub const HELD_LIST: &str = "held.txt";
/// Where `cargo kmem test` leaves the matrix of its last full run.
pub const LAST_MATRIX: &str = "last-test-matrix.txt";

/// The name `git format-patch` gives a cover letter.
pub const COVER_LETTER: &str = "0000-cover-letter.patch";

/// The series as commits in the imported tree.
pub struct Commits {
    pub base: String,
    /// (commit, subject) of every patch of every series, in stacked order.
    pub commits: Vec<(String, String)>,
}

impl Commits {
    /// The commit series `s` starts from (the base, or the last commit of
    /// the series before it) and its last commit.
    pub fn span(&self, series: &Series, s: usize) -> (&str, &str) {
        let r = series.patch_range(s);
        let from = match r.start {
            0 => self.base.as_str(),
            i => self.commits[i - 1].0.as_str(),
        };
        (from, self.commits[r.end - 1].0.as_str())
    }
}

/// Builds the series' commits on the base commit; points `refname` at the
/// last one.
pub fn commit(ctx: &Ctx, series: &Series, refname: &str) -> Result<Commits> {
    let base = output(
        git(ctx).args(["rev-parse", &format!("{BASE_TAG}^{{commit}}")]),
        "git rev-parse",
    )?;
    let dir = ctx.cache.join("series");
    fs::create_dir_all(&dir)?;
    let index = dir.join("index");
    let _ = fs::remove_file(&index);
    let with_index = |c: &mut Command| {
        c.env("GIT_INDEX_FILE", &index);
    };
    let mut c = git(ctx);
    with_index(&mut c);
    output(c.args(["read-tree", &base]), "git read-tree")?;
    let who = &series.identity;
    let date = &series.date;
    let mut parent = base.clone();
    let mut commits = Vec::new();
    let mut prev: BTreeMap<String, (Vec<u8>, u32)> = BTreeMap::new();
    for i in 0..series.patches.len() {
        let want = overlay::desired_upto(ctx, series, i + 1)?;
        for (path, (content, mode)) in &want {
            if prev.get(path).map(|(c, m)| (c, m)) == Some((content, mode)) {
                continue;
            }
            let blob = hash_object(ctx, content)?;
            let mode = if mode & 0o111 != 0 {
                "100755"
            } else {
                "100644"
            };
            let mut c = git(ctx);
            with_index(&mut c);
            output(
                c.args(["update-index", "--add", "--cacheinfo"])
                    .arg(format!("{mode},{blob},{path}")),
                "git update-index",
            )?;
        }
        if let Some(gone) = prev.keys().find(|p| !want.contains_key(*p)) {
            bail!(
                "patch {} drops {gone}, which an earlier patch added: patches only add",
                i + 1
            );
        }
        let mut c = git(ctx);
        with_index(&mut c);
        let tree = output(c.arg("write-tree"), "git write-tree")?;
        let message = series.message(i)?;
        let msg_file = dir.join("message");
        fs::write(&msg_file, &message)?;
        let id = output(
            git(ctx)
                .args(["commit-tree", &tree, "-p", &parent, "-F"])
                .arg(&msg_file)
                .env("GIT_AUTHOR_NAME", &who.name)
                .env("GIT_AUTHOR_EMAIL", &who.email)
                .env("GIT_AUTHOR_DATE", date)
                .env("GIT_COMMITTER_NAME", &who.name)
                .env("GIT_COMMITTER_EMAIL", &who.email)
                .env("GIT_COMMITTER_DATE", date),
            "git commit-tree",
        )?;
        let subject = message.lines().next().unwrap_or_default().to_string();
        commits.push((id.clone(), subject));
        parent = id;
        prev = want;
    }
    output(
        git(ctx).args(["update-ref", refname, &parent]),
        "git update-ref",
    )?;
    Ok(Commits { base, commits })
}

/// The patch ids of `commits` as `git format-patch --base` writes them as
/// prerequisites: `git patch-id --stable` of a diff made without the indent
/// heuristic (git computes them internally without it, so a diff with it
/// can give another id when a hunk could be placed two ways).
fn patch_ids(ctx: &Ctx, commits: &[&str]) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for c in commits {
        let diff = git(ctx)
            .args(["show", "--no-color", "--no-indent-heuristic", c])
            .stderr(Stdio::piped())
            .output()
            .context("cannot run git show")?;
        if !diff.status.success() {
            bail!("git show {c} failed");
        }
        let text = git_with_input(ctx, &["patch-id", "--stable"], &diff.stdout)?;
        let id = text
            .split_whitespace()
            .next()
            .with_context(|| format!("git patch-id gave no id for {c}"))?;
        ids.push(id.to_string());
    }
    Ok(ids)
}

/// Keeps only the `prerequisite-patch-id:` lines of `text` whose id is in
/// `keep`; returns the new text and how many were kept.
pub fn filter_prerequisites(text: &str, keep: &[String]) -> (String, usize) {
    let mut kept = 0;
    let out = text
        .split_inclusive('\n')
        .filter(
            |l| match l.trim_end().strip_prefix("prerequisite-patch-id: ") {
                Some(id) if keep.iter().any(|k| k == id) => {
                    kept += 1;
                    true
                }
                Some(_) => false,
                None => true,
            },
        )
        .collect();
    (out, kept)
}

/// `git format-patch` of series `s` into `out` (emptied first): base-commit
/// is the base, and the prerequisites are the patches of the series it is
/// based on (those of the series stacked below it that it does not need are
/// dropped: it applies without them).
fn format_patch(
    ctx: &Ctx,
    series: &Series,
    s: usize,
    commits: &Commits,
    out: &Path,
    recipients: &Recipients,
) -> Result<Vec<PathBuf>> {
    let _ = fs::remove_dir_all(out);
    fs::create_dir_all(out)?;
    let posting = &series.postings[s];
    let (from, tip) = commits.span(series, s);
    let mut c = git(ctx);
    c.args(["-c", "core.abbrev=12", "format-patch"]);
    if posting.cover_letter.is_some() {
        c.arg("--cover-letter");
    }
    if posting.version > 1 {
        c.arg(format!("-v{}", posting.version));
    }
    c.arg(format!("--subject-prefix={}", posting.subject_prefix))
        .arg(format!("--base={}", commits.base))
        .args(["--no-signature", "--quiet", "-o"])
        .arg(out)
        .env("GIT_COMMITTER_NAME", &series.identity.name)
        .env("GIT_COMMITTER_EMAIL", &series.identity.email)
        .env("GIT_COMMITTER_DATE", &series.date);
    for t in &recipients.to {
        c.arg(format!("--to={t}"));
    }
    for cc in &recipients.cc {
        c.arg(format!("--cc={cc}"));
    }
    c.arg(format!("{from}..{tip}"));
    output(&mut c, "git format-patch")?;
    let files = posting_files(out)?;
    let needed: Vec<&str> = posting
        .based_on
        .iter()
        .filter_map(|b| series.posting(b))
        .flat_map(|b| series.patch_range(b))
        .map(|i| commits.commits[i].0.as_str())
        .collect();
    let keep = patch_ids(ctx, &needed)?;
    let mut kept = 0;
    for f in &files {
        let (text, n) = filter_prerequisites(&fs::read_to_string(f)?, &keep);
        kept += n;
        fs::write(f, text)?;
    }
    if kept != keep.len() {
        bail!(
            "series {}: git format-patch listed {kept} of the {} prerequisite patches of {:?}",
            posting.id,
            keep.len(),
            posting.based_on
        );
    }
    Ok(files)
}

/// The `*.patch` files of a series directory, in order (the cover letter,
/// if any, first).
pub fn posting_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("no {}: run `cargo kmem patches`", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "patch"))
        .collect();
    files.sort();
    Ok(files)
}

/// Whether `path` is a cover letter.
pub fn is_cover_letter(path: &Path) -> bool {
    path.to_string_lossy().ends_with(COVER_LETTER)
}

/// What [`generate`] made.
pub struct Generated {
    /// The series as posted ([`Series::posted`]): what the checks read.
    pub posted: Series,
    /// The posted series' commits.
    pub commits: Commits,
}

/// Generates every posted series into `out/<series>/` (`out` is emptied
/// first): commits, recipients, patches, cover letters; and the held
/// patches into `out/held/`.
pub fn generate(ctx: &Ctx, full: &Series, out: &Path) -> Result<Generated> {
    let posted = full.posted();
    let commits = commit(ctx, &posted, SERIES_REF)?;
    let series = &posted;
    // The committed identity is the M: of the tree's MAINTAINERS entries.
    let committed = Series::load(&ctx.repo)?.identity;
    let exclude = [committed.email.as_str(), series.identity.email.as_str()];
    let _ = fs::remove_dir_all(out);
    fs::create_dir_all(out)?;
    let scratch = ctx.cache.join("series/draft");
    for (s, posting) in series.postings.iter().enumerate() {
        let draft = format_patch(
            ctx,
            series,
            s,
            &commits,
            &scratch.join(&posting.id),
            &Recipients::default(),
        )?;
        let draft: Vec<PathBuf> = draft.into_iter().filter(|p| !is_cover_letter(p)).collect();
        let (who, each) = recipients(ctx, &exclude, &draft)?;
        let dir = out.join(&posting.id);
        let files = format_patch(ctx, series, s, &commits, &dir, &who)?;
        if posting.cover_letter.is_some() {
            let cover = files
                .iter()
                .find(|p| is_cover_letter(p))
                .context("git format-patch wrote no cover letter")?;
            fill_cover_letter(series, s, cover)?;
        }
        fs::write(dir.join(RECIPIENTS), who.text(&posting.id, &each))?;
    }
    let _ = fs::remove_dir_all(&scratch);
    if !posted.held.is_empty() {
        write_held(ctx, full, &posted, &out.join(HELD_DIR))?;
    }
    Ok(Generated { posted, commits })
}

/// The held patches of `posted` (the posted view of `full`) into `dir`:
/// each `git format-patch`ed from the tested stack, where it is a commit,
/// with [`HELD_LIST`] saying why it is held.
fn write_held(ctx: &Ctx, full: &Series, posted: &Series, dir: &Path) -> Result<()> {
    let tested = commit(ctx, full, TESTED_REF)?;
    fs::create_dir_all(dir)?;
    let mut list = String::from(
        "Patches the tested tree carries that are not posted (`hold` in\n\
         tools/kmem-rs/series/series.toml). Each applies on the tested stack\n\
         after the patches listed before it in series.toml.\n",
    );
    for (k, held) in posted.held.iter().enumerate() {
        let i = full
            .patches
            .iter()
            .position(|p| p.id == held.id)
            .context("a held patch of the posted view is not in the series")?;
        let (id, subject) = &tested.commits[i];
        output(
            git(ctx)
                .args(["-c", "core.abbrev=12", "format-patch", "-1"])
                .arg(format!("--start-number={}", k + 1))
                .args(["--no-signature", "--quiet", "-o"])
                .arg(dir)
                .env("GIT_COMMITTER_NAME", &full.identity.name)
                .env("GIT_COMMITTER_EMAIL", &full.identity.email)
                .env("GIT_COMMITTER_DATE", &full.date)
                .arg(id),
            "git format-patch",
        )?;
        list.push_str(&format!(
            "\n{} (series {}):\n  {subject}\n{}",
            held.id,
            held.series,
            cover::wrap(held.hold.as_deref().unwrap_or_default(), 4, 72)
        ));
    }
    fs::write(dir.join(HELD_LIST), list)?;
    Ok(())
}

/// Where `patches --identity` writes when not told: never `patches/`, which
/// holds the series under the placeholder identity.
pub const OUTGOING: &str = "outgoing";

/// The series with `identity` in place of the committed one, if given.
pub fn load_as(ctx: &Ctx, identity: Option<&Identity>) -> Result<Series> {
    let mut series = Series::load(&ctx.repo)?;
    if let Some(id) = identity {
        series.identity = id.clone();
    }
    Ok(series)
}

/// Where `patches` writes: `out`, else `committed` (the repository's
/// `patches/`), or with another identity the cache's [`OUTGOING`]; never
/// `committed` with another identity.
pub fn output_dir(
    committed: &Path,
    cache: &Path,
    own_identity: bool,
    out: Option<PathBuf>,
) -> Result<PathBuf> {
    let out = match (own_identity, out) {
        (false, None) => committed.to_path_buf(),
        (true, None) => cache.join(OUTGOING),
        (_, Some(o)) => o,
    };
    let same = match (out.canonicalize(), committed.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => out == committed,
    };
    if own_identity && same {
        bail!(
            "{} holds the series under the placeholder identity of series.toml: write yours elsewhere (--out)",
            committed.display()
        );
    }
    Ok(out)
}

/// `patches`: regenerate `patches/` (or, with `identity`, the series signed
/// by it into `out`, by default `$KMEM_RS_CACHE/outgoing`), after copying
/// the last full test run's matrix into the series with `record`.
pub fn run(
    ctx: &Ctx,
    record: bool,
    identity: Option<&Identity>,
    out: Option<PathBuf>,
) -> Result<()> {
    println!("==> patches");
    let series = load_as(ctx, identity)?;
    let out = output_dir(
        &ctx.repo.join(PATCHES_DIR),
        &ctx.cache,
        identity.is_some(),
        out,
    )?;
    if record {
        let last = ctx.cache.join(LAST_MATRIX);
        let text = fs::read_to_string(&last).with_context(|| {
            format!(
                "no {}: run the full `cargo kmem test` first",
                last.display()
            )
        })?;
        fs::write(series.dir.join(&series.test_matrix), text)?;
        println!("  ✓ test matrix recorded from {}", last.display());
    }
    overlay::apply(ctx, &Series::load(&ctx.repo)?.posted())?;
    let Generated { posted, commits } = generate(ctx, &series, &out)?;
    for (s, posting) in posted.postings.iter().enumerate() {
        println!("  {}/ ({})", posting.id, posted.subject_tag(s, None));
        for i in posted.patch_range(s) {
            let (id, subject) = &commits.commits[i];
            println!("    {} {subject}", &id[..12]);
        }
    }
    for p in &posted.held {
        println!(
            "  {HELD_DIR}/ {} (tested, not posted: see {HELD_LIST})",
            p.id
        );
    }
    println!(
        "  ✓ {} series, {} patches in {} (base {}), {} held, signed by {}",
        posted.postings.len(),
        commits.commits.len(),
        out.display(),
        &commits.base[..12],
        posted.held.len(),
        posted.identity
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prerequisites_are_filtered() {
        let text = "x\nbase-commit: b\nprerequisite-patch-id: aa\nprerequisite-patch-id: bb\n-- \n";
        let (out, kept) = filter_prerequisites(text, &["bb".to_string()]);
        assert_eq!(out, "x\nbase-commit: b\nprerequisite-patch-id: bb\n-- \n");
        assert_eq!(kept, 1);
        let (out, kept) = filter_prerequisites(text, &[]);
        assert_eq!(out, "x\nbase-commit: b\n-- \n");
        assert_eq!(kept, 0);
    }

    #[test]
    fn own_identity_never_writes_patches() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let committed = repo.join(PATCHES_DIR);
        let cache = Path::new("/cache");
        assert_eq!(
            output_dir(&committed, cache, false, None).unwrap(),
            committed
        );
        assert_eq!(
            output_dir(&committed, cache, true, None).unwrap(),
            cache.join(OUTGOING)
        );
        let mine = PathBuf::from("/tmp/mine");
        assert_eq!(
            output_dir(&committed, cache, true, Some(mine.clone())).unwrap(),
            mine
        );
        // The same directory spelled another way is still refused.
        let sneaky = repo.join("tools/../patches");
        let err = output_dir(&committed, cache, true, Some(sneaky)).unwrap_err();
        assert!(err.to_string().contains("placeholder identity"), "{err}");
    }
}
