// SPDX-License-Identifier: GPL-2.0-only
//! The `restricted` check: mm exports `__add_memory_driver_managed()` to the
//! module `kmem` only, and the Rust abstraction must not widen that. A module
//! of another name that calls `AddedMemory::add_driver_managed()`
//! (`restricted/mhp_not_kmem.rs`) must fail modpost, and the kernel crate
//! must export nothing that reaches the symbol. Runs on the test build, which
//! `check` has built.

use anyhow::{bail, Result};
use std::fs;

use crate::ctx::Ctx;
use crate::run::{command, Step};
use crate::toolchain;

/// The test module, as modpost names it.
const MODULE: &str = "mhp_not_kmem";
/// The symbol mm exports to kmem only.
const SYMBOL: &str = "__add_memory_driver_managed";

/// What modpost must say about `MODULE`'s use of `SYMBOL`.
fn refusal() -> String {
    format!("uses symbol '{SYMBOL}' from namespace 'module:kmem', but does not import it")
}

/// Whether the build log shows modpost refusing the module for the symbol.
fn refused(log: &str) -> bool {
    log.lines()
        .any(|l| l.contains(MODULE) && l.contains(&refusal()))
}

/// Kernel-crate symbols (from `nm` output) that are the abstraction's add or its safe dax
/// wrapper (`dax::Memory::add`, mangled `...3dax6Memory3add...`).
fn exported_adds(nm: &str) -> Vec<&str> {
    nm.lines()
        .filter(|l| l.contains("add_driver_managed") || l.contains("3dax6Memory3add"))
        .filter(|l| l.split_whitespace().nth(1).is_some_and(|t| t == "T"))
        .collect()
}

pub fn check(ctx: &Ctx) -> Result<String> {
    let build = ctx.build_dir();
    // The kernel crate: no global symbol of the abstraction's add.
    let kernel_o = build.join("rust/kernel.o");
    let nm = command("llvm-nm-19").arg(&kernel_o).output()?;
    if !nm.status.success() {
        bail!(
            "llvm-nm {} failed: is the test kernel built?",
            kernel_o.display()
        );
    }
    let nm = String::from_utf8_lossy(&nm.stdout);
    let adds = exported_adds(&nm);
    if !adds.is_empty() {
        bail!("rust/kernel.o defines the add as global symbols: {adds:?}");
    }
    // The Rust kmem.ko links against the symbol itself (the call is its own).
    let kmem = build.join("drivers/dax/kmem.ko");
    let undef = command("llvm-nm-19").arg("-u").arg(&kmem).output()?;
    if !String::from_utf8_lossy(&undef.stdout).contains(SYMBOL) {
        bail!("{} does not call {SYMBOL} itself", kmem.display());
    }
    // A module of another name: modpost must refuse it.
    let ext = build.join("restricted");
    fs::create_dir_all(&ext)?;
    let srcdir = ctx.repo.join("tools/kmem-rs/restricted");
    for f in ["Kbuild", "mhp_not_kmem.rs"] {
        fs::copy(srcdir.join(f), ext.join(f))?;
    }
    let log = ctx.log("check-restricted")?;
    let out = Step::new("make mhp_not_kmem.ko (must fail modpost)", &log).run(
        toolchain::make(ctx, true)
            .arg(format!("M={}", ext.display()))
            .arg("modules"),
    )?;
    let text = fs::read_to_string(&log)?;
    if out.success() {
        bail!(
            "{MODULE}.ko built: the restriction does not hold (log {})",
            log.display()
        );
    }
    if !refused(&text) {
        bail!(
            "{MODULE}.ko failed, but not with modpost's refusal \"{}\" (log {})",
            refusal(),
            log.display()
        );
    }
    Ok(format!(
        "kmem.ko calls {SYMBOL}; {MODULE}.ko refused by modpost; rust/kernel.o exports no add"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modpost_refusal_is_recognised() {
        let log = "ERROR: modpost: mhp_not_kmem.ko: module uses symbol \
                   '__add_memory_driver_managed' from namespace 'module:kmem', \
                   but does not import it.\n";
        assert!(refused(log));
        assert!(!refused(
            "ERROR: modpost: \"foo\" [mhp_not_kmem.ko] undefined!\n"
        ));
        assert!(!refused(&log.replace("mhp_not_kmem", "kmem")));
    }

    #[test]
    fn only_global_text_symbols_count() {
        let nm = "0000000000000010 t _RNvMs_add_driver_managed_local\n\
                  0000000000000020 T _RNvMs_add_driver_managed\n\
                  0000000000000030 T _RNvMs_other\n\
                  0000000000000040 T _RNvMs0_NtCs1_6kernel3dax6Memory3add\n";
        let want = [
            "0000000000000020 T _RNvMs_add_driver_managed",
            "0000000000000040 T _RNvMs0_NtCs1_6kernel3dax6Memory3add",
        ];
        assert_eq!(exported_adds(nm), want);
    }
}
