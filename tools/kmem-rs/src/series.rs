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
use std::fmt;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::overlay::{Hunk, Owners};

/// The series definition, relative to the repository root.
pub const SERIES_DIR: &str = "tools/kmem-rs/series";

/// Trailers a commit message file may end with, in the order they must
/// appear; the tool adds the Signed-off-by after them.
pub const TRAILERS: &[&str] = &[
    "Fixes",
    "Reported-by",
    "Closes",
    "Link",
    "Suggested-by",
    "Cc",
];

#[derive(Debug, Deserialize)]
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
    /// The series, in the order they are stacked on the base.
    #[serde(rename = "series")]
    pub postings: Vec<Posting>,
    /// Every patch of every series, in stacked order.
    #[serde(rename = "patch")]
    pub patches: Vec<Patch>,
    #[serde(skip)]
    pub dir: PathBuf,
}

/// Who signs the series.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
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
    /// Parses `Name <address>`.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let (name, rest) = text
            .split_once('<')
            .with_context(|| format!("'{text}' is not of the form 'Name <address>'"))?;
        let email = rest
            .strip_suffix('>')
            .with_context(|| format!("'{text}' is not of the form 'Name <address>'"))?;
        let id = Identity {
            name: name.trim().to_string(),
            email: email.trim().to_string(),
        };
        id.validate()?;
        Ok(id)
    }

    fn validate(&self) -> Result<()> {
        let ok = self.email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
        if !ok || self.name.trim().is_empty() || self.email.contains(char::is_whitespace) {
            bail!("an identity needs a name and an email address, not '{self}'");
        }
        Ok(())
    }

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
#[derive(Debug, Deserialize)]
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
/// directory).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    pub id: String,
    pub series: String,
    pub message: String,
    pub paths: Vec<String>,
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

    /// The commit message of patch `i`: its file (subject, body, and any
    /// trailers of [`TRAILERS`] as its last paragraph), then the
    /// Signed-off-by, in the trailer block.
    pub fn message(&self, i: usize) -> Result<String> {
        let path = self.dir.join(&self.patches[i].message);
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

/// `Tag: value` if `line` is a trailer line of any tag.
fn trailer_tag(line: &str) -> Option<&str> {
    let (tag, value) = line.split_once(": ")?;
    let is_tag = !tag.is_empty() && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    (is_tag && !value.trim().is_empty()).then_some(tag)
}

/// A commit message from its file's text: a subject line, a blank line, the
/// body and optionally a last paragraph of trailers, then
/// `Signed-off-by: identity` appended to that trailer block.
pub fn compose_message(text: &str, identity: &Identity) -> Result<String> {
    let text = text.trim_end();
    let Some((subject, body)) = text.split_once("\n\n") else {
        bail!("a subject line, a blank line, then the body");
    };
    if subject.contains('\n') || subject.len() > 75 {
        bail!("the subject must be one line of at most 75 characters");
    }
    let last = body.rsplit("\n\n").next().unwrap_or_default();
    let trailers = last.lines().all(|l| trailer_tag(l).is_some());
    if trailers {
        let mut rank = 0;
        for l in last.lines() {
            let tag = trailer_tag(l).unwrap_or_default();
            if tag.eq_ignore_ascii_case("Signed-off-by") {
                bail!("no Signed-off-by: the tool adds it, with the series identity");
            }
            let Some(r) = TRAILERS.iter().position(|t| *t == tag) else {
                bail!(
                    "trailer '{tag}:' is not one of {} (in that order)",
                    TRAILERS.join(", ")
                );
            };
            if r < rank {
                bail!(
                    "trailer '{tag}:' is out of order: {} go in that order",
                    TRAILERS.join(", ")
                );
            }
            rank = r;
        }
        if last == body {
            bail!("a body before the trailers: why, then what");
        }
    } else if body.lines().any(|l| l.starts_with("Signed-off-by:")) {
        bail!("no Signed-off-by: the tool adds it, with the series identity");
    }
    let sep = if trailers { "\n" } else { "\n\n" };
    Ok(format!("{text}{sep}Signed-off-by: {identity}\n"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::overlay::{apply_fragments, base_file_in, overlay_files, Fragment};
    use crate::run::command;
    use crate::setup::BASE_TAG;
    use std::collections::BTreeMap;

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
            // Commit messages wrap at 75 columns, as checkpatch wants;
            // Fixes: and Link: tags are never wrapped.
            assert!(
                m.lines()
                    .all(|l| l.len() <= 75 || l.starts_with("Fixes: ") || l.starts_with("Link: ")),
                "{}",
                s.patches[i].message
            );
        }
        for i in 0..s.postings.len() {
            s.posting_subject(i).unwrap();
            if let Some(c) = &s.postings[i].cover_letter {
                let text = fs::read_to_string(s.dir.join(c)).unwrap();
                assert!(
                    text.contains("\n\n"),
                    "{c}: a subject, a blank line, the body"
                );
            }
        }
    }

    /// The shape of the repository's series: one per tree, in the order
    /// they stack, the Rust series last and on top of all the fixes.
    #[test]
    fn repo_series_shape() {
        let s = Series::load(&repo()).unwrap();
        let ids: Vec<&str> = s.postings.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["dax", "mm", "x86", "rust"]);
        let rust = s.posting("rust").unwrap();
        assert_eq!(s.postings[rust].based_on, ["dax", "mm", "x86"]);
        assert_eq!(s.postings[rust].version, 3);
        // The Rust series' patches that others build on come first.
        let order: Vec<&str> = s
            .patch_range(rust)
            .map(|i| s.patches[i].id.as_str())
            .collect();
        let at = |id: &str| order.iter().position(|p| *p == id).unwrap();
        assert!(at("str_sysfs_streq") < at("dax") && at("attributes") < at("dax"));
        assert!(at("numa_node_id") < at("memory_hotplug"));
        assert!(at("region_system_ram") < at("memory_hotplug"));
        assert!(at("memory_hotplug") < at("driver") && at("dax") < at("driver"));
    }

    pub(crate) const TWO: &str = r#"
        date = "2026-01-01T00:00:00+00:00"
        test_matrix = "m"
        [identity]
        name = "A"
        email = "a@b"
        [[series]]
        id = "fix"
        [[series]]
        id = "feat"
        version = 3
        cover_letter = "c"
        based_on = ["fix"]
        [[patch]]
        id = "one"
        series = "fix"
        message = "1"
        paths = ["a/x.rs", "d/"]
        [[patch]]
        id = "two"
        series = "feat"
        message = "2"
        paths = ["b/y.rs"]
        [[patch]]
        id = "three"
        series = "feat"
        message = "3"
        paths = ["b/z.rs"]
    "#;

    fn two() -> Series {
        Series::parse(TWO).unwrap()
    }

    /// Three series: `fix` and `other` apply to the base, `feat` on top of
    /// `fix` only.
    pub(crate) fn three() -> Series {
        Series::parse(
            r#"
            date = "2026-01-01T00:00:00+00:00"
            test_matrix = "m"
            [identity]
            name = "A"
            email = "a@b"
            [[series]]
            id = "fix"
            [[series]]
            id = "other"
            [[series]]
            id = "feat"
            cover_letter = "c"
            based_on = ["fix"]
            [[patch]]
            id = "f1"
            series = "fix"
            message = "1"
            paths = []
            [[patch]]
            id = "o1"
            series = "other"
            message = "2"
            paths = []
            [[patch]]
            id = "a1"
            series = "feat"
            message = "3"
            paths = []
            [[patch]]
            id = "a2"
            series = "feat"
            message = "4"
            paths = []
            "#,
        )
        .unwrap()
    }

    #[test]
    fn owners() {
        let s = two();
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

    #[test]
    fn postings_stack_in_order() {
        let s = two();
        assert_eq!(s.patch_range(0), 0..1);
        assert_eq!(s.patch_range(1), 1..3);
        assert_eq!((s.posting_of(0), s.posting_of(2)), (0, 1));
        assert_eq!(s.postings[0].subject_prefix, "PATCH");
        assert_eq!(s.postings[0].version, 1);
        assert_eq!(s.subject_tag(0, None), "[PATCH]");
        assert_eq!(s.subject_tag(1, Some((0, 2))), "[PATCH v3 0/2]");
    }

    /// Each broken variant of [`TWO`] is refused, with the reason.
    #[test]
    fn inconsistent_series_are_refused() {
        for (from, to, why) in [
            // A patch in a series that does not exist.
            (
                "series = \"feat\"\n        message = \"3\"",
                "series = \"nope\"\n        message = \"3\"",
                "not listed",
            ),
            // Patch ids are unique across all series.
            ("id = \"three\"", "id = \"one\"", "used twice"),
            // Series ids too.
            ("id = \"feat\"", "id = \"fix\"", "used twice"),
            // A series with several patches has a cover letter.
            ("cover_letter = \"c\"\n", "", "no cover_letter"),
            // Based on a later (or unknown) series.
            (
                "based_on = [\"fix\"]",
                "based_on = [\"feat\"]",
                "not a series listed before",
            ),
            // Versions start at 1.
            ("version = 3", "version = 0", "start at 1"),
        ] {
            let text = TWO.replacen(from, to, 1);
            assert_ne!(text, TWO, "{from}");
            let err = format!("{:#}", Series::parse(&text).unwrap_err());
            assert!(err.contains(why), "{from} -> {to}: {err}");
        }
        // Patches listed series by series: a fix patch after a feat patch.
        let mixed = format!(
            "{TWO}\n        [[patch]]\n        id = \"four\"\n        series = \"fix\"\n        message = \"4\"\n        paths = []\n"
        );
        let err = format!("{:#}", Series::parse(&mixed).unwrap_err());
        assert!(err.contains("series by series"), "{err}");
        // A series without patches.
        let empty = TWO.replacen(
            "[[patch]]",
            "[[series]]\n        id = \"idle\"\n        [[patch]]",
            1,
        );
        let err = format!("{:#}", Series::parse(&empty).unwrap_err());
        assert!(err.contains("no patch"), "{err}");
    }

    #[test]
    fn trailers_go_before_the_sign_off() {
        let me = Identity::parse("A B <a@b.org>").unwrap();
        let plain = compose_message("s: subject\n\nWhy.\n\nWhat.\n", &me).unwrap();
        assert_eq!(
            plain,
            "s: subject\n\nWhy.\n\nWhat.\n\nSigned-off-by: A B <a@b.org>\n"
        );
        let fixed = compose_message(
            "s: subject\n\nWhy.\n\nFixes: 0123456789ab (\"s: old\")\nCc: stable@vger.kernel.org\n",
            &me,
        )
        .unwrap();
        assert!(fixed.ends_with(
            "Why.\n\nFixes: 0123456789ab (\"s: old\")\nCc: stable@vger.kernel.org\nSigned-off-by: A B <a@b.org>\n"
        ));
        for (bad, why) in [
            (
                "s\n\nWhy.\n\nCc: x@y\nFixes: 0123456789ab (\"o\")\n",
                "out of order",
            ),
            ("s\n\nWhy.\n\nAcked-by: X <x@y>\n", "not one of"),
            ("s\n\nWhy.\n\nSigned-off-by: X <x@y>\n", "tool adds it"),
            ("s\n\nFixes: 0123456789ab (\"o\")\n", "a body before"),
            ("s\nmore\n\nWhy.\n", "one line"),
            ("s only\n", "a subject line"),
        ] {
            let err = compose_message(bad, &me).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn identities() {
        let placeholder =
            Identity::parse("Kmem-rs Developers <kmem-rs@lists.example.org>").unwrap();
        assert_eq!(placeholder.name, "Kmem-rs Developers");
        assert_eq!(placeholder.email, "kmem-rs@lists.example.org");
        assert!(placeholder.not_a_sender(&placeholder).is_some());
        let real = Identity::parse("Jane Doe <jane@kernel.org>").unwrap();
        assert_eq!(real.not_a_sender(&placeholder), None);
        let example = Identity::parse("Jane Doe <jane@mail.example.com>").unwrap();
        assert!(example
            .not_a_sender(&placeholder)
            .unwrap()
            .contains("example address"));
        for bad in [
            "Jane",
            "Jane <>",
            "<jane@kernel.org>",
            "Jane <jane>",
            "Jane <a b@c>",
        ] {
            assert!(Identity::parse(bad).is_err(), "{bad}");
        }
    }

    /// Every repository fragment applies to its target in the base tree, for
    /// every prefix of the series (as `patches` builds each commit), when the
    /// imported tree exists; skipped (with a note) when it does not. With
    /// `KMEM_RS_FRAGMENT_OUT=DIR`, each target's base and result are written
    /// to `DIR/a/TARGET` and `DIR/b/TARGET`, for `git diff --no-index DIR/a DIR/b`.
    #[test]
    fn repo_fragments_apply_to_base() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let cache = std::env::var_os("KMEM_RS_CACHE")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_CACHE_HOME")
                    .filter(|x| !x.is_empty())
                    .map(|x| Path::new(&x).join("kmem-rs"))
            })
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/kmem-rs")));
        let Some(src) = cache.map(|c| c.join("src/linux")) else {
            eprintln!("no cache directory: fragments not applied");
            return;
        };
        let tagged = command("git")
            .arg("-C")
            .arg(&src)
            .args([
                "rev-parse",
                "-q",
                "--verify",
                &format!("{BASE_TAG}^{{commit}}"),
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        if !tagged {
            eprintln!("no {BASE_TAG} in {}: fragments not applied", src.display());
            return;
        }
        let series = Series::load(&root).unwrap();
        let mut by_target: BTreeMap<String, Vec<(String, Fragment)>> = BTreeMap::new();
        for name in overlay_files(&root)
            .unwrap()
            .into_iter()
            .filter(|p| p.ends_with(".fragment"))
        {
            let f = Fragment::parse(&name, &fs::read_to_string(root.join(&name)).unwrap()).unwrap();
            by_target
                .entry(f.target.clone())
                .or_default()
                .push((name, f));
        }
        assert!(!by_target.is_empty());
        for (target, frags) in &by_target {
            let base = base_file_in(&src, target)
                .unwrap()
                .unwrap_or_else(|| panic!("{target} is not in {BASE_TAG}"));
            for upto in 0..=series.patches.len() {
                apply_fragments(&series, upto, &base, frags)
                    .unwrap_or_else(|e| panic!("{target} after {upto} patch(es): {e:#}"));
            }
            let full = apply_fragments(&series, series.patches.len(), &base, frags).unwrap();
            if let Some(out) = std::env::var_os("KMEM_RS_FRAGMENT_OUT") {
                for (side, text) in [("a", &base), ("b", &full)] {
                    let dest = Path::new(&out).join(side).join(target);
                    fs::create_dir_all(dest.parent().unwrap()).unwrap();
                    fs::write(dest, text).unwrap();
                }
            }
            assert_ne!(full, base, "{target}: its fragments change nothing");
        }
    }
}
