// SPDX-License-Identifier: GPL-2.0-only
//! TAP/KTAP as printed by kselftest scripts, and the harness's verdict on it.
//!
//! The verdict is strict: a skipped test, a missing plan line, fewer tests
//! than planned, a bail-out or a non-zero exit all count as failures. In
//! the harness VM every test can run, so one that did not is a failure with
//! its reason, never a pass.

/// One `ok`/`not ok` line.
#[derive(Debug, PartialEq, Eq)]
pub struct TestLine {
    pub ok: bool,
    pub desc: String,
    /// `# SKIP reason`, if present.
    pub skip: Option<String>,
}

/// A parsed top-level TAP stream (indented, nested lines are ignored).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub plan: Option<usize>,
    /// `1..0 # SKIP reason`: the whole suite skipped.
    pub skip_all: Option<String>,
    pub tests: Vec<TestLine>,
    pub bail: Option<String>,
}

pub fn parse(text: &str) -> Report {
    let mut r = Report::default();
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("1..") {
            let (n, directive) = split_directive(rest);
            r.plan = n.trim().parse().ok();
            if r.plan == Some(0) {
                r.skip_all = Some(directive.unwrap_or("no tests planned").to_string());
            }
        } else if let Some(rest) = line.strip_prefix("Bail out!") {
            r.bail = Some(rest.trim().to_string());
        } else if let Some((ok, rest)) = line
            .strip_prefix("ok ")
            .map(|r| (true, r))
            .or_else(|| line.strip_prefix("not ok ").map(|r| (false, r)))
        {
            let rest = rest
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start();
            let rest = rest.strip_prefix("- ").unwrap_or(rest);
            let (desc, directive) = split_directive(rest);
            let skip = directive
                .filter(|d| d.to_ascii_uppercase().starts_with("SKIP"))
                .map(|d| d[4..].trim().to_string());
            r.tests.push(TestLine {
                ok,
                desc: desc.trim().to_string(),
                skip,
            });
        }
    }
    r
}

/// `desc # DIRECTIVE` into its parts.
fn split_directive(s: &str) -> (&str, Option<&str>) {
    match s.split_once(" # ") {
        Some((d, dir)) => (d, Some(dir.trim())),
        None => match s.strip_prefix("# ") {
            Some(dir) => ("", Some(dir.trim())),
            None => (s, None),
        },
    }
}

/// Pass and fail counts of one suite, with the reason for each failure.
#[derive(Debug, Default, PartialEq, Eq, Clone, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub failures: Vec<String>,
}

impl Tally {
    fn fail(&mut self, why: String) {
        self.failed += 1;
        self.failures.push(why);
    }
}

/// The strict verdict on a suite's TAP and the exit status of its script
/// (None if it never finished).
pub fn tally(r: &Report, exit: Option<i32>) -> Tally {
    let mut t = Tally::default();
    for test in &r.tests {
        match (&test.skip, test.ok) {
            (Some(why), _) => t.fail(format!("{}: skipped ({why})", test.desc)),
            (None, true) => t.passed += 1,
            (None, false) => t.fail(test.desc.clone()),
        }
    }
    if let Some(why) = &r.skip_all {
        t.fail(format!("whole suite skipped ({why})"));
    } else if let Some(plan) = r.plan {
        if r.tests.len() < plan {
            t.fail(format!("planned {plan} tests, {} ran", r.tests.len()));
        }
    } else if r.bail.is_none() {
        t.fail(format!("no plan line ({} tests ran)", r.tests.len()));
    }
    if let Some(why) = &r.bail {
        t.fail(format!("bailed out: {why}"));
    }
    match exit {
        Some(0) => {}
        Some(code) if t.failed == 0 => t.fail(format!("script exited with status {code}")),
        Some(_) => {}
        None => t.fail("the suite did not finish (see the console log)".into()),
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const KTAP: &str = "TAP version 13\n# using dax0.0\n1..3\nok 1 a\nnot ok 2 b: rc=1\n\
                        ok 3 c # SKIP no block\n# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0\n";

    #[test]
    fn parses_ktap() {
        let r = parse(KTAP);
        assert_eq!(r.plan, Some(3));
        assert_eq!(r.tests.len(), 3);
        assert_eq!(
            r.tests[1],
            TestLine {
                ok: false,
                desc: "b: rc=1".into(),
                skip: None
            }
        );
        assert_eq!(r.tests[2].skip.as_deref(), Some("no block"));
    }

    #[test]
    fn skip_counts_as_failure() {
        let t = tally(&parse(KTAP), Some(1));
        assert_eq!((t.passed, t.failed), (1, 2));
        assert!(t.failures[1].contains("skipped (no block)"));
    }

    #[test]
    fn all_pass() {
        let t = tally(&parse("1..2\nok 1 - a\nok 2 b\n"), Some(0));
        assert_eq!(
            t,
            Tally {
                passed: 2,
                failed: 0,
                failures: vec![]
            }
        );
    }

    #[test]
    fn short_run_and_missing_exit() {
        let t = tally(&parse("1..4\nok 1 a\n"), None);
        assert_eq!((t.passed, t.failed), (1, 2));
        assert!(t.failures[0].contains("planned 4 tests, 1 ran"));
    }

    #[test]
    fn skip_all_bail_and_empty() {
        let t = tally(&parse("1..0 # SKIP must be root\n"), Some(4));
        assert_eq!((t.passed, t.failed), (0, 1));
        assert!(t.failures[0].contains("must be root"));
        let t = tally(&parse("Bail out! no dax0.0\n"), Some(1));
        assert_eq!(t.failures, vec!["bailed out: no dax0.0".to_string()]);
        let t = tally(&parse(""), Some(0));
        assert_eq!(t.failed, 1);
    }

    #[test]
    fn nonzero_exit_with_all_ok_fails() {
        let t = tally(&parse("1..1\nok 1 a\n"), Some(2));
        assert_eq!((t.passed, t.failed), (1, 1));
    }

    #[test]
    fn nested_lines_are_not_counted() {
        let r = parse("1..1\n    ok 1 inner\n    not ok 2 inner\nok 1 outer\n");
        assert_eq!(r.tests.len(), 1);
    }
}
