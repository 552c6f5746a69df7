// SPDX-License-Identifier: GPL-2.0-only
//! Module sizes: `llvm-size-19` and `llvm-nm-19` on the two `kmem.ko`.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use crate::build::Driver;
use crate::run::{capture, command};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModuleSize {
    pub driver: String,
    pub path: String,
    /// Berkeley totals (llvm-size): text includes .rodata.
    pub text: u64,
    pub data: u64,
    pub bss: u64,
    /// Sections (llvm-size -A).
    pub text_section: u64,
    pub data_section: u64,
    pub rodata_section: u64,
    /// Bytes of .text in KUnit test functions built into the module.
    pub kunit_text: u64,
}

/// `llvm-size` Berkeley output: text, data, bss of the one file.
pub fn parse_berkeley(out: &str) -> Option<(u64, u64, u64)> {
    let line = out.lines().nth(1)?;
    let mut f = line.split_whitespace().map(|x| x.parse::<u64>());
    Some((f.next()?.ok()?, f.next()?.ok()?, f.next()?.ok()?))
}

/// `llvm-size -A` output: section name to size.
pub fn parse_sysv(out: &str) -> BTreeMap<String, u64> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let name = f.next()?;
            let size = f.next()?.parse().ok()?;
            name.starts_with('.').then(|| (name.to_string(), size))
        })
        .collect()
}

/// `llvm-nm -S -C` output: total size of text symbols of KUnit tests.
pub fn kunit_text(nm: &str) -> u64 {
    nm.lines()
        .filter_map(|l| {
            let mut f = l.splitn(4, ' ');
            let (_addr, size, kind, name) = (f.next()?, f.next()?, f.next()?, f.next()?);
            let test = name.contains("::tests::") || name.contains("kunit");
            (matches!(kind, "t" | "T") && test).then(|| u64::from_str_radix(size, 16).ok())?
        })
        .sum()
}

pub fn module_size(driver: Driver, path: &Path) -> Result<ModuleSize> {
    let llvm = |tool: &str, args: &[&str]| -> Result<String> {
        capture(command(tool).args(args).arg(path))
            .with_context(|| format!("{tool} {} failed (apt-get install llvm-19)", path.display()))
    };
    let (text, data, bss) =
        parse_berkeley(&llvm("llvm-size-19", &[])?).context("cannot parse llvm-size-19 output")?;
    let sections = parse_sysv(&llvm("llvm-size-19", &["-A"])?);
    let nm = llvm("llvm-nm-19", &["-S", "-C", "--defined-only"]).unwrap_or_default();
    Ok(ModuleSize {
        driver: driver.name().to_string(),
        path: path.display().to_string(),
        text,
        data,
        bss,
        text_section: sections.get(".text").copied().unwrap_or(0),
        data_section: sections.get(".data").copied().unwrap_or(0),
        rodata_section: sections.get(".rodata").copied().unwrap_or(0),
        kunit_text: kunit_text(&nm),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llvm_tool_output() {
        let berkeley = "   text\t   data\t    bss\t    dec\t    hex\tfilename\n   3697\t   1312\t     33\t   5042\t   13b2\tkmem.ko\n";
        assert_eq!(parse_berkeley(berkeley), Some((3697, 1312, 33)));
        let sysv =
            "kmem.ko  :\nsection   size   addr\n.text   2744   0\n.data  272  0\nTotal 5111\n";
        let s = parse_sysv(sysv);
        assert_eq!(s[".text"], 2744);
        assert_eq!(s[".data"], 272);
        assert!(!s.contains_key("Total"));
        let nm = "0000000000001935 0000000000000795 T kmem_rs::tests::kunit_rust_wrapper_state_parsing\n\
                  0000000000000fa8 00000000000005f7 T <kmem_rs::Inner>::probe\n\
                  0000000000002733 0000000000000076 t kmem_rs::tests::shown\n\
                  0000000000000010 0000000000000010 d kmem_rs::tests::DATA\n";
        assert_eq!(kunit_text(nm), 0x795 + 0x76);
    }
}
