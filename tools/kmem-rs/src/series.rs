// SPDX-License-Identifier: GPL-2.0-only
//! The patch series: `tools/kmem-rs/series/series.toml` says which sources
//! each patch carries and who signs it; `patches` turns base + overlay into
//! commits on the imported tree and `git format-patch`es them into
//! `patches/`.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::overlay::Hunk;

/// The series definition, relative to the repository root.
pub const SERIES_DIR: &str = "tools/kmem-rs/series";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Series {
    pub identity: Identity,
    pub series: Meta,
    /// Overlay files the tests use that no patch carries.
    #[serde(default)]
    pub unsent: Vec<String>,
    #[serde(rename = "patch")]
    pub patches: Vec<Patch>,
    #[serde(skip)]
    pub dir: PathBuf,
}

/// Who signs the series.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub version: u32,
    pub subject_prefix: String,
    pub date: String,
    pub cover_letter: String,
    pub test_matrix: String,
}

/// One patch: an id (for `## patch:` lines), its commit message file, and
/// the repository paths it carries (a path ending in `/` is a directory).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    pub id: String,
    pub message: String,
    pub paths: Vec<String>,
}

impl Series {
    pub fn load(repo: &Path) -> Result<Self> {
        let dir = repo.join(SERIES_DIR);
        let path = dir.join("series.toml");
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut s: Series =
            toml::from_str(&text).with_context(|| format!("{} is malformed", path.display()))?;
        s.dir = dir;
        s.validate()
            .with_context(|| format!("{} is inconsistent", path.display()))?;
        Ok(s)
    }

    fn validate(&self) -> Result<()> {
        if self.patches.is_empty() {
            bail!("no [[patch]] entries");
        }
        for (i, p) in self.patches.iter().enumerate() {
            if self.patches[..i].iter().any(|q| q.id == p.id) {
                bail!("patch id '{}' is used twice", p.id);
            }
        }
        if !self.identity.email.contains('@') || self.identity.name.trim().is_empty() {
            bail!("[identity] needs a name and an email address");
        }
        Ok(())
    }

    /// The index of the patch that carries the repository file `path`.
    pub fn owner(&self, path: &str) -> Option<usize> {
        if self.unsent.iter().any(|u| u == path) {
            return None;
        }
        self.patches.iter().position(|p| {
            p.paths
                .iter()
                .any(|q| q == path || (q.ends_with('/') && path.starts_with(q.as_str())))
        })
    }

    /// The index of the patch a fragment hunk belongs to: its `## patch:`
    /// line, else the patch that lists the fragment file.
    pub fn hunk_owner(&self, fragment: &str, hunk: &Hunk) -> Result<usize> {
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
                .filter(|p| {
                    p.paths
                        .iter()
                        .any(|q| q == f || (q.ends_with('/') && f.starts_with(q.as_str())))
                })
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

    /// The commit message of patch `i`: its file, then the Signed-off-by.
    pub fn message(&self, i: usize) -> Result<String> {
        let path = self.dir.join(&self.patches[i].message);
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let text = text.trim_end();
        let Some((subject, _)) = text.split_once("\n\n") else {
            bail!(
                "{}: a subject line, a blank line, then the body",
                path.display()
            );
        };
        if subject.contains('\n') || subject.len() > 75 {
            bail!(
                "{}: the subject must be one line of at most 75 characters",
                path.display()
            );
        }
        Ok(format!("{text}\n\nSigned-off-by: {}\n", self.identity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overlay::{overlay_files, Fragment};

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn repo_series_is_complete() {
        let s = Series::load(&repo()).unwrap();
        let files = overlay_files(&repo()).unwrap();
        s.check_covers(&files).unwrap();
        for f in files.iter().filter(|f| f.ends_with(".fragment")) {
            let frag = Fragment::parse(f, &fs::read_to_string(repo().join(f)).unwrap()).unwrap();
            for h in &frag.hunks {
                s.hunk_owner(f, h).unwrap();
            }
        }
        for i in 0..s.patches.len() {
            let m = s.message(i).unwrap();
            assert!(m.ends_with(&format!("Signed-off-by: {}\n", s.identity)));
            // Commit messages wrap at 75 columns, as checkpatch wants.
            assert!(m.lines().all(|l| l.len() <= 75), "{}", s.patches[i].message);
        }
    }

    #[test]
    fn owners() {
        let s: Series = toml::from_str(
            r#"
            [identity]
            name = "A"
            email = "a@b"
            [series]
            version = 1
            subject_prefix = "PATCH"
            date = "2026-01-01T00:00:00+00:00"
            cover_letter = "c"
            test_matrix = "m"
            [[patch]]
            id = "one"
            message = "1"
            paths = ["a/x.rs", "d/"]
            [[patch]]
            id = "two"
            message = "2"
            paths = ["b/y.rs"]
            "#,
        )
        .unwrap();
        assert_eq!(s.owner("a/x.rs"), Some(0));
        assert_eq!(s.owner("d/e/f.sh"), Some(0));
        assert_eq!(s.owner("b/y.rs"), Some(1));
        assert_eq!(s.owner("c"), None);
        assert!(s.check_covers(&["a/x.rs".into(), "z".into()]).is_err());
        assert!(s
            .check_covers(&["a/x.rs".into(), "k.fragment".into()])
            .is_ok());
        let tagged = Fragment::parse("k.fragment", "## target: K\n## patch: two\nX\n").unwrap();
        assert_eq!(s.hunk_owner("k.fragment", &tagged.hunks[0]).unwrap(), 1);
        let untagged = Fragment::parse("k.fragment", "## target: K\nX\n").unwrap();
        assert!(s.hunk_owner("k.fragment", &untagged.hunks[0]).is_err());
        let wrong = Fragment::parse("k.fragment", "## target: K\n## patch: six\nX\n").unwrap();
        assert!(s.hunk_owner("k.fragment", &wrong.hunks[0]).is_err());
        let replace = Fragment::parse(
            "k.fragment",
            "## target: K\n## patch: two\n## replace:\nA\n## with:\nB\n",
        )
        .unwrap();
        assert_eq!(s.hunk_owner("k.fragment", &replace.hunks[0]).unwrap(), 1);
    }
}
