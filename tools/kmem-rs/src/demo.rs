// SPDX-License-Identifier: GPL-2.0-only
//! `demo`: the main job, watched live. The guest script narrates; we relay.

use anyhow::Result;
use std::time::Duration;

use crate::build::{Driver, Kernel};
use crate::ctx::Ctx;
use crate::vm::{self, GuestRun};

pub fn run(ctx: &Ctx, kernel: &Kernel, driver: Driver) -> Result<()> {
    println!(
        "==> demo: persistent memory becomes System RAM ({} kmem, kernel {})",
        driver.name(),
        kernel.release()
    );
    let accel = vm::accel(ctx, kernel)?;
    let out = ctx.run_dir("demo")?;
    let mut echo = |line: &str| println!("{line}");
    GuestRun {
        name: "boot + demo",
        out: out.clone(),
        append: Vec::new(),
        timeout: Duration::from_secs(600),
        follow: Some(("demo.txt", &mut echo)),
        module: Some(kernel.kmem_module(driver)),
        qemu_opts: Vec::new(),
    }
    .run_relayed(ctx, kernel, accel, &["demo"], "demo.rc")?;
    println!("==> demo done; guest output in {}", out.display());
    Ok(())
}
