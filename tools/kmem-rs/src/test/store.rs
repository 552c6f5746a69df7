// SPDX-License-Identifier: GPL-2.0-only
//! What `test --record` keeps between runs: every suite's last outcome on
//! each driver, in `results/test[-VARIANT].json` beside the results file.
//!
//! A lane longer than one sitting (the debug lane takes hours under TCG)
//! is recorded in parts: `-f` runs replace their suites' outcomes and keep
//! the others. Outcomes are merged only across runs of one kernel build,
//! byte for byte (bzImage and both kmem modules, [`build_id`]); a run of
//! another build starts the store afresh. Each outcome names the run that
//! made it, and each run its date, command and commit, so the file says
//! which figures came from where.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::build::{Driver, Kernel};
use crate::tap;

/// One suite's run on one driver.
#[derive(Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// The kmem driver it ran on; `None` for a driver-independent suite.
    pub driver: Option<Driver>,
    pub tally: tap::Tally,
    /// Pass (true) or not, test by test, to compare the drivers.
    pub results: Vec<bool>,
    /// Each test's description and verdict, for the lane's scenario table.
    pub tests: Vec<(String, bool)>,
    /// The kernel reports of the boot ([`crate::reports::summary`]).
    pub reports: String,
    pub elapsed: Duration,
}

/// A recorded run: how it was asked for and on what sources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub date: String,
    /// The command line that reproduces it.
    pub command: String,
    /// The repository's commit when it began.
    pub commit: String,
}

/// One suite's outcome on one driver, and the run it came from.
#[derive(Clone, Serialize, Deserialize)]
pub struct Entry {
    pub suite: String,
    /// An index into [`Store::runs`].
    pub run: usize,
    pub outcome: Outcome,
}

/// The recorded outcomes of one variant's lane.
#[derive(Default, Serialize, Deserialize)]
pub struct Store {
    /// The kernel build they all ran on ([`build_id`]).
    pub build: String,
    pub runs: Vec<Run>,
    pub entries: Vec<Entry>,
}

/// The identity of a kernel build: the SHA-256 of its bzImage and of both
/// kmem modules, shortened. A rebuild that links anew changes it.
pub fn build_id(kernel: &Kernel) -> Result<String> {
    let mut ids = vec![crate::apt::sha256_file(
        &kernel.dir.join("arch/x86/boot/bzImage"),
    )?];
    for d in Driver::ALL {
        ids.push(crate::apt::sha256_file(&kernel.kmem_module(d))?);
    }
    Ok(ids.iter().map(|h| &h[..12]).collect::<Vec<_>>().join("-"))
}

/// The store at `path`, or why there is none to merge with.
pub fn load(path: &Path) -> std::result::Result<Store, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: unreadable ({e})", path.display()))
}

pub fn save(path: &Path, store: &Store) -> Result<()> {
    let text = serde_json::to_string_pretty(store)? + "\n";
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

impl Store {
    /// `old` with the outcomes of `run` (`new`, on kernel build `build`) in
    /// place of the same suites' on the same drivers; `run` may already be
    /// in `old`, with outcomes of other suites. `old` is dropped
    /// whole when it holds another build. Outcomes of suites not in
    /// `order` (the lane's suites, in the order they run) are dropped too,
    /// and runs no outcome comes from any more. Entries follow `order`,
    /// then C, Rust. Returns the store and, when `old` was dropped, why.
    pub fn merge(
        old: Option<Store>,
        build: &str,
        run: Run,
        new: Vec<(String, Outcome)>,
        order: &[&str],
    ) -> (Store, Option<String>) {
        let (mut store, dropped) = match old {
            Some(s) if s.build == build => (s, None),
            Some(s) if !s.entries.is_empty() => (
                Store::default(),
                Some(format!(
                    "recorded on kernel build {}, this run on {build}",
                    s.build
                )),
            ),
            _ => (Store::default(), None),
        };
        store.build = build.to_string();
        let runs_here = |e: &Entry| {
            new.iter()
                .any(|(s, o)| *s == e.suite && o.driver == e.outcome.driver)
        };
        store
            .entries
            .retain(|e| order.contains(&e.suite.as_str()) && !runs_here(e));
        // A run merged suite by suite is one run.
        let id = match store.runs.iter().position(|r| *r == run) {
            Some(i) => i,
            None => {
                store.runs.push(run);
                store.runs.len() - 1
            }
        };
        store
            .entries
            .extend(new.into_iter().map(|(suite, outcome)| Entry {
                suite,
                run: id,
                outcome,
            }));
        // Keep only the runs outcomes still come from, renumbered in order.
        let mut keep: Vec<usize> = store.entries.iter().map(|e| e.run).collect();
        keep.sort_unstable();
        keep.dedup();
        store.runs = keep.iter().map(|&i| store.runs[i].clone()).collect();
        for e in &mut store.entries {
            e.run = keep.binary_search(&e.run).expect("kept run");
        }
        let rank = |e: &Entry| {
            let suite = order.iter().position(|s| *s == e.suite);
            let driver = match e.outcome.driver {
                None | Some(Driver::C) => 0,
                Some(Driver::Rust) => 1,
            };
            (suite, driver)
        };
        store.entries.sort_by_key(rank);
        (store, dropped)
    }

    /// The outcomes per suite, in the store's order, each with its run.
    pub fn table<'a>(&'a self, order: &[&'static str]) -> Vec<(&'static str, Vec<&'a Entry>)> {
        order
            .iter()
            .filter_map(|&name| {
                let es: Vec<_> = self.entries.iter().filter(|e| e.suite == name).collect();
                (!es.is_empty()).then_some((name, es))
            })
            .collect()
    }
}

/// The letter that names run `i` in the results file: A, B, ...
pub fn run_tag(i: usize) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    match letters.get(i) {
        Some(&c) => (c as char).to_string(),
        None => format!("R{i}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(driver: Option<Driver>, passed: usize) -> Outcome {
        Outcome {
            driver,
            tally: tap::Tally {
                passed,
                ..Default::default()
            },
            results: vec![true; passed],
            tests: Vec::new(),
            reports: "none".into(),
            elapsed: Duration::from_secs(1),
        }
    }

    fn run(commit: &str) -> Run {
        Run {
            date: "2026-12-05T05:00:00Z".into(),
            command: format!("cargo kmem test -f {commit}"),
            commit: commit.into(),
        }
    }

    const ORDER: &[&str] = &["a", "b", "kunit"];

    fn both(suite: &str, passed: usize) -> Vec<(String, Outcome)> {
        vec![
            (suite.into(), outcome(Some(Driver::C), passed)),
            (suite.into(), outcome(Some(Driver::Rust), passed)),
        ]
    }

    #[test]
    fn partial_runs_replace_their_suites_only() {
        let (s, dropped) = Store::merge(None, "k1", run("r1"), both("b", 3), ORDER);
        assert!(dropped.is_none());
        let mut new = both("a", 2);
        new.push(("kunit".into(), outcome(None, 8)));
        let (s, _) = Store::merge(Some(s), "k1", run("r2"), new, ORDER);
        let (s, _) = Store::merge(Some(s), "k1", run("r3"), both("b", 4), ORDER);
        // r1 is gone: nothing of it is left.
        assert_eq!(s.runs, vec![run("r2"), run("r3")]);
        let t = s.table(ORDER);
        let names: Vec<_> = t.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["a", "b", "kunit"]);
        assert_eq!(t[1].1[0].outcome.tally.passed, 4);
        assert_eq!(t[1].1[0].run, 1);
        assert_eq!(t[0].1[1].outcome.driver, Some(Driver::Rust));
        assert_eq!(t[2].1[0].run, 0);
    }

    #[test]
    fn a_run_merged_suite_by_suite_is_one_run() {
        let (s, _) = Store::merge(None, "k1", run("r1"), both("a", 2), ORDER);
        let (s, _) = Store::merge(Some(s), "k1", run("r2"), both("a", 3), ORDER);
        let (s, _) = Store::merge(Some(s), "k1", run("r2"), both("b", 1), ORDER);
        assert_eq!(s.runs, vec![run("r2")]);
        assert!(s.entries.iter().all(|e| e.run == 0));
        assert_eq!(s.entries.len(), 4);
    }

    #[test]
    fn one_driver_keeps_the_other() {
        let (s, _) = Store::merge(None, "k1", run("r1"), both("a", 2), ORDER);
        let new = vec![("a".to_string(), outcome(Some(Driver::Rust), 5))];
        let (s, _) = Store::merge(Some(s), "k1", run("r2"), new, ORDER);
        let t = s.table(ORDER);
        let got: Vec<_> = t[0]
            .1
            .iter()
            .map(|e| (e.outcome.driver, e.outcome.tally.passed, e.run))
            .collect();
        assert_eq!(got, [(Some(Driver::C), 2, 0), (Some(Driver::Rust), 5, 1)]);
    }

    #[test]
    fn another_build_starts_afresh() {
        let (s, _) = Store::merge(None, "k1", run("r1"), both("a", 2), ORDER);
        let (s, dropped) = Store::merge(Some(s), "k2", run("r2"), both("b", 1), ORDER);
        assert!(dropped.unwrap().contains("k1"));
        assert_eq!(s.runs, vec![run("r2")]);
        assert_eq!(s.table(ORDER).len(), 1);
    }

    #[test]
    fn suites_gone_from_the_lane_are_dropped() {
        let (s, _) = Store::merge(None, "k1", run("r1"), both("old", 2), &["old", "a"]);
        let (s, _) = Store::merge(Some(s), "k1", run("r2"), both("a", 1), ORDER);
        assert!(s.entries.iter().all(|e| e.suite == "a"));
        assert_eq!(s.runs, vec![run("r2")]);
    }

    #[test]
    fn round_trip_and_tags() {
        let (s, _) = Store::merge(None, "k1", run("r1"), both("a", 2), ORDER);
        let path = std::env::temp_dir().join(format!("kmem-rs-store-{}.json", std::process::id()));
        save(&path, &s).unwrap();
        let back = load(&path).unwrap();
        fs::remove_file(&path).unwrap();
        assert_eq!(back.build, "k1");
        assert_eq!(back.entries.len(), 2);
        assert!(load(&path).is_err());
        assert_eq!(run_tag(0), "A");
        assert_eq!(run_tag(25), "Z");
        assert_eq!(run_tag(26), "R26");
    }
}
