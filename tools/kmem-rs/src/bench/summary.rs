// SPDX-License-Identifier: GPL-2.0-only
//! The short forms of a run that other files quote: a plain-text table for
//! the cover letter (`bench-summary.txt`, the series' `@BENCH@`) and the
//! markdown block README shows between its bench markers.

use anyhow::{bail, Result};
use std::fmt::Write as _;

use super::guest::Source;
use super::results::{Point, Results};
use super::targets::{f3, icount, judged, judged_figures, onoff, target_ratio};

/// README's markers around the block this module writes.
pub const README_BEGIN: &str = "<!-- bench:begin (written by `cargo kmem bench`) -->";
pub const README_END: &str = "<!-- bench:end -->";

/// The operations of the short tables, and their column heads.
const COLUMNS: [(&str, &str); 4] = [
    ("bind", "bind"),
    ("unplug", "unplug"),
    ("online", "online"),
    ("unbind", "unbind"),
];

/// A short name of a point's device, at most 12 characters.
fn short(p: &Point) -> String {
    match p.source {
        Source::Pmem(g) => format!("pmem {g} GiB"),
        Source::Hmem => "hmem 3 rng".into(),
        Source::Cxl => "cxl 512 MiB".into(),
    }
}

/// The figure the verdicts are on (the work under icount, else the elapsed
/// time): C's median, in millions (or thousands, for unbind) of the unit.
fn c_figure(r: &Results, p: &Point, op: &str) -> (f64, &'static str) {
    let ms = p.op(op).map_or(f64::NAN, |o| judged_figures(r, o).0.median);
    if op == "unbind" {
        (ms * 1000.0, "k")
    } else {
        (ms, "M")
    }
}

/// At most 5 characters: one decimal below 100, none from there.
fn short_num(x: f64) -> String {
    if !x.is_finite() {
        "–".into()
    } else if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

fn ratio(r: &Results, p: &Point, op: &str) -> f64 {
    p.op(op).map_or(f64::NAN, |o| judged(r, o))
}

/// The plain-text table for the cover letter, at most 72 columns wide.
pub fn cover_text(r: &Results) -> String {
    let mut s = String::new();
    let what = if icount(r) {
        "Instructions the writing thread ran in each operation (QEMU\n\
         -icount shift=0, one vCPU: one guest nanosecond per instruction;\n\
         the thread's CPU time, so without its waits)."
    } else {
        "Guest milliseconds of host time (TCG) of each operation."
    };
    let _ = writeln!(
        s,
        "{what} The C median,\n\
         and the median of the pair-by-pair Rust/C ratios over {} C/Rust\n\
         pairs, for bind (auto_online_blocks=online_movable), state\n\
         \"unplugged\", state \"online_movable\" and unbind (M = millions,\n\
         k = thousands; mmap = the device's memmap_on_memory):\n",
        r.pairs
    );
    let _ = write!(s, "{:<12} {:<4}", "device", "mmap");
    for (_, head) in COLUMNS {
        let _ = write!(s, " {head:>12}");
    }
    let _ = writeln!(s);
    for p in &r.points {
        let _ = write!(s, "{:<12} {:<4}", short(p), onoff(p.memmap_on_memory));
        for (op, _) in COLUMNS {
            let (c, unit) = c_figure(r, p, op);
            let _ = write!(s, " {:>5}{unit} {:>5}", short_num(c), f3(ratio(r, p, op)));
        }
        let _ = writeln!(s);
    }
    s
}

/// The markdown block for README: the same table, the plot and how to
/// make them again.
pub fn readme_block(r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{README_BEGIN}");
    let _ = writeln!(
        s,
        "Latest run: {}, kernel {}, {} clock, {} pairs per point, {} (host {}, {} cores); \
         `cargo kmem bench` took {:.0} min. Figures are the C median (M = millions, k = \
         thousands of {}) and the median of the pair-by-pair Rust/C ratios; target ≤ {}. \
         Under icount they are the writing thread's CPU time, its work without the waits. \
         All tables: [`bench.md`](tools/kmem-rs/bench-results/bench.md).\n",
        r.date,
        r.kernel_release,
        r.clock,
        r.pairs,
        r.host.get("accel").map_or("", String::as_str),
        r.host.get("cpu").map_or("", String::as_str),
        r.host.get("cores").map_or("", String::as_str),
        r.seconds / 60.0,
        if icount(r) {
            "instructions"
        } else {
            "guest ns × 10⁶"
        },
        target_ratio(r)
    );
    let _ = write!(s, "| device | memmap_on_memory |");
    for (_, head) in COLUMNS {
        let _ = write!(s, " {head} C | Rust/C |");
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "| --- | :---: |{}",
        " ---: | ---: |".repeat(COLUMNS.len())
    );
    for p in &r.points {
        let _ = write!(
            s,
            "| {} | {} |",
            p.source.label(),
            onoff(p.memmap_on_memory)
        );
        for (op, _) in COLUMNS {
            let (c, unit) = c_figure(r, p, op);
            let _ = write!(s, " {c:.2}{unit} | {} |", f3(ratio(r, p, op)));
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "\n![cost per GiB vs size](tools/kmem-rs/bench-results/bench.svg)\n\n\
         ![per-block online cost](tools/kmem-rs/bench-results/bench-blocks.svg)"
    );
    let _ = writeln!(s, "{README_END}");
    s
}

/// `readme` with the text between its bench markers replaced by `block`.
pub fn replace_block(readme: &str, block: &str) -> Result<String> {
    let (Some(a), Some(b)) = (readme.find(README_BEGIN), readme.find(README_END)) else {
        bail!("README.md has no bench markers ({README_BEGIN} ... {README_END})");
    };
    if b < a {
        bail!("README.md's bench markers are out of order");
    }
    let end = b + README_END.len();
    let end = end + usize::from(readme[end..].starts_with('\n'));
    Ok(format!("{}{}{}", &readme[..a], block, &readme[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cover_text_fits_72_columns() {
        use crate::bench::results::tests::results;
        for clock in ["icount", "wall"] {
            let mut r = results();
            r.clock = clock.into();
            let text = cover_text(&r);
            assert!(text.contains("pmem 1 GiB   on "), "{text}");
            for l in text.lines() {
                assert!(l.chars().count() <= 72, "too wide: {l:?}");
            }
        }
    }

    #[test]
    fn readme_block_replaced_between_markers() {
        let readme = format!("a\n{README_BEGIN}\nold\n{README_END}\nb\n");
        let block = format!("{README_BEGIN}\nnew\n{README_END}\n");
        assert_eq!(
            replace_block(&readme, &block).unwrap(),
            format!("a\n{README_BEGIN}\nnew\n{README_END}\nb\n")
        );
        assert!(replace_block("no markers", &block).is_err());
        let swapped = format!("{README_END}\n{README_BEGIN}\n");
        assert!(replace_block(&swapped, &block).is_err());
    }
}
