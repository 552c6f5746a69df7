// SPDX-License-Identifier: GPL-2.0-only
//! Debian packages fetched through a private apt list: its own sources list,
//! lists and cache under the kmem-rs cache, never the machine's apt sources
//! or dpkg state. Used for the base kernel, the CXL platform's QEMU and
//! ndctl, and the `msrv` check's rustc; the last ones are unpacked (never
//! installed) into the cache by [`unpack`], and the trixie ones run through
//! trixie's own loader by [`loader_wrapper`] scripts.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
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
            let fix = if offered == p.version {
                "the archive has the pinned version: check the network (or proxy) and rerun"
                    .to_string()
            } else {
                format!(
                    "if the archive moved on, update [{}] in {VERSIONS_FILE}",
                    p.section
                )
            };
            bail!(
                "{}\n  the archive offers {} {offered}; pinned is {}.\n  fix: {fix}",
                run::failure_report(&name, &out),
                p.name,
                p.version,
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

/// Where an unpack keeps its loader and libraries.
pub const LIBDIR: &str = "usr/lib/x86_64-linux-gnu";

/// Written last into a complete, verified unpack.
const STAMP: &str = ".kmem-rs-unpacked";

/// Whether `root` holds a complete, verified unpack of exactly `packages`.
pub fn is_unpacked(root: &Path, packages: &[Package]) -> bool {
    fs::read_to_string(root.join(STAMP)).ok() == Some(stamp_text(packages))
}

/// Unpacks `debs`, the .debs of `packages`, beside `root` and moves them
/// in place only once `works` accepts the new unpack (its argument is where
/// the unpack lies then); the stamp is written last. Until then an earlier
/// unpack in `root` is left as it was. `what` names the log.
pub fn unpack(
    ctx: &Ctx,
    what: &str,
    root: &Path,
    debs: &[PathBuf],
    packages: &[Package],
    works: impl Fn(&Path) -> Result<()>,
) -> Result<()> {
    let tmp = root.with_extension("unpacking");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let log = ctx.log(&format!("{what}-unpack"))?;
    for deb in debs {
        let name = deb.file_name().unwrap_or_default().to_string_lossy();
        Step::new(&format!("unpack {name}"), &log)
            .run_ok(command("dpkg-deb").arg("-x").arg(deb).arg(&tmp))?;
    }
    works(&tmp).context("the new unpack does not work; any earlier one is kept")?;
    fs::write(tmp.join(STAMP), stamp_text(packages))?;
    if root.exists() {
        fs::remove_dir_all(root)?;
    }
    fs::rename(&tmp, root)?;
    Ok(())
}

/// The wrapper script of `tool` (`<unpack>/bin/TOOL`): runs the unpack's
/// `usr/bin/TOOL` through the unpack's own loader with its libraries first,
/// for tools of a newer Debian than the machine's. `what` says whose tool
/// it is, `section` where versions.toml pins it. It finds the unpack from
/// its own path, so an unpack can be tried before it is moved in place.
pub fn loader_wrapper(tool: &str, what: &str, section: &str) -> String {
    format!(
        "#!/bin/sh\n\
         # kmem-rs: {tool} of {what}, run through trixie's own\n\
         # loader: it needs a newer glibc than the machine's. See versions.toml [{section}].\n\
         root=$(dirname \"$(dirname \"$(readlink -f \"$0\")\")\")\n\
         lib=\"$root/{LIBDIR}\"\n\
         exec \"$lib/ld-linux-x86-64.so.2\" --library-path \"$lib\" \"$root/usr/bin/{tool}\" \"$@\"\n"
    )
}

/// Writes `text(tool)` as the executable `root/bin/TOOL` of each of
/// `tools`, where it differs.
pub fn write_wrappers(root: &Path, tools: &[&str], text: impl Fn(&str) -> String) -> Result<()> {
    fs::create_dir_all(root.join("bin"))?;
    for tool in tools {
        let path = root.join("bin").join(tool);
        let text = text(tool);
        if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            fs::write(&path, &text)?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
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

    /// The wrapper finds its unpack from its own path, wherever that is: a
    /// stand-in loader prints what it was asked to run.
    #[test]
    fn wrapper_finds_its_unpack() {
        let dir = std::env::temp_dir().join(format!("kmem-rs-wrapper-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let lib = dir.join(LIBDIR);
        fs::create_dir_all(&lib).unwrap();
        let loader = lib.join("ld-linux-x86-64.so.2");
        fs::write(&loader, "#!/bin/sh\necho \"$@\"\n").unwrap();
        fs::set_permissions(&loader, fs::Permissions::from_mode(0o755)).unwrap();
        write_wrappers(&dir, &["rustc", "cxl"], |t| loader_wrapper(t, "x", "y")).unwrap();
        let root = dir.canonicalize().unwrap();
        let r = root.display();
        let out = capture(command(dir.join("bin/rustc")).args(["--print", "sysroot"])).unwrap();
        assert_eq!(
            out,
            format!("--library-path {r}/{LIBDIR} {r}/usr/bin/rustc --print sysroot")
        );
        let out = capture(command(dir.join("bin/cxl")).arg("version")).unwrap();
        assert_eq!(
            out,
            format!("--library-path {r}/{LIBDIR} {r}/usr/bin/cxl version")
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
