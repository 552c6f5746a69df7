// SPDX-License-Identifier: GPL-2.0-only
//! What a run prints at its end and what `--record` writes: the suite
//! matrix, the lane's scenario table, the kernel reports and the totals,
//! for one run or for the runs the variant's [`store`] merges.

use anyhow::Result;
use std::fmt::Write as _;
use std::fs;

use super::lanes;
use super::record;
use super::store::{self, Outcome};
use super::suites::Suite;
use crate::build::{Driver, Kernel};
use crate::ctx::Ctx;
use crate::vm;

/// Where the C (`a`) and Rust (`b`) results differ, test by test, as messages.
pub fn differences(a: &[bool], b: &[bool]) -> Vec<String> {
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

/// One suite's outcomes in a summary, and the run they came from when the
/// summary merges recorded runs ([`store`]).
pub struct Row<'a> {
    pub name: &'static str,
    pub outcomes: Vec<&'a Outcome>,
    /// The run's tag ([`store::run_tag`]) in a merged summary.
    pub run: Option<String>,
}

/// The suite matrix (passes and time per suite and driver), then the
/// lane's scenario table and the kernel reports ([`lane_table`]).
/// `drivers` says whether more than one driver's column is shown.
pub fn summary(ctx: &Ctx, rows: &[Row], drivers: bool) -> String {
    let mut sum = String::new();
    let _ = write!(sum, "# {:<22}", "suite");
    for d in Driver::ALL.iter().take(if drivers { 2 } else { 1 }) {
        let _ = write!(sum, " {:>14}", format!("{} kmem", d.name()));
    }
    if rows.iter().any(|r| r.run.is_some()) {
        let _ = write!(sum, "  run");
    }
    sum.push('\n');
    for row in rows {
        let _ = write!(sum, "# {:<22}", row.name);
        let cell = |o: &Outcome| {
            let t = &o.tally;
            format!(
                "{}/{} ({:.0}s)",
                t.passed,
                t.passed + t.failed,
                o.elapsed.as_secs_f64()
            )
        };
        match &row.outcomes[..] {
            [o] if o.driver.is_none() && drivers => {
                let c = cell(o);
                let _ = write!(sum, " {}, driver-independent)", &c[..c.len() - 1]);
            }
            [o] if o.driver == Some(Driver::Rust) && drivers => {
                let _ = write!(sum, " {:>14} {:>14}", "not run", cell(o));
            }
            outcomes => {
                for o in outcomes {
                    let _ = write!(sum, " {:>14}", cell(o));
                }
                if drivers && outcomes.len() == 1 {
                    let _ = write!(sum, " {:>14}", "not run");
                }
            }
        }
        if let Some(run) = &row.run {
            let _ = write!(sum, "  {run}");
        }
        sum.push('\n');
    }
    sum.push_str(&lane_table(ctx, rows));
    sum
}

/// Passes and failures of `rows`, each difference between the drivers'
/// results a failure of its own (the C driver is the oracle).
fn totals(rows: &[Row]) -> (usize, usize) {
    let (mut passed, mut failed) = (0, 0);
    for row in rows {
        for o in &row.outcomes {
            passed += o.tally.passed;
            failed += o.tally.failed;
        }
        let of = |d| row.outcomes.iter().find(|o| o.driver == Some(d));
        if let (Some(c), Some(r)) = (of(Driver::C), of(Driver::Rust)) {
            failed += differences(&c.results, &r.results).len();
        }
    }
    (passed, failed)
}

/// `--record`: merges outcomes of `run` into the variant's store, then
/// writes the results file and README's block from everything the store
/// holds. Called after each suite.
pub fn record_runs(
    ctx: &Ctx,
    kernel: &Kernel,
    req: &record::Request,
    run: &store::Run,
    lane: &[&'static Suite],
    table: Vec<(&'static str, Vec<Outcome>)>,
) -> Result<()> {
    let order: Vec<&'static str> = lane.iter().map(|s| s.name).collect();
    let new = table
        .into_iter()
        .flat_map(|(name, os)| os.into_iter().map(move |o| (name.to_string(), o)))
        .collect();
    let path = record::store_path(ctx);
    let old = if path.exists() {
        match store::load(&path) {
            Ok(s) => Some(s),
            Err(why) => {
                println!("# not merged with the earlier record: {why}");
                None
            }
        }
    } else {
        None
    };
    let build = store::build_id(kernel)?;
    let (merged, dropped) = store::Store::merge(old, &build, run.clone(), new, &order);
    if let Some(why) = dropped {
        println!("# earlier record dropped: {why}");
    }
    let table = merged.table(&order);
    let rows: Vec<Row> = table
        .iter()
        .map(|(name, es)| Row {
            name,
            outcomes: es.iter().map(|e| &e.outcome).collect(),
            run: (merged.runs.len() > 1).then(|| {
                // A suite whose drivers came from different runs names both.
                let mut ids: Vec<usize> = es.iter().map(|e| e.run).collect();
                ids.dedup();
                let tags: Vec<_> = ids.into_iter().map(store::run_tag).collect();
                tags.join("+")
            }),
        })
        .collect();
    let (passed, failed) = totals(&rows);
    let mut sum = summary(ctx, &rows, true);
    let missing: Vec<_> = order
        .iter()
        .filter(|n| !table.iter().any(|(t, _)| t == *n))
        .copied()
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(sum, "# not recorded yet: {}", missing.join(", "));
    }
    let secs: f64 = rows
        .iter()
        .flat_map(|r| &r.outcomes)
        .map(|o| o.elapsed.as_secs_f64())
        .sum();
    let _ = writeln!(sum, "# time: suites {secs:.0}s (the boots' sum)");
    let _ = writeln!(sum, "{passed} passed, {failed} failed");
    let text = record::render(req, &merged, &build, &kernel.release(), &sum);
    record::write(ctx, &text)?;
    store::save(&path, &merged)?;
    let picked: Vec<&Suite> = table
        .iter()
        .filter_map(|(n, _)| lane.iter().find(|s| s.name == *n).copied())
        .collect();
    let groups = groups(&picked, &rows);
    let block = record::readme_block(ctx, &merged, &groups, (passed, failed), missing.len());
    let readme_path = ctx.repo.join("README.md");
    let readme = fs::read_to_string(&readme_path)?;
    let readme_note = match record::replace_block(ctx, &readme, &block) {
        Some(new) => {
            fs::write(&readme_path, new)?;
            "README.md's block rewritten"
        }
        None => "README.md has no block for this variant",
    };
    println!(
        "# recorded: {passed} passed, {failed} failed over {} suite(s) in {}; {readme_note}",
        table.len(),
        record::path(ctx).display()
    );
    Ok(())
}

/// The pass counts of `rows` (of `suites`, one each) per platform and
/// driver, for README; the driver-independent suites as one group of their
/// own.
fn groups(suites: &[&Suite], rows: &[Row]) -> Vec<record::Group> {
    let mut groups: Vec<record::Group> = Vec::new();
    for (suite, row) in suites.iter().zip(rows) {
        let outcomes = &row.outcomes;
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
pub fn record_matrix(ctx: &Ctx, rows: &[Row], passed: usize, failed: usize) -> Result<()> {
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(22);
    let mut s = format!("{:<w$} {:>8} {:>10}\n", "suite", "C kmem", "Rust kmem");
    for Row { name, outcomes, .. } in rows {
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
fn lane_table(ctx: &Ctx, table: &[Row]) -> String {
    const NOT_RUN: &str = "not run";
    let extra = lanes::extra_suites(ctx.variant.as_deref());
    let mut rows = Vec::new();
    let mut reports = Vec::new();
    for Row { name, outcomes, .. } in table {
        if let [o] = &outcomes[..] {
            if o.driver.is_none() {
                reports.push((name.to_string(), o.reports.clone(), o.reports.clone()));
                continue;
            }
        }
        let of = |d| outcomes.iter().find(|o| o.driver == Some(d)).copied();
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

#[cfg(test)]
mod tests {
    use super::*;

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
