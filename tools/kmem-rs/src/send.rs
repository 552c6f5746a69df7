// SPDX-License-Identifier: GPL-2.0-only
//! `send`: the series to the lists with `git send-email`, under the
//! sender's own identity.
//!
//! `patches/` is signed by the placeholder identity of series.toml, so that
//! it regenerates byte-identically anywhere. A sender regenerates the series
//! signed by themselves (into the cache, `patches/` untouched) and mails
//! that. Nothing is ever mailed under the placeholder or an example address:
//! only `--dry-run` and the local sendmail stand-in of `cargo kmem check`
//! accept them.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

use crate::ctx::Ctx;
use crate::patches::{self, posting_files, OUTGOING};
use crate::run::{command, stdout_of};
use crate::series::{Identity, Series};

/// How `git send-email` delivers.
pub enum Via<'a> {
    /// `--dry-run`: nothing leaves the machine.
    DryRun,
    /// A sendmail stand-in program that keeps every mail in `outbox`.
    StandIn {
        sendmail: &'a Path,
        outbox: &'a Path,
    },
    /// The sender's own git configuration (sendemail.smtpServer, ...).
    Configured,
}

/// Fails if `sender` may not send mail: the placeholder identity
/// `committed` of series.toml, or an example address.
pub fn check_sender(committed: &Identity, sender: &Identity) -> Result<()> {
    if let Some(why) = sender.not_a_sender(committed) {
        bail!(
            "refusing to send: {why}. Send as yourself: `cargo kmem send --identity \"Your Name <your address>\"` (or KMEM_RS_IDENTITY), with your real address"
        );
    }
    Ok(())
}

/// `git send-email` of `files` (one series, cover letter first) from
/// `from`. Mail that leaves the machine ([`Via::Configured`]) is refused
/// for the placeholder identity `committed` before anything runs.
pub fn send_email(
    files: &[PathBuf],
    from: &Identity,
    committed: &Identity,
    via: Via<'_>,
) -> Result<String> {
    if matches!(via, Via::Configured) {
        check_sender(committed, from)?;
    }
    if files.is_empty() {
        bail!("nothing to send");
    }
    let mut c = command("git");
    c.arg("send-email")
        .arg(format!("--from={from}"))
        .args(["--confirm=never", "--quiet", "--8bit-encoding=UTF-8"])
        .env("GIT_AUTHOR_NAME", &from.name)
        .env("GIT_AUTHOR_EMAIL", &from.email)
        .env("GIT_COMMITTER_NAME", &from.name)
        .env("GIT_COMMITTER_EMAIL", &from.email);
    match via {
        Via::DryRun => {
            c.arg("--dry-run")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null");
        }
        Via::StandIn { sendmail, outbox } => {
            c.arg(format!("--smtp-server={}", sendmail.display()))
                .env("OUTBOX", outbox)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null");
        }
        Via::Configured => {}
    }
    c.args(files);
    let out = c
        .output()
        .context("cannot run git send-email (is the git-email package installed?)")?;
    stdout_of(out, "git send-email")
}

/// `send`: regenerate the series signed by `identity` into
/// `$KMEM_RS_CACHE/outgoing` and mail them (only the series in `only`, if
/// given), each as its own thread, in stacked order.
pub fn run(ctx: &Ctx, identity: &Identity, dry_run: bool, only: &[String]) -> Result<()> {
    println!("==> send");
    let committed = Series::load(&ctx.repo)?.identity;
    if !dry_run {
        check_sender(&committed, identity)?;
    }
    let series = patches::load_as(ctx, Some(identity))?;
    let posted = series.posted();
    for o in only {
        if series.posting(o).is_none() {
            bail!("no series '{o}' in series.toml");
        }
        if posted.posting(o).is_none() {
            bail!("series '{o}' is held back (`hold` in series.toml): every patch of it is carried for testing only");
        }
    }
    crate::overlay::apply(ctx, &Series::load(&ctx.repo)?.posted())?;
    let out = ctx.cache.join(OUTGOING);
    let posted = patches::generate(ctx, &series, &out)?.posted;
    for p in &posted.held {
        println!(
            "  held, not sent: {} ({})",
            p.id,
            p.hold.as_deref().unwrap_or_default()
        );
    }
    for posting in &posted.postings {
        if !only.is_empty() && !only.contains(&posting.id) {
            continue;
        }
        let files = posting_files(&out.join(&posting.id))?;
        let via = if dry_run {
            Via::DryRun
        } else {
            Via::Configured
        };
        let log = send_email(&files, identity, &committed, via)?;
        if !log.is_empty() {
            println!("{log}");
        }
        println!(
            "  ✓ {}: {} mail(s){}",
            posting.id,
            files.len(),
            if dry_run { " (dry run)" } else { " sent" }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholder() -> Identity {
        Identity::parse("Kmem-rs Developers <kmem-rs@lists.example.org>").unwrap()
    }

    #[test]
    fn the_placeholder_never_sends() {
        let p = placeholder();
        let err = check_sender(&p, &p).unwrap_err().to_string();
        assert!(err.contains("placeholder identity"), "{err}");
        assert!(err.contains("--identity"), "{err}");
        // Refused before git send-email runs: these files do not exist.
        let files = [PathBuf::from("/nonexistent/0001-x.patch")];
        let err = send_email(&files, &p, &p, Via::Configured)
            .unwrap_err()
            .to_string();
        assert!(err.contains("refusing to send"), "{err}");
        let example = Identity::parse("Jane Doe <jane@example.com>").unwrap();
        let err = send_email(&files, &example, &p, Via::Configured)
            .unwrap_err()
            .to_string();
        assert!(err.contains("example address"), "{err}");
    }

    #[test]
    fn a_real_sender_may_send() {
        let jane = Identity::parse("Jane Doe <jane@kernel.org>").unwrap();
        check_sender(&placeholder(), &jane).unwrap();
    }

    /// The check's stand-in and dry runs are not refused for the
    /// placeholder: they fail only because there is nothing to send.
    #[test]
    fn stand_in_and_dry_run_take_the_placeholder() {
        let p = placeholder();
        let tmp = Path::new("/nonexistent");
        for via in [
            Via::DryRun,
            Via::StandIn {
                sendmail: tmp,
                outbox: tmp,
            },
        ] {
            let err = send_email(&[], &p, &p, via).unwrap_err().to_string();
            assert_eq!(err, "nothing to send");
        }
    }
}
