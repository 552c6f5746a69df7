// SPDX-License-Identifier: GPL-2.0-only
//! The `b4` check: each series taken the way kernel developers send one
//! today, with b4 (PyPI, pinned in versions.toml `[b4]`): `b4 prep --enroll`
//! on a branch of the series' commits, `b4 prep --check` (checkpatch
//! --strict on every patch), `b4 prep --auto-to-cc`, and `b4 send -o`,
//! which writes the mails instead of sending them. Every mail b4 writes
//! must go to the people and lists that the matching file of `patches/`
//! goes to with `cargo kmem send` (git send-email: the To: and Cc: headers,
//! and the patch's own Cc: and -by: trailers).

use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::docs::pip_venv;
use super::git::{git, stdout};
use crate::ctx::Ctx;
use crate::patches::{posting_files, Commits, PATCHES_DIR};
use crate::run::command;
use crate::series::Series;

/// The checkpatch command b4 runs on each patch: its default, with the
/// checkpatch check's `--strict` and warning types.
const CHECK_CMD: &str =
    "./scripts/checkpatch.pl -q --terse --no-summary --mailback --showfile --strict --show-types";

/// b4's get_maintainer.pl command (its default, `send-auto-to-cmd`) with
/// the rule of `cargo kmem patches` (src/patches/recipients.rs): To: are
/// the people of the files a patch touches, not those a `K:` keyword names.
const GET_MAINTAINER: &str =
    "scripts/get_maintainer.pl --nogit --nogit-fallback --nogit-chief-penguins --norolestats";

/// b4's `send-auto-cc-cmd` under the same rule: its default (the lists and
/// the reviewers, without maintainers), and the people only a keyword
/// names. b4 gives it the patch on standard input, in the tree's top.
fn auto_cc_script() -> String {
    format!(
        "#!/bin/sh\n\
         # Written by `cargo kmem check -f b4`: b4's Cc: as `cargo kmem patches` makes it.\n\
         set -e\n\
         p=$(mktemp -d)\n\
         trap 'rm -rf \"$p\"' EXIT\n\
         cat > \"$p/patch\"\n\
         {GET_MAINTAINER} --nom \"$p/patch\"\n\
         {GET_MAINTAINER} --nol \"$p/patch\" | sort > \"$p/all\"\n\
         {GET_MAINTAINER} --nol --no-keywords \"$p/patch\" | sort > \"$p/files\"\n\
         comm -23 \"$p/all\" \"$p/files\"\n"
    )
}

/// Warning types the checkpatch check waives here too: the base tree is a
/// tarball without history (`Fixes:` ids are unknown to it), and new files
/// are covered by the series' own MAINTAINERS entries.
const WAIVED: &[&str] = &["UNKNOWN_COMMIT_ID", "FILE_PATH_CHANGES"];

/// The mail addresses in `text`, lower-cased.
pub fn addresses(text: &str) -> BTreeSet<String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices('@') {
        let start = text[..at].rfind(|c| !ok(c)).map_or(0, |i| i + 1);
        let end = text[at + 1..]
            .find(|c| !ok(c))
            .map_or(text.len(), |i| at + 1 + i);
        let (user, host) = (&text[start..at], text[at + 1..end].trim_end_matches('.'));
        if !user.is_empty() && host.contains('.') {
            found.insert(format!("{user}@{host}").to_lowercase());
        }
    }
    found
}

/// To: and Cc: of a mail, headers unfolded.
fn header_addresses(mail: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let head = mail.split("\n\n").next().unwrap_or_default();
    let (mut to, mut cc) = (String::new(), String::new());
    let mut cur: Option<&mut String> = None;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(c) = cur.as_deref_mut() {
                c.push_str(line);
            }
            continue;
        }
        cur = if let Some(v) = line.strip_prefix("To:") {
            to.push_str(v);
            Some(&mut to)
        } else if let Some(v) = line.strip_prefix("Cc:") {
            cc.push_str(v);
            Some(&mut cc)
        } else {
            None
        };
    }
    (addresses(&to), addresses(&cc))
}

/// Who git send-email adds from a patch's message: its `Cc:` and `*-by:`
/// trailers (`Cc: stable@... # 6.1` keeps only the address).
fn trailer_addresses(mail: &str) -> BTreeSet<String> {
    let body = mail.split_once("\n\n").map_or("", |(_, b)| b);
    let message = body.split("\n---\n").next().unwrap_or_default();
    let lines = message.lines().filter(|l| {
        l.starts_with("Cc:")
            || l.split_once(':')
                .is_some_and(|(k, _)| k.ends_with("-by") && !k.contains(' '))
    });
    let text: Vec<&str> = lines.map(|l| l.split(" #").next().unwrap_or(l)).collect();
    addresses(&text.join("\n"))
}

/// Where b4's mails and ours disagree: (mail, what differs).
pub fn compare(ours: &[String], b4: &[String], me: &str) -> Vec<(usize, String)> {
    let mut diffs = Vec::new();
    if ours.len() != b4.len() {
        diffs.push((
            0,
            format!("b4 writes {} mails, patches/ has {}", b4.len(), ours.len()),
        ));
        return diffs;
    }
    let drop_me =
        |s: BTreeSet<String>| -> BTreeSet<String> { s.into_iter().filter(|a| a != me).collect() };
    let cover = ours.len() > 1;
    // b4 copies every patch's trailer addresses onto the cover letter too.
    let all_trailers: BTreeSet<String> = ours.iter().flat_map(|m| trailer_addresses(m)).collect();
    for (i, (o, b)) in ours.iter().zip(b4).enumerate() {
        let (oto, occ) = header_addresses(o);
        let (bto, bcc) = header_addresses(b);
        let (oto, bto, bcc) = (drop_me(oto), drop_me(bto), drop_me(bcc));
        let mut occ = drop_me(occ);
        let extra = if cover && i == 0 {
            &all_trailers
        } else {
            &trailer_addresses(o)
        };
        occ.extend(
            extra
                .iter()
                .filter(|a| *a != me && !oto.contains(*a))
                .cloned(),
        );
        let show = |s: BTreeSet<&String>| s.into_iter().cloned().collect::<Vec<_>>().join(", ");
        if oto != bto {
            diffs.push((
                i,
                format!(
                    "To: b4 only [{}], patches/ only [{}]",
                    show(bto.difference(&oto).collect()),
                    show(oto.difference(&bto).collect())
                ),
            ));
        }
        if occ != bcc {
            diffs.push((
                i,
                format!(
                    "Cc: b4 only [{}], patches/ only [{}]",
                    show(bcc.difference(&occ).collect()),
                    show(occ.difference(&bcc).collect())
                ),
            ));
        }
    }
    diffs
}

/// b4 with git blind to the user's and the system's configuration.
fn b4(bin: &Path, dir: &Path) -> Command {
    let mut c = command(bin.join("b4"));
    c.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("XDG_DATA_HOME", dir.join(".git/b4-data"))
        .env("XDG_CACHE_HOME", dir.join(".git/b4-cache"));
    c
}

/// The warning types of `b4 prep --check` output that are not waived.
fn unwaived(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            ["ERROR:", "WARNING:", "CHECK:"].iter().find_map(|k| {
                let rest = &l[l.find(k)? + k.len()..];
                let ty = rest.split(':').next().unwrap_or_default().trim();
                (k != &"WARNING:" || !WAIVED.contains(&ty)).then(|| format!("{k}{ty}"))
            })
        })
        .collect()
}

/// A clone of the imported tree sharing its objects, where b4 may make its
/// branches and cover letter commits.
fn clone(ctx: &Ctx, series: &Series) -> Result<PathBuf> {
    let dir = ctx.cache.join("series/b4");
    if !dir.join(".git").is_dir() {
        let _ = fs::remove_dir_all(&dir);
        stdout(
            git(&ctx.src())
                .args(["clone", "--quiet", "--shared", "--no-checkout", "."])
                .arg(&dir),
            "git clone --shared",
        )?;
    }
    let me = &series.identity;
    let cc_cmd = dir.join(".git/kmem-rs-auto-cc");
    fs::write(&cc_cmd, auto_cc_script())?;
    fs::set_permissions(&cc_cmd, fs::Permissions::from_mode(0o755))?;
    let to_cmd = format!("{GET_MAINTAINER} --nol --no-keywords");
    let cc_cmd = cc_cmd.display().to_string();
    for (k, v) in [
        ("user.name", me.name.as_str()),
        ("user.email", me.email.as_str()),
        // b4 send -o never sends; without an SMTP setting it asks for its web endpoint.
        ("sendemail.smtpserver", "/bin/false"),
        ("b4.prep-perpatch-check-cmd", CHECK_CMD),
        ("b4.send-auto-to-cmd", to_cmd.as_str()),
        ("b4.send-auto-cc-cmd", cc_cmd.as_str()),
    ] {
        stdout(git(&dir).args(["config", k, v]), "git config")?;
    }
    Ok(dir)
}

pub fn b4_check(ctx: &Ctx, series: &Series, commits: &Commits) -> Result<String> {
    let bin = pip_venv(ctx, "venv-b4", &ctx.versions.b4.pip, "b4")?;
    let dir = clone(ctx, series)?;
    let me = series.identity.email.to_lowercase();
    let mut mails = 0;
    let mut notes = Vec::new();
    for (s, p) in series.postings.iter().enumerate() {
        let (from, to) = commits.span(series, s);
        let branch = format!("kmem-rs-{}", p.id);
        stdout(
            git(&dir).args(["checkout", "--quiet", "--force", "-B", &branch, to]),
            "git checkout",
        )?;
        let run = |args: &[&str], what: &str| -> Result<String> {
            let out = b4(&bin, &dir).args(args).output()?;
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if !out.status.success() {
                bail!("{what} failed for series {}:\n{}", p.id, text.trim());
            }
            Ok(text)
        };
        run(&["prep", "--enroll", from], "b4 prep --enroll")?;
        let check = run(&["prep", "--check"], "b4 prep --check")?;
        let bad = unwaived(&check);
        if !bad.is_empty() {
            bail!(
                "b4 prep --check of series {}: {}\n{}",
                p.id,
                bad.join(", "),
                check.trim()
            );
        }
        run(&["prep", "--auto-to-cc"], "b4 prep --auto-to-cc")?;
        let out = ctx.cache.join("series/b4-out").join(&p.id);
        let _ = fs::remove_dir_all(&out);
        let out_arg = out.to_string_lossy().to_string();
        run(
            &["send", "--no-sign", "--not-me-too", "-o", &out_arg],
            "b4 send -o",
        )?;
        let mut b4_files: Vec<PathBuf> = fs::read_dir(&out)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        b4_files.sort();
        let read = |p: &PathBuf| fs::read_to_string(p).with_context(|| format!("{}", p.display()));
        let b4_mails = b4_files.iter().map(read).collect::<Result<Vec<_>>>()?;
        let ours_files = posting_files(&ctx.repo.join(PATCHES_DIR).join(&p.id))?;
        let ours = ours_files.iter().map(read).collect::<Result<Vec<_>>>()?;
        let diffs = compare(&ours, &b4_mails, &me);
        if !diffs.is_empty() {
            let lines: Vec<String> = diffs
                .iter()
                .map(|(i, d)| {
                    format!(
                        "{}: {d}",
                        ours_files
                            .get(*i)
                            .map_or("?".into(), |f| f.display().to_string())
                    )
                })
                .collect();
            bail!(
                "b4 and `cargo kmem send` would mail series {} differently (b4's mails in {}):\n{}",
                p.id,
                out.display(),
                lines.join("\n")
            );
        }
        mails += ours.len();
        // What b4 does and git send-email does not: Cc the patches' trailer
        // addresses on the cover letter too.
        let cover_only = if ours.len() > 1 {
            let (to, cc) = header_addresses(&ours[0]);
            ours.iter()
                .flat_map(|m| trailer_addresses(m))
                .filter(|a| *a != me && !to.contains(a) && !cc.contains(a))
                .collect::<BTreeSet<_>>()
                .len()
        } else {
            0
        };
        notes.push(match cover_only {
            0 => format!("{} {}", p.id, ours.len()),
            n => format!(
                "{} {} (b4 also Cc's {n} trailer address(es) on the cover letter)",
                p.id,
                ours.len()
            ),
        });
    }
    Ok(format!(
        "b4 prep --check clean; b4's To/Cc = patches/ for {mails} mails ({})",
        notes.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_headers_and_trailers() {
        let mail = "From: Me <me@example.org>\nTo: Dave Hansen <dave.hansen@linux.intel.com>, \n x86@kernel.org\n\
                    Cc: \"H. Peter Anvin\" <hpa@zytor.com>,\n\t=?utf-8?q?Bj=C3=B6rn?= <bjorn3_gh@protonmail.com>\n\
                    Subject: s\n\nBody mentions a@b.c in prose.\n\nCc: stable@vger.kernel.org # 6.1+\n\
                    Reviewed-by: R <r@kernel.org>\nSigned-off-by: Me <me@example.org>\n---\n Cc: notme@x.org\n";
        let (to, cc) = header_addresses(mail);
        assert_eq!(
            to.into_iter().collect::<Vec<_>>(),
            ["dave.hansen@linux.intel.com", "x86@kernel.org"]
        );
        assert_eq!(
            cc.into_iter().collect::<Vec<_>>(),
            ["bjorn3_gh@protonmail.com", "hpa@zytor.com"]
        );
        assert_eq!(
            trailer_addresses(mail).into_iter().collect::<Vec<_>>(),
            ["me@example.org", "r@kernel.org", "stable@vger.kernel.org"]
        );
    }

    #[test]
    fn comparison_names_the_differences() {
        let ours =
            "To: A <a@k.org>\nCc: l@vger.kernel.org\n\nmsg\n\nCc: stable@vger.kernel.org\n---\n";
        let same =
            "To: A <a@k.org>\nCc: l@vger.kernel.org, stable@vger.kernel.org, me@x.org\n\nx\n";
        assert!(compare(&[ours.into()], &[same.into()], "me@x.org").is_empty());
        let moved = "To: A <a@k.org>, l@vger.kernel.org\nCc: stable@vger.kernel.org\n\nx\n";
        let d = compare(&[ours.into()], &[moved.into()], "me@x.org");
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].1.contains("b4 only [l@vger.kernel.org]"));
        // A cover letter gets every patch's trailers from b4.
        let cover = "To: A <a@k.org>\nCc: l@vger.kernel.org\n\ncover\n";
        let b4_cover = "To: A <a@k.org>\nCc: l@vger.kernel.org, stable@vger.kernel.org\n\nc\n";
        assert!(compare(
            &[cover.into(), ours.into()],
            &[b4_cover.into(), same.into()],
            "me@x.org"
        )
        .is_empty());
        assert_eq!(compare(&[ours.into()], &[], "me@x.org").len(), 1);
    }

    #[test]
    fn waived_warnings() {
        let out = "● abc: x\n  f.c:1: WARNING:UNKNOWN_COMMIT_ID: Unknown commit id 'abc'\n\
                   f.c:2: CHECK:PARENTHESIS_ALIGNMENT: Alignment\n f.c:3: ERROR:SPACING: x\n";
        assert_eq!(
            unwaived(out),
            ["CHECK:PARENTHESIS_ALIGNMENT", "ERROR:SPACING"]
        );
    }
}
