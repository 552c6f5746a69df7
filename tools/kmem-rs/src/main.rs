// SPDX-License-Identifier: GPL-2.0-only
//! kmem-rs: one command from this repository to a tested kernel in a VM.
//!
//! `setup` installs the toolchain and imports the base kernel, `build` builds
//! it with the overlay applied, `vm` boots it, `test` runs the in-guest test
//! suites and `demo` shows persistent memory becoming System RAM.

mod apt;
mod bench;
mod build;
mod check;
mod ctx;
mod demo;
mod kconfig;
#[cfg(test)]
mod layering;
mod msrv;
mod ndctl;
mod overlay;
mod patches;
mod qemu;
mod reports;
mod restricted;
mod run;
mod send;
mod series;
mod setup;
mod tap;
mod test;
mod toolchain;
mod versions;
mod vm;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "kmem-rs", version, about, long_about = None)]
struct Cli {
    /// Parallel make jobs (default: number of CPUs).
    #[arg(short, long, global = true, env = "KMEM_RS_JOBS")]
    jobs: Option<usize>,

    /// Cache directory for the toolchain, kernel source, builds and logs.
    #[arg(long, global = true, env = "KMEM_RS_CACHE")]
    cache: Option<std::path::PathBuf>,

    /// Config variant: tools/kmem-rs/configs/NAME.config on top of the test
    /// config, built in its own directory (e.g. nohotremove).
    #[arg(long, global = true, env = "KMEM_RS_VARIANT")]
    variant: Option<String>,

    /// Leave this patch of the series (its id in series.toml) out of the
    /// tree, to show what it fixes (repeatable; setup, build, vm, demo and
    /// test without --record). Built in its own directory; give it its own
    /// --cache too, or switching back rebuilds what the patch touches.
    #[arg(long, global = true, env = "KMEM_RS_WITHOUT", value_delimiter = ',')]
    without: Vec<String>,

    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install the toolchain, fetch and import the base kernel, apply the overlay.
    Setup {
        /// Only report what is missing; change nothing.
        #[arg(long)]
        check: bool,
    },
    /// Build the test kernel (runs setup first; incremental).
    Build {
        /// Start from an empty build directory.
        #[arg(long)]
        fresh: bool,
    },
    /// Boot the test kernel on a platform (pmem, hmem, cxl); a shell, or run one command.
    Vm {
        /// The machine: pmem (legacy pmem in a memory-only node), hmem
        /// (soft-reserved memory with HMAT) or cxl (a CXL type-3 device).
        #[arg(short, long, default_value = "pmem")]
        platform: String,
        /// Extra kernel command line (repeatable), e.g. dax_hmem.region_idle=1.
        #[arg(short, long)]
        append: Vec<String>,
        /// Command to run in the guest instead of an interactive shell.
        #[arg(short, long)]
        exec: Option<String>,
        /// Do not create the devdax namespace before handing over.
        #[arg(long)]
        no_prepare: bool,
        /// Skip the build step and boot what is already built.
        #[arg(long)]
        no_build: bool,
        /// The kmem driver to load: c or rust.
        #[arg(short, long, default_value = "rust")]
        driver: build::Driver,
    },
    /// Run the in-guest test suites and print TAP with a summary line.
    Test {
        /// Run only the suites whose name contains this string (repeatable).
        #[arg(short, long)]
        filter: Vec<String>,
        /// Leave out the suites whose name contains this string (repeatable).
        #[arg(long)]
        skip: Vec<String>,
        /// List the suites and exit.
        #[arg(long)]
        list: bool,
        /// Skip the build step and test what is already built.
        #[arg(long)]
        no_build: bool,
        /// Test only this kmem driver (c or rust; repeatable). Default: both.
        #[arg(short, long)]
        driver: Vec<build::Driver>,
        /// Also write the summary, with the date and command, into
        /// tools/kmem-rs/results/test[-VARIANT].md (README links it).
        #[arg(long)]
        record: bool,
    },
    /// What CI runs: `test` (every suite, both drivers), then `check`.
    Ci,
    /// Check the series: fresh, applies, builds at every commit, checkpatch,
    /// clippy, rustfmt, rustdoc, htmldocs, send-email, config variants.
    Check {
        /// Run only the checks whose name contains this string (repeatable).
        #[arg(short, long)]
        filter: Vec<String>,
        /// List the checks and exit.
        #[arg(long)]
        list: bool,
    },
    /// Generate the patch series in patches/<series>/ from the sources.
    Patches {
        /// First copy the last full `test` run's matrix into the cover letter.
        #[arg(long)]
        record: bool,
        /// Sign with this identity ("Name <address>") instead of the
        /// placeholder of series.toml; writes to --out, never to patches/.
        #[arg(long, env = "KMEM_RS_IDENTITY", value_parser = parse_identity)]
        identity: Option<series::Identity>,
        /// Output directory (default: patches/, or $KMEM_RS_CACHE/outgoing
        /// with --identity).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Mail the series with git send-email, signed and sent by you: they are
    /// regenerated with your identity into $KMEM_RS_CACHE/outgoing first.
    /// The placeholder identity of series.toml is refused.
    Send {
        /// Who signs and sends: "Name <address>".
        #[arg(long, env = "KMEM_RS_IDENTITY", value_parser = parse_identity)]
        identity: series::Identity,
        /// Only this series (repeatable; default: all, in stacked order).
        #[arg(short, long)]
        series: Vec<String>,
        /// git send-email --dry-run: show what would be sent.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show persistent memory becoming System RAM and going away again.
    Demo {
        /// Skip the build step and boot what is already built.
        #[arg(long)]
        no_build: bool,
        /// The kmem driver to show: c or rust.
        #[arg(short, long, default_value = "rust")]
        driver: build::Driver,
    },
    /// Benchmark the C and Rust kmem.ko side by side: hotplug times per device
    /// size and memmap_on_memory, overhead, module size (tools/kmem-rs/bench-results/).
    Bench {
        /// pmem sizes to try, in GiB (one boot each).
        #[arg(short, long, value_delimiter = ',', default_value = "1,4,16,64")]
        sizes: Vec<u32>,
        /// Devices to benchmark beside the pmem sizes (one boot each).
        #[arg(long, value_delimiter = ',', default_value = "hmem,cxl")]
        devices: Vec<bench::Device>,
        /// What guest time counts: instructions (icount) or host time (wall).
        #[arg(long, value_enum, default_value = "icount")]
        clock: bench::Clock,
        /// C/Rust pairs per point, alternating C, Rust, C, Rust...
        #[arg(short, long, default_value_t = 3)]
        pairs: u32,
        /// Untimed pairs before each memmap_on_memory setting.
        #[arg(long, default_value_t = 1)]
        warmup: u32,
        /// Core-only reference rounds per driver and setting.
        #[arg(long, default_value_t = 1)]
        ref_reps: u32,
        /// Results directory (default: tools/kmem-rs/bench-results).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Skip the build step and benchmark what is already built.
        #[arg(long)]
        no_build: bool,
        /// Boot nothing: remake the report of the results in --out from
        /// their raw guest records and the (same) build's module sizes.
        #[arg(long)]
        render: bool,
        /// Trace each operation once per driver instead (function graph and
        /// sleeps; needs `--variant trace`); traces go to OUT/trace/.
        #[arg(long)]
        trace: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    run::forward_interrupts();
    if let Err(err) = real_main(cli) {
        eprintln!("kmem-rs: error: {err:#}");
        std::process::exit(1);
    }
}

fn parse_identity(text: &str) -> Result<series::Identity> {
    series::Identity::parse(text)
}

fn real_main(cli: Cli) -> Result<()> {
    let mut ctx = ctx::Ctx::new(cli.cache, cli.jobs, cli.variant)?;
    ctx.without = cli.without;
    if !ctx.without.is_empty() {
        let whole = match &cli.cmd {
            Cmd::Test { record: true, .. } => Some("test --record"),
            Cmd::Ci => Some("ci"),
            Cmd::Check { .. } => Some("check"),
            Cmd::Patches { .. } => Some("patches"),
            Cmd::Send { .. } => Some("send"),
            Cmd::Bench { .. } => Some("bench"),
            _ => None,
        };
        if let Some(cmd) = whole {
            anyhow::bail!("{cmd} works on the whole series: drop --without");
        }
        with_owners(&ctx, |_| Ok(()))?;
    }
    // A send under the placeholder identity is refused before anything
    // runs, lock and setup included.
    if let Cmd::Send {
        identity,
        dry_run: false,
        ..
    } = &cli.cmd
    {
        send::check_sender(&series::Series::load(&ctx.repo)?.identity, identity)?;
    }
    let _lock = match cli.cmd {
        // Rendering reads the build and writes only the results directory.
        Cmd::Test { list: true, .. }
        | Cmd::Check { list: true, .. }
        | Cmd::Bench { render: true, .. } => None,
        _ => Some(ctx.lock()?),
    };
    match cli.cmd {
        Cmd::Setup { check } => run_setup(&ctx, check),
        Cmd::Build { fresh } => {
            run_setup(&ctx, false)?;
            with_owners(&ctx, |o| build::build(&ctx, fresh, o)).map(|_| ())
        }
        Cmd::Vm {
            platform,
            append,
            exec,
            no_prepare,
            no_build,
            driver,
        } => {
            let kernel = ensure_built(&ctx, no_build)?;
            let platform = vm::platform(&platform)?;
            vm::interactive(
                &ctx,
                &kernel,
                platform,
                &append,
                driver,
                exec.as_deref(),
                !no_prepare,
            )
        }
        Cmd::Test {
            filter,
            skip,
            list,
            no_build,
            driver,
            record,
        } => {
            if list {
                test::list();
                return Ok(());
            }
            let started = std::time::Instant::now();
            let kernel = ensure_built(&ctx, no_build)?;
            let drivers = if driver.is_empty() {
                build::Driver::ALL.to_vec()
            } else {
                driver
            };
            let sel = test::Selection {
                filters: filter,
                skips: skip,
            };
            let (_, failed) = test::run(&ctx, &kernel, &sel, &drivers, started.elapsed(), record)?;
            if failed > 0 {
                anyhow::bail!("{failed} test(s) failed");
            }
            Ok(())
        }
        Cmd::Ci => {
            let started = std::time::Instant::now();
            let kernel = ensure_built(&ctx, false)?;
            let all = build::Driver::ALL.to_vec();
            let (tp, tf) = test::run(
                &ctx,
                &kernel,
                &test::Selection::default(),
                &all,
                started.elapsed(),
                false,
            )?;
            let (cp, cf) = check::run(&ctx, &[])?;
            println!(
                "# ci: suites {tp} passed, {tf} failed; series checks {cp} passed, {cf} failed ({:.0}s)",
                started.elapsed().as_secs_f64()
            );
            println!("{} passed, {} failed", tp + cp, tf + cf);
            if tf + cf > 0 {
                anyhow::bail!("{} test(s) or check(s) failed", tf + cf);
            }
            Ok(())
        }
        Cmd::Check { filter, list } => {
            if list {
                check::list();
                return Ok(());
            }
            run_setup(&ctx, false)?;
            let (_, failed) = check::run(&ctx, &filter)?;
            if failed > 0 {
                anyhow::bail!("{failed} check(s) failed");
            }
            Ok(())
        }
        Cmd::Patches {
            record,
            identity,
            out,
        } => {
            run_setup(&ctx, false)?;
            patches::run(&ctx, record, identity.as_ref(), out)
        }
        Cmd::Send {
            identity,
            series,
            dry_run,
        } => {
            run_setup(&ctx, false)?;
            send::run(&ctx, &identity, dry_run, &series)
        }
        Cmd::Demo { no_build, driver } => {
            let kernel = ensure_built(&ctx, no_build)?;
            demo::run(&ctx, &kernel, driver)
        }
        Cmd::Bench {
            sizes,
            devices,
            clock,
            pairs,
            warmup,
            ref_reps,
            out,
            no_build,
            render,
            trace,
        } => {
            let kernel = ensure_built(&ctx, no_build || render)?;
            if render {
                return bench::render(&ctx, &kernel, out);
            }
            let opts = bench::Options {
                sizes,
                devices,
                clock,
                pairs,
                warmup,
                ref_reps,
                out,
            };
            if trace {
                return bench::trace(&ctx, &kernel, &opts);
            }
            bench::run(&ctx, &kernel, &opts)
        }
    }
}

/// Runs setup and an incremental build unless `no_build`; returns the build dir.
fn ensure_built(ctx: &ctx::Ctx, no_build: bool) -> Result<build::Kernel> {
    if no_build {
        return build::Kernel::existing(ctx);
    }
    run_setup(ctx, false)?;
    with_owners(ctx, |o| build::build(ctx, false, o))
}

/// Runs `f` on the series as this run's tree has it: whole, or without the
/// patches of `--without`.
fn with_owners<T>(ctx: &ctx::Ctx, f: impl FnOnce(&dyn overlay::Owners) -> Result<T>) -> Result<T> {
    let series = series::Series::load(&ctx.repo)?.for_variant(ctx.variant.as_deref());
    if ctx.without.is_empty() {
        return f(&series);
    }
    let skip = ctx
        .without
        .iter()
        .map(|id| {
            series
                .patches
                .iter()
                .position(|p| &p.id == id)
                .with_context(|| {
                    if series.held.iter().any(|p| &p.id == id) {
                        return format!(
                            "--without {id}: a held patch, which only the variants {:?} carry",
                            series.held_variants
                        );
                    }
                    let ids: Vec<&str> = series.patches.iter().map(|p| p.id.as_str()).collect();
                    format!(
                        "--without {id}: no such patch (the patches: {})",
                        ids.join(", ")
                    )
                })
        })
        .collect::<Result<Vec<_>>>()?;
    f(&overlay::Without {
        series: &series,
        skip,
    })
}

/// `setup`: the toolchain and the base kernel ([`setup::install`]), then,
/// unless only checking, the overlay of the committed series and
/// `make rustavailable`. Here because it spans the layers: setup is below
/// the overlay, and the overlay below the series.
fn run_setup(ctx: &ctx::Ctx, check: bool) -> Result<()> {
    setup::install(ctx, check)?;
    if !check {
        with_owners(ctx, |o| overlay::apply(ctx, o))?;
        if !ctx.without.is_empty() {
            println!(
                "  ! without {}: not the series as sent",
                ctx.without.join(", ")
            );
        }
        setup::rustavailable(ctx)?;
    }
    Ok(())
}
