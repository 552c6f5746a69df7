// SPDX-License-Identifier: GPL-2.0-only
//! `test`: each suite runs in its own fresh guest boot (some leave the
//! device wedged until reboot on purpose), prints KTAP into the shared
//! output directory, and is judged strictly by [`crate::tap::tally`].

use anyhow::{bail, Result};
use std::fs;
use std::time::{Duration, Instant};

use crate::build::Kernel;
use crate::ctx::Ctx;
use crate::tap;
use crate::vm::{self, GuestRun};

/// An in-guest test suite; its name is the guest script's `suite` argument.
pub struct Suite {
    pub name: &'static str,
    pub about: &'static str,
    /// Extra kernel command line for this suite's boot.
    pub append: &'static [&'static str],
    /// The whole boot, test included, is killed after this long.
    pub timeout: Duration,
}

pub const SUITES: &[Suite] = &[
    Suite {
        name: "dax-kmem-hotplug",
        about: "upstream selftests/dax/dax-kmem-hotplug.sh with DAX_KMEM_TEST_UNBIND=1",
        append: &[],
        timeout: Duration::from_secs(600),
    },
    Suite {
        name: "mem-on-off",
        about: "upstream selftests/memory-hotplug/mem-on-off-test.sh over the hotplugged device",
        append: &[],
        timeout: Duration::from_secs(900),
    },
    Suite {
        name: "daxctl-roundtrip",
        about: "daxctl reconfigure-device system-ram/devdax: MemTotal, /proc/iomem, memory blocks",
        append: &[],
        timeout: Duration::from_secs(600),
    },
];

/// The driver under test. Only the C kmem exists so far; it is the oracle
/// every later driver is compared with.
const DRIVER: &str = "C kmem";

pub fn list() {
    for s in SUITES {
        println!("{:<18} {}", s.name, s.about);
    }
}

fn selected(filters: &[String]) -> Result<Vec<&'static Suite>> {
    let picked: Vec<_> = SUITES
        .iter()
        .filter(|s| filters.is_empty() || filters.iter().any(|f| s.name.contains(f.as_str())))
        .collect();
    if picked.is_empty() {
        let names: Vec<_> = SUITES.iter().map(|s| s.name).collect();
        bail!(
            "no suite matches {:?}; suites: {}",
            filters,
            names.join(", ")
        );
    }
    Ok(picked)
}

/// Runs the selected suites; `prep` is how long setup and build took.
pub fn run(ctx: &Ctx, kernel: &Kernel, filters: &[String], prep: Duration) -> Result<()> {
    let suites = selected(filters)?;
    println!(
        "==> test ({} suite(s) on {DRIVER}, kernel {})",
        suites.len(),
        kernel.release()
    );
    let accel = vm::accel(ctx, kernel)?;
    let started = Instant::now();
    println!("TAP version 13");
    println!("1..{}", suites.len());
    let mut rows = Vec::new();
    let (mut passed, mut failed) = (0, 0);
    for (i, suite) in suites.iter().enumerate() {
        let out = ctx.run_dir(suite.name)?;
        let tap_name = format!("{}.tap", suite.name);
        let mut echo = |line: &str| println!("    {line}");
        let outcome = GuestRun {
            name: &format!("boot + {}", suite.name),
            out: out.clone(),
            append: suite.append.iter().map(|s| s.to_string()).collect(),
            timeout: suite.timeout,
            follow: Some((&tap_name, &mut echo)),
        }
        .run(ctx, kernel, accel, &["suite", suite.name])?;
        let text = fs::read_to_string(out.join(&tap_name)).unwrap_or_default();
        let exit = if outcome.timed_out {
            None
        } else {
            fs::read_to_string(out.join(format!("{}.rc", suite.name)))
                .ok()
                .and_then(|s| s.trim().parse().ok())
        };
        let t = tap::tally(&tap::parse(&text), exit);
        let ok = t.failed == 0;
        println!(
            "{}ok {} {} # {} passed, {} failed ({:.0}s)",
            if ok { "" } else { "not " },
            i + 1,
            suite.name,
            t.passed,
            t.failed,
            outcome.elapsed.as_secs_f64()
        );
        for why in &t.failures {
            println!("    # FAIL: {why}");
        }
        if !ok {
            println!("    # guest output: {}", out.display());
            if exit.is_none() {
                for l in vm::describe_failure(&format!("boot + {}", suite.name), &outcome).lines() {
                    println!("    # {l}");
                }
            }
        }
        passed += t.passed;
        failed += t.failed;
        rows.push((suite.name, t.passed, t.failed, outcome.elapsed));
    }
    println!("# {:<18} {:>14}", "suite", DRIVER);
    for (name, p, f, d) in &rows {
        println!(
            "# {name:<18} {:>8}/{:<3} ({:.0}s)",
            p,
            p + f,
            d.as_secs_f64()
        );
    }
    println!(
        "# time: setup+build {:.0}s, suites {:.0}s",
        prep.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} test(s) failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_select_suites() {
        assert_eq!(selected(&[]).unwrap().len(), SUITES.len());
        let s = selected(&["mem-on".into()]).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "mem-on-off");
        assert!(selected(&["nope".into()]).is_err());
    }

    #[test]
    fn suites_exist_in_guest_script() {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("guest/kmem-rs-guest.sh");
        let text = fs::read_to_string(script).unwrap();
        for s in SUITES {
            assert!(
                text.contains(&format!("suite_{}()", s.name.replace('-', "_"))),
                "{}",
                s.name
            );
        }
    }
}
