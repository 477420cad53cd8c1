//! SVG charts drawn with plotters: client latency over time per operation
//! type and throughput over time (fault windows shaded and labelled, like
//! Jepsen's latency plots), the role timeline per node (e.g. who was leader
//! when), and a Lamport (space-time) diagram of messages in a time window
//! with drops as crosses. Each function returns the SVG text.

use super::timeline::{ClientOp, Window};
use crate::process::Interval;
use crate::sim::{RoleChange, TraceRecord};
use plotters::prelude::*;
use std::collections::BTreeMap;

const WIDTH: u32 = 960;
const FONT: &str = "sans-serif";

type Drawn = Result<(), String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Renders into an SVG string; a drawing error becomes a one-line SVG saying so.
fn render(
    height: u32,
    draw: impl FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Drawn,
) -> String {
    let mut svg = String::new();
    let outcome = {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        draw(root)
    };
    match outcome {
        Ok(()) => svg,
        Err(e) => format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"30\"><text x=\"5\" y=\"20\">chart failed: {}</text></svg>", html_escape(&e)),
    }
}

/// Escapes text for HTML and SVG.
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The y coordinate of node `node` among `rows` (node 0 at the top).
fn row_of(rows: f64, node: u32) -> f64 {
    rows - 1.0 - f64::from(node)
}

/// The label of the row at y coordinate `y` (rows sit on whole numbers).
fn node_label(rows: f64, y: f64) -> String {
    let node = rows - 1.0 - y;
    if (node - node.round()).abs() < 1e-6 && node >= 0.0 {
        format!("n{}", node.round() as i64)
    } else {
        String::new()
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

type Chart2d<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Shades each fault window from `bottom` to `top`.
fn shade_windows<DB: DrawingBackend>(
    chart: &mut Chart2d<'_, DB>,
    windows: &[Window],
    bottom: f64,
    top: f64,
) -> Drawn {
    for (i, w) in windows.iter().enumerate() {
        let color = Palette99::pick(i + 3).mix(0.12);
        let (a, b) = (secs(w.start_ns), secs(w.end_ns));
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(a, bottom), (b, top)],
                color.filled(),
            )))
            .map_err(err)?;
    }
    Ok(())
}

/// Labels each fault window near `top`; drawn last, so nothing covers them.
fn label_windows<DB: DrawingBackend>(
    chart: &mut Chart2d<'_, DB>,
    windows: &[Window],
    top: f64,
    step: f64,
) -> Drawn {
    for (i, w) in windows.iter().enumerate() {
        let y = top - step * (1 + i % 4) as f64;
        let style = (FONT, 11).into_font().color(&BLACK.mix(0.75));
        chart
            .draw_series(std::iter::once(Text::new(
                w.label.clone(),
                (secs(w.start_ns), y),
                style,
            )))
            .map_err(err)?;
    }
    Ok(())
}

/// A chart of time in seconds (0 to `end_s`) against 0 to `top`, with
/// the axes drawn and no inner grid lines.
fn time_axes<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    end_s: f64,
    top: f64,
    y_desc: &str,
) -> Result<Chart2d<'a, DB>, String> {
    let mut chart = ChartBuilder::on(root)
        .caption(caption, (FONT, 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..end_s, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc(y_desc)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// A chart with time (0 to `end`) across and one row per node down (node
/// 0 at the top, rows on whole numbers), axes drawn.
fn node_axes<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    end: f64,
    x_desc: &str,
    nodes: usize,
) -> Result<Chart2d<'a, DB>, String> {
    let rows = nodes as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, (FONT, 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..end, -0.5f64..rows - 0.5)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_labels(nodes)
        .y_label_formatter(&|y| node_label(rows, *y))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

fn by_function(ops: &[ClientOp]) -> BTreeMap<&str, Vec<&ClientOp>> {
    let mut groups: BTreeMap<&str, Vec<&ClientOp>> = BTreeMap::new();
    for op in ops {
        groups.entry(op.f.as_str()).or_default().push(op);
    }
    groups
}

/// Points one latency series draws at most; a longer series is thinned.
const LATENCY_POINTS_MAX: usize = 3000;
/// Time buckets of a thinned series (each keeps three points).
const LATENCY_BUCKETS: usize = LATENCY_POINTS_MAX / 3;

/// A series of (time s, latency ms) points, thinned when longer than
/// [`LATENCY_POINTS_MAX`]: per time bucket, the fastest, the median and the
/// slowest point, so the spread and the tail stay visible while the chart
/// (and the page that inlines it) keeps a bounded size. Returns whether it
/// thinned.
fn thin(mut points: Vec<(f64, f64)>, end_s: f64) -> (Vec<(f64, f64)>, bool) {
    if points.len() <= LATENCY_POINTS_MAX {
        return (points, false);
    }
    let width = (end_s / LATENCY_BUCKETS as f64).max(f64::MIN_POSITIVE);
    let bucket = |p: &(f64, f64)| ((p.0 / width) as usize).min(LATENCY_BUCKETS);
    points.sort_by(|a, b| bucket(a).cmp(&bucket(b)).then(a.1.total_cmp(&b.1)));
    let mut kept = Vec::with_capacity(LATENCY_BUCKETS * 3 + 3);
    for group in points.chunk_by(|a, b| bucket(a) == bucket(b)) {
        kept.push(group[0]);
        if group.len() > 2 {
            kept.push(group[group.len() / 2]);
        }
        if group.len() > 1 {
            kept.push(group[group.len() - 1]);
        }
    }
    (kept, true)
}

/// Latency of each completed operation at its invocation time, by function;
/// failed operations as crosses; fault windows shaded. Long runs are
/// thinned per time bucket to the fastest, median and slowest operation
/// (the title says so).
pub fn latency(ops: &[ClientOp], windows: &[Window], end_ns: u64) -> String {
    let max_ms = ops
        .iter()
        .filter_map(ClientOp::latency_ns)
        .max()
        .unwrap_or(1) as f64
        / 1e6;
    let top = (max_ms * 1.15).max(0.001);
    let end_s = secs(end_ns).max(1e-9);
    let mut series = Vec::new();
    let mut thinned = false;
    for (f, group) in by_function(ops) {
        let points = group.iter().filter_map(|o| {
            Some((
                secs(o.invoked_ns),
                o.latency_ns()? as f64 / 1e6,
                o.outcome_name() == "fail",
            ))
        });
        let ok = points
            .clone()
            .filter(|p| !p.2)
            .map(|p| (p.0, p.1))
            .collect();
        let failed = points.filter(|p| p.2).map(|p| (p.0, p.1)).collect();
        let ((ok, a), (failed, b)) = (thin(ok, end_s), thin(failed, end_s));
        thinned |= a || b;
        series.push((f, ok, failed));
    }
    let title = if thinned {
        "Client latency (fault windows shaded; per time bucket: fastest, median, slowest)"
    } else {
        "Client latency (fault windows shaded)"
    };
    render(420, |root| {
        root.fill(&WHITE).map_err(err)?;
        let mut chart = time_axes(&root, title, end_s, top, "latency (ms)")?;
        shade_windows(&mut chart, windows, 0.0, top)?;
        label_windows(&mut chart, windows, top, top * 0.05)?;
        for (i, (f, ok, failed)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let (ok, failed) = (ok.clone(), failed.clone());
            chart
                .draw_series(ok.into_iter().map(|p| Circle::new(p, 2, color.filled())))
                .map_err(err)?
                .label(f.to_string())
                .legend(move |(x, y)| Circle::new((x, y), 4, color.filled()));
            chart
                .draw_series(failed.into_iter().map(|p| Cross::new(p, 3, color)))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)
    })
}

/// Operations completed per time bucket, by function and outcome (ok only).
pub fn throughput(ops: &[ClientOp], windows: &[Window], end_ns: u64) -> String {
    let buckets = 100usize;
    let width_ns = (end_ns / buckets as u64).max(1);
    let groups = by_function(ops);
    let series: Vec<(&str, Vec<f64>)> = groups
        .iter()
        .map(|(f, group)| {
            let mut counts = vec![0f64; buckets + 1];
            for o in group.iter().filter(|o| o.outcome_name() == "ok") {
                if let Some(c) = o.completed_ns {
                    counts[((c / width_ns) as usize).min(buckets)] += 1.0;
                }
            }
            let per_sec = 1e9 / width_ns as f64;
            (*f, counts.into_iter().map(|c| c * per_sec).collect())
        })
        .collect();
    let top = series
        .iter()
        .flat_map(|(_, c)| c.iter().copied())
        .fold(1.0, f64::max)
        * 1.15;
    render(360, |root| {
        root.fill(&WHITE).map_err(err)?;
        let mut chart = time_axes(
            &root,
            "Throughput: operations completed ok per second",
            secs(end_ns).max(1e-9),
            top,
            "ops/s",
        )?;
        shade_windows(&mut chart, windows, 0.0, top)?;
        label_windows(&mut chart, windows, top, top * 0.05)?;
        for (i, (f, counts)) in series.into_iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let line = counts
                .into_iter()
                .enumerate()
                .map(|(b, v)| (secs(b as u64 * width_ns), v));
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(err)?
                .label(f.to_string())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)
    })
}

/// Each node's role over time (e.g. leader / candidate / follower), one row per node.
pub fn roles(changes: &[RoleChange], nodes: usize, windows: &[Window], end_ns: u64) -> String {
    let mut spans = Vec::new();
    for node in 0..nodes as u32 {
        let mine: Vec<&RoleChange> = changes.iter().filter(|c| c.node == node).collect();
        for (i, c) in mine.iter().enumerate() {
            let Some(role) = &c.role else { continue };
            let until = mine.get(i + 1).map_or(end_ns, |n| n.time_ns);
            spans.push(Interval {
                node,
                start_ns: c.time_ns,
                end_ns: until,
                label: role.clone(),
            });
        }
    }
    timeline_rows(
        "Roles over time (fault windows shaded)",
        &spans,
        nodes,
        windows,
        end_ns,
    )
}

/// Protocol intervals (e.g. in-doubt periods), one row per node, coloured by
/// the part of their label before any parenthesis.
pub fn intervals(spans: &[Interval], nodes: usize, windows: &[Window], end_ns: u64) -> String {
    let spans: Vec<Interval> = spans
        .iter()
        .map(|s| Interval {
            label: s.label.split('(').next().unwrap_or("").trim().to_string(),
            ..s.clone()
        })
        .collect();
    timeline_rows(
        "Protocol intervals per node (fault windows shaded)",
        &spans,
        nodes,
        windows,
        end_ns,
    )
}

/// Labelled spans per node, one row each, a colour per label.
fn timeline_rows(
    caption: &str,
    spans: &[Interval],
    nodes: usize,
    windows: &[Window],
    end_ns: u64,
) -> String {
    let mut names: Vec<&str> = spans.iter().map(|s| s.label.as_str()).collect();
    names.sort();
    names.dedup();
    let colour = |label: &str| {
        Palette99::pick(names.iter().position(|n| *n == label).unwrap_or(0) + 10).filled()
    };
    let height = 120 + 36 * nodes as u32;
    render(height, |root| {
        root.fill(&WHITE).map_err(err)?;
        let rows = nodes as f64;
        let mut chart = node_axes(&root, caption, secs(end_ns).max(1e-9), "time (s)", nodes)?;
        shade_windows(&mut chart, windows, -0.5, rows - 0.5)?;
        for s in spans {
            let row = row_of(rows, s.node);
            let rect = Rectangle::new(
                [(secs(s.start_ns), row - 0.35), (secs(s.end_ns), row + 0.35)],
                colour(&s.label),
            );
            chart.draw_series(std::iter::once(rect)).map_err(err)?;
        }
        label_windows(&mut chart, windows, rows - 0.5, 0.25)?;
        for name in &names {
            let c = colour(name);
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(err)?
                .label(name.to_string())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c));
        }
        if !names.is_empty() {
            chart
                .configure_series_labels()
                .border_style(BLACK)
                .background_style(WHITE.mix(0.85))
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)
    })
}

/// Messages as arrows from (send time, sender) to (arrival, receiver) within
/// `[from_ns, to_ns]`; drops as red crosses at the receiver. At most
/// `limit` messages are drawn (the earliest).
pub fn lamport(
    trace: &[TraceRecord],
    processes: usize,
    from_ns: u64,
    to_ns: u64,
    limit: usize,
) -> String {
    let inside = |t: u64| t >= from_ns && t <= to_ns;
    let delivered: Vec<&TraceRecord> = trace
        .iter()
        .filter(|r| r.kind == "deliver" && inside(r.time_ns))
        .take(limit)
        .collect();
    let dropped: Vec<&TraceRecord> = trace
        .iter()
        .filter(|r| r.kind == "drop" && inside(r.time_ns))
        .take(limit)
        .collect();
    let rows = processes as f64;
    let y = move |node: Option<u32>| row_of(rows, node.unwrap_or(0));
    let ms = |ns: u64| (ns.saturating_sub(from_ns)) as f64 / 1e6;
    render(140 + 40 * processes as u32, |root| {
        root.fill(&WHITE).map_err(err)?;
        let caption = format!(
            "Messages from {} to {} (drops as crosses)",
            crate::time::SimTime::from_nanos(from_ns),
            crate::time::SimTime::from_nanos(to_ns)
        );
        let mut chart = node_axes(
            &root,
            &caption,
            ms(to_ns).max(1e-6),
            "time in window (ms)",
            processes,
        )?;
        for p in 0..processes {
            let yy = row_of(rows, p as u32);
            chart
                .draw_series(LineSeries::new(
                    vec![(0.0, yy), (ms(to_ns), yy)],
                    BLACK.mix(0.25),
                ))
                .map_err(err)?;
        }
        let blue = RGBColor(30, 90, 200).mix(0.6);
        for r in &delivered {
            let sent = r.sent_ns.unwrap_or(r.time_ns).max(from_ns);
            let line = vec![(ms(sent), y(r.peer)), (ms(r.time_ns), y(r.node))];
            chart
                .draw_series(LineSeries::new(line, blue.stroke_width(1)))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Circle::new(
                    (ms(r.time_ns), y(r.node)),
                    2,
                    blue.filled(),
                )))
                .map_err(err)?;
        }
        for r in &dropped {
            chart
                .draw_series(std::iter::once(Cross::new(
                    (ms(r.time_ns), y(r.node)),
                    4,
                    RED.stroke_width(2),
                )))
                .map_err(err)?;
        }
        root.present().map_err(err)
    })
}

/// The CAP trade-off, one panel per partition shape: each store's
/// availability during the partition (x) against the share of its runs
/// that were linearizable (y).
pub fn cap_tradeoff(points: &[(String, String, f64, f64)], shapes: &[&str]) -> String {
    let mut stores: Vec<&str> = points.iter().map(|p| p.0.as_str()).collect();
    stores.dedup();
    render(380, |root| {
        root.fill(&WHITE).map_err(err)?;
        let (title, body) = root.split_vertically(40);
        title.titled("CAP: availability during the partition vs consistency (share of runs linearizable)", (FONT, 18)).map_err(err)?;
        let panels = body.split_evenly((1, shapes.len().max(1)));
        for (panel, shape) in panels.iter().zip(shapes) {
            let mut chart = ChartBuilder::on(panel)
                .caption(*shape, (FONT, 15))
                .margin(8)
                .x_label_area_size(30)
                .y_label_area_size(36)
                .build_cartesian_2d(-0.05f64..1.05, -0.05f64..1.05)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_labels(3)
                .y_labels(3)
                .x_desc("available")
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(err)?;
            for (i, store) in stores.iter().enumerate() {
                let color = Palette99::pick(i).to_rgba();
                let mine = points
                    .iter()
                    .filter(|p| p.0 == *store && p.1 == *shape)
                    .map(|p| (p.2, p.3));
                chart
                    .draw_series(mine.map(|p| Circle::new(p, 7, color.filled())))
                    .map_err(err)?
                    .label(store.to_string())
                    .legend(move |(x, y)| Circle::new((x, y), 5, color.filled()));
            }
            if *shape == shapes[0] {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::LowerLeft)
                    .border_style(BLACK)
                    .background_style(WHITE.mix(0.9))
                    .draw()
                    .map_err(err)?;
            }
        }
        root.present().map_err(err)
    })
}

/// Availability over time across a partition: one line per store, the
/// partition shaded.
pub fn availability_over_time(series: &[(String, Vec<(f64, f64)>)], window: (f64, f64)) -> String {
    let end = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    render(360, |root| {
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Availability over time across a majority/minority split",
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..end, 0f64..1.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("share answered ok")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(window.0, 0.0), (window.1, 1.1)],
                RED.mix(0.08).filled(),
            )))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                "partition",
                (window.0, 1.07),
                (FONT, 12),
            )))
            .map_err(err)?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)
    })
}
