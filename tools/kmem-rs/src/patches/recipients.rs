// SPDX-License-Identifier: GPL-2.0-only
//! Who gets each series: scripts/get_maintainer.pl over its patches, the
//! people (maintainers, reviewers) of the files a patch touches as To: and
//! the mailing lists as Cc:, the split `b4 prep --auto-to-cc` makes, and the
//! generated `recipients.txt` that lists them, union and per patch.
//!
//! People get_maintainer.pl names only through a `K:` keyword of an entry
//! (RUST's `\b(?i:rust)\b` matches any patch whose text says "Rust") are
//! Cc:, not To:: the patch does not touch their files, it mentions them.

use anyhow::Result;
use std::path::PathBuf;

use super::git::output;
use crate::ctx::Ctx;
use crate::run::command;

/// To: the people get_maintainer.pl names (maintainers, reviewers), Cc: the
/// lists, as b4 splits them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recipients {
    pub to: Vec<String>,
    pub cc: Vec<String>,
}

/// One line of get_maintainer.pl output with roles: who, and the roles.
fn split(line: &str) -> (&str, &str) {
    match line.find(" (") {
        Some(at) if line.ends_with(')') => (&line[..at], &line[at + 2..line.len() - 1]),
        _ => (line, ""),
    }
}

impl Recipients {
    /// Parses get_maintainer.pl output with roles (`text`), leaving out the
    /// addresses in `exclude` (the series' own identities). `by_file` is
    /// the output of the same run with `--no-keywords`: a person `text`
    /// names and `by_file` does not is Cc:.
    pub fn parse(text: &str, by_file: &str, exclude: &[&str]) -> Self {
        let mut r = Recipients::default();
        r.add(text, by_file, exclude);
        r
    }

    /// Adds the recipients of get_maintainer.pl output `text` (`by_file`:
    /// see [`Recipients::parse`]). To: wins over Cc: across patches.
    fn add(&mut self, text: &str, by_file: &str, exclude: &[&str]) {
        let lines = |t: &'_ str| -> Vec<String> {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        };
        let files: Vec<String> = lines(by_file)
            .iter()
            .map(|l| split(l).0.to_string())
            .collect();
        for line in lines(text) {
            let (who, role) = split(&line);
            if exclude.iter().any(|me| who.contains(me)) || self.to.iter().any(|x| x == who) {
                continue;
            }
            let to = !role.contains("list") && files.iter().any(|f| f == who);
            if to {
                self.cc.retain(|x| x != who);
                self.to.push(who.to_string());
            } else if !self.cc.iter().any(|x| x == who) {
                self.cc.push(who.to_string());
            }
        }
    }

    pub fn text(&self, id: &str, per_patch: &[(String, Recipients)]) -> String {
        let mut s = format!(
            "# Recipients of the {id} series: everyone scripts/get_maintainer.pl\n\
             # names for any of its patches (generated). The cover letter and\n\
             # every patch carry them as To:/Cc: headers.\n"
        );
        for t in &self.to {
            s.push_str(&format!("To: {t}\n"));
        }
        for c in &self.cc {
            s.push_str(&format!("Cc: {c}\n"));
        }
        s.push_str("\n# Per patch, as get_maintainer.pl names them:\n");
        for (patch, r) in per_patch {
            s.push_str(&format!("\n# {patch}\n"));
            for t in &r.to {
                s.push_str(&format!("#   To: {t}\n"));
            }
            for c in &r.cc {
                s.push_str(&format!("#   Cc: {c}\n"));
            }
        }
        s
    }
}

/// get_maintainer.pl over each of `patches`, run in the tree with the
/// overlay (and so the series' MAINTAINERS entries) applied: the union in
/// patch order, and each patch's own.
pub fn recipients(
    ctx: &Ctx,
    exclude: &[&str],
    patches: &[PathBuf],
) -> Result<(Recipients, Vec<(String, Recipients)>)> {
    let mut all = Recipients::default();
    let mut each = Vec::new();
    for p in patches {
        let run = |extra: &[&str]| {
            let mut c = command("perl");
            c.current_dir(ctx.src())
                .args([
                    "scripts/get_maintainer.pl",
                    "--no-git",
                    "--no-git-fallback",
                    "--rolestats",
                ])
                .args(extra)
                .arg(p);
            output(&mut c, "scripts/get_maintainer.pl")
        };
        let text = run(&[])?;
        let by_file = run(&["--no-keywords"])?;
        all.add(&text, &by_file, exclude);
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        each.push((name, Recipients::parse(&text, &by_file, exclude)));
    }
    Ok((all, each))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_by_role() {
        let text = "Dan Williams <djbw@kernel.org> (maintainer:DEVICE DIRECT ACCESS (DAX))\n\
                    Miguel Ojeda <ojeda@kernel.org> (maintainer:RUST)\n\
                    Boqun Feng <boqun@kernel.org> (reviewer:RUST)\n\
                    Kmem-rs Developers <kmem-rs@lists.example.org> (maintainer:DEVICE DIRECT ACCESS (DAX) KMEM [RUST])\n\
                    nvdimm@lists.linux.dev (open list:DEVICE DIRECT ACCESS (DAX))\n\
                    linux-kernel@vger.kernel.org (open list)\n\
                    nvdimm@lists.linux.dev (open list:DEVICE DIRECT ACCESS (DAX) KMEM [RUST])\n";
        let r = Recipients::parse(
            text,
            text,
            &["kmem-rs@lists.example.org", "jane@kernel.org"],
        );
        assert_eq!(
            r.to,
            vec![
                "Dan Williams <djbw@kernel.org>",
                "Miguel Ojeda <ojeda@kernel.org>",
                "Boqun Feng <boqun@kernel.org>"
            ]
        );
        assert_eq!(
            r.cc,
            vec!["nvdimm@lists.linux.dev", "linux-kernel@vger.kernel.org"]
        );
    }

    /// Over several patches: a reviewer of one patch who maintains another
    /// is named once, in To:.
    #[test]
    fn recipients_union() {
        let a = "Danilo Krummrich <dakr@kernel.org> (reviewer:RUST)\nrust-for-linux@vger.kernel.org (open list:RUST)\n";
        let mut r = Recipients::parse(a, a, &[]);
        let b = "Danilo Krummrich <dakr@kernel.org> (maintainer:DRIVER CORE, KOBJECTS, DEBUGFS AND SYSFS)\nrust-for-linux@vger.kernel.org (open list:RUST)\n";
        r.add(b, b, &[]);
        assert_eq!(r.to, vec!["Danilo Krummrich <dakr@kernel.org>"]);
        assert_eq!(r.cc, vec!["rust-for-linux@vger.kernel.org"]);
    }

    /// Named only through a keyword (not by --no-keywords): Cc:, until a
    /// patch touches their files.
    #[test]
    fn keyword_only_people_are_cc() {
        let mm = "Andrew Morton <akpm@linux-foundation.org> (maintainer:MEMORY MANAGEMENT)\n\
                  Miguel Ojeda <ojeda@kernel.org> (maintainer:RUST)\n\
                  linux-mm@kvack.org (open list:MEMORY MANAGEMENT)\n\
                  rust-for-linux@vger.kernel.org (open list:RUST)\n";
        let mm_files = "Andrew Morton <akpm@linux-foundation.org> (maintainer:MEMORY MANAGEMENT)\n\
                        linux-mm@kvack.org (open list:MEMORY MANAGEMENT)\n";
        let mut r = Recipients::parse(mm, mm_files, &[]);
        assert_eq!(r.to, vec!["Andrew Morton <akpm@linux-foundation.org>"]);
        assert_eq!(
            r.cc,
            vec![
                "Miguel Ojeda <ojeda@kernel.org>",
                "linux-mm@kvack.org",
                "rust-for-linux@vger.kernel.org"
            ]
        );
        let rust = "Miguel Ojeda <ojeda@kernel.org> (maintainer:RUST)\n";
        r.add(rust, rust, &[]);
        assert_eq!(
            r.to,
            vec![
                "Andrew Morton <akpm@linux-foundation.org>",
                "Miguel Ojeda <ojeda@kernel.org>"
            ]
        );
        assert!(!r.cc.iter().any(|c| c.contains("ojeda")));
    }
}
