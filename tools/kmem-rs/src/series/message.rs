// SPDX-License-Identifier: GPL-2.0-only
//! Commit messages: the file's subject, body and trailers, checked, with
//! the identity's Signed-off-by appended to the trailer block.

use anyhow::{bail, Result};

use super::identity::Identity;

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
mod tests {
    use super::*;

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
}
