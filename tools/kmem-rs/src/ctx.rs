// SPDX-License-Identifier: GPL-2.0-only
//! Where things live: the repository, the cache, and the pinned versions.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

use crate::versions::Versions;

/// The kernel config fragments, relative to the repository root.
pub const CONFIGS_DIR: &str = "tools/kmem-rs/configs";

/// The file that holds every pinned version, relative to the repository root.
pub const VERSIONS_FILE: &str = "tools/kmem-rs/versions.toml";

/// Everything a subcommand needs to find its way.
pub struct Ctx {
    /// Root of the kmem-rs repository (the overlay).
    pub repo: PathBuf,
    /// Cache outside the repository: toolchain, kernel source, builds, logs.
    pub cache: PathBuf,
    /// Pinned versions from [`VERSIONS_FILE`].
    pub versions: Versions,
    /// Parallel make jobs.
    pub jobs: usize,
    /// A config variant: `tools/kmem-rs/configs/NAME.config` merged last, built
    /// in its own directory.
    pub variant: Option<String>,
    /// Patches of the series left out of the overlay (`--without`): a tree
    /// without those fixes, built in its own directory, to show what they
    /// fix. Empty: the whole series.
    pub without: Vec<String>,
}

impl Ctx {
    pub fn new(
        cache: Option<PathBuf>,
        jobs: Option<usize>,
        variant: Option<String>,
    ) -> Result<Self> {
        let repo = find_repo()?;
        if let Some(v) = &variant {
            let path = repo.join(CONFIGS_DIR).join(format!("{v}.config"));
            if v.contains('/') || v == "kmem-test" || !path.is_file() {
                bail!("no config variant '{v}': variants are the files of {CONFIGS_DIR}/ other than kmem-test.config");
            }
        }
        let versions = Versions::load(&repo.join(VERSIONS_FILE))?;
        let cache = match cache {
            Some(c) => c,
            None => default_cache()?,
        };
        std::fs::create_dir_all(&cache)
            .with_context(|| format!("cannot create cache directory {}", cache.display()))?;
        let cache = cache.canonicalize()?;
        let jobs = jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        Ok(Self {
            repo,
            cache,
            versions,
            jobs,
            variant,
            without: Vec::new(),
        })
    }

    /// The imported kernel source tree (a git repository).
    pub fn src(&self) -> PathBuf {
        self.cache.join("src/linux")
    }

    /// The out-of-tree build directory of the test kernel.
    pub fn build_dir(&self) -> PathBuf {
        let mut name = match &self.variant {
            Some(v) => format!("test-{v}"),
            None => "test".to_string(),
        };
        if !self.without.is_empty() {
            name += &format!("-without-{}", self.without.join("+"));
        }
        self.cache.join("build").join(name)
    }

    /// The config fragments of this build, in merge order.
    pub fn config_fragments(&self) -> Vec<PathBuf> {
        let mut f = vec![self.repo.join(CONFIGS_DIR).join("kmem-test.config")];
        if let Some(v) = &self.variant {
            f.push(self.repo.join(CONFIGS_DIR).join(format!("{v}.config")));
        }
        f
    }

    /// Takes the cache's lock for the life of the returned file: two kmem-rs
    /// runs must not rewrite the same source tree or build directory at once
    /// (one may be walking the series' commits while another boots the tree).
    /// Waits, saying for whom, if another run holds it.
    pub fn lock(&self) -> Result<std::fs::File> {
        use std::io::{Read, Seek, Write};
        let path = self.cache.join("lock");
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the cache lock {}", path.display()))?;
        if f.try_lock().is_err() {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            println!(
                "  … waiting for the kmem-rs run that holds {} ({})",
                path.display(),
                holder.trim()
            );
            // Poll rather than block, so that Ctrl-C still stops us.
            while f.try_lock().is_err() {
                if crate::run::interrupted() {
                    bail!("interrupted while waiting for {}", path.display());
                }
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        }
        f.set_len(0)?;
        f.rewind()?;
        write!(f, "pid {}", std::process::id())?;
        Ok(f)
    }

    /// A fresh log file path for `step`.
    pub fn log(&self, step: &str) -> Result<PathBuf> {
        let dir = self.cache.join("logs");
        std::fs::create_dir_all(&dir)?;
        Ok(dir.join(format!("{}-{step}.log", timestamp())))
    }

    /// A fresh directory for one VM run's outputs.
    pub fn run_dir(&self, what: &str) -> Result<PathBuf> {
        let dir = self
            .cache
            .join("runs")
            .join(format!("{}-{what}", timestamp()));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

/// `YYYYmmdd-HHMMSS` in UTC, good enough for sortable log names.
fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        std::process::id()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn default_cache() -> Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("kmem-rs"));
    }
    match std::env::var_os("HOME") {
        Some(h) => Ok(PathBuf::from(h).join(".cache/kmem-rs")),
        None => bail!("neither KMEM_RS_CACHE, XDG_CACHE_HOME nor HOME is set: pass --cache DIR"),
    }
}

/// The repository root: the nearest ancestor of the working directory that
/// holds [`VERSIONS_FILE`], else the one this binary was built from.
fn find_repo() -> Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    if let Some(root) = cwd.ancestors().find(|d| d.join(VERSIONS_FILE).is_file()) {
        return Ok(root.to_path_buf());
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if built.join(VERSIONS_FILE).is_file() {
        return Ok(built.canonicalize()?);
    }
    bail!(
        "cannot find the kmem-rs repository ({VERSIONS_FILE}) above {}: run from inside it",
        cwd.display()
    )
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_417), (2025, 11, 25));
    }
}
