// SPDX-License-Identifier: GPL-2.0-only
//! Debian packages fetched through a private apt list: its own sources list,
//! lists and cache under the kmem-rs cache, never the machine's apt sources
//! or dpkg state. Used for the base kernel and the CXL platform's QEMU.

use anyhow::Result;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

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
