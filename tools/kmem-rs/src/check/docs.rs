// SPDX-License-Identifier: GPL-2.0-only
//! The checks that are one make target of the test build directory:
//! rustfmtcheck, rustdoc, and htmldocs of the new page with a pinned Sphinx.

use anyhow::{bail, Context, Result};
use std::fs;
use std::path::PathBuf;

use crate::ctx::Ctx;
use crate::run::{command, Step};
use crate::toolchain;

/// A make target in the test build directory that must succeed quietly.
pub fn make_target(ctx: &Ctx, what: &str, args: &[&str]) -> Result<String> {
    let log = ctx.log(what)?;
    Step::new(&format!("make {}", args.join(" ")), &log).run_ok(
        toolchain::make(ctx, true)
            .arg(format!("-j{}", ctx.jobs))
            .args(args),
    )?;
    let text = fs::read_to_string(&log)?;
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains("warning")).collect();
    if !warnings.is_empty() {
        bail!(
            "{} warning(s) (log {}):\n{}",
            warnings.len(),
            log.display(),
            warnings.join("\n")
        );
    }
    Ok("clean".into())
}

/// A venv in the cache named `name` with the PyPI packages `pins`, made
/// again whenever the pins change; its `bin` directory.
pub fn pip_venv(ctx: &Ctx, name: &str, pins: &[String], table: &str) -> Result<PathBuf> {
    let venv = ctx.cache.join(name);
    let stamp = venv.join(".kmem-rs-pins");
    let joined = pins.join(" ");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(joined.as_str()) {
        return Ok(venv.join("bin"));
    }
    let _ = fs::remove_dir_all(&venv);
    let log = ctx.log(name)?;
    Step::new(&format!("python3 -m venv ({name})"), &log)
        .run_ok(command("/usr/bin/python3").args(["-m", "venv"]).arg(&venv))?;
    Step::new(&format!("pip install {joined}"), &log)
        .run_ok(command(venv.join("bin/pip")).args(["install", "--quiet"]).args(pins))
        .with_context(|| format!("cannot install from PyPI (network? the pins in tools/kmem-rs/versions.toml [{table}]?)"))?;
    fs::write(&stamp, joined)?;
    Ok(venv.join("bin"))
}

/// Sphinx from PyPI, pinned, in its own venv.
fn sphinx(ctx: &Ctx) -> Result<PathBuf> {
    pip_venv(ctx, "venv-docs", &ctx.versions.docs.pip, "docs")
}

pub fn htmldocs(ctx: &Ctx) -> Result<String> {
    let bin = sphinx(ctx)?;
    let log = ctx.log("htmldocs")?;
    let mut path = bin.into_os_string();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    // Documentation/Makefile uses RUSTDOC for a flag of its own: drop our
    // RUSTDOC=/usr/bin/rustdoc from the make command line.
    // From scratch: Sphinx repeats no warning for a page it does not rebuild.
    let _ = fs::remove_dir_all(ctx.build_dir().join("Documentation/output"));
    let mk = toolchain::make(ctx, true);
    let mut cmd = command(mk.get_program());
    cmd.args(
        mk.get_args()
            .filter(|a| !a.to_string_lossy().starts_with("RUSTDOC=")),
    );
    for (k, v) in mk.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    Step::new("make htmldocs SPHINXDIRS=driver-api/nvdimm", &log).run_ok(
        cmd.args(["htmldocs", "SPHINXDIRS=driver-api/nvdimm"])
            .env("PATH", path),
    )?;
    let text = fs::read_to_string(&log)?;
    // Warnings about the documents (file.rst:LINE: WARNING: …); the build
    // environment's own (no graphviz `dot`, say) are not the series'.
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| (l.contains("WARNING") || l.contains("ERROR")) && l.contains(".rst"))
        .collect();
    if !warnings.is_empty() {
        bail!(
            "{} Sphinx warning(s) (log {}):\n{}",
            warnings.len(),
            log.display(),
            warnings.join("\n")
        );
    }
    let page = ctx
        .build_dir()
        .join("Documentation/output/driver-api/nvdimm/kmem-rust.html");
    if !page.is_file() {
        bail!("Sphinx made no {}", page.display());
    }
    Ok("kmem-rust.html built, 0 warnings".into())
}
