// SPDX-License-Identifier: GPL-2.0-only
//! Fragments: an edit to a file the base tree already has is a `*.fragment`
//! file whose header names its target and where the body goes:
//!
//! ```text
//! ## Why this edit exists (any number of `## ` lines).
//! ## target: drivers/dax/Kconfig
//! ## insert-after: <one line of the target, matched exactly once>
//! <body>
//! ```
//!
//! `insert-before:` works the same way, and `## append` appends; an insert
//! whose body is empty (or only blank lines) leaves the target untouched.
//! A replacement changes lines in place:
//!
//! ```text
//! ## replace:
//! <old lines: one or more whole lines of the target, consecutive>
//! ## with:
//! <new lines: any number; none deletes the old ones>
//! ```
//!
//! The old lines must occur exactly once in the target, compared exactly
//! (whitespace included, only the newline ends a line); no match or several
//! fail, naming the fragment, the target, the first old line and the count.
//! Lines starting with `##` are headers, so neither block can hold one.
//! A fragment may hold several hunks, applied in order, each seeing the
//! result of the one before; other `## ` lines are comments.
//! A `## patch: ID` line before a hunk (before `## replace:` for a
//! replacement) puts that hunk in patch ID of the series
//! (`tools/kmem-rs/series/series.toml`); otherwise it goes with the patch that
//! lists the fragment. `@KMEM_RS_IDENTITY@` in a body is the series' identity.

use anyhow::{bail, Context, Result};

/// Where a hunk's body goes in its target.
#[derive(Debug, PartialEq, Eq)]
pub enum Place {
    Append,
    After(String),
    Before(String),
    /// These whole lines (each ending in a newline), found exactly once as
    /// consecutive lines of the target, are replaced by the body.
    Replace(String),
}

/// One edit of a fragment: an insertion, or a replacement of lines.
#[derive(Debug, PartialEq, Eq)]
pub struct Hunk {
    pub place: Place,
    pub body: String,
    /// The series patch this hunk belongs to (`## patch: ID`), if it says.
    pub patch: Option<String>,
}

/// A parsed `*.fragment` file: a target and one or more hunks.
#[derive(Debug, PartialEq, Eq)]
pub struct Fragment {
    pub target: String,
    pub hunks: Vec<Hunk>,
}

impl Fragment {
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let mut target = None;
        let mut hunks: Vec<Hunk> = Vec::new();
        let mut patch = None;
        // Inside a `## replace:` block, before its `## with:` line.
        let mut replacing = false;
        for (n, line) in text.split_inclusive('\n').enumerate() {
            let n = n + 1;
            let Some(header) = line.strip_prefix("##") else {
                match hunks.last_mut() {
                    Some(Hunk {
                        place: Place::Replace(old),
                        ..
                    }) if replacing => old.push_str(line),
                    Some(h) => h.body.push_str(line),
                    None => hunks.push(Hunk {
                        place: Place::Append,
                        body: line.to_string(),
                        patch: patch.take(),
                    }),
                }
                continue;
            };
            // Anchors keep their leading whitespace (Kconfig help text is
            // tab-indented): only the one space after the colon is syntax.
            let header = header.trim_end_matches('\n');
            let header = header.strip_prefix(' ').unwrap_or(header);
            let value = |v: &str| v.strip_prefix(' ').unwrap_or(v).to_string();
            let bare = |v: &str, what: &str| -> Result<()> {
                if !v.trim().is_empty() {
                    bail!("{name}:{n}: '## {what}:' takes no text on its line; the lines after it are the block");
                }
                Ok(())
            };
            let is_hunk = ["insert-after:", "insert-before:", "replace:", "with:"]
                .iter()
                .any(|h| header.starts_with(h))
                || header.trim() == "append";
            if replacing && is_hunk && !header.starts_with("with:") {
                bail!("{name}:{n}: a '## replace:' block must end with '## with:' before the next hunk");
            }
            let place = if let Some(t) = header.strip_prefix("target:") {
                target = Some(t.trim().to_string());
                continue;
            } else if let Some(p) = header.strip_prefix("patch:") {
                patch = Some(p.trim().to_string());
                continue;
            } else if let Some(w) = header.strip_prefix("with:") {
                bare(w, "with")?;
                if !replacing {
                    bail!("{name}:{n}: '## with:' without a '## replace:' before it");
                }
                if matches!(hunks.last(), Some(Hunk { place: Place::Replace(old), .. }) if old.is_empty())
                {
                    bail!("{name}:{n}: the '## replace:' block before this '## with:' is empty");
                }
                replacing = false;
                continue;
            } else if let Some(r) = header.strip_prefix("replace:") {
                bare(r, "replace")?;
                replacing = true;
                Place::Replace(String::new())
            } else if let Some(a) = header.strip_prefix("insert-after:") {
                Place::After(value(a))
            } else if let Some(b) = header.strip_prefix("insert-before:") {
                Place::Before(value(b))
            } else if header.trim() == "append" {
                Place::Append
            } else {
                continue; // a comment
            };
            hunks.push(Hunk {
                place,
                body: String::new(),
                patch: patch.take(),
            });
        }
        if replacing {
            bail!("{name}: the last '## replace:' block has no '## with:' line");
        }
        let target = target.with_context(|| format!("{name}: no '## target: PATH' header line"))?;
        Ok(Self { target, hunks })
    }

    /// Applies this fragment's hunks, in order, to `text` (the target's content).
    #[cfg(test)]
    pub fn apply(&self, name: &str, text: &str) -> Result<String> {
        self.apply_some(name, text, |_| true)
    }

    /// Applies the hunks for which `keep` is true, in order, to `text`.
    pub fn apply_some(
        &self,
        name: &str,
        text: &str,
        keep: impl Fn(&Hunk) -> bool,
    ) -> Result<String> {
        let mut out = text.to_string();
        for h in self.hunks.iter().filter(|h| keep(h)) {
            out = h.apply(name, &self.target, &out)?;
        }
        Ok(out)
    }
}

impl Hunk {
    fn apply(&self, name: &str, target: &str, text: &str) -> Result<String> {
        if let Place::Replace(old) = &self.place {
            return self.replace(name, target, text, old);
        }
        if self.body.trim().is_empty() {
            return Ok(text.to_string());
        }
        let mut body = self.body.clone();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        let anchor = match &self.place {
            Place::Append => {
                let mut out = text.to_string();
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&body);
                return Ok(out);
            }
            Place::After(a) | Place::Before(a) => a,
            Place::Replace(_) => unreachable!(),
        };
        let hits: Vec<usize> = line_starts(text)
            .filter(|&(_, l)| l.trim_end_matches('\n') == anchor)
            .map(|(i, _)| i)
            .collect();
        let [at] = hits[..] else {
            bail!(
                "{name}: anchor line {anchor:?} matches {} lines of {target}; it must match exactly one",
                hits.len()
            );
        };
        let pos = match self.place {
            Place::Before(_) => at,
            _ => text[at..].find('\n').map_or(text.len(), |n| at + n + 1),
        };
        Ok(format!("{}{body}{}", &text[..pos], &text[pos..]))
    }

    /// Replaces the one run of whole lines of `text` equal to `old` by the
    /// body (an empty body deletes them).
    fn replace(&self, name: &str, target: &str, text: &str, old: &str) -> Result<String> {
        // Only the newline ends a line: a '\r' or trailing blank is compared.
        let content = |l: &'_ str| -> String { l.strip_suffix('\n').unwrap_or(l).to_string() };
        let want: Vec<String> = old.split_inclusive('\n').map(content).collect();
        if want.is_empty() {
            bail!("{name}: a '## replace:' block for {target} is empty");
        }
        let lines: Vec<(usize, &str)> = line_starts(text).collect();
        let hits: Vec<usize> = (0..(lines.len() + 1).saturating_sub(want.len()))
            .filter(|&i| {
                want.iter()
                    .zip(&lines[i..])
                    .all(|(w, (_, l))| content(l) == *w)
            })
            .collect();
        let [first] = hits[..] else {
            bail!(
                "{name}: the '## replace:' block starting {:?} ({} line(s)) matches {} places in {target}; it must match exactly one",
                want[0],
                want.len(),
                hits.len()
            );
        };
        let (start, _) = lines[first];
        let (last_at, last) = lines[first + want.len() - 1];
        let end = last_at + last.len();
        let mut body = self.body.clone();
        if !body.is_empty() && !body.ends_with('\n') {
            body.push('\n');
        }
        // The block ended the file without a newline: so does its replacement.
        if !last.ends_with('\n') && body.ends_with('\n') {
            body.pop();
        }
        Ok(format!("{}{body}{}", &text[..start], &text[end..]))
    }
}

fn line_starts(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n').scan(0, |pos, l| {
        let start = *pos;
        *pos += l.len();
        Some((start, l))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KCONFIG: &str = "config A\n\tbool \"a\"\n\nconfig B\n\tbool \"b\"\n";

    #[test]
    fn parse_header_and_body() {
        let f = Fragment::parse(
            "K.fragment",
            "## Adds C.\n## target: drivers/dax/Kconfig\n## insert-after: \tbool \"a\"\nconfig C\n",
        )
        .unwrap();
        assert_eq!(f.target, "drivers/dax/Kconfig");
        assert_eq!(
            f.hunks,
            vec![Hunk {
                place: Place::After("\tbool \"a\"".into()),
                body: "config C\n".into(),
                patch: None,
            }]
        );
    }

    #[test]
    fn missing_target_is_an_error() {
        assert!(Fragment::parse("x.fragment", "## nothing\nbody\n").is_err());
    }

    #[test]
    fn insert_after_and_before() {
        let after = Fragment::parse(
            "f",
            "## target: K\n## insert-after: \tbool \"a\"\n\nconfig C\n",
        )
        .unwrap();
        assert_eq!(
            after.apply("f", KCONFIG).unwrap(),
            "config A\n\tbool \"a\"\n\nconfig C\n\nconfig B\n\tbool \"b\"\n"
        );
        let before = Fragment::parse(
            "f",
            "## target: K\n## insert-before: config B\nconfig C\n\n",
        )
        .unwrap();
        assert_eq!(
            before.apply("f", KCONFIG).unwrap(),
            "config A\n\tbool \"a\"\n\nconfig C\n\nconfig B\n\tbool \"b\"\n"
        );
    }

    #[test]
    fn append_and_empty_body() {
        let app = Fragment::parse("f", "## target: K\nX\n").unwrap();
        assert_eq!(app.apply("f", "a").unwrap(), "a\nX\n");
        let empty = Fragment::parse("f", "## target: K\n## only a header\n").unwrap();
        assert_eq!(empty.apply("f", KCONFIG).unwrap(), KCONFIG);
    }

    #[test]
    fn several_hunks_apply_in_order() {
        let f = Fragment::parse(
            "f",
            "## target: K\n## insert-after: config A\n\tdepends on X\n## comment\n## append\nconfig Z\n",
        )
        .unwrap();
        assert_eq!(f.hunks.len(), 2);
        assert_eq!(
            f.apply("f", KCONFIG).unwrap(),
            "config A\n\tdepends on X\n\tbool \"a\"\n\nconfig B\n\tbool \"b\"\nconfig Z\n"
        );
    }

    #[test]
    fn ambiguous_or_missing_anchor_fails() {
        let f = Fragment::parse("f", "## target: K\n## insert-before: \nX\n").unwrap();
        let err = f.apply("f", "a\n\nb\n\nc\n").unwrap_err().to_string();
        assert!(err.contains("matches 2 lines"), "{err}");
        let f = Fragment::parse("f", "## target: K\n## insert-after: nope\nX\n").unwrap();
        assert!(f
            .apply("f", KCONFIG)
            .unwrap_err()
            .to_string()
            .contains("matches 0 lines"));
    }

    const C: &str = "int f(void)\n{\n\tp = alloc();\n\tuse(p);\n\treturn 0;\n}\n";

    #[test]
    fn replace_once() {
        let f = Fragment::parse(
            "c.fragment",
            "## target: f.c\n## replace:\n\tp = alloc();\n\tuse(p);\n## with:\n\tp = alloc();\n\tif (!p)\n\t\treturn -ENOMEM;\n\tuse(p);\n",
        )
        .unwrap();
        assert_eq!(
            f.hunks,
            vec![Hunk {
                place: Place::Replace("\tp = alloc();\n\tuse(p);\n".into()),
                body: "\tp = alloc();\n\tif (!p)\n\t\treturn -ENOMEM;\n\tuse(p);\n".into(),
                patch: None,
            }]
        );
        assert_eq!(
            f.apply("c.fragment", C).unwrap(),
            "int f(void)\n{\n\tp = alloc();\n\tif (!p)\n\t\treturn -ENOMEM;\n\tuse(p);\n\treturn 0;\n}\n"
        );
        // The last line of a file without a newline: it stays without one.
        let f = Fragment::parse(
            "c.fragment",
            "## target: f.c\n## replace:\n}\n## with:\n};\n",
        )
        .unwrap();
        assert_eq!(f.apply("c.fragment", "{\n}").unwrap(), "{\n};");
    }

    #[test]
    fn replace_to_nothing_deletes() {
        let f = Fragment::parse(
            "c.fragment",
            "## target: f.c\n## replace:\n\tuse(p);\n## with:\n## (deleted)\n",
        )
        .unwrap();
        assert_eq!(f.hunks[0].body, "");
        assert_eq!(
            f.apply("c.fragment", C).unwrap(),
            "int f(void)\n{\n\tp = alloc();\n\treturn 0;\n}\n"
        );
        // Whitespace-only lines in the body are kept, not taken as "empty".
        let f = Fragment::parse(
            "c.fragment",
            "## target: f.c\n## replace:\n\tuse(p);\n## with:\n\n",
        )
        .unwrap();
        assert_eq!(
            f.apply("c.fragment", C).unwrap(),
            "int f(void)\n{\n\tp = alloc();\n\n\treturn 0;\n}\n"
        );
    }

    #[test]
    fn replace_without_a_match_fails() {
        // Whitespace counts: a space for the tab does not match.
        let f = Fragment::parse(
            "c.fragment",
            "## target: f.c\n## replace:\n    use(p);\n## with:\nX\n",
        )
        .unwrap();
        let err = f.apply("c.fragment", C).unwrap_err().to_string();
        assert!(err.contains("c.fragment"), "{err}");
        assert!(err.contains("f.c"), "{err}");
        assert!(err.contains("\"    use(p);\""), "{err}");
        assert!(err.contains("matches 0 places"), "{err}");
        // Consecutive lines only: both lines exist, not next to each other.
        let f = Fragment::parse(
            "c.fragment",
            "## target: f.c\n## replace:\n{\n\tuse(p);\n## with:\nX\n",
        )
        .unwrap();
        let err = f.apply("c.fragment", C).unwrap_err().to_string();
        assert!(err.contains("matches 0 places"), "{err}");
        // Whole lines only: a part of a line does not match.
        let f = Fragment::parse(
            "c.fragment",
            "## target: f.c\n## replace:\nuse(p);\n## with:\nX\n",
        )
        .unwrap();
        assert!(f.apply("c.fragment", C).is_err());
    }

    #[test]
    fn replace_with_two_matches_fails() {
        let text = "a\n\tb;\nc\n\tb;\nc\n";
        let f = Fragment::parse(
            "c.fragment",
            "## target: f.c\n## replace:\n\tb;\nc\n## with:\nX\n",
        )
        .unwrap();
        let err = f.apply("c.fragment", text).unwrap_err().to_string();
        assert!(
            err.contains("\"\\tb;\" (2 line(s)) matches 2 places in f.c"),
            "{err}"
        );
    }

    #[test]
    fn replace_then_insert() {
        let f = Fragment::parse(
            "c.fragment",
            "## target: f.c\n## replace:\n\tp = alloc();\n## with:\n\tp = alloc_or_note();\n## insert-before: int f(void)\nstatic bool failed;\n\n",
        )
        .unwrap();
        assert_eq!(f.hunks.len(), 2);
        assert_eq!(
            f.apply("c.fragment", C).unwrap(),
            "static bool failed;\n\nint f(void)\n{\n\tp = alloc_or_note();\n\tuse(p);\n\treturn 0;\n}\n"
        );
    }

    #[test]
    fn replace_takes_its_patch_id() {
        let f = Fragment::parse(
            "c.fragment",
            "## target: f.c\n## patch: fix\n## replace:\n\tuse(p);\n## with:\n\tuse(q);\n## replace:\n\treturn 0;\n## with:\n## insert-after: {\n\tint q;\n",
        )
        .unwrap();
        let patches: Vec<_> = f.hunks.iter().map(|h| h.patch.as_deref()).collect();
        assert_eq!(patches, [Some("fix"), None, None]);
        let only_fix = f
            .apply_some("c.fragment", C, |h| h.patch.is_some())
            .unwrap();
        assert_eq!(
            only_fix,
            "int f(void)\n{\n\tp = alloc();\n\tuse(q);\n\treturn 0;\n}\n"
        );
    }

    #[test]
    fn malformed_replace_fails_to_parse() {
        for (text, what) in [
            ("## target: f.c\n## replace:\nX\n", "no '## with:'"),
            ("## target: f.c\n## with:\nX\n", "without a '## replace:'"),
            ("## target: f.c\n## replace:\n## with:\nX\n", "is empty"),
            (
                "## target: f.c\n## replace:\nX\n## append\nY\n",
                "must end with '## with:'",
            ),
            (
                "## target: f.c\n## replace: X\n## with:\nY\n",
                "takes no text",
            ),
        ] {
            let err = Fragment::parse("c.fragment", text).unwrap_err().to_string();
            assert!(err.contains(what), "{text:?}: {err}");
        }
    }
}
