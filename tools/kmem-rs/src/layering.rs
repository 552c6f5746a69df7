// SPDX-License-Identifier: GPL-2.0-only
//! The import order of the modules, checked on their sources so that a back
//! edge fails `cargo test`:
//!
//! - toolchain ← setup ← overlay ← build, with series above all of them
//!   (series may use the others; none of them uses series);
//! - toolchain ← msrv ← check: the `msrv` check's toolchain uses the
//!   project's make, never the series, the build or the checks, and nothing
//!   below it uses msrv;
//! - within bench: guest, size ← stats ← results ← targets ← report, plot,
//!   summary (each part uses only parts below it).

use std::collections::BTreeSet;

/// The crate modules a source names as `crate::NAME`, including each first
/// segment of a `crate::{a, b::c}` group. Comments count too: a module named
/// in a doc link is a dependency as well.
fn crate_refs(src: &str) -> BTreeSet<String> {
    refs_after(src, "crate::")
}

/// The first path segments after each `prefix` (`super::`, `crate::bench::`).
fn refs_after(src: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in src.match_indices(prefix) {
        let rest = &src[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.extend(first_ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.extend(first_ident(&item));
        } else {
            out.extend(first_ident(rest));
        }
    }
    out
}

fn first_ident(s: &str) -> Option<String> {
    let id: String = s
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// `module` (its source `src`) names none of `forbidden`.
fn assert_not_using(module: &str, src: &str, forbidden: &[&str]) {
    let refs = crate_refs(src);
    let back: Vec<&&str> = forbidden.iter().filter(|f| refs.contains(**f)).collect();
    assert!(
        back.is_empty(),
        "{module}.rs uses {back:?}, which sit above it (toolchain ← setup ← overlay ← build ← series)"
    );
}

#[test]
fn parser_sees_paths_and_groups() {
    let src = "use crate::ctx::Ctx;\nuse crate::{run::{self, command}, series::Series};\n\
               let x = crate::build::make(ctx, true);\nuse super::{guest::OPS, results};\n";
    let want = ["build", "ctx", "run", "series"].map(String::from);
    assert_eq!(crate_refs(src), BTreeSet::from(want));
    let sup = ["guest", "results"].map(String::from);
    assert_eq!(refs_after(src, "super::"), BTreeSet::from(sup));
}

#[test]
fn setup_overlay_build_series_one_way() {
    let above_toolchain = ["setup", "overlay", "build", "series"];
    assert_not_using("toolchain", include_str!("toolchain.rs"), &above_toolchain);
    assert_not_using("setup", include_str!("setup.rs"), &above_toolchain[1..]);
    assert_not_using("overlay", include_str!("overlay.rs"), &above_toolchain[2..]);
    assert_not_using("build", include_str!("build.rs"), &above_toolchain[3..]);
}

#[test]
fn msrv_between_toolchain_and_check() {
    let above = ["check", "series", "setup", "overlay", "build"];
    assert_not_using("msrv", include_str!("msrv.rs"), &above);
    for (name, src) in [
        ("toolchain", include_str!("toolchain.rs")),
        ("setup", include_str!("setup.rs")),
        ("overlay", include_str!("overlay.rs")),
        ("build", include_str!("build.rs")),
    ] {
        assert_not_using(name, src, &["msrv"]);
    }
    assert!(crate_refs(include_str!("check.rs")).contains("msrv"));
}

#[test]
fn bench_parts_one_way() {
    // (part, rank, source): a part may use only parts of a lower rank.
    let parts: [(&str, u32, &str); 8] = [
        ("guest", 0, include_str!("bench/guest.rs")),
        ("size", 0, include_str!("bench/size.rs")),
        ("stats", 1, include_str!("bench/stats.rs")),
        ("results", 2, include_str!("bench/results.rs")),
        ("targets", 3, include_str!("bench/targets.rs")),
        ("report", 4, include_str!("bench/report.rs")),
        ("plot", 4, include_str!("bench/plot.rs")),
        ("summary", 4, include_str!("bench/summary.rs")),
    ];
    for (name, rank, src) in parts {
        let mut used = refs_after(src, "super::");
        used.extend(refs_after(src, "crate::bench::"));
        for (other, other_rank, _) in parts {
            assert!(
                !used.contains(other) || other_rank < rank,
                "bench/{name}.rs uses bench/{other}.rs, which is not below it"
            );
        }
        for entry in ["Options", "run", "RESULTS_DIR", "KEY_OPTIONS"] {
            assert!(
                !used.contains(entry),
                "bench/{name}.rs uses {entry} of bench.rs, the entry point above it"
            );
        }
    }
}
