// SPDX-License-Identifier: GPL-2.0-only
//! The bench plots. `bench.svg`: cost per GiB against device size (log
//! scale), one panel per hotplug operation, C and Rust with memmap_on_memory
//! off and on, the core-only reference (Σ per-block online) in the
//! `online_movable` panel, and the HMEM and CXL devices as single marks.
//! `bench-blocks.svg`: the core's per-block online cost, first block to
//! last, per size. SVG only, with text left to the viewer's fonts, so no
//! font libraries.

use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

use super::guest::Source;
use super::results::{Point, Results};
use super::targets::{onoff, unit};

/// The panels of bench.svg: operation, title, and whether it is per GiB.
const PANELS: [(&str, &str, bool); 4] = [
    ("bind", "bind (policy online_movable), per GiB", true),
    ("unplug", "state → unplugged, per GiB", true),
    ("online", "state → online_movable, per GiB", true),
    ("unbind", "unbind (unplugged), whole operation", false),
];

/// A line (or, with `marks_only`, points) to draw; `dots` marks each
/// point of a line too.
struct Series {
    name: String,
    color: RGBColor,
    dashed: bool,
    marks_only: bool,
    dots: bool,
    points: Vec<(f64, f64)>,
}

fn color(rust: bool, memmap: bool) -> RGBColor {
    match (rust, memmap) {
        (false, false) => RGBColor(31, 119, 180),
        (true, false) => RGBColor(214, 39, 40),
        (false, true) => RGBColor(23, 190, 207),
        (true, true) => RGBColor(255, 127, 14),
    }
}

fn series_for(points: &[Point], op: &str, per_gib: bool) -> Vec<Series> {
    let y = |p: &Point, v: f64| if per_gib { v / p.size_gib } else { v };
    let mut out = Vec::new();
    for memmap in [false, true] {
        for rust in [false, true] {
            let pick = |p: &Point| {
                let o = p.op(op)?;
                let v = if rust { o.rust.median } else { o.c.median };
                v.is_finite().then_some((p.size_gib, y(p, v)))
            };
            let mut pmem: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.memmap_on_memory == memmap && p.pmem_gib().is_some())
                .filter_map(pick)
                .collect();
            pmem.sort_by(|a, b| a.0.total_cmp(&b.0));
            let drv = if rust { "Rust" } else { "C" };
            out.push(Series {
                name: format!("{drv}, pmem, memmap_on_memory {}", onoff(memmap)),
                color: color(rust, memmap),
                dashed: false,
                marks_only: false,
                dots: true,
                points: pmem,
            });
            for dev in [Source::Hmem, Source::Cxl] {
                let marks: Vec<(f64, f64)> = points
                    .iter()
                    .filter(|p| p.memmap_on_memory == memmap && p.source == dev)
                    .filter_map(pick)
                    .collect();
                out.push(Series {
                    name: format!("{drv}, {}, memmap {}", dev.label(), onoff(memmap)),
                    color: color(rust, memmap),
                    dashed: false,
                    marks_only: true,
                    dots: false,
                    points: marks,
                });
            }
        }
    }
    if op == "online" {
        for memmap in [false, true] {
            let mut v: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.memmap_on_memory == memmap && p.pmem_gib().is_some())
                .filter_map(|p| Some((p.size_gib, y(p, p.reference.as_ref()?.online_ms.median))))
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            out.push(Series {
                name: format!("core only: Σ per-block online, memmap {}", onoff(memmap)),
                color: if memmap {
                    RGBColor(120, 120, 120)
                } else {
                    BLACK
                },
                dashed: true,
                marks_only: false,
                dots: true,
                points: v,
            });
        }
    }
    out
}

type Chart<'a, 'b, X> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, RangedCoordf64>>;

/// Draws `series` into `chart`, with a legend.
fn draw<'a, 'b: 'a, X>(chart: &mut Chart<'a, 'b, X>, series: Vec<Series>, path: &Path) -> Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let e = |e: &dyn std::fmt::Debug| anyhow!("plotting {}: {e:?}", path.display());
    for s in series {
        if s.points.is_empty() {
            continue;
        }
        let (color, style) = (s.color, s.color.stroke_width(2));
        if s.marks_only {
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|p| TriangleMarker::new(*p, 6, color.filled())),
                )
                .map_err(|x| e(&x))?
                .label(s.name)
                .legend(move |(x, y)| TriangleMarker::new((x + 9, y), 5, color.filled()));
            continue;
        }
        let anno = if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(s.points.clone(), 6, 4, style))
                .map_err(|x| e(&x))?
        } else {
            chart
                .draw_series(LineSeries::new(s.points.clone(), style))
                .map_err(|x| e(&x))?
        };
        anno.label(s.name).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
        });
        if s.dots {
            chart
                .draw_series(s.points.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(|x| e(&x))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 10))
        .border_style(BLACK.mix(0.3))
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(|x| e(&x))?;
    Ok(())
}

fn title(r: &Results, what: &str) -> String {
    format!(
        "kmem-rs: {what}, {} clock, median of {} pairs ({} {}, {})",
        r.clock,
        r.pairs,
        r.kernel_release,
        r.host.get("accel").map_or("", String::as_str),
        r.date
    )
}

fn ymax(series: &[Series]) -> f64 {
    series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max)
        .max(1e-3)
        * 1.35
}

pub fn plot(r: &Results, path: &Path) -> Result<()> {
    let e = |e: &dyn std::fmt::Debug| anyhow!("plotting {}: {e:?}", path.display());
    let root = SVGBackend::new(path, (1280, 960)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let root = root
        .titled(&title(r, "C vs Rust kmem.ko"), ("sans-serif", 18))
        .map_err(|x| e(&x))?;
    let xmax = r.points.iter().map(|p| p.size_gib).fold(1.0, f64::max) * 1.5;
    let xmin = r.points.iter().map(|p| p.size_gib).fold(1.0, f64::min) / 1.5;
    let unit = unit(r);
    for (area, (op, caption, per_gib)) in root.split_evenly((2, 2)).iter().zip(PANELS) {
        let series = series_for(&r.points, op, per_gib);
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((xmin..xmax).log_scale(), 0f64..ymax(&series))
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .x_desc("device size (GiB, log scale)")
            .y_desc(if per_gib {
                format!("median {unit} per GiB")
            } else {
                format!("median {unit}")
            })
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|x| e(&x))?;
        draw(&mut chart, series, path)?;
    }
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

/// The per-block curve: each pmem size's core-only per-block online cost,
/// block by block, memmap_on_memory off (solid) and on (dashed).
pub fn plot_blocks(r: &Results, path: &Path) -> Result<()> {
    let e = |e: &dyn std::fmt::Debug| anyhow!("plotting {}: {e:?}", path.display());
    let palette = [
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    let mut series = Vec::new();
    let mut sizes: Vec<u32> = r.points.iter().filter_map(Point::pmem_gib).collect();
    sizes.dedup();
    for (i, z) in sizes.iter().enumerate() {
        for memmap in [false, true] {
            let Some(rf) = r
                .points
                .iter()
                .find(|p| p.pmem_gib() == Some(*z) && p.memmap_on_memory == memmap)
                .and_then(|p| p.reference.as_ref())
            else {
                continue;
            };
            series.push(Series {
                name: format!("{z} GiB, memmap_on_memory {}", onoff(memmap)),
                color: palette[i % palette.len()],
                dashed: memmap,
                marks_only: false,
                // Hundreds of blocks: lines without a mark per point.
                dots: false,
                points: rf
                    .block_curve_ms
                    .iter()
                    .enumerate()
                    .map(|(b, v)| ((b + 1) as f64, *v))
                    .collect(),
            });
        }
    }
    let root = SVGBackend::new(path, (1280, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let xmax = series.iter().map(|s| s.points.len()).max().unwrap_or(1) as f64 * 1.02;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            title(r, "onlining one memory block after another (core only)"),
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax(&series))
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("memory block, in the order onlined")
        .y_desc(format!("{} to online it (memoryN/state)", unit(r)))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|x| e(&x))?;
    draw(&mut chart, series, path)?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}
