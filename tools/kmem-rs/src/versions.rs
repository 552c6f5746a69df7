// SPDX-License-Identifier: GPL-2.0-only
//! The pinned versions, read from `tools/kmem-rs/versions.toml`.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Versions {
    pub base: Base,
    pub toolchain: Toolchain,
    pub docs: Docs,
    pub b4: B4,
    pub qemu: Qemu,
    pub ndctl: Ndctl,
    pub msrv: Msrv,
}

/// The CXL platform's ndctl, cxl and daxctl: Debian packages unpacked into
/// the cache, run through their own loader.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ndctl {
    pub version: String,
    pub apt_source: String,
    pub packages: Vec<Package>,
}

/// The `msrv` check's toolchain: the oldest rustc and bindgen the base tree
/// supports, Debian packages unpacked into the cache and bindgen-cli from
/// crates.io.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Msrv {
    pub rustc: String,
    pub bindgen_cli: String,
    pub apt_source: String,
    pub packages: Vec<Package>,
}

/// The QEMU of the CXL platform: Debian packages unpacked into the cache.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Qemu {
    pub version: String,
    pub apt_source: String,
    pub packages: Vec<Package>,
}

/// One pinned Debian package.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

/// Sphinx and what the kernel's docs build needs, from PyPI (`check`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Docs {
    pub pip: Vec<String>,
}

/// b4 and every package it pulls in, from PyPI (`check -f b4`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct B4 {
    pub pip: Vec<String>,
}

/// The base kernel: a Debian source package.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Base {
    pub package: String,
    pub version: String,
    pub sha256: String,
    pub tarball: String,
    pub tree: String,
    pub apt_source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toolchain {
    pub rustc: String,
    pub llvm_suffix: String,
    pub apt_packages: Vec<String>,
    pub bindgen_cli: String,
    pub virtme_ng: String,
}

impl Versions {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let v: Versions = toml::from_str(text)?;
        if !is_sha256(&v.base.sha256) {
            bail!("base.sha256 must be 64 hex digits");
        }
        if v.base.tree.len() != 40 || !v.base.tree.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("base.tree must be a 40-hex-digit git tree id");
        }
        for (section, packages) in [
            ("qemu", &v.qemu.packages),
            ("ndctl", &v.ndctl.packages),
            ("msrv", &v.msrv.packages),
        ] {
            for p in packages {
                if !is_sha256(&p.sha256) {
                    bail!("{section} package {}: sha256 must be 64 hex digits", p.name);
                }
            }
        }
        Ok(v)
    }

    /// The kernel release this base provides, e.g. `7.3.4` from `7.3.4-1~bpo13+1`.
    pub fn kernel_release(&self) -> &str {
        self.base
            .version
            .split('-')
            .next()
            .unwrap_or(&self.base.version)
    }
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_versions_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("versions.toml");
        let v = Versions::load(&path).unwrap();
        assert_eq!(v.base.package, "linux-source-7.3");
        assert!(v.kernel_release().starts_with("7.3."));
        assert!(v.toolchain.apt_packages.iter().any(|p| p == "rustc-web"));
        assert!(v.qemu.packages.iter().any(|p| p.name == "qemu-system-x86"));
        assert!(v
            .qemu
            .packages
            .iter()
            .all(|p| p.version.contains(&v.qemu.version) || p.name == "seabios"));
    }

    #[test]
    fn msrv_packages_are_the_pinned_rustc() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("versions.toml");
        let v = Versions::load(&path).unwrap();
        let m = &v.msrv;
        // Every package built from Debian's rustc source is of the pinned rustc.
        for name in ["rustc", "libstd-rust-dev", "rust-src"] {
            let p = m.packages.iter().find(|p| p.name == name).unwrap();
            assert!(
                p.version.starts_with(&format!("{}+", m.rustc)),
                "{name} {}",
                p.version
            );
        }
        let mut names: Vec<&str> = m.packages.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), m.packages.len(), "a package is pinned twice");
        assert!(m.apt_source.contains(" trixie main"));
    }

    #[test]
    fn ndctl_packages_are_the_pinned_release() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("versions.toml");
        let v = Versions::load(&path).unwrap();
        let n = &v.ndctl;
        // Every package built from Debian's ndctl source is of the pinned release.
        for name in [
            "ndctl",
            "daxctl",
            "cxl",
            "libndctl6",
            "libdaxctl1",
            "libcxl1",
        ] {
            let p = n.packages.iter().find(|p| p.name == name).unwrap();
            assert!(
                p.version.starts_with(&format!("{}-", n.version)),
                "{name} {}",
                p.version
            );
        }
        let mut names: Vec<&str> = n.packages.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n.packages.len(), "a package is pinned twice");
        assert!(names.contains(&"libc6"), "the loader comes with libc6");
        assert!(n.apt_source.contains(" trixie main"));
    }

    #[test]
    fn bad_checksum_is_rejected() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("versions.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let broken = text.replace("sha256 = \"", "sha256 = \"zz");
        assert!(Versions::parse(&broken).is_err());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("versions.toml");
        let text = std::fs::read_to_string(path).unwrap();
        assert!(Versions::parse(&format!("{text}\n[extra]\nx = 1\n")).is_err());
    }
}
