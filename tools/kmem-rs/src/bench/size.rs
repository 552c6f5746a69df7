// SPDX-License-Identifier: GPL-2.0-only
//! Module sizes: `llvm-size-19` and `llvm-nm-19` on the two `kmem.ko`.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::build::Driver;
use crate::run::{capture, command};

/// The Kconfig option of the Rust driver's KUnit tests.
const KUNIT_OPTION: &str = "CONFIG_DEV_DAX_KMEM_RUST_KUNIT_TEST";
/// Text symbols listed per module, largest first.
const LARGEST: usize = 12;

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
    /// Whether this is the module rebuilt with its KUnit tests compiled out.
    #[serde(default)]
    pub without_kunit: bool,
    /// The largest text symbols (demangled name, bytes), largest first.
    #[serde(default)]
    pub largest: Vec<(String, u64)>,
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

/// `llvm-nm -S -C --size-sort` output: the `n` largest text symbols.
pub fn largest_text(nm: &str, n: usize) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = nm
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(4, ' ');
            let (_addr, size, kind, name) = (f.next()?, f.next()?, f.next()?, f.next()?);
            matches!(kind, "t" | "T")
                .then(|| Some((name.to_string(), u64::from_str_radix(size, 16).ok()?)))?
        })
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// The first command of a kbuild `.cmd` file (`savedcmd_X := CMD`).
fn saved_command(cmd_file: &Path) -> Result<String> {
    let text =
        fs::read_to_string(cmd_file).with_context(|| format!("reading {}", cmd_file.display()))?;
    text.lines()
        .next()
        .and_then(|l| l.split_once(" := "))
        .map(|(_, c)| c.to_string())
        .with_context(|| format!("no saved command in {}", cmd_file.display()))
}

/// `from` replaced by `to` in `cmd`, which must contain it.
fn swap(cmd: &str, from: &str, to: &str) -> Result<String> {
    if !cmd.contains(from) {
        bail!("kbuild command changed: no {from:?} in it");
    }
    Ok(cmd.replace(from, to))
}

/// The three kbuild commands that make the Rust `kmem.ko` (rustc, the
/// module's `ld -r` and objtool, the `.ko` link), rewritten to build into
/// `out` with the configuration at `out/rustc_cfg`.
pub fn commands_into(obj: &str, link: &str, ko: &str, out: &str) -> Result<[String; 3]> {
    // A build with CLIPPY=1 compiles through clippy-driver: the same code
    // generation, plus lints this rebuild does not need.
    let obj = if obj.contains("/usr/bin/clippy-driver ") {
        swap(obj, "/usr/bin/clippy-driver ", "/usr/bin/rustc ")?
    } else {
        swap(obj, "/usr/bin/rustc ", "/usr/bin/rustc ")?
    };
    let obj = swap(
        &obj,
        "@./include/generated/rustc_cfg",
        &format!("@{out}/rustc_cfg"),
    )?;
    let obj = swap(&obj, "--out-dir drivers/dax/", &format!("--out-dir {out}/"))?;
    let obj = swap(
        &obj,
        "=drivers/dax/.kmem_rs.o.d",
        &format!("={out}/kmem_rs.o.d"),
    )?;
    let obj = swap(&obj, "=drivers/dax/kmem_rs.o", &format!("={out}/kmem_rs.o"))?;
    let link = swap(link, "-o drivers/dax/kmem.o", &format!("-o {out}/kmem.o"))?;
    let link = swap(&link, "@drivers/dax/kmem.mod", &format!("{out}/kmem_rs.o"))?;
    let link = swap(
        &link,
        "--module drivers/dax/kmem.o",
        &format!("--module {out}/kmem.o"),
    )?;
    let ko = swap(
        ko,
        "-o drivers/dax/kmem.ko drivers/dax/kmem.o",
        &format!("-o {out}/kmem.ko {out}/kmem.o"),
    )?;
    Ok([obj, link, ko])
}

/// The kernel's Rust cfg file without the lines of `option`.
pub fn cfg_without(cfg: &str, option: &str) -> String {
    cfg.lines()
        .filter(|l| {
            let name = l.trim_start_matches("--cfg=");
            name != option && !name.starts_with(&format!("{option}="))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Rebuilds the Rust `kmem.ko` of the kernel in `kdir` with its KUnit tests
/// compiled out, into `out`: the same rustc, ld and objtool commands kbuild
/// ran, with the KUnit option dropped from the Rust configuration.
pub fn rust_module_without_kunit(kdir: &Path, out: &Path) -> Result<PathBuf> {
    fs::create_dir_all(out)?;
    let cfg = fs::read_to_string(kdir.join("include/generated/rustc_cfg"))?;
    fs::write(out.join("rustc_cfg"), cfg_without(&cfg, KUNIT_OPTION))?;
    let dax = kdir.join("drivers/dax");
    let cmds = commands_into(
        &saved_command(&dax.join(".kmem_rs.o.cmd"))?,
        &saved_command(&dax.join(".kmem.o.cmd"))?,
        &saved_command(&dax.join(".kmem.ko.cmd"))?,
        &out.display().to_string(),
    )?;
    for c in cmds {
        let ok = command("sh")
            .arg("-c")
            .arg(&c)
            .current_dir(kdir)
            // As kbuild does: the kernel's Rust needs unstable options.
            .env("RUSTC_BOOTSTRAP", "1")
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            bail!("rebuilding kmem.ko without KUnit failed: {c}");
        }
    }
    Ok(out.join("kmem.ko"))
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
        without_kunit: false,
        largest: largest_text(
            &llvm("llvm-nm-19", &["-S", "-C", "--defined-only", "--size-sort"]).unwrap_or_default(),
            LARGEST,
        ),
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
        let big = largest_text(nm, 2);
        assert_eq!(
            big[0],
            (
                "kmem_rs::tests::kunit_rust_wrapper_state_parsing".into(),
                0x795
            )
        );
        assert_eq!(big[1].1, 0x5f7);
    }

    #[test]
    fn rebuild_without_kunit() {
        let cfg = "--cfg=CONFIG_KUNIT\n--cfg=CONFIG_DEV_DAX_KMEM_RUST_KUNIT_TEST\n\
                   --cfg=CONFIG_DEV_DAX_KMEM_RUST_KUNIT_TEST=\"y\"\n--cfg=CONFIG_DEV_DAX_KMEM_RUST\n";
        assert_eq!(
            cfg_without(cfg, KUNIT_OPTION),
            "--cfg=CONFIG_KUNIT\n--cfg=CONFIG_DEV_DAX_KMEM_RUST\n"
        );
        let link_src = || {
            "ld -r -o drivers/dax/kmem.o @drivers/dax/kmem.mod ; objtool --link --module drivers/dax/kmem.o"
                .to_string()
        };
        let ko_src = || {
            "ld -T m.lds -o drivers/dax/kmem.ko drivers/dax/kmem.o drivers/dax/kmem.mod.o"
                .to_string()
        };
        let [obj, link, ko] = commands_into(
            "X=1 /usr/bin/clippy-driver -Wx @./include/generated/rustc_cfg --out-dir drivers/dax/ \
             --emit=dep-info=drivers/dax/.kmem_rs.o.d --emit=obj=drivers/dax/kmem_rs.o k.rs",
            &link_src(),
            &ko_src(),
            "/t",
        )
        .unwrap();
        assert_eq!(
            obj,
            "X=1 /usr/bin/rustc -Wx @/t/rustc_cfg --out-dir /t/ \
             --emit=dep-info=/t/kmem_rs.o.d --emit=obj=/t/kmem_rs.o k.rs"
        );
        assert_eq!(
            link,
            "ld -r -o /t/kmem.o /t/kmem_rs.o ; objtool --link --module /t/kmem.o"
        );
        assert_eq!(
            ko,
            "ld -T m.lds -o /t/kmem.ko /t/kmem.o drivers/dax/kmem.mod.o"
        );
        // A kbuild whose commands look different fails loudly.
        assert!(commands_into("rustc x", "", "", "/t").is_err());
    }
}
