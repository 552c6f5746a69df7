// SPDX-License-Identifier: GPL-2.0-only
//! `build`: configure the lean test kernel from fragments and build it
//! out of tree, incrementally.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::PathBuf;

use crate::ctx::Ctx;
use crate::kconfig;
use crate::overlay::{self, Owners};
use crate::run::{capture, command, Step};
use crate::toolchain::{make, RUSTC};

/// What the fragment is merged onto, after `make tinyconfig` (in-tree paths).
const BASE_FRAGMENTS: &[&str] = &["kernel/configs/kvm_guest.config"];

/// The two kmem drivers every test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Driver {
    /// drivers/dax/kmem.c, the specification and test oracle.
    C,
    /// drivers/dax/kmem_rs.rs, the Rust reference driver.
    Rust,
}

impl Driver {
    pub const ALL: [Driver; 2] = [Driver::C, Driver::Rust];

    pub fn name(self) -> &'static str {
        match self {
            Driver::C => "C",
            Driver::Rust => "Rust",
        }
    }
}

impl std::str::FromStr for Driver {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "c" => Ok(Driver::C),
            "rust" | "rs" => Ok(Driver::Rust),
            _ => bail!("unknown driver '{s}': use c or rust"),
        }
    }
}

/// Where the C oracle is built, as an external module of the test build: the
/// tree's own kmem.ko is the Rust driver (CONFIG_DEV_DAX_KMEM_RUST=y), so both
/// variants come from one build directory without flipping the option.
const C_ORACLE_DIR: &str = "kmem-c";

/// A built test kernel.
pub struct Kernel {
    /// The O= build directory; vng boots it and finds its modules there.
    pub dir: PathBuf,
}

impl Kernel {
    pub fn existing(ctx: &Ctx) -> Result<Self> {
        let dir = ctx.build_dir();
        let k = Self { dir };
        let needed = [
            k.dir.join("arch/x86/boot/bzImage"),
            k.dir.join("modules.order"),
            k.kmem_module(Driver::C),
            k.kmem_module(Driver::Rust),
        ];
        if let Some(missing) = needed.iter().find(|p| !p.is_file()) {
            bail!(
                "no complete kernel build in {} ({} is missing): run `cargo kmem build`",
                k.dir.display(),
                missing.display()
            );
        }
        Ok(k)
    }

    /// The kmem.ko of `driver`.
    pub fn kmem_module(&self, driver: Driver) -> PathBuf {
        match driver {
            Driver::C => self.dir.join(C_ORACLE_DIR).join("kmem.ko"),
            Driver::Rust => self.dir.join("drivers/dax/kmem.ko"),
        }
    }

    /// `uname -r` of the built kernel.
    pub fn release(&self) -> String {
        fs::read_to_string(self.dir.join("include/config/kernel.release"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into())
    }
}

/// Configures and builds the test kernel; `owners` is the series whose
/// overlay is in the tree (its Kconfig files go into the config key).
pub fn build(ctx: &Ctx, fresh: bool, owners: &dyn Owners) -> Result<Kernel> {
    let dir = ctx.build_dir();
    println!("==> build (O={})", dir.display());
    if fresh && dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    configure(ctx, owners)?;
    let log = ctx.log("make")?;
    // The log of a full build has a known length: a progress bar next time.
    let count = dir.join(".kmem-rs-full-build-lines");
    let mut step = Step::new("make bzImage modules", &log);
    step.expected_lines = fs::read_to_string(&count)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let full = !dir.join("vmlinux").exists();
    step.run_ok(
        make(ctx, true)
            .arg(format!("-j{}", ctx.jobs))
            .args(["bzImage", "modules"]),
    )?;
    if full {
        fs::write(&count, step.lines_seen.to_string())?;
    }
    build_c_oracle(ctx)?;
    let k = Kernel::existing(ctx)?;
    println!("  ✓ kernel {} in {}", k.release(), k.dir.display());
    Ok(k)
}

/// Builds the base tree's drivers/dax/kmem.c (with its fragment, the fixes
/// series applied) as an external module of the test build: the C oracle beside the in-tree Rust kmem.ko.
fn build_c_oracle(ctx: &Ctx) -> Result<()> {
    let ext = ctx.build_dir().join(C_ORACLE_DIR);
    fs::create_dir_all(&ext)?;
    let kbuild = "# The C kmem driver, built by kmem-rs as the test oracle.\n\
                  obj-m := kmem.o\n\
                  ccflags-y := -I$(srctree)/drivers/dax\n";
    let files = [
        ("Kbuild", kbuild.to_string()),
        (
            "kmem.c",
            fs::read_to_string(ctx.src().join("drivers/dax/kmem.c"))?,
        ),
    ];
    for (name, content) in files {
        let path = ext.join(name);
        if fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            fs::write(&path, content)?;
        }
    }
    let log = ctx.log("make-kmem-c")?;
    // Kbuild does not rebuild an external module for every change of the
    // kernel's .config (CONFIG_BUG, for one, changes the module's sections,
    // and the stale kmem.ko then fails to load with "Invalid relocation
    // target"): start from clean whenever the .config is not the one it was
    // built against.
    let config = fs::read(ctx.build_dir().join(".config"))?;
    let stamp = ext.join(".kmem-rs-config.sha256");
    let want = format!("{:x}\n", Sha256::digest(&config));
    if fs::read_to_string(&stamp).ok().as_deref() != Some(want.as_str()) {
        Step::new("make clean (C oracle: the kernel .config changed)", &log).run_ok(
            make(ctx, true)
                .arg(format!("M={}", ext.display()))
                .arg("clean"),
        )?;
    }
    Step::new("make kmem.ko (C oracle, external module)", &log).run_ok(
        make(ctx, true)
            .arg(format!("M={}", ext.display()))
            .arg("modules"),
    )?;
    fs::write(&stamp, want)?;
    Ok(())
}

/// Whether some Kconfig file of the source tree defines `option` (CONFIG_X).
fn defines(ctx: &Ctx, option: &str) -> bool {
    let sym = option.trim_start_matches("CONFIG_");
    command("git")
        .arg("-C")
        .arg(ctx.src())
        .args(["grep", "-q", "-E"])
        .arg(format!("^(menu)?config {sym}$"))
        .args(["--", "*Kconfig*"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Everything the generated .config depends on, hashed.
fn config_key(ctx: &Ctx, owners: &dyn Owners) -> Result<String> {
    let mut h = Sha256::new();
    for f in ctx.config_fragments() {
        h.update(fs::read(f)?);
    }
    for f in BASE_FRAGMENTS {
        h.update(fs::read(ctx.src().join(f))?);
    }
    // The Kconfig files as they are in the tree being built (which is the
    // overlay's, or one commit of the series in `check`).
    for path in overlay::desired(ctx, owners)?.keys() {
        if path
            .rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with("Kconfig"))
        {
            h.update(path.as_bytes());
            h.update(fs::read(ctx.src().join(path)).unwrap_or_default());
        }
    }
    h.update(ctx.versions.base.tree.as_bytes());
    for tool in [
        RUSTC.to_string(),
        format!("clang{}", ctx.versions.toolchain.llvm_suffix),
    ] {
        h.update(capture(command(&tool).arg("--version")).unwrap_or_default());
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// tinyconfig + kvm_guest.config + our fragment, generated in a scratch
/// directory and copied over only when it changed, so that an unchanged
/// config costs no rebuild.
fn configure(ctx: &Ctx, owners: &dyn Owners) -> Result<()> {
    configure_tree(ctx, false, owners)
}

/// [`configure`]; with `partial_tree`, options whose symbol the tree does not
/// define yet (an early commit of the series) may be missing.
pub fn configure_tree(ctx: &Ctx, partial_tree: bool, owners: &dyn Owners) -> Result<()> {
    let dir = ctx.build_dir();
    let stamp = dir.join(".kmem-rs-config-key");
    let key = config_key(ctx, owners)?;
    let fragments = ctx.config_fragments();
    // Later fragments override earlier ones, as in merge_config.sh.
    let mut wanted = String::new();
    for f in &fragments {
        wanted.push_str(&fs::read_to_string(f)?);
        wanted.push('\n');
    }
    let dropped_from = |config: &str| {
        let mut dropped = kconfig::dropped(&wanted, config);
        if partial_tree {
            dropped.retain(|d| d.split(':').next().is_some_and(|o| defines(ctx, o)));
        }
        dropped
    };
    if fs::read_to_string(&stamp).ok().as_deref() == Some(&key) {
        // A make run by hand (without the toolchain's variables) can
        // rewrite .config: trust it only while it still has every option.
        let current = fs::read_to_string(dir.join(".config")).unwrap_or_default();
        let lost = dropped_from(&current);
        if !current.is_empty() && lost.is_empty() {
            println!("  ✓ .config up to date");
            return Ok(());
        }
        if !current.is_empty() {
            println!(
                "  ! .config lost {} option(s) of the test config since it was made (a make run outside kmem-rs?), e.g. {}: configuring again",
                lost.len(),
                lost[0]
            );
        }
    }
    let scratch = dir.with_extension("kconfig");
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch)?;
    let joined = std::env::join_paths(&fragments)?;
    let log = ctx.log("kconfig")?;
    let script = format!(
        "set -euo pipefail
         IFS=: read -ra FRAGMENT <<< \"$FRAGMENTS\"
         \"$@\" O=\"$SCRATCH\" tinyconfig
         scripts/kconfig/merge_config.sh -m -O \"$SCRATCH\" \"$SCRATCH/.config\" {} \"${{FRAGMENT[@]}}\"
         \"$@\" O=\"$SCRATCH\" olddefconfig",
        BASE_FRAGMENTS.join(" ")
    );
    let mk = make(ctx, false);
    let mut cmd = command("bash");
    cmd.current_dir(ctx.src())
        .args(["-c", &script, "kconfig"])
        .arg(mk.get_program())
        .args(mk.get_args())
        .env("SCRATCH", &scratch)
        .env("FRAGMENTS", &joined);
    for (k, v) in mk.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let what = match &ctx.variant {
        Some(v) => format!("configure (tinyconfig + kvm_guest + kmem-test + {v})"),
        None => "configure (tinyconfig + kvm_guest + kmem-test)".to_string(),
    };
    Step::new(&what, &log).run_ok(&mut cmd)?;
    let generated = fs::read_to_string(scratch.join(".config"))?;
    let dropped = dropped_from(&generated);
    if !dropped.is_empty() {
        bail!(
            "olddefconfig dropped options the test config needs (a missing dependency or toolchain?):\n    {}\n  fragments: {}\n  log: {}",
            dropped.join("\n    "),
            joined.to_string_lossy(),
            log.display()
        );
    }
    let current = fs::read_to_string(dir.join(".config")).unwrap_or_default();
    if current != generated {
        fs::write(dir.join(".config"), &generated).context("cannot write .config")?;
        println!("  ✓ .config updated");
    }
    fs::write(&stamp, &key)?;
    let _ = fs::remove_dir_all(&scratch);
    Ok(())
}
