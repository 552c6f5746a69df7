// SPDX-License-Identifier: GPL-2.0-only
//! The import order of the whole crate, checked on its sources so that a
//! back edge (and so any cycle) fails `cargo test`.
//!
//! [`LAYERS`] puts every module of the crate in a layer, lowest first: a
//! module may use only modules of lower layers (main.rs, the command line,
//! sits above them all). A module that is a directory (bench/, check/, ...)
//! counts with all its parts, and [`PARTS`] orders the parts the same way
//! within it: a part uses only parts of lower layers, never its entry point
//! (the `NAME.rs` beside the directory, which uses them all); a `tests.rs`
//! part holds the entry point's tests and may use anything of its module.
//! Among the chains this keeps:
//!
//! - toolchain ← setup ← overlay ← build, with series above all of them
//!   (series may use the others; none of them uses series);
//! - toolchain ← msrv ← check: the `msrv` check's toolchain uses the
//!   project's make, never the series, the build or the checks, and nothing
//!   below it uses msrv;
//! - within bench: guest, size ← stats ← results ← targets ← report, plot,
//!   summary.
//!
//! Every module file is also at most [`MAX_LINES`] lines.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The crate's modules, lowest layer first.
const LAYERS: &[&[&str]] = &[
    &["run", "versions", "kconfig", "tap", "reports"],
    &["ctx"],
    &["apt", "toolchain"],
    &["qemu", "ndctl", "restricted"],
    &["setup", "msrv"],
    &["overlay"],
    &["build"],
    &["vm", "series"],
    &["demo", "patches", "bench"],
    &["send"],
    &["check", "test"],
];

/// The parts of each directory module, lowest layer first.
const PARTS: &[(&str, &[&[&str]])] = &[
    (
        "bench",
        &[
            &["guest", "size"],
            &["stats"],
            &["results"],
            &["targets"],
            &["report", "plot", "summary"],
        ],
    ),
    (
        "check",
        &[
            &["git", "docs"],
            &["am", "checkpatch", "bisect", "b4"],
            &["variants"],
        ],
    ),
    ("overlay", &[&["fragment"]]),
    ("patches", &[&["git"], &["recipients", "cover"]]),
    ("reports", &[&["expected"]]),
    ("series", &[&["identity"], &["message"]]),
    (
        "test",
        &[&["suites", "store"], &["lanes"], &["record"], &["summary"]],
    ),
    ("vm", &[&["platform"]]),
];

/// The most lines a module file may have.
const MAX_LINES: usize = 500;

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

/// The layer of `name` in `layers`.
fn layer_of(layers: &[&[&str]], name: &str) -> Option<usize> {
    layers.iter().position(|l| l.contains(&name))
}

/// Every `.rs` file under src/, by path relative to it (`check/am.rs`).
fn sources() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for p in fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}

/// Each crate module's sources, the entry point's and its parts', joined.
fn modules() -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (path, src) in sources() {
        let module = path.split(['/', '.']).next().unwrap().to_string();
        out.entry(module).or_default().push_str(&src);
    }
    out
}

/// The crate modules `module` (its joined sources `src`) uses.
fn module_refs(module: &str, src: &str) -> BTreeSet<String> {
    let mut refs = crate_refs(src);
    refs.remove(module);
    refs
}

/// `module` (its joined sources `src`) names none of `forbidden`.
fn assert_not_using(module: &str, src: &str, forbidden: &[&str]) {
    let refs = module_refs(module, src);
    let back: Vec<&&str> = forbidden.iter().filter(|f| refs.contains(**f)).collect();
    assert!(
        back.is_empty(),
        "{module} uses {back:?}, which sit above it (toolchain ← setup ← overlay ← build ← series)"
    );
}

/// What the part `part` of the directory module `dir` (its source `src`)
/// uses of its module: parts and entry-point items, through `super::` (its
/// own tests aside) or `crate::DIR::`.
fn part_refs(dir: &str, src: &str) -> BTreeSet<String> {
    let code = src.split("#[cfg(test)]\nmod tests").next().unwrap_or(src);
    let code = code
        .split("#[cfg(test)]\npub(super) mod tests")
        .next()
        .unwrap_or(code);
    let mut used = refs_after(code, "super::");
    used.extend(refs_after(src, &format!("crate::{dir}::")));
    used
}

/// The parts of `dir` that use a part not below them or an item of the
/// entry point, as messages.
fn part_back_edges(
    dir: &str,
    layers: &[&[&str]],
    sources: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut bad = Vec::new();
    for (path, src) in sources {
        let Some(part) = path
            .strip_prefix(&format!("{dir}/"))
            .and_then(|p| p.strip_suffix(".rs"))
        else {
            continue;
        };
        if part == "tests" {
            continue;
        }
        let Some(rank) = layer_of(layers, part) else {
            bad.push(format!("{path} is in no layer of PARTS"));
            continue;
        };
        for used in part_refs(dir, src) {
            match layer_of(layers, &used) {
                Some(r) if r < rank => {}
                Some(_) => bad.push(format!(
                    "{path} uses {dir}/{used}.rs, which is not below it"
                )),
                None => bad.push(format!(
                    "{path} uses {used} of {dir}.rs, the entry point above it"
                )),
            }
        }
    }
    bad
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
fn every_module_is_placed() {
    let dirs: BTreeSet<&str> = PARTS.iter().map(|(d, _)| *d).collect();
    for (path, _) in sources() {
        let module = path.split(['/', '.']).next().unwrap();
        if ["main", "layering"].contains(&module) {
            continue;
        }
        assert!(
            layer_of(LAYERS, module).is_some(),
            "{path}: {module} is in no layer of LAYERS"
        );
        if path.contains('/') {
            assert!(dirs.contains(module), "{path}: {module} has no PARTS");
        }
    }
    for layer in LAYERS {
        for m in *layer {
            assert!(
                modules().contains_key(*m),
                "LAYERS names {m}, which has no source"
            );
        }
    }
}

#[test]
fn crate_imports_one_way() {
    let mut bad = Vec::new();
    for (module, src) in modules() {
        let Some(rank) = layer_of(LAYERS, &module) else {
            continue;
        };
        for used in module_refs(&module, &src) {
            match layer_of(LAYERS, &used) {
                Some(r) if r < rank => {}
                Some(_) => bad.push(format!("{module} uses {used}, which is not below it")),
                None => bad.push(format!("{module} uses {used}, which is in no layer")),
            }
        }
    }
    assert!(bad.is_empty(), "back edges:\n{}", bad.join("\n"));
}

#[test]
fn parts_import_one_way() {
    let sources = sources();
    let bad: Vec<String> = PARTS
        .iter()
        .flat_map(|(dir, layers)| part_back_edges(dir, layers, &sources))
        .collect();
    assert!(bad.is_empty(), "back edges:\n{}", bad.join("\n"));
}

#[test]
fn modules_at_most_max_lines() {
    let long: Vec<String> = sources()
        .iter()
        .map(|(path, src)| (path, src.lines().count()))
        .filter(|(_, n)| *n > MAX_LINES)
        .map(|(path, n)| format!("{path}: {n} lines"))
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}

#[test]
fn setup_overlay_build_series_one_way() {
    let m = modules();
    let above_toolchain = ["setup", "overlay", "build", "series"];
    assert_not_using("toolchain", &m["toolchain"], &above_toolchain);
    assert_not_using("setup", &m["setup"], &above_toolchain[1..]);
    assert_not_using("overlay", &m["overlay"], &above_toolchain[2..]);
    assert_not_using("build", &m["build"], &above_toolchain[3..]);
}

#[test]
fn msrv_between_toolchain_and_check() {
    let m = modules();
    let above = ["check", "series", "setup", "overlay", "build"];
    assert_not_using("msrv", &m["msrv"], &above);
    for name in ["toolchain", "setup", "overlay", "build"] {
        assert_not_using(name, &m[name], &["msrv"]);
    }
    assert!(module_refs("check", &m["check"]).contains("msrv"));
}

#[test]
fn bench_parts_one_way() {
    let (_, layers) = PARTS.iter().find(|(d, _)| *d == "bench").unwrap();
    let bad = part_back_edges("bench", layers, &sources());
    assert!(bad.is_empty(), "{bad:?}");
    // Every part of bench/ is placed (the whole-crate test checks the rest).
    for part in [
        "guest", "size", "stats", "results", "targets", "report", "plot", "summary",
    ] {
        assert!(layer_of(layers, part).is_some(), "{part}");
    }
}
