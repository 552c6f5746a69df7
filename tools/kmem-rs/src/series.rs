// SPDX-License-Identifier: GPL-2.0-only
//! The patch series: `tools/kmem-rs/series/series.toml` says which series
//! go to the lists (one per tree that takes them), which sources each of
//! their patches carries and who signs them; `patches` turns base + overlay
//! into commits on the imported tree and `git format-patch`es each series
//! into `patches/<series>/`.
//!
//! The patches are one list in stacked order: the patches of the first
//! series, then those of the second, and so on. That order is the one the
//! commits are built and tested in (each series on top of the ones before
//! it), so it is also the order of `## patch:` prefixes in fragments.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::overlay::{Hunk, Owners};

mod identity;
mod message;

pub use identity::Identity;
pub use message::compose_message;

/// The series definition, relative to the repository root.
pub const SERIES_DIR: &str = "tools/kmem-rs/series";

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Series {
    /// Overlay files the tests use that no patch carries.
    #[serde(default)]
    pub unsent: Vec<String>,
    /// Author and commit date of every generated commit, so that unchanged
    /// sources give byte-identical patches.
    pub date: String,
    /// The test matrix cover letters quote as `@TEST_MATRIX@`.
    pub test_matrix: String,
    /// The benchmark summary cover letters quote as `@BENCH@`, relative to
    /// the series directory.
    #[serde(default)]
    pub bench: Option<String>,
    pub identity: Identity,
    /// The config variants whose builds carry the held patches (the debug
    /// lane, whose `fixes` suite shows what they fix); every other build,
    /// and the normal lane's tests, have the posted series only.
    #[serde(default)]
    pub held_variants: Vec<String>,
    /// The series, in the order they are stacked on the base.
    #[serde(rename = "series")]
    pub postings: Vec<Posting>,
    /// Every patch of every series, in stacked order.
    #[serde(rename = "patch")]
    pub patches: Vec<Patch>,
    #[serde(skip)]
    pub dir: PathBuf,
    /// In the posted view ([`Series::posted`]): the patches held back from
    /// the lists, which [`Series::patches`] then leaves out.
    #[serde(skip)]
    pub held: Vec<Patch>,
}

/// Mail domains reserved for examples (RFC 2606, RFC 6761): never a sender.
const EXAMPLE_DOMAINS: &[&str] = &[
    "example.org",
    "example.com",
    "example.net",
    "example",
    "invalid",
    "test",
    "localhost",
];

impl Identity {
    /// Why this identity cannot send mail when `committed` is the identity
    /// of series.toml (a placeholder, so that the committed patches
    /// regenerate byte-identically on every machine), if it cannot.
    pub fn not_a_sender(&self, committed: &Identity) -> Option<String> {
        if self.email.eq_ignore_ascii_case(&committed.email) || self.name == committed.name {
            return Some(format!(
                "{self} is the placeholder identity of {SERIES_DIR}/series.toml"
            ));
        }
        let domain = self
            .email
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        EXAMPLE_DOMAINS
            .iter()
            .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
            .then(|| format!("{} is an example address", self.email))
    }
}

/// One series as it goes to the lists: its own subject prefix, version,
/// numbering, recipients and, with more than one patch, a cover letter.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Posting {
    /// Names the series: its directory in `patches/` and its `[[patch]]`es.
    pub id: String,
    #[serde(default = "default_prefix")]
    pub subject_prefix: String,
    /// The posting's version: 1 for a first posting (no `vN` in subjects).
    #[serde(default = "default_version")]
    pub version: u32,
    /// The cover letter template, relative to the series directory.
    pub cover_letter: Option<String>,
    /// Earlier series this one must be applied on top of: their patches are
    /// its prerequisites (`prerequisite-patch-id:`), and `@BASED_ON@` in its
    /// cover letter lists them. Without it, the series applies to the base.
    #[serde(default)]
    pub based_on: Vec<String>,
}

fn default_prefix() -> String {
    "PATCH".into()
}

fn default_version() -> u32 {
    1
}

/// One patch: an id (for `## patch:` lines), its series, its commit message
/// file, and the repository paths it carries (a path ending in `/` is a
/// directory), and why it is held back from the lists, if it is.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    pub id: String,
    pub series: String,
    pub message: String,
    pub paths: Vec<String>,
    /// Why the patch is carried for testing but never posted (a fix upstream
    /// already has in another form, or one its maintainers declined): the
    /// tested tree has it, `patches/<series>/` and `send` leave it out, and
    /// `patches/held/` keeps it for reading.
    #[serde(default)]
    pub hold: Option<String>,
}

/// Whether patch `p` carries the repository file `path`.
fn carries(p: &Patch, path: &str) -> bool {
    p.paths
        .iter()
        .any(|q| q == path || (q.ends_with('/') && path.starts_with(q.as_str())))
}

impl Series {
    pub fn load(repo: &Path) -> Result<Self> {
        let dir = repo.join(SERIES_DIR);
        let path = dir.join("series.toml");
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut s = Self::parse(&text).with_context(|| format!("in {}", path.display()))?;
        s.dir = dir;
        Ok(s)
    }

    /// The series of a series.toml text, checked for consistency; its
    /// files are relative to [`Series::dir`], which is left empty.
    pub fn parse(text: &str) -> Result<Self> {
        let s: Series = toml::from_str(text).context("malformed")?;
        s.validate().context("inconsistent")?;
        Ok(s)
    }

    fn validate(&self) -> Result<()> {
        if self.postings.is_empty() {
            bail!("no [[series]] entries");
        }
        if self.patches.is_empty() {
            bail!("no [[patch]] entries");
        }
        for (i, p) in self.postings.iter().enumerate() {
            if self.postings[..i].iter().any(|q| q.id == p.id) {
                bail!("series id '{}' is used twice", p.id);
            }
            if p.version == 0 {
                bail!("series '{}': versions start at 1", p.id);
            }
            for b in &p.based_on {
                if !self.postings[..i].iter().any(|q| &q.id == b) {
                    bail!(
                        "series '{}' is based on '{b}', which is not a series listed before it",
                        p.id
                    );
                }
            }
        }
        // Stacked order: the series of the patches, in list order, never
        // goes back, and every series has at least one patch.
        let mut last = 0;
        for (i, p) in self.patches.iter().enumerate() {
            if self.patches[..i].iter().any(|q| q.id == p.id) {
                bail!("patch id '{}' is used twice", p.id);
            }
            let Some(s) = self.postings.iter().position(|s| s.id == p.series) else {
                bail!(
                    "patch '{}' names series '{}', which is not listed",
                    p.id,
                    p.series
                );
            };
            if s < last {
                bail!(
                    "patch '{}' of series '{}' comes after a patch of series '{}': list the patches series by series, in the order of the [[series]]",
                    p.id,
                    p.series,
                    self.postings[last].id
                );
            }
            last = s;
            if p.hold.as_deref().is_some_and(|h| h.trim().is_empty()) {
                bail!(
                    "patch '{}': `hold` must say why the patch is held back",
                    p.id
                );
            }
        }
        for (i, p) in self.postings.iter().enumerate() {
            let n = self.patch_range(i).len();
            if n == 0 {
                bail!("series '{}' has no patch", p.id);
            }
            if n > 1 && p.cover_letter.is_none() {
                bail!("series '{}' has {n} patches and no cover_letter", p.id);
            }
        }
        self.identity.validate()
    }

    /// The series as it goes to the lists: the patches with a `hold` left
    /// out (kept in [`Series::held`]), a series left with no patch dropped,
    /// and `based_on` without the dropped series. The posted patches apply
    /// without the held ones (the fragment test checks it). The view keeps
    /// owning the held patches' files and hunks, as nobody's.
    pub fn posted(&self) -> Series {
        let mut s = self.clone();
        let (held, posted): (Vec<Patch>, Vec<Patch>) =
            s.patches.into_iter().partition(|p| p.hold.is_some());
        s.patches = posted;
        s.held = held;
        let kept: Vec<String> = s
            .postings
            .iter()
            .filter(|q| s.patches.iter().any(|p| p.series == q.id))
            .map(|q| q.id.clone())
            .collect();
        s.postings.retain(|q| kept.contains(&q.id));
        for q in &mut s.postings {
            q.based_on.retain(|b| kept.contains(b));
        }
        s
    }

    /// What a build of config `variant` carries: the whole series in the
    /// [`Series::held_variants`], else the posted view.
    pub fn for_variant(self, variant: Option<&str>) -> Series {
        if variant.is_some_and(|v| self.held_variants.iter().any(|h| h == v)) {
            self
        } else {
            self.posted()
        }
    }

    /// The indices (in [`Series::patches`]) of the patches of series `s`.
    pub fn patch_range(&self, s: usize) -> Range<usize> {
        let id = &self.postings[s].id;
        let start = self
            .patches
            .iter()
            .position(|p| &p.series == id)
            .unwrap_or(self.patches.len());
        let len = self.patches[start..]
            .iter()
            .take_while(|p| &p.series == id)
            .count();
        start..start + len
    }

    /// The index of the series of patch `i`.
    pub fn posting_of(&self, i: usize) -> usize {
        let id = &self.patches[i].series;
        self.postings
            .iter()
            .position(|s| &s.id == id)
            .expect("validated: every patch names a series")
    }

    /// The index of the series named `id`.
    pub fn posting(&self, id: &str) -> Option<usize> {
        self.postings.iter().position(|s| s.id == id)
    }

    /// The subject tag of series `s`, as `git format-patch` writes it:
    /// `[PATCH v2 0/7]` for `nr: Some((0, 7))`, `[PATCH]` for `None`.
    pub fn subject_tag(&self, s: usize, nr: Option<(usize, usize)>) -> String {
        let p = &self.postings[s];
        let mut tag = p.subject_prefix.clone();
        if p.version > 1 {
            tag.push_str(&format!(" v{}", p.version));
        }
        if let Some((n, m)) = nr {
            tag.push_str(&format!(" {n}/{m}"));
        }
        format!("[{tag}]")
    }

    /// How series `s` is known on the lists: its cover letter's subject, or
    /// its one patch's, with the subject tag.
    pub fn posting_subject(&self, s: usize) -> Result<String> {
        let range = self.patch_range(s);
        let (subject, nr) = match &self.postings[s].cover_letter {
            Some(c) => {
                let path = self.dir.join(c);
                let text = fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let subject = text.lines().next().unwrap_or_default().trim().to_string();
                (subject, Some((0, range.len())))
            }
            None => {
                let m = self.message(range.start)?;
                (m.lines().next().unwrap_or_default().to_string(), None)
            }
        };
        Ok(format!("{} {subject}", self.subject_tag(s, nr)))
    }

    /// The index of the patch that carries the repository file `path`.
    pub fn owner(&self, path: &str) -> Option<usize> {
        if self.unsent.iter().any(|u| u == path) {
            return None;
        }
        self.patches.iter().position(|p| carries(p, path))
    }

    /// The index of the patch a fragment hunk belongs to: its `## patch:`
    /// line, else the patch that lists the fragment file.
    ///
    /// In the posted view, a hunk of a held patch belongs to none
    /// (`usize::MAX`: beyond every `upto`).
    pub fn hunk_owner(&self, fragment: &str, hunk: &Hunk) -> Result<usize> {
        let held = match &hunk.patch {
            Some(id) => self.held.iter().any(|p| &p.id == id),
            None => self.held.iter().any(|p| carries(p, fragment)),
        };
        if held {
            return Ok(usize::MAX);
        }
        match &hunk.patch {
            Some(id) => self.patches.iter().position(|p| &p.id == id).with_context(|| {
                format!("{fragment}: '## patch: {id}' names no patch of the series")
            }),
            None => self.owner(fragment).with_context(|| {
                format!(
                    "{fragment}: a hunk without '## patch: ID', and no patch of the series lists the fragment"
                )
            }),
        }
    }

    /// Fails unless every overlay file (fragments aside, whose hunks say
    /// where they go) is carried by exactly one patch.
    pub fn check_covers(&self, files: &[String]) -> Result<()> {
        let mut orphans = Vec::new();
        for f in files
            .iter()
            .filter(|f| !f.ends_with(".fragment") && !self.unsent.contains(f))
        {
            let owners = self
                .patches
                .iter()
                .chain(&self.held)
                .filter(|p| carries(p, f))
                .count();
            match owners {
                1 => {}
                0 => orphans.push(f.as_str()),
                _ => bail!("{f} is listed by {owners} patches of the series; it must be one"),
            }
        }
        if !orphans.is_empty() {
            bail!(
                "no patch of the series carries {}: add it to a [[patch]] in {SERIES_DIR}/series.toml",
                orphans.join(", ")
            );
        }
        Ok(())
    }

    /// The commit message of patch `i`: its file (subject, body, and any
    /// trailers of [`TRAILERS`] as its last paragraph), then the
    /// Signed-off-by, in the trailer block.
    pub fn message(&self, i: usize) -> Result<String> {
        self.message_of(&self.patches[i])
    }

    /// The commit message of `patch` (one of [`Series::patches`] or
    /// [`Series::held`]), as [`Series::message`] composes it.
    pub fn message_of(&self, patch: &Patch) -> Result<String> {
        let path = self.dir.join(&patch.message);
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        compose_message(&text, &self.identity).with_context(|| format!("{}", path.display()))
    }
}

/// The overlay's view of the series: which patch carries what.
impl Owners for Series {
    fn patch_count(&self) -> usize {
        self.patches.len()
    }

    fn unsent(&self) -> &[String] {
        &self.unsent
    }

    fn identity(&self) -> String {
        self.identity.to_string()
    }

    fn check_covers(&self, files: &[String]) -> Result<()> {
        Series::check_covers(self, files)
    }

    fn owner(&self, path: &str) -> Option<usize> {
        Series::owner(self, path)
    }

    fn hunk_owner(&self, fragment: &str, hunk: &Hunk) -> Result<usize> {
        Series::hunk_owner(self, fragment, hunk)
    }
}

#[cfg(test)]
pub(crate) mod tests;
