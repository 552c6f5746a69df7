// SPDX-License-Identifier: GPL-2.0-only
//! The bench plot: median time against device size, one panel per
//! operation, C and Rust with memmap_on_memory off and on; the core-only
//! reference (Σ per-block online) in the `online_movable` panel. SVG
//! only, with text left to the viewer's fonts, so no font libraries.

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

use super::guest::OPS;
use super::results::{Point, Results};

const TITLES: [&str; 4] = [
    "bind (policy online_movable)",
    "state → unplugged",
    "state → online_movable",
    "unbind (unplugged)",
];

type Series = (String, RGBColor, bool, Vec<(f64, f64)>);

fn series_for(points: &[Point], op: &str) -> Vec<Series> {
    let mut out = Vec::new();
    for memmap in [false, true] {
        for rust in [false, true] {
            let mut v: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.memmap_on_memory == memmap)
                .filter_map(|p| {
                    let o = p.op(op)?;
                    let y = if rust { o.rust.median } else { o.c.median };
                    y.is_finite().then_some((f64::from(p.size_gib), y))
                })
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            let color = match (rust, memmap) {
                (false, false) => RGBColor(31, 119, 180),
                (true, false) => RGBColor(214, 39, 40),
                (false, true) => RGBColor(23, 190, 207),
                (true, true) => RGBColor(255, 127, 14),
            };
            let name = format!(
                "{}, memmap_on_memory {}",
                if rust { "Rust" } else { "C" },
                if memmap { "on" } else { "off" }
            );
            out.push((name, color, false, v));
        }
    }
    if op == "online" {
        for memmap in [false, true] {
            let mut v: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.memmap_on_memory == memmap)
                .filter_map(|p| {
                    let r = p.reference.as_ref()?;
                    Some((f64::from(p.size_gib), r.online_ms.median))
                })
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            let name = format!(
                "core only: Σ per-block online, memmap {}",
                if memmap { "on" } else { "off" }
            );
            let color = if memmap {
                RGBColor(120, 120, 120)
            } else {
                BLACK
            };
            out.push((name, color, true, v));
        }
    }
    out
}

pub fn plot(r: &Results, path: &Path) -> Result<()> {
    let e = |e: &dyn std::fmt::Debug| anyhow!("plotting {}: {e:?}", path.display());
    let root = SVGBackend::new(path, (1280, 960)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let title = format!(
        "kmem-rs: C vs Rust kmem.ko, median of {} pairs ({} {}, {} {})",
        r.pairs,
        r.kernel_release,
        r.host.get("accel").map_or("", String::as_str),
        r.host.get("cpu").map_or("", String::as_str),
        r.date
    );
    let root = root.titled(&title, ("sans-serif", 18)).map_err(|x| e(&x))?;
    let xmax = r
        .points
        .iter()
        .map(|p| f64::from(p.size_gib))
        .fold(1.0, f64::max)
        * 1.08;
    for (area, (op, title)) in root.split_evenly((2, 2)).iter().zip(OPS.iter().zip(TITLES)) {
        let series = series_for(&r.points, op);
        let ymax = series
            .iter()
            .flat_map(|s| s.3.iter().map(|p| p.1))
            .fold(0.0, f64::max)
            .max(1e-3)
            * 1.12;
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..xmax, 0f64..ymax)
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .x_desc("pmem size (GiB)")
            .y_desc("median time (ms)")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|x| e(&x))?;
        for (name, color, dashed, pts) in series {
            if pts.is_empty() {
                continue;
            }
            let style = color.stroke_width(2);
            let anno = if dashed {
                chart
                    .draw_series(DashedLineSeries::new(pts.clone(), 6, 4, style))
                    .map_err(|x| e(&x))?
            } else {
                chart
                    .draw_series(LineSeries::new(pts.clone(), style))
                    .map_err(|x| e(&x))?
            };
            anno.label(name).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(|x| e(&x))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 11))
            .border_style(BLACK.mix(0.3))
            .background_style(WHITE.mix(0.85))
            .draw()
            .map_err(|x| e(&x))?;
    }
    root.present().map_err(|x| e(&x))?;
    Ok(())
}
