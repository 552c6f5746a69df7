// SPDX-License-Identifier: GPL-2.0-only
//! `demo`: the main job, watched live. The guest script narrates; we relay.

use anyhow::{bail, Result};
use std::fs;
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
    let outcome = GuestRun {
        name: "boot + demo",
        out: out.clone(),
        append: Vec::new(),
        timeout: Duration::from_secs(600),
        follow: Some(("demo.txt", &mut echo)),
        module: Some(kernel.kmem_module(driver)),
    }
    .run(ctx, kernel, accel, &["demo"])?;
    let rc = fs::read_to_string(out.join("demo.rc")).unwrap_or_default();
    if outcome.timed_out || rc.trim() != "0" {
        if outcome.timed_out || rc.is_empty() {
            bail!("{}", vm::describe_failure("boot + demo", &outcome));
        }
        bail!(
            "the demo failed (guest status {}); console log: {}",
            rc.trim(),
            outcome.log.display()
        );
    }
    println!("==> demo done; guest output in {}", out.display());
    Ok(())
}
