// SPDX-License-Identifier: GPL-2.0-only
//! `test`: each suite runs in its own fresh guest boot (some leave the
//! device wedged until reboot on purpose), prints KTAP into the shared
//! output directory, and is judged strictly by [`crate::tap::tally`].
//!
//! The parts import one way: `suites` (the normal lane's suites) and
//! `store` (the outcomes `--record` keeps between runs) at the bottom, then
//! `lanes` (the suites and the scenario table a config variant adds), then
//! `record` (the results file and README's block), then `summary` (the
//! matrix, the tables and the totals, of one run or of merged ones); this
//! file, the entry point, runs the suites and prints the verdicts.

use anyhow::{bail, Result};
use std::fmt::Write as _;
use std::fs;
use std::time::{Duration, Instant};

mod lanes;
mod record;
mod store;
mod suites;
mod summary;

use crate::build::{Driver, Kernel};
use crate::ctx::Ctx;
use crate::tap;
use crate::vm::{self, GuestRun, Topology};
use store::Outcome;
pub use suites::Selection;
use suites::{Suite, SUITES};
use summary::{differences, record_matrix, summary, Row};

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

/// The suites that `sel` picks from [`SUITES`] and the lane's `extra` ones.
fn selected(sel: &Selection, extra: &'static [Suite]) -> Result<Vec<&'static Suite>> {
    let picked: Vec<_> = SUITES
        .iter()
        .chain(extra)
        .filter(|s| sel.picks(s.name))
        .collect();
    if picked.is_empty() {
        let names: Vec<_> = SUITES.iter().chain(extra).map(|s| s.name).collect();
        bail!(
            "no suite matches {:?} less {:?}; suites: {}",
            sel.filters,
            sel.skips,
            names.join(", ")
        );
    }
    Ok(picked)
}

pub fn run(
    ctx: &Ctx,
    kernel: &Kernel,
    sel: &Selection,
    drivers: &[Driver],
    prep: Duration,
    record: bool,
) -> Result<(usize, usize)> {
    let suites = selected(sel, lanes::extra_suites(ctx.variant.as_deref()))?;
    let names: Vec<_> = drivers.iter().map(|d| d.name()).collect();
    println!(
        "==> test ({} suite(s) on the {} kmem driver(s), kernel {})",
        suites.len(),
        names.join(" and "),
        kernel.release()
    );
    let accel = vm::accel(ctx, kernel)?;
    // `--record` merges each suite's outcomes into the store as soon as
    // they are in, so a run cut short keeps the suites it finished.
    let req = record::Request {
        sel,
        drivers: &names,
        knobs: record::knobs_set(),
        accel: format!("{accel:?}"),
        commit: record::commit(ctx),
    };
    let this_run = store::Run {
        date: crate::bench::now_utc(),
        command: record::command(ctx, &req),
        commit: req.commit.clone(),
    };
    let lane = selected(
        &Selection::default(),
        lanes::extra_suites(ctx.variant.as_deref()),
    )?;
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
        if record {
            let new = vec![(suite.name, outcomes.clone())];
            summary::record_runs(ctx, kernel, &req, &this_run, &lane, new)?;
        }
        table.push((suite.name, outcomes));
    }
    let rows: Vec<Row> = table
        .iter()
        .map(|(name, outcomes)| Row {
            name,
            outcomes: outcomes.iter().collect(),
            run: None,
        })
        .collect();
    // Only a full run of the whole series is the matrix cover letters quote.
    if sel.is_all() && drivers == Driver::ALL && ctx.variant.is_none() && ctx.without.is_empty() {
        record_matrix(ctx, &rows, passed, failed)?;
    }
    let mut sum = summary(ctx, &rows, drivers.len() > 1);
    let _ = writeln!(
        sum,
        "# time: setup+build {:.0}s, suites {:.0}s",
        prep.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let _ = writeln!(sum, "{passed} passed, {failed} failed");
    print!("{sum}");
    if record {
        println!("# recorded in {}", record::path(ctx).display());
    }
    Ok((passed, failed))
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

    fn sel(filters: &[&str], skips: &[&str]) -> Selection {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        Selection {
            filters: own(filters),
            skips: own(skips),
        }
    }

    #[test]
    fn filters_select_suites() {
        assert_eq!(selected(&sel(&[], &[]), &[]).unwrap().len(), SUITES.len());
        let s = selected(&sel(&["mem-on"], &[]), &[]).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "mem-on-off");
        assert!(selected(&sel(&["nope"], &[]), &[]).is_err());
        let lane = lanes::DEBUG_SUITES;
        assert_eq!(
            selected(&sel(&[], &[]), lane).unwrap().len(),
            SUITES.len() + lane.len()
        );
        assert_eq!(
            selected(&sel(&["faults"], &[]), lane).unwrap()[0].name,
            "faults"
        );
    }

    #[test]
    fn skips_leave_suites_out() {
        let lane = lanes::DEBUG_SUITES;
        // The lane's normal suites: every one of SUITES, none of the lane's own.
        let skips: Vec<&str> = lane.iter().map(|s| s.name).collect();
        let normal = selected(&sel(&[], &skips), lane).unwrap();
        let names: Vec<_> = normal.iter().map(|s| s.name).collect();
        let want: Vec<_> = SUITES.iter().map(|s| s.name).collect();
        assert_eq!(names, want);
        // A skip wins over a filter; skipping everything is an error.
        let s = selected(&sel(&["hmem"], &["stress"]), lane).unwrap();
        assert!(s
            .iter()
            .all(|s| s.name.contains("hmem") && !s.name.contains("stress")));
        assert!(selected(&sel(&["cxl"], &["cxl"]), lane).is_err());
        assert!(!sel(&[], &["x"]).is_all() && sel(&[], &[]).is_all());
    }
}
