// SPDX-License-Identifier: GPL-2.0-only
//! Who gets each series: scripts/get_maintainer.pl over its patches, the
//! people (maintainers, reviewers) as To: and the mailing lists as Cc:, the
//! split `b4 prep --auto-to-cc` makes, and the generated `recipients.txt`
//! that lists them, union and per patch.

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

impl Recipients {
    /// Parses get_maintainer.pl output with roles, leaving out the
    /// addresses in `exclude` (the series' own identities).
    pub fn parse(text: &str, exclude: &[&str]) -> Self {
        let mut r = Recipients::default();
        r.add(text, exclude);
        r
    }

    /// Adds the recipients of get_maintainer.pl output `text`.
    fn add(&mut self, text: &str, exclude: &[&str]) {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (who, role) = match line.find(" (") {
                Some(at) if line.ends_with(')') => (&line[..at], &line[at + 2..line.len() - 1]),
                _ => (line, ""),
            };
            if exclude.iter().any(|me| who.contains(me)) {
                continue;
            }
            let person = !role.contains("list");
            if self.to.iter().any(|x| x == who) || self.cc.iter().any(|x| x == who) {
                continue;
            }
            if person {
                self.to.push(who.to_string());
            } else {
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
        let mut c = command("perl");
        c.current_dir(ctx.src())
            .args([
                "scripts/get_maintainer.pl",
                "--no-git",
                "--no-git-fallback",
                "--rolestats",
            ])
            .arg(p);
        let text = output(&mut c, "scripts/get_maintainer.pl")?;
        all.add(&text, exclude);
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        each.push((name, Recipients::parse(&text, exclude)));
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
        let r = Recipients::parse(text, &["kmem-rs@lists.example.org", "jane@kernel.org"]);
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
        let mut r = Recipients::parse(
            "Danilo Krummrich <dakr@kernel.org> (reviewer:RUST)\nrust-for-linux@vger.kernel.org (open list:RUST)\n",
            &[],
        );
        r.add(
            "Danilo Krummrich <dakr@kernel.org> (maintainer:DRIVER CORE, KOBJECTS, DEBUGFS AND SYSFS)\nrust-for-linux@vger.kernel.org (open list:RUST)\n",
            &[],
        );
        assert_eq!(r.to, vec!["Danilo Krummrich <dakr@kernel.org>"]);
        assert_eq!(r.cc, vec!["rust-for-linux@vger.kernel.org"]);
    }
}
