// SPDX-License-Identifier: GPL-2.0-only
//! The CXL platform's QEMU: the `[qemu]` packages of versions.toml, fetched
//! through a private apt list, checksummed, and unpacked (not installed)
//! into the cache. The installed QEMU stays the one every other platform
//! uses; a failed fetch leaves an earlier unpacked copy as it was.

use anyhow::{bail, Result};
use std::path::PathBuf;

use crate::apt::{self, fetch_pinned};
use crate::ctx::Ctx;
use crate::run::{capture, command};

/// An unpacked QEMU: the binary, its firmware and its modules.
#[derive(Clone, Debug)]
pub struct Qemu {
    root: PathBuf,
}

impl Qemu {
    /// An unpack at `root` (tests).
    #[cfg(test)]
    pub fn at(root: &str) -> Self {
        Self { root: root.into() }
    }

    pub fn binary(&self) -> PathBuf {
        self.root.join("usr/bin/qemu-system-x86_64")
    }

    /// The `-L` directories: QEMU's own data, then seabios's. Without them
    /// the new QEMU looks in /usr/share/qemu, finds 7.2's firmware, and the
    /// guest stalls about 30 s before the kernel starts.
    pub fn firmware_dirs(&self) -> [PathBuf; 2] {
        [
            self.root.join("usr/share/qemu"),
            self.root.join("usr/share/seabios"),
        ]
    }

    /// For `QEMU_MODULE_DIR`: its modules, not the installed QEMU's.
    pub fn module_dir(&self) -> PathBuf {
        self.root.join("usr/lib/x86_64-linux-gnu/qemu")
    }
}

fn root(ctx: &Ctx) -> PathBuf {
    ctx.cache.join("qemu").join(&ctx.versions.qemu.version)
}

/// The unpacked QEMU, if a complete unpack of exactly the pinned packages
/// is in the cache.
pub fn unpacked(ctx: &Ctx) -> Option<Qemu> {
    let root = root(ctx);
    apt::is_unpacked(&root, &ctx.versions.qemu.packages).then_some(Qemu { root })
}

/// The pinned QEMU, fetched and unpacked if it is not yet (or if `check`,
/// only looked for).
pub fn ensure(ctx: &Ctx, check: bool) -> Result<Qemu> {
    let want = &ctx.versions.qemu.version;
    if let Some(q) = unpacked(ctx) {
        let v = capture(command(q.binary()).arg("--version")).unwrap_or_default();
        if v.contains(&format!("version {want}")) {
            println!("  ✓ QEMU {want} (CXL platform)");
            return Ok(q);
        }
        println!(
            "  ! the unpacked QEMU answers '{}': unpacking it again",
            first_line(&v)
        );
    }
    if check {
        bail!(
            "QEMU {want} for the CXL platform is not unpacked in {}",
            root(ctx).display()
        );
    }
    let debs = download(ctx)?;
    unpack(ctx, &debs)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("nothing")
}

/// The pinned .debs, verified; ones already downloaded and intact are kept.
fn download(ctx: &Ctx) -> Result<Vec<PathBuf>> {
    let q = &ctx.versions.qemu;
    fetch_pinned(
        ctx,
        "qemu",
        &q.apt_source,
        "bookworm-backports",
        &q.packages,
    )
}

/// Unpacks `debs` beside the final directory and moves it in place only
/// once QEMU answers with the pinned version.
fn unpack(ctx: &Ctx, debs: &[PathBuf]) -> Result<Qemu> {
    let root = root(ctx);
    let want = &ctx.versions.qemu.version;
    apt::unpack(
        ctx,
        "qemu",
        &root,
        debs,
        &ctx.versions.qemu.packages,
        |tmp| {
            let q = Qemu { root: tmp.into() };
            let v = capture(command(q.binary()).arg("--version")).unwrap_or_default();
            if !v.contains(&format!("version {want}")) {
                bail!(
                "the unpacked {} answers '{}', not QEMU {want}: a shared library of the system may be missing (ldd it)",
                q.binary().display(),
                first_line(&v)
            );
            }
            Ok(())
        },
    )?;
    println!("  ✓ QEMU {want} unpacked in {}", root.display());
    Ok(Qemu { root })
}
