// SPDX-License-Identifier: GPL-2.0-only
//! Running external commands: logged, with progress, with a time limit, and
//! with a failure report that names the log and quotes the lines that matter.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::{IsTerminal, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Environment that `cargo run` leaves behind and that must not leak into
/// the kernel build or the VM (it points at the rustup toolchain).
const SCRUB_ENV: &[&str] = &[
    "LD_LIBRARY_PATH",
    "RUSTUP_TOOLCHAIN",
    "RUSTC",
    "RUSTDOC",
    "RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
];

/// Set by SIGINT/SIGTERM: the running step kills its process group and fails.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Whether Ctrl-C (SIGINT or SIGTERM) arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Children run in their own process group (so a hung VM can be killed
/// whole), which also shields them from the terminal's Ctrl-C: catch it
/// here and pass it on to the step that is running.
pub fn forward_interrupts() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `on_signal` only stores to an atomic, which is
        // async-signal-safe; signal(2) has no other preconditions.
        unsafe {
            libc::signal(
                sig,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

/// A command with the environment scrubbed of cargo's leftovers.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for var in SCRUB_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// What became of a logged command.
pub struct Outcome {
    pub status: Option<ExitStatus>,
    pub timed_out: bool,
    pub elapsed: Duration,
    pub log: PathBuf,
}

impl Outcome {
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.is_some_and(|s| s.success())
    }
}

/// Options for [`Step::run`].
pub struct Step<'a> {
    /// Short human name, e.g. "kernel build".
    pub name: &'a str,
    /// Where stdout and stderr go.
    pub log: &'a Path,
    /// Kill the whole process group after this long.
    pub timeout: Option<Duration>,
    /// A file to tail for the progress line instead of the log.
    pub watch: Option<&'a Path>,
    /// Called with each new line of `watch` (e.g. to echo test results live).
    pub on_line: Option<&'a mut dyn FnMut(&str)>,
    /// How many lines the watched file reaches when done (from an earlier
    /// run), for a progress bar instead of a spinner.
    pub expected_lines: Option<u64>,
    /// Lines the watched file had when the command ended.
    pub lines_seen: u64,
}

impl<'a> Step<'a> {
    pub fn new(name: &'a str, log: &'a Path) -> Self {
        Self {
            name,
            log,
            timeout: None,
            watch: None,
            on_line: None,
            expected_lines: None,
            lines_seen: 0,
        }
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Runs `cmd` and fails with a report unless it exits 0 in time.
    pub fn run_ok(&mut self, cmd: &mut Command) -> Result<Outcome> {
        let name = self.name.to_string();
        let out = self.run(cmd)?;
        if !out.success() {
            bail!("{}", failure_report(&name, &out));
        }
        Ok(out)
    }

    /// Runs `cmd` with output to the log; never fails on the command's status.
    pub fn run(&mut self, cmd: &mut Command) -> Result<Outcome> {
        let log = File::create(self.log)
            .with_context(|| format!("cannot create log {}", self.log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("{}: cannot start {:?}", self.name, cmd.get_program()))?;
        let pb = progress(self.name, self.expected_lines);
        let watched = self.watch.unwrap_or(self.log).to_path_buf();
        let mut tail = Tail::default();
        let mut last_report = Instant::now();
        let (status, timed_out) = loop {
            if let Some(status) = child.try_wait()? {
                break (Some(status), false);
            }
            if INTERRUPTED.load(Ordering::SeqCst) {
                kill_group(child.id());
                let _ = child.wait();
                pb.finish_and_clear();
                bail!("{} interrupted; log: {}", self.name, self.log.display());
            }
            if self.timeout.is_some_and(|t| start.elapsed() > t) {
                // Kill the whole group: vng, qemu and anything they started.
                kill_group(child.id());
                let _ = child.wait();
                break (None, true);
            }
            for line in tail.new_lines(&watched) {
                self.lines_seen += 1;
                if let Some(f) = self.on_line.as_mut() {
                    pb.suspend(|| f(&line));
                }
                let shown: String = line.chars().take(100).collect();
                pb.set_message(shown);
                pb.inc(1);
            }
            if !pb.is_hidden() {
                pb.tick();
            } else if last_report.elapsed() > Duration::from_secs(60) {
                let pct = self
                    .expected_lines
                    .filter(|&n| n > 0)
                    .map(|n| format!(", ~{}%", (self.lines_seen * 100 / n).min(99)))
                    .unwrap_or_default();
                println!(
                    "    ... {} still running ({}s{pct})",
                    self.name,
                    start.elapsed().as_secs()
                );
                last_report = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        for line in tail.new_lines(&watched) {
            self.lines_seen += 1;
            if let Some(f) = self.on_line.as_mut() {
                pb.suspend(|| f(&line));
            }
        }
        pb.finish_and_clear();
        let elapsed = start.elapsed();
        let out = Outcome {
            status,
            timed_out,
            elapsed,
            log: self.log.to_path_buf(),
        };
        if out.success() {
            println!("  ✓ {} ({:.1}s)", self.name, elapsed.as_secs_f64());
        }
        Ok(out)
    }
}

fn kill_group(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; a negative pid
    // names the process group we created for the child with process_group(0).
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

fn progress(name: &str, expected: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        println!("  … {name}");
        return ProgressBar::hidden();
    }
    let (pb, template) = match expected {
        Some(n) => (
            ProgressBar::new(n),
            "  {spinner} {prefix} [{elapsed}] {bar:24} {percent:>3}% {wide_msg}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "  {spinner} {prefix} [{elapsed}] {wide_msg}",
        ),
    };
    pb.set_style(ProgressStyle::with_template(template).expect("static template"));
    pb.set_prefix(name.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Reads the lines appended to a file since the last call.
#[derive(Default)]
struct Tail {
    pos: u64,
    partial: String,
}

impl Tail {
    fn new_lines(&mut self, path: &Path) -> Vec<String> {
        let Ok(mut f) = File::open(path) else {
            return Vec::new();
        };
        if f.seek(SeekFrom::Start(self.pos)).is_err() {
            return Vec::new();
        }
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_err() {
            return Vec::new();
        }
        self.pos += buf.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&buf));
        let mut lines: Vec<String> = self.partial.split('\n').map(str::to_string).collect();
        self.partial = lines.pop().unwrap_or_default();
        lines
            .into_iter()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect()
    }
}

/// A failure message: what failed, how, where the log is, and the lines
/// of the log most likely to say why.
pub fn failure_report(name: &str, out: &Outcome) -> String {
    let how = if out.timed_out {
        format!("timed out after {}s and was killed", out.elapsed.as_secs())
    } else {
        match out.status.and_then(|s| s.code()) {
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".to_string(),
        }
    };
    let text = std::fs::read_to_string(&out.log).unwrap_or_default();
    let excerpt = interesting_lines(&text, 15).join("\n    ");
    format!(
        "{name} {how}\n  log: {}\n  last lines that matter:\n    {excerpt}",
        out.log.display()
    )
}

/// The lines of a log that explain a failure: error lines if any, else the tail.
pub fn interesting_lines(text: &str, max: usize) -> Vec<&str> {
    const MARKERS: &[&str] = &[
        "error",
        "Error",
        "ERROR",
        "E: ",
        "fatal",
        "FATAL",
        "not ok",
        "panic",
        "BUG:",
        "Oops",
        "Traceback",
        "No such file",
        "not found",
        "Killed",
    ];
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| MARKERS.iter().any(|m| l.contains(m)))
        .collect();
    let pick = if errors.is_empty() { &lines } else { &errors };
    pick[pick.len().saturating_sub(max)..].to_vec()
}

/// The trimmed stdout of a command's output `out`, or, if it failed, an
/// error "`what` failed: " with its stdout and stderr.
pub fn stdout_of(out: std::process::Output, what: &str) -> Result<String> {
    if !out.status.success() {
        bail!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs a quick command and returns its trimmed stdout, or None if it failed.
pub fn capture(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interesting_lines_prefers_errors() {
        let log = "CC a.o\nCC b.o\nb.c:3: error: oops\nmake: *** [b.o] Error 1\nmake: leaving\n";
        assert_eq!(
            interesting_lines(log, 5),
            vec!["b.c:3: error: oops", "make: *** [b.o] Error 1"]
        );
    }

    #[test]
    fn interesting_lines_falls_back_to_tail() {
        let log = "one\ntwo\n\nthree\n";
        assert_eq!(interesting_lines(log, 2), vec!["two", "three"]);
    }

    #[test]
    fn tail_returns_whole_lines_only() {
        let dir = std::env::temp_dir().join(format!("kmem-rs-tail-{}", std::process::id()));
        std::fs::write(&dir, "a\nb").unwrap();
        let mut t = Tail::default();
        assert_eq!(t.new_lines(&dir), vec!["a"]);
        std::fs::write(&dir, "a\nbc\n").unwrap();
        assert_eq!(t.new_lines(&dir), vec!["bc"]);
        assert!(t.new_lines(&dir).is_empty());
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn timeout_kills_and_reports() {
        let log = std::env::temp_dir().join(format!("kmem-rs-to-{}.log", std::process::id()));
        let out = Step::new("sleeper", &log)
            .timeout(Duration::from_millis(300))
            .run(Command::new("sleep").arg("30"))
            .unwrap();
        assert!(out.timed_out && !out.success());
        assert!(failure_report("sleeper", &out).contains("timed out"));
        std::fs::remove_file(&log).unwrap();
    }
}
