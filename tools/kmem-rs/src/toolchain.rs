// SPDX-License-Identifier: GPL-2.0-only
//! The project's toolchain as the other steps call it: Debian's rustc, the
//! bindgen and vng that `setup` installs into the cache, and `make` in the
//! source tree with all of them. Below `setup` and `build`, which both use it.

use std::path::PathBuf;
use std::process::Command;

use crate::ctx::Ctx;
use crate::run::command;

/// Debian's rustc-web, never the rustup one that may come first on PATH.
pub const RUSTC: &str = "/usr/bin/rustc";

/// Where `setup` installs bindgen-cli.
pub fn bindgen_path(ctx: &Ctx) -> PathBuf {
    ctx.cache.join("tools/bin/bindgen")
}

/// Where `setup` installs virtme-ng's vng.
pub fn vng_path(ctx: &Ctx) -> PathBuf {
    ctx.cache.join("venv/bin/vng")
}

/// `make` in the source tree with the project's toolchain; `out_of_tree`
/// adds O= for the test build directory.
pub fn make(ctx: &Ctx, out_of_tree: bool) -> Command {
    let llvm = &ctx.versions.toolchain.llvm_suffix;
    let mut c = command("make");
    c.arg("-C").arg(ctx.src());
    if out_of_tree {
        c.arg(format!("O={}", ctx.build_dir().display()));
    }
    c.arg(format!("LLVM={llvm}"))
        .arg(format!("RUSTC={RUSTC}"))
        .arg("RUSTDOC=/usr/bin/rustdoc")
        .arg("RUSTFMT=/usr/bin/rustfmt")
        .arg("CLIPPY_DRIVER=/usr/bin/clippy-driver")
        .arg(format!("BINDGEN={}", bindgen_path(ctx).display()))
        .env("LIBCLANG_PATH", format!("/usr/lib/llvm{llvm}/lib"));
    c
}
