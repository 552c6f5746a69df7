// SPDX-License-Identifier: GPL-2.0-only
//! The CXL platform's ndctl, cxl and daxctl: the `[ndctl]` packages of
//! versions.toml (Debian trixie's 81), fetched through a private apt list,
//! checksummed and unpacked (never installed) into
//! `$KMEM_RS_CACHE/ndctl/<version>/`. The installed 76.1 cannot make RAM
//! regions. Like the `msrv` rustc they need a newer glibc than the
//! machine's, so wrapper scripts in the unpack's `bin/` run them through
//! trixie's own loader ([`apt::loader_wrapper`]). The guest sees the host's
//! root file system, so it runs them from the same path, which the host
//! hands it on the kernel command line (`kmem_rs.cxl_tools=`, see
//! `vm::platform`). A failed fetch or a bad checksum leaves an earlier
//! good unpack as it was.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

use crate::apt::{self, fetch_pinned, loader_wrapper};
use crate::ctx::Ctx;
use crate::run::command;

/// The tools that get a wrapper script, by their names in the unpack's usr/bin.
pub const TOOLS: [&str; 3] = ["ndctl", "daxctl", "cxl"];

/// An unpacked ndctl release.
#[derive(Clone, Debug)]
pub struct Ndctl {
    root: PathBuf,
}

impl Ndctl {
    /// An unpack at `root` (tests).
    #[cfg(test)]
    pub fn at(root: &str) -> Self {
        Self { root: root.into() }
    }

    /// The directory of the wrappers, one per [`TOOLS`].
    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }
}

fn root(ctx: &Ctx) -> PathBuf {
    ctx.cache.join("ndctl").join(&ctx.versions.ndctl.version)
}

/// The unpacked tools, if a complete unpack of exactly the pinned packages
/// is in the cache.
pub fn unpacked(ctx: &Ctx) -> Option<Ndctl> {
    let root = root(ctx);
    apt::is_unpacked(&root, &ctx.versions.ndctl.packages).then_some(Ndctl { root })
}

/// The pinned tools, fetched and unpacked if they are not yet (or if
/// `check`, only looked for).
pub fn ensure(ctx: &Ctx, check: bool) -> Result<Ndctl> {
    let want = &ctx.versions.ndctl.version;
    let root = root(ctx);
    if let Some(n) = unpacked(ctx) {
        match wrappers(&n.root, want) {
            Ok(()) => {
                println!("  ✓ ndctl, cxl, daxctl {want} (CXL platform)");
                return Ok(n);
            }
            Err(e) if check => return Err(e),
            Err(e) => println!("  ! {e:#}: unpacking again"),
        }
    }
    if check {
        bail!(
            "ndctl, cxl and daxctl {want} for the CXL platform are not unpacked in {}",
            root.display()
        );
    }
    let n = &ctx.versions.ndctl;
    let debs = fetch_pinned(ctx, "ndctl", &n.apt_source, "trixie", &n.packages)?;
    apt::unpack(ctx, "ndctl", &root, &debs, &n.packages, |tmp| {
        wrappers(tmp, want)
    })?;
    println!(
        "  ✓ ndctl, cxl, daxctl {want} unpacked in {}",
        root.display()
    );
    Ok(Ndctl { root })
}

/// The wrapper script of `tool` of release `version`.
pub fn wrapper_script(tool: &str, version: &str) -> String {
    loader_wrapper(tool, &format!("Debian's ndctl {version} (trixie)"), "ndctl")
}

/// Writes the wrappers into `root/bin` (where they differ) and checks that
/// each answers `--version` with the pinned release, every symbol bound at
/// start (`LD_BIND_NOW`): a library too old or missing fails here, not in
/// the middle of a test.
fn wrappers(root: &Path, version: &str) -> Result<()> {
    apt::write_wrappers(root, &TOOLS, |tool| wrapper_script(tool, version))?;
    for tool in TOOLS {
        let path = root.join("bin").join(tool);
        let out = command(&path)
            .arg("--version")
            .env("LD_BIND_NOW", "1")
            .output();
        let got = match &out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            Ok(o) => format!(
                "{} ({})",
                String::from_utf8_lossy(&o.stderr).trim(),
                o.status
            ),
            Err(e) => e.to_string(),
        };
        if got != version {
            bail!(
                "{} answers '{}', not {version}: a library may be missing (run it with LD_DEBUG=libs, or {}/ld-linux-x86-64.so.2 --list)",
                path.display(),
                got.lines().next().unwrap_or("nothing"),
                root.join(apt::LIBDIR).display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_names_its_release_and_section() {
        let s = wrapper_script("cxl", "81");
        assert!(s.contains("Debian's ndctl 81 (trixie)"));
        assert!(s.contains("versions.toml [ndctl]"));
        assert!(s.ends_with("\"$root/usr/bin/cxl\" \"$@\"\n"));
    }
}
