// SPDX-License-Identifier: GPL-2.0-only
//! The CXL platform's QEMU: the `[qemu]` packages of versions.toml, fetched
//! through a private apt list, checksummed, and unpacked (not installed)
//! into the cache. The installed QEMU stays the one every other platform
//! uses; a failed fetch leaves an earlier unpacked copy as it was.

use anyhow::{bail, Result};
use std::fs;
use std::path::{Path, PathBuf};

use crate::apt::{fetch_pinned, stamp_text};
use crate::ctx::Ctx;
use crate::run::{capture, command, Step};

/// An unpacked QEMU: the binary, its firmware and its modules.
#[derive(Clone, Debug)]
pub struct Qemu {
    root: PathBuf,
}

impl Qemu {
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

const STAMP: &str = ".kmem-rs-unpacked";

/// The unpacked QEMU, if a complete unpack of exactly the pinned packages
/// is in the cache.
pub fn unpacked(ctx: &Ctx) -> Option<Qemu> {
    let root = root(ctx);
    let stamp = fs::read_to_string(root.join(STAMP)).ok()?;
    (stamp == stamp_text(&ctx.versions.qemu.packages)).then_some(Qemu { root })
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
    let tmp = root.with_extension("unpacking");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let log = ctx.log("qemu-unpack")?;
    for deb in debs {
        Step::new(&format!("unpack {}", file_name(deb)), &log)
            .run_ok(command("dpkg-deb").arg("-x").arg(deb).arg(&tmp))?;
    }
    let q = Qemu { root: tmp.clone() };
    let v = capture(command(q.binary()).arg("--version")).unwrap_or_default();
    let want = &ctx.versions.qemu.version;
    if !v.contains(&format!("version {want}")) {
        bail!(
            "the unpacked {} answers '{}', not QEMU {want}: a shared library of the system may be missing (ldd it)",
            q.binary().display(),
            first_line(&v)
        );
    }
    fs::write(tmp.join(STAMP), stamp_text(&ctx.versions.qemu.packages))?;
    if root.exists() {
        fs::remove_dir_all(&root)?;
    }
    fs::rename(&tmp, &root)?;
    println!("  ✓ QEMU {want} unpacked in {}", root.display());
    Ok(Qemu { root })
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
