// SPDX-License-Identifier: GPL-2.0-only
//! Debian packages fetched through a private apt list: its own sources list,
//! lists and cache under the kmem-rs cache, never the machine's apt sources
//! or dpkg state. Used for the base kernel and the CXL platform's QEMU.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::ctx::{Ctx, VERSIONS_FILE};
use crate::run::{self, capture, command, Step};
use crate::versions::Package;

pub struct PrivateApt {
    root: PathBuf,
}

impl PrivateApt {
    /// An apt state in `root` that reads only `source` (one sources.list line).
    pub fn new(root: PathBuf, source: &str) -> Result<Self> {
        for d in ["etc", "lists/partial", "cache/archives/partial"] {
            fs::create_dir_all(root.join(d))?;
        }
        let status = root.join("status");
        if !status.exists() {
            fs::write(&status, "")?;
        }
        fs::write(root.join("etc/sources.list"), format!("{source}\n"))?;
        Ok(Self { root })
    }

    /// Options that point apt at our own sources list and state only.
    pub fn opts(&self) -> Vec<String> {
        let r = self.root.display();
        let mut o = vec![
            format!("-oDir::Etc::SourceList={r}/etc/sources.list"),
            "-oDir::Etc::SourceParts=/dev/null".to_string(),
            format!("-oDir::State::Lists={r}/lists"),
            format!("-oDir::State::status={r}/status"),
            format!("-oDir::Cache={r}/cache"),
            "-oDebug::NoLocking=1".to_string(),
        ];
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            o.push("-oAPT::Sandbox::User=root".to_string());
        }
        o
    }
}

/// One pinned package: `apt-get download NAME=VERSION` into a scratch
/// directory beside `dest`, checked against `sha256`, then moved to `dest`.
/// A failed download says what the archive offers now, and that `section`
/// of versions.toml pins it; `dest` is untouched unless all went well.
pub struct Pinned<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub sha256: &'a str,
    pub section: &'a str,
}

impl PrivateApt {
    pub fn download(&self, p: &Pinned, dest: &Path, log: &Path) -> Result<()> {
        let partial = dest.with_extension("partial");
        let _ = fs::remove_dir_all(&partial);
        fs::create_dir_all(&partial)?;
        let name = format!("apt-get download {}={}", p.name, p.version);
        let out = Step::new(&name, log).run(
            command("apt-get")
                .current_dir(&partial)
                .args(self.opts())
                .arg("download")
                .arg(format!("{}={}", p.name, p.version)),
        )?;
        if !out.success() {
            let offered = capture(
                command("apt-cache")
                    .args(self.opts())
                    .args(["policy", p.name]),
            )
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.trim().strip_prefix("Candidate: ").map(str::to_string))
            })
            .unwrap_or_else(|| "nothing".to_string());
            bail!(
                "{}\n  the archive offers {} {offered}; pinned is {}.\n  fix: if the archive moved on, update [{}] in {VERSIONS_FILE}",
                run::failure_report(&name, &out),
                p.name,
                p.version,
                p.section
            );
        }
        let got = fs::read_dir(&partial)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|f| f.extension().is_some_and(|x| x == "deb"))
            .context("apt-get download reported success but wrote no .deb")?;
        let sum = sha256_file(&got)?;
        if sum != p.sha256 {
            bail!(
                "{} has sha256 {sum}, pinned is {}: the download is corrupt or the pin is wrong ([{}] in {VERSIONS_FILE})",
                got.display(),
                p.sha256,
                p.section
            );
        }
        fs::rename(&got, dest)?;
        let _ = fs::remove_dir_all(&partial);
        Ok(())
    }
}

/// The sha256 of a file, in lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The pinned .debs of `section` of versions.toml (`qemu`, `msrv`) in
/// `downloads/SECTION` of the cache, each verified; ones already downloaded
/// and intact are kept. The private apt list `apt-SECTION` reads only
/// `source` (described as `what` in the progress line), and is updated only
/// when something must be fetched.
pub fn fetch_pinned(
    ctx: &Ctx,
    section: &str,
    source: &str,
    what: &str,
    packages: &[Package],
) -> Result<Vec<PathBuf>> {
    let dir = ctx.cache.join("downloads").join(section);
    fs::create_dir_all(&dir)?;
    let mut apt = None;
    let mut debs = Vec::new();
    for p in packages {
        let deb = dir.join(format!("{}_{}.deb", p.name, p.version.replace(':', "%3a")));
        if deb.exists() && sha256_file(&deb)? == p.sha256 {
            debs.push(deb);
            continue;
        }
        let apt = match &apt {
            Some(a) => a,
            None => {
                let a = PrivateApt::new(ctx.cache.join(format!("apt-{section}")), source)?;
                let log = ctx.log(&format!("apt-{section}-update"))?;
                Step::new(&format!("apt-get update (private {what} list)"), &log)
                    .run_ok(command("apt-get").args(a.opts()).arg("update"))?;
                apt.insert(a)
            }
        };
        let pinned = Pinned {
            name: &p.name,
            version: &p.version,
            sha256: &p.sha256,
            section,
        };
        apt.download(&pinned, &deb, &ctx.log(&format!("apt-{section}-download"))?)?;
        debs.push(deb);
    }
    Ok(debs)
}

/// What the stamp of a complete unpack of `packages` says: every package,
/// version and checksum, one a line.
pub fn stamp_text(packages: &[Package]) -> String {
    packages
        .iter()
        .map(|p| format!("{} {} {}\n", p.name, p.version, p.sha256))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_bytes() {
        let dir = std::env::temp_dir().join(format!("kmem-rs-apt-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("abc");
        fs::write(&f, b"abc").unwrap();
        assert_eq!(
            sha256_file(&f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn private_state_only() {
        let dir = std::env::temp_dir().join(format!("kmem-rs-apt-opts-{}", std::process::id()));
        let apt = PrivateApt::new(dir.clone(), "deb http://example.invalid x main").unwrap();
        let o = apt.opts().join(" ");
        assert!(o.contains("SourceParts=/dev/null"));
        assert!(!o.contains("/etc/apt"));
        assert_eq!(
            fs::read_to_string(dir.join("etc/sources.list")).unwrap(),
            "deb http://example.invalid x main\n"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
