// SPDX-License-Identifier: GPL-2.0-only
//! `test`: each suite runs in its own fresh guest boot (some leave the
//! device wedged until reboot on purpose), prints KTAP into the shared
//! output directory, and is judged strictly by [`crate::tap::tally`].
//!
//! The parts import one way: `suites` (the normal lane's suites) at the
//! bottom, then `lanes` (the suites and the scenario table a config variant
//! adds); this file, the entry point, runs them and prints the verdicts.

use anyhow::{bail, Result};
use std::fmt::Write as _;
use std::fs;
use std::time::{Duration, Instant};

mod lanes;
mod record;
mod suites;

use crate::build::{Driver, Kernel};
use crate::ctx::Ctx;
use crate::tap;
use crate::vm::{self, GuestRun, Topology};
use suites::{Suite, SUITES};

pub fn list() {
    for s in SUITES {
        println!(
            "{:<22} [{}] {}",
            s.name,
            vm::platform_of(s.platform).name,
            s.about
        );
    }
    for s in lanes::DEBUG_SUITES {
        println!("{:<22} (--variant debug only) {}", s.name, s.about);
    }
    println!("\nplatforms (`cargo kmem vm --platform NAME`):");
    for p in vm::PLATFORMS {
        println!("{:<22} {}", p.name, p.about);
    }
}

/// The suites that `filters` pick from [`SUITES`] and the lane's `extra` ones.
fn selected(filters: &[String], extra: &'static [Suite]) -> Result<Vec<&'static Suite>> {
    let picked: Vec<_> = SUITES
        .iter()
        .chain(extra)
        .filter(|s| filters.is_empty() || filters.iter().any(|f| s.name.contains(f.as_str())))
        .collect();
    if picked.is_empty() {
        let names: Vec<_> = SUITES.iter().chain(extra).map(|s| s.name).collect();
        bail!(
            "no suite matches {:?}; suites: {}",
            filters,
            names.join(", ")
        );
    }
    Ok(picked)
}

/// One suite's run on one driver.
struct Outcome {
    /// The kmem driver it ran on; `None` for a driver-independent suite.
    driver: Option<Driver>,
    tally: tap::Tally,
    /// Pass (true) or not, test by test, to compare the drivers.
    results: Vec<bool>,
    /// Each test's description and verdict, for the lane's scenario table.
    tests: Vec<(String, bool)>,
    /// The kernel reports of the boot ([`crate::reports::summary`]).
    reports: String,
    elapsed: Duration,
}

/// Where the C (`a`) and Rust (`b`) results differ, test by test, as messages.
fn differences(a: &[bool], b: &[bool]) -> Vec<String> {
    let verdict = |r: Option<&bool>| match r {
        Some(true) => "ok",
        Some(false) => "not ok",
        None => "missing",
    };
    (0..a.len().max(b.len()))
        .filter(|&i| a.get(i) != b.get(i))
        .map(|i| {
            format!(
                "test {}: C {}, Rust {}",
                i + 1,
                verdict(a.get(i)),
                verdict(b.get(i))
            )
        })
        .collect()
}

pub fn run(
    ctx: &Ctx,
    kernel: &Kernel,
    filters: &[String],
    drivers: &[Driver],
    prep: Duration,
    record: bool,
) -> Result<(usize, usize)> {
    let suites = selected(filters, lanes::extra_suites(ctx.variant.as_deref()))?;
    let names: Vec<_> = drivers.iter().map(|d| d.name()).collect();
    println!(
        "==> test ({} suite(s) on the {} kmem driver(s), kernel {})",
        suites.len(),
        names.join(" and "),
        kernel.release()
    );
    let accel = vm::accel(ctx, kernel)?;
    let commit = record::commit(ctx);
    let started = Instant::now();
    println!("TAP version 13");
    let plan: usize = suites
        .iter()
        .map(|s| if s.per_driver { drivers.len() } else { 1 })
        .sum();
    println!("1..{plan}");
    let mut n = 0;
    let (mut passed, mut failed) = (0, 0);
    let mut table = Vec::new();
    for suite in &suites {
        let mut outcomes = Vec::new();
        let runs: Vec<Option<Driver>> = if suite.per_driver {
            drivers.iter().copied().map(Some).collect()
        } else {
            vec![None]
        };
        for driver in runs {
            n += 1;
            let o = run_one(ctx, kernel, accel, suite, driver, n)?;
            passed += o.tally.passed;
            failed += o.tally.failed;
            outcomes.push(o);
        }
        if let (true, [Driver::C, Driver::Rust], [c, r]) =
            (suite.per_driver, drivers, &outcomes[..])
        {
            let diff = differences(&c.results, &r.results);
            for d in &diff {
                println!("# DIFFERENCE {}: {d}", suite.name);
            }
            // A difference is a failure of its own: the C driver is the oracle.
            failed += diff.len();
        }
        table.push((suite.name, outcomes));
    }
    let mut sum = String::new();
    let _ = write!(sum, "# {:<22}", "suite");
    for d in drivers {
        let _ = write!(sum, " {:>14}", format!("{} kmem", d.name()));
    }
    sum.push('\n');
    for (name, outcomes) in &table {
        let _ = write!(sum, "# {name:<22}");
        if let [o] = &outcomes[..] {
            if drivers.len() > 1 {
                let t = &o.tally;
                let _ = writeln!(
                    sum,
                    " {}/{} ({:.0}s, driver-independent)",
                    t.passed,
                    t.passed + t.failed,
                    o.elapsed.as_secs_f64()
                );
                continue;
            }
        }
        for o in outcomes {
            let t = &o.tally;
            let cell = format!(
                "{}/{} ({:.0}s)",
                t.passed,
                t.passed + t.failed,
                o.elapsed.as_secs_f64()
            );
            let _ = write!(sum, " {cell:>14}");
        }
        sum.push('\n');
    }
    // Only a full run of the whole series is the matrix cover letters quote.
    if filters.is_empty()
        && drivers == Driver::ALL
        && ctx.variant.is_none()
        && ctx.without.is_empty()
    {
        record_matrix(ctx, &table, passed, failed)?;
    }
    sum.push_str(&lane_table(ctx, &table));
    let _ = writeln!(
        sum,
        "# time: setup+build {:.0}s, suites {:.0}s",
        prep.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let _ = writeln!(sum, "{passed} passed, {failed} failed");
    print!("{sum}");
    if record {
        let req = record::Request {
            filters,
            drivers: &names,
            knobs: record::knobs_set(),
            accel: format!("{accel:?}"),
            commit,
        };
        let date = crate::bench::now_utc();
        let text = record::render(ctx, &req, &date, &kernel.release(), &sum);
        record::write(ctx, &text)?;
        let groups = groups(&suites, &table);
        let block = record::readme_block(ctx, &req, &date, &groups, (passed, failed));
        let readme_path = ctx.repo.join("README.md");
        let readme = fs::read_to_string(&readme_path)?;
        match record::replace_block(ctx, &readme, &block) {
            Some(new) => {
                fs::write(&readme_path, new)?;
                println!("# README.md's status block rewritten");
            }
            None => println!("# README.md has no block for this variant: not changed"),
        }
    }
    Ok((passed, failed))
}

/// The pass counts of `table` per platform and driver, for README; the
/// driver-independent suites as one group of their own.
fn groups(suites: &[&Suite], table: &[(&str, Vec<Outcome>)]) -> Vec<record::Group> {
    let mut groups: Vec<record::Group> = Vec::new();
    for (suite, (_, outcomes)) in suites.iter().zip(table) {
        let shared = !suite.per_driver;
        let name = if shared {
            "KUnit and doctests".to_string()
        } else {
            vm::platform_of(suite.platform).name.to_string()
        };
        let i = match groups.iter().position(|g| g.name == name) {
            Some(i) => i,
            None => {
                groups.push(record::Group {
                    name,
                    c: (0, 0),
                    rust: (0, 0),
                    shared,
                });
                groups.len() - 1
            }
        };
        for o in outcomes {
            let t = &o.tally;
            let slot = match o.driver {
                Some(Driver::Rust) => &mut groups[i].rust,
                _ => &mut groups[i].c,
            };
            slot.0 += t.passed;
            slot.1 += t.passed + t.failed;
        }
    }
    groups
}

/// Leaves the pass counts of a full run where `cargo kmem patches --record`
/// finds them for the cover letter (times vary from run to run; counts not).
fn record_matrix(
    ctx: &Ctx,
    table: &[(&str, Vec<Outcome>)],
    passed: usize,
    failed: usize,
) -> Result<()> {
    let w = table
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(0)
        .max(22);
    let mut s = format!("{:<w$} {:>8} {:>10}\n", "suite", "C kmem", "Rust kmem");
    for (name, outcomes) in table {
        let cell = |o: &Outcome| format!("{}/{}", o.tally.passed, o.tally.passed + o.tally.failed);
        match &outcomes[..] {
            [c, r] => s.push_str(&format!("{name:<w$} {:>8} {:>10}\n", cell(c), cell(r))),
            [o] => s.push_str(&format!("{name:<w$} {:>8} (driver-independent)\n", cell(o))),
            _ => {}
        }
    }
    s.push_str(&format!("total: {passed} passed, {failed} failed\n"));
    fs::write(ctx.cache.join(crate::patches::LAST_MATRIX), s)?;
    Ok(())
}

/// The lane's scenario table (its own suites, test by test, C and Rust) and
/// the kernel reports of every run; without lane suites, the reports only.
/// A driver that did not run shows "-" in the table and "not run" in the
/// reports; a driver-independent suite's reports fill both columns.
fn lane_table(ctx: &Ctx, table: &[(&str, Vec<Outcome>)]) -> String {
    const NOT_RUN: &str = "not run";
    let extra = lanes::extra_suites(ctx.variant.as_deref());
    let mut rows = Vec::new();
    let mut reports = Vec::new();
    for (name, outcomes) in table {
        if let [o] = &outcomes[..] {
            if o.driver.is_none() {
                reports.push((name.to_string(), o.reports.clone(), o.reports.clone()));
                continue;
            }
        }
        let of = |d| outcomes.iter().find(|o| o.driver == Some(d));
        let (c, r) = (of(Driver::C), of(Driver::Rust));
        if extra.iter().any(|s| s.name == *name) {
            let tests = |o: Option<&Outcome>| o.map(|o| o.tests.clone()).unwrap_or_default();
            rows.extend(lanes::rows(name, &tests(c), &tests(r)));
        }
        let rep = |o: Option<&Outcome>| o.map_or(NOT_RUN.to_string(), |o| o.reports.clone());
        reports.push((name.to_string(), rep(c), rep(r)));
    }
    let quiet = |s: &str| s == "none" || s == NOT_RUN;
    if rows.is_empty() && reports.iter().all(|(_, c, r)| quiet(c) && quiet(r)) {
        return "# kernel reports (KASAN, lockdep, kmemleak, WARN, BUG, Oops, panic, hang): none\n"
            .into();
    }
    lanes::render(&rows, &reports)
}

/// The machine `suite` boots: its platform, with the suite's own `memmap=`.
fn machine_of(suite: &Suite) -> vm::Platform {
    let mut p = *vm::platform_of(suite.platform);
    if let Some(pmem) = suite.pmem {
        p.topology = Topology { pmem, ..p.topology };
    }
    p
}

/// Boots once, runs `suite` on `driver`, prints its TAP and returns the verdict.
fn run_one(
    ctx: &Ctx,
    kernel: &Kernel,
    accel: vm::Accel,
    suite: &Suite,
    driver: Option<Driver>,
    n: usize,
) -> Result<Outcome> {
    let tag = driver.map_or(String::new(), |d| format!(" [{} kmem]", d.name()));
    let label = match driver {
        Some(d) => format!("{}-{}", suite.name, d.name().to_lowercase()),
        None => suite.name.to_string(),
    };
    let out = ctx.run_dir(&label)?;
    let tap_name = format!("{}.tap", suite.name);
    let mut echo = |line: &str| println!("    {line}");
    let name = format!("boot + {}{tag}", suite.name);
    let outcome = GuestRun {
        name: &name,
        out: out.clone(),
        append: suite
            .append
            .iter()
            .map(|s| s.to_string())
            .chain(lanes::knob_args(suite.name))
            .chain(
                lanes::variant_args(ctx.variant.as_deref())
                    .iter()
                    .map(|s| s.to_string()),
            )
            .collect(),
        timeout: suite.timeout,
        follow: Some((&tap_name, &mut echo)),
        module: Some(kernel.kmem_module(driver.unwrap_or(Driver::Rust))),
        qemu_opts: Vec::new(),
    }
    .run_platform(
        &machine_of(suite),
        ctx,
        kernel,
        accel,
        &["suite", suite.name],
    )?;
    let text = fs::read_to_string(out.join(&tap_name)).unwrap_or_default();
    let exit = if outcome.timed_out {
        None
    } else {
        fs::read_to_string(out.join(format!("{}.rc", suite.name)))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    };
    let report = tap::parse(&text);
    let mut tally = tap::tally(&report, exit);
    // A kernel report (KASAN, lockdep, kmemleak, WARN, ...) fails the run.
    let (kernel_reports, reports) = crate::reports::check_run(&out);
    tally.failed += kernel_reports.len();
    tally.failures.extend(kernel_reports);
    let ok = tally.failed == 0;
    println!(
        "{}ok {n} {}{tag} # {} passed, {} failed ({:.0}s)",
        if ok { "" } else { "not " },
        suite.name,
        tally.passed,
        tally.failed,
        outcome.elapsed.as_secs_f64()
    );
    for why in &tally.failures {
        println!("    # FAIL: {why}");
    }
    if !ok {
        println!("    # guest output: {}", out.display());
        if exit.is_none() {
            for l in crate::run::failure_report(&name, &outcome).lines() {
                println!("    # {l}");
            }
        }
    }
    Ok(Outcome {
        driver,
        results: report
            .tests
            .iter()
            .map(|t| t.ok && t.skip.is_none())
            .collect(),
        tests: report
            .tests
            .iter()
            .map(|t| (t.desc.clone(), t.ok && t.skip.is_none()))
            .collect(),
        reports,
        tally,
        elapsed: outcome.elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_select_suites() {
        assert_eq!(selected(&[], &[]).unwrap().len(), SUITES.len());
        let s = selected(&["mem-on".into()], &[]).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "mem-on-off");
        assert!(selected(&["nope".into()], &[]).is_err());
        let lane = lanes::DEBUG_SUITES;
        assert_eq!(
            selected(&[], lane).unwrap().len(),
            SUITES.len() + lane.len()
        );
        assert_eq!(
            selected(&["faults".into()], lane).unwrap()[0].name,
            "faults"
        );
    }

    #[test]
    fn differences_between_drivers() {
        assert!(differences(&[true, true], &[true, true]).is_empty());
        assert_eq!(
            differences(&[true, false, true], &[true, true]),
            vec![
                "test 2: C not ok, Rust ok".to_string(),
                "test 3: C ok, Rust missing".to_string()
            ]
        );
    }
}
