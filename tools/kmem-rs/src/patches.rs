// SPDX-License-Identifier: GPL-2.0-only
//! `patches`: the series in `patches/`, generated from the sources.
//!
//! Each patch of `tools/kmem-rs/series/series.toml` becomes a commit on the
//! base commit of the imported tree, built with git plumbing in a private
//! index (the source tree's checkout is not touched), with the series'
//! identity and date, so that unchanged sources give byte-identical patches.
//! Recipients come from `scripts/get_maintainer.pl`.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::ctx::Ctx;
use crate::overlay;
use crate::run::command;
use crate::series::Series;
use crate::setup::BASE_TAG;

/// Where the series lives in the repository.
pub const PATCHES_DIR: &str = "patches";
/// The generated recipients file in [`PATCHES_DIR`].
pub const RECIPIENTS: &str = "recipients.txt";
/// The ref that holds the series' last commit in the imported tree.
pub const SERIES_REF: &str = "refs/kmem-rs/series";
/// Where `cargo kmem test` leaves the matrix of its last full run.
pub const LAST_MATRIX: &str = "last-test-matrix.txt";

/// The series as commits in the imported tree.
pub struct Commits {
    pub base: String,
    /// (commit, subject), in order.
    pub commits: Vec<(String, String)>,
}

/// git in the imported tree, blind to the user's and the system's git
/// configuration (a diff.algorithm there would change the patches).
fn git(ctx: &Ctx) -> Command {
    let mut c = command("git");
    c.arg("-C")
        .arg(ctx.src())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GIT_INDEX_FILE");
    c
}

fn output(cmd: &mut Command, what: &str) -> Result<String> {
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

fn hash_object(ctx: &Ctx, content: &[u8]) -> Result<String> {
    let mut child = git(ctx)
        .args(["hash-object", "-w", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("no stdin for git hash-object")?
        .write_all(content)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "git hash-object failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Builds the series' commits on the base commit; points [`SERIES_REF`] at
/// the last one.
pub fn commit(ctx: &Ctx, series: &Series) -> Result<Commits> {
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
    let date = &series.series.date;
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
        git(ctx).args(["update-ref", SERIES_REF, &parent]),
        "git update-ref",
    )?;
    Ok(Commits { base, commits })
}

/// `git format-patch` of `commits` into `out` (emptied first).
fn format_patch(
    ctx: &Ctx,
    series: &Series,
    commits: &Commits,
    out: &Path,
    recipients: &Recipients,
) -> Result<Vec<PathBuf>> {
    let _ = fs::remove_dir_all(out);
    fs::create_dir_all(out)?;
    let tip = &commits.commits.last().context("empty series")?.0;
    let mut c = git(ctx);
    c.args(["-c", "core.abbrev=12", "format-patch", "--cover-letter"])
        .arg(format!("-v{}", series.series.version))
        .arg(format!("--subject-prefix={}", series.series.subject_prefix))
        .arg(format!("--base={}", commits.base))
        .args(["--no-signature", "--quiet", "-o"])
        .arg(out)
        .env("GIT_COMMITTER_NAME", &series.identity.name)
        .env("GIT_COMMITTER_EMAIL", &series.identity.email)
        .env("GIT_COMMITTER_DATE", &series.series.date);
    for t in &recipients.to {
        c.arg(format!("--to={t}"));
    }
    for cc in &recipients.cc {
        c.arg(format!("--cc={cc}"));
    }
    c.arg(format!("{}..{tip}", commits.base));
    output(&mut c, "git format-patch")?;
    let mut files: Vec<PathBuf> = fs::read_dir(out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "patch"))
        .collect();
    files.sort();
    Ok(files)
}

/// To: the maintainers, Cc: reviewers and lists, as get_maintainer.pl says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recipients {
    pub to: Vec<String>,
    pub cc: Vec<String>,
}

impl Recipients {
    /// Parses get_maintainer.pl output with roles, leaving out `me`.
    pub fn parse(text: &str, me: &str) -> Self {
        let mut r = Recipients::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (who, role) = match line.find(" (") {
                Some(at) if line.ends_with(')') => (&line[..at], &line[at + 2..line.len() - 1]),
                _ => (line, ""),
            };
            if who.contains(me) {
                continue;
            }
            let list = if role.starts_with("maintainer:") || role.starts_with("supporter:") {
                &mut r.to
            } else {
                &mut r.cc
            };
            if !list.iter().any(|x| x == who) {
                list.push(who.to_string());
            }
        }
        r
    }

    fn text(&self) -> String {
        let mut s = String::from(
            "# Recipients of the series, from scripts/get_maintainer.pl (generated;\n\
             # every patch carries them as To:/Cc: headers).\n",
        );
        for t in &self.to {
            s.push_str(&format!("To: {t}\n"));
        }
        for c in &self.cc {
            s.push_str(&format!("Cc: {c}\n"));
        }
        s
    }
}

/// get_maintainer.pl over `patches`, run in the tree with the overlay (and
/// so the series' MAINTAINERS entries) applied.
fn recipients(ctx: &Ctx, series: &Series, patches: &[PathBuf]) -> Result<Recipients> {
    let mut c = command("perl");
    c.current_dir(ctx.src())
        .args([
            "scripts/get_maintainer.pl",
            "--no-git",
            "--no-git-fallback",
            "--rolestats",
        ])
        .args(patches);
    let text = output(&mut c, "scripts/get_maintainer.pl")?;
    Ok(Recipients::parse(&text, &series.identity.email))
}

/// Writes the cover letter's subject and blurb from the template and the
/// recorded test matrix, and pins its date to the series date.
fn fill_cover_letter(series: &Series, cover: &Path) -> Result<()> {
    let template_path = series.dir.join(&series.series.cover_letter);
    let template = fs::read_to_string(&template_path)
        .with_context(|| format!("cannot read {}", template_path.display()))?;
    let matrix_path = series.dir.join(&series.series.test_matrix);
    let matrix = fs::read_to_string(&matrix_path).with_context(|| {
        format!(
            "cannot read {}: run `cargo kmem test`, then `cargo kmem patches --record`",
            matrix_path.display()
        )
    })?;
    let (subject, blurb) = template.split_once("\n\n").with_context(|| {
        format!(
            "{}: a subject, a blank line, the body",
            template_path.display()
        )
    })?;
    let bench = fs::read_to_string(series.dir.join("..").join(BENCH_MD))
        .map(|md| bench_summary(&md))
        .unwrap_or_else(|_| "(no benchmark run recorded)".to_string());
    let blurb = blurb
        .replace("@TEST_MATRIX@", matrix.trim_end())
        .replace("@BENCH@", bench.trim_end());
    let text = fs::read_to_string(cover)?;
    if !text.contains("*** SUBJECT HERE ***") || !text.contains("*** BLURB HERE ***") {
        bail!("git format-patch wrote an unexpected cover letter template");
    }
    let date = rfc2822(&series.series.date)?;
    let text: String = text
        .replace("*** SUBJECT HERE ***", subject.trim())
        .replace("*** BLURB HERE ***", blurb.trim_end())
        .lines()
        .map(|l| {
            if l.starts_with("Date: ") {
                format!("Date: {date}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    fs::write(cover, text)?;
    Ok(())
}

/// The benchmark report `cargo kmem bench` leaves, relative to tools/kmem-rs.
const BENCH_MD: &str = "bench-results/bench.md";

/// The cover letter's view of the last benchmark: the Rust/C ratios per
/// size and operation, and the targets with their verdicts, as plain text.
pub fn bench_summary(md: &str) -> String {
    let cells = |l: &str| -> Vec<String> {
        l.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().replace("**", "").replace('`', ""))
            .collect()
    };
    let section = |title: &str| -> Vec<Vec<String>> {
        md.split("\n#### ")
            .find(|s| s.starts_with(title))
            .map(|s| {
                s.lines()
                    .filter(|l| l.starts_with('|') && !l.contains("---"))
                    .skip(1)
                    .map(cells)
                    .collect()
            })
            .unwrap_or_default()
    };
    let ops = ["bind", "unplugged", "online_movable", "unbind"];
    let mut out = format!(
        "{:<8} {:<7} {:>8} {:>10} {:>15} {:>8} {:>12}\n",
        "size", "memmap", "bind", "unplug", "online_movable", "unbind", "unbind again"
    );
    let mut row: Option<(String, String, Vec<String>)> = None;
    for c in section("Time per operation") {
        let [size, memmap, op, _, _, ratio, ..] = &c[..] else {
            continue;
        };
        let ratio = ratio.split_whitespace().next().unwrap_or("?").to_string();
        if row
            .as_ref()
            .is_some_and(|(s, m, _)| s != size || m != memmap)
        {
            let (s, m, r) = row.take().unwrap_or_default();
            out.push_str(&format!(
                "{s:<8} {m:<7} {:>8} {:>10} {:>15} {:>8} {:>12}\n",
                r[0], r[1], r[2], r[3], r[4]
            ));
        }
        let entry = row.get_or_insert_with(|| (size.clone(), memmap.clone(), vec!["-".into(); 5]));
        // "unbind" contains "bind": match the longest names first.
        let i = if op.starts_with("unbind again") {
            Some(4)
        } else if op.starts_with("unbind") {
            Some(3)
        } else {
            ops.iter().position(|o| op.contains(o))
        };
        if let Some(i) = i {
            entry.2[i] = ratio;
        }
    }
    if let Some((s, m, r)) = row {
        out.push_str(&format!(
            "{s:<8} {m:<7} {:>8} {:>10} {:>15} {:>8} {:>12}\n",
            r[0], r[1], r[2], r[3], r[4]
        ));
    }
    out.push('\n');
    for c in section("Targets") {
        if let [target, measured, verdict, ..] = &c[..] {
            out.push_str(&format!(" - {target}: {verdict}; {measured}\n"));
        }
    }
    out
}

/// `2026-11-25T12:00:00+00:00` as a mail date, the way git writes it.
fn rfc2822(iso: &str) -> Result<String> {
    let out = output(
        command("date")
            .args(["-u", "-R", "-d"])
            .arg(iso)
            .env("LC_ALL", "C"),
        "date",
    )?;
    Ok(out)
}

/// Generates the whole series into `out`: commits, recipients, patches.
pub fn generate(ctx: &Ctx, out: &Path) -> Result<Commits> {
    let series = Series::load(&ctx.repo)?;
    let commits = commit(ctx, &series)?;
    let scratch = ctx.cache.join("series/draft");
    let draft = format_patch(ctx, &series, &commits, &scratch, &Recipients::default())?;
    let who = recipients(
        ctx,
        &series,
        &draft
            .into_iter()
            .filter(|p| !p.to_string_lossy().ends_with("0000-cover-letter.patch"))
            .collect::<Vec<_>>(),
    )?;
    let files = format_patch(ctx, &series, &commits, out, &who)?;
    let cover = files
        .iter()
        .find(|p| p.to_string_lossy().ends_with("0000-cover-letter.patch"))
        .context("git format-patch wrote no cover letter")?;
    fill_cover_letter(&series, cover)?;
    fs::write(out.join(RECIPIENTS), who.text())?;
    let _ = fs::remove_dir_all(&scratch);
    Ok(commits)
}

/// `patches`: regenerate `patches/`, or with `record` first copy the last
/// full test run's matrix into the series.
pub fn run(ctx: &Ctx, record: bool) -> Result<()> {
    println!("==> patches");
    if record {
        let series = Series::load(&ctx.repo)?;
        let last = ctx.cache.join(LAST_MATRIX);
        let text = fs::read_to_string(&last).with_context(|| {
            format!(
                "no {}: run the full `cargo kmem test` first",
                last.display()
            )
        })?;
        fs::write(series.dir.join(&series.series.test_matrix), text)?;
        println!("  ✓ test matrix recorded from {}", last.display());
    }
    crate::overlay::apply(ctx)?;
    let out = ctx.repo.join(PATCHES_DIR);
    let commits = generate(ctx, &out)?;
    for (id, subject) in &commits.commits {
        println!("  {} {subject}", &id[..12]);
    }
    println!(
        "  ✓ {} patches and a cover letter in {} (base {})",
        commits.commits.len(),
        out.display(),
        &commits.base[..12]
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_summary_from_report() {
        let md = "### x\n\n#### Time per operation\n\n| size | memmap_on_memory | operation | C ms | Rust ms | Rust/C | target |\n\
                  | ---: | :---: | --- | ---: | ---: | ---: | :---: |\n\
                  | 1 GiB | off | bind to kmem | 16 | 14 | 1.033 [0.48–2.95] | **missed** |\n\
                  | 1 GiB | off | `state` → `unplugged` | 18 | 18 | 0.992 [0.6–1.6] | met |\n\
                  | 1 GiB | off | `state` → `online_movable` | 11 | 9 | 0.978 [0.6–1.1] | met |\n\
                  | 1 GiB | off | unbind (device unplugged) | 0.3 | 0.4 | 1.497 [0.7–1.6] | **missed** |\n\
                  | 1 GiB | off | unbind again in the same module load | 0.2 | 0.2 | 1.082 [0.7–1.9] | **missed** |\n\
                  \n#### Targets (measured, not asserted)\n\n| target | measured | verdict |\n| --- | --- | :---: |\n\
                  | DRAM ≤ 1% | worst 0.07% | met |\n";
        let s = bench_summary(md);
        assert!(
            s.contains(
                "1 GiB    off        1.033      0.992           0.978    1.497        1.082"
            ),
            "{s}"
        );
        assert!(s.contains(" - DRAM ≤ 1%: met; worst 0.07%"), "{s}");
    }

    #[test]
    fn recipients_by_role() {
        let text = "Dan Williams <djbw@kernel.org> (maintainer:DEVICE DIRECT ACCESS (DAX))\n\
                    Miguel Ojeda <ojeda@kernel.org> (maintainer:RUST)\n\
                    Boqun Feng <boqun@kernel.org> (reviewer:RUST)\n\
                    Kmem-rs Developers <kmem-rs@lists.example.org> (maintainer:DEVICE DIRECT ACCESS (DAX) KMEM [RUST])\n\
                    nvdimm@lists.linux.dev (open list:DEVICE DIRECT ACCESS (DAX))\n\
                    linux-kernel@vger.kernel.org (open list)\n\
                    nvdimm@lists.linux.dev (open list:DEVICE DIRECT ACCESS (DAX) KMEM [RUST])\n";
        let r = Recipients::parse(text, "kmem-rs@lists.example.org");
        assert_eq!(
            r.to,
            vec![
                "Dan Williams <djbw@kernel.org>",
                "Miguel Ojeda <ojeda@kernel.org>"
            ]
        );
        assert_eq!(
            r.cc,
            vec![
                "Boqun Feng <boqun@kernel.org>",
                "nvdimm@lists.linux.dev",
                "linux-kernel@vger.kernel.org"
            ]
        );
    }
}
