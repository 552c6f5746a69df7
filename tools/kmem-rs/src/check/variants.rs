// SPDX-License-Identifier: GPL-2.0-only
//! The checks that build the series in a build directory of their own:
//! the config variants (no memory hot-remove, no Rust driver, no NUMA) and
//! the oldest rustc and bindgen the base tree supports (`msrv`).

use anyhow::{bail, Result};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use super::bisect::series_warnings;
use crate::build;
use crate::ctx::Ctx;
use crate::msrv;
use crate::overlay;
use crate::run::Step;
use crate::series::Series;
use crate::toolchain;

/// A config variant: configure, then compile rust/ and drivers/dax/.
pub fn variant(ctx: &Ctx, series: &Series, name: &str) -> Result<String> {
    let v = Ctx::new(
        Some(ctx.cache.clone()),
        Some(ctx.jobs),
        Some(name.to_string()),
    )?;
    fs::create_dir_all(v.build_dir())?;
    build::configure_tree(&v, false, series)?;
    let log = v.log(&format!("variant-{name}"))?;
    Step::new(&format!("make rust/ drivers/dax/ ({name})"), &log).run_ok(
        toolchain::make(&v, true)
            .arg(format!("-j{}", v.jobs))
            .arg("CLIPPY=1")
            .args(["rust/", "drivers/dax/"]),
    )?;
    let text = fs::read_to_string(&log)?;
    let files: BTreeSet<String> = overlay::desired(ctx, series)?
        .into_keys()
        .filter(|p| p.ends_with(".rs") || p.ends_with(".c"))
        .collect();
    let warnings = series_warnings(&text, &files);
    if !warnings.is_empty() {
        bail!(
            "warnings in series files (log {}):\n{}",
            log.display(),
            warnings.join("\n")
        );
    }
    Ok(format!(
        "compiles, 0 warnings ({})",
        v.build_dir().display()
    ))
}

/// The test config's rust/ and drivers/dax/, in their own build directory,
/// with the oldest rustc and bindgen the base tree supports (with their
/// clippy), and no warning in a series file.
pub fn msrv_build(ctx: &Ctx, series: &Series) -> Result<String> {
    // The series' files first: a series that does not parse fails before the build.
    let files: BTreeSet<String> = overlay::desired(ctx, series)?
        .into_keys()
        .filter(|p| p.ends_with(".rs") || p.ends_with(".c"))
        .collect();
    let m = msrv::ensure(ctx)?;
    let v = Ctx::new(
        Some(ctx.cache.clone()),
        Some(ctx.jobs),
        Some("msrv".to_string()),
    )?;
    fs::create_dir_all(v.build_dir())?;
    build::configure_tree(&v, false, series)?;
    msrv::configure(&v, &m)?;
    let rustc = &ctx.versions.msrv.rustc;
    let log = v.log("variant-msrv")?;
    Step::new(
        &format!("make CLIPPY=1 rust/ drivers/dax/ (rustc {rustc})"),
        &log,
    )
    .run_ok(
        m.make(&v)
            .arg(format!("-j{}", v.jobs))
            .arg("CLIPPY=1")
            .args(["rust/", "drivers/dax/"]),
    )?;
    let warnings = series_warnings(&fs::read_to_string(&log)?, &files);
    if !warnings.is_empty() {
        bail!(
            "warnings in series files with rustc {rustc} (log {}):\n{}",
            log.display(),
            warnings.join("\n")
        );
    }
    // What was built, and by whom: the Rust driver and rust/kernel.o by the
    // old rustc, the bindings by the old bindgen (kbuild's .cmd files name
    // the command), and the C objects of drivers/dax.
    let dir = v.build_dir();
    let mut by_old = Vec::new();
    for obj in [
        "drivers/dax/kmem_rs.o",
        "rust/kernel.o",
        "rust/bindings/bindings_generated.rs",
    ] {
        let (d, f) = obj.rsplit_once('/').unwrap_or_default();
        let cmd = fs::read_to_string(dir.join(d).join(format!(".{f}.cmd"))).unwrap_or_default();
        if !dir.join(obj).is_file() || !m.built(&cmd) {
            bail!(
                "{obj} was not built by the msrv toolchain in {}",
                dir.display()
            );
        }
        by_old.push(obj);
    }
    let c_objects = c_objects(&dir.join("drivers/dax"), "")?;
    if c_objects.is_empty() {
        bail!("no C object of drivers/dax/ in {}", dir.display());
    }
    Ok(format!(
        "rustc {rustc}, bindgen {}, CLIPPY=1: 0 warnings in series files; built by them: {}; C in drivers/dax: {} ({})",
        ctx.versions.msrv.bindgen_cli,
        by_old.join(", "),
        c_objects.join(" "),
        dir.display()
    ))
}

/// The objects under `dir` that kbuild compiled from a C file (their
/// `.cmd` names a `.c` source; linked composites name none), by path
/// relative to `dir`.
fn c_objects(dir: &Path, rel: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(dir.join(rel))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if e.path().is_dir() {
            out.extend(c_objects(dir, &r)?);
        } else if name.ends_with(".o") {
            let cmd = fs::read_to_string(e.path().with_file_name(format!(".{name}.cmd")))
                .unwrap_or_default();
            if compiled_from_c(&cmd) {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// Whether kbuild's `.cmd` text of an object names a C source
/// (`source_OBJ := FILE.c`).
pub fn compiled_from_c(cmd: &str) -> bool {
    cmd.lines()
        .any(|l| l.starts_with("source_") && l.trim_end().ends_with(".c"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_compiled_from_c() {
        let compiled = "savedcmd_drivers/dax/bus.o := clang -c -o drivers/dax/bus.o ../drivers/dax/bus.c\n\n\
                        source_drivers/dax/bus.o := ../drivers/dax/bus.c\n\ndeps_drivers/dax/bus.o := \\\n";
        assert!(compiled_from_c(compiled));
        let linked = "savedcmd_drivers/dax/kmem.o := ld.lld -m elf_x86_64 -r -o drivers/dax/kmem.o @drivers/dax/kmem.mod\n";
        assert!(!compiled_from_c(linked));
        let rust = "savedcmd_drivers/dax/kmem_rs.o := OBJTREE=/b rustc --edition=2021 ../drivers/dax/kmem_rs.rs\n\n\
                    source_drivers/dax/kmem_rs.o := ../drivers/dax/kmem_rs.rs\n";
        assert!(!compiled_from_c(rust));
    }
}
