// SPDX-License-Identifier: GPL-2.0-only
//! The cover letter: its subject and blurb from the series' template, with
//! the recorded test matrix, the benchmark summary and the series it is
//! based on filled in, and the series date as its date.

use anyhow::{bail, Context, Result};
use std::fs;
use std::path::Path;

use super::git::output;
use crate::run::command;
use crate::series::Series;

/// Writes the cover letter's subject and blurb from the template of series
/// `s`, with the recorded test matrix (`@TEST_MATRIX@`), the benchmark
/// summary (`@BENCH@`), the series it is based on (`@BASED_ON@`) and the
/// patches held back from the lists with why (`@HELD@`), and pins its date
/// to the series date.
pub fn fill_cover_letter(series: &Series, s: usize, cover: &Path) -> Result<()> {
    let name = series.postings[s]
        .cover_letter
        .as_deref()
        .context("a cover letter without a template")?;
    let template_path = series.dir.join(name);
    let template = fs::read_to_string(&template_path)
        .with_context(|| format!("cannot read {}", template_path.display()))?;
    let (subject, blurb) = template.split_once("\n\n").with_context(|| {
        format!(
            "{}: a subject, a blank line, the body",
            template_path.display()
        )
    })?;
    let mut blurb = blurb.to_string();
    if blurb.contains("@TEST_MATRIX@") {
        let matrix_path = series.dir.join(&series.test_matrix);
        let matrix = fs::read_to_string(&matrix_path).with_context(|| {
            format!(
                "cannot read {}: run `cargo kmem test`, then `cargo kmem patches --record`",
                matrix_path.display()
            )
        })?;
        blurb = blurb.replace("@TEST_MATRIX@", matrix.trim_end());
    }
    if blurb.contains("@BENCH@") {
        let rel = series
            .bench
            .as_deref()
            .context("a cover letter quotes @BENCH@, but series.toml names no `bench` file")?;
        let path = series.dir.join(rel);
        let table = fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}: run `cargo kmem bench`", path.display()))?;
        blurb = blurb.replace("@BENCH@", table.trim_end());
    }
    if blurb.contains("@BASED_ON@") {
        let mut list = String::new();
        for b in &series.postings[s].based_on {
            let i = series.posting(b).context("validated")?;
            list.push_str(&format!("  {}\n", series.posting_subject(i)?));
        }
        blurb = blurb.replace("@BASED_ON@", list.trim_end());
    }
    if blurb.contains("@HELD@") {
        let mut list = String::new();
        for p in &series.held {
            let m = series.message_of(p)?;
            let subject = m.lines().next().unwrap_or_default();
            list.push_str(&format!("  {subject}\n"));
            list.push_str(&wrap(p.hold.as_deref().unwrap_or_default(), 4, 72));
        }
        if list.is_empty() {
            list.push_str("  (none)\n");
        }
        blurb = blurb.replace("@HELD@", list.trim_end());
    }
    if let Some(p) = leftover_placeholder(&blurb) {
        bail!("{}: unknown placeholder {p}", template_path.display());
    }
    let text = fs::read_to_string(cover)?;
    if !text.contains("*** SUBJECT HERE ***") || !text.contains("*** BLURB HERE ***") {
        bail!("git format-patch wrote an unexpected cover letter template");
    }
    let date = rfc2822(&series.date)?;
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

/// `text` filled to `width` columns, each line indented by `indent`.
pub fn wrap(text: &str, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > width {
            out.push_str(&format!("{pad}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{pad}{line}\n"));
    }
    out
}

/// The first `@NAME@` (capitals and underscores) left in `text`.
pub fn leftover_placeholder(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let after = &rest[at + 1..];
        let n = after
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .unwrap_or(after.len());
        if n > 0 && after[n..].starts_with('@') {
            return Some(&rest[at..at + n + 2]);
        }
        rest = after;
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_filled() {
        let w = wrap("one two three four", 2, 12);
        assert_eq!(w, "  one two\n  three four\n");
        assert!(wrap("a b c", 4, 72) == "    a b c\n");
        assert_eq!(wrap("  ", 4, 72), "");
    }

    #[test]
    fn placeholders_left_over() {
        assert_eq!(
            leftover_placeholder("mail a@b.org, @X@ and @Y_Z@"),
            Some("@X@")
        );
        assert_eq!(leftover_placeholder("at @ and a@B.org@c"), None);
        assert_eq!(leftover_placeholder("done: @BASED_ON@"), Some("@BASED_ON@"));
    }
}
