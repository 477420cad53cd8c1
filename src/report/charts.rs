//! SVG charts drawn with plotters: client latency over time per operation
//! type and throughput over time (like Jepsen's latency plots), the role
//! timeline per node (e.g. who was leader when), protocol intervals, a
//! Lamport (space-time) diagram of messages in a time window with drops as
//! crosses, a linearizability counterexample's timeline, and the CAP
//! experiment's two charts. Each function returns the SVG text.
//!
//! Every chart has one layout, top to bottom: the caption, a band of
//! labels (one per fault window, and "liveness phase"), the plot, and the
//! legend. Nothing but the data is drawn inside the plot, so no label or
//! legend covers a point; the plot keeps room on its right for the last
//! x-axis label. Time charts shade each fault window and, in a colour of
//! its own with a line where it begins, the liveness phase (every fault
//! healed, see [`Phases`]).

use super::timeline::{ClientOp, Window};
use crate::process::Interval;
use crate::sim::{RoleChange, TraceRecord};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;

const WIDTH: u32 = 960;
const FONT: &str = "sans-serif";
/// Blank space above, left of and below every plot.
const MARGIN_PX: u32 = 12;
/// Blank space right of every plot: the last x-axis label is centred on
/// the axis end, so `MARGIN_PX` alone would cut off its right half.
const MARGIN_RIGHT_PX: u32 = 40;
/// The column of y-axis labels.
const Y_LABELS_PX: u32 = 60;
/// The row of x-axis labels and the x-axis name.
const X_LABELS_PX: u32 = 36;
/// The caption's row.
const CAPTION_PX: u32 = 30;
/// One lane of the label band above the plot.
const LANE_PX: u32 = 14;
/// Lanes of labels at most; a label that finds no room in them is left
/// out (its window stays shaded, and the report's fault table lists it).
const LANES_MAX: usize = 4;
/// Labels considered at most (a nemesis run can have hundreds of faults).
const LABELS_MAX: usize = 64;
/// One row of the legend.
const LEGEND_ROW_PX: u32 = 20;
/// Font size of band labels and legend entries.
const LABEL_FONT: u32 = 12;
/// The liveness phase's colour.
const LIVENESS: RGBColor = RGBColor(20, 120, 50);
/// A legend swatch for marks drawn in every series' colour.
const NEUTRAL: RGBColor = RGBColor(90, 90, 90);

type Drawn = Result<(), String>;
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Renders into an SVG string; a drawing error becomes a one-line SVG saying so.
fn render(height: u32, draw: impl FnOnce(&Area<'_>) -> Drawn) -> String {
    let mut svg = String::new();
    let outcome = {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        draw(&root)
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

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// A generous estimate of `text`'s width in pixels at plotters font
/// `size` (the SVG backend writes it as `size / 1.24`; a sans-serif glyph
/// is at most about 0.6 of that wide, digits and lower case less).
fn text_px(text: &str, size: u32) -> f64 {
    text.chars().count() as f64 * 0.6 * f64::from(size) / 1.24
}

/// The x pixel of `v` on a plot of `lo..hi` laid out by [`axes`] across
/// the full width (plotters maps the range onto the plot's first to last
/// pixel).
fn plot_x(v: f64, (lo, hi): (f64, f64)) -> f64 {
    let left = f64::from(MARGIN_PX + Y_LABELS_PX);
    let right = f64::from(WIDTH - MARGIN_RIGHT_PX) - 1.0;
    left + (v - lo) / (hi - lo).max(f64::MIN_POSITIVE) * (right - left)
}

fn label_style(color: RGBColor) -> TextStyle<'static> {
    (FONT, LABEL_FONT).into_font().color(&color)
}

// ---- What time charts mark: fault windows and the liveness phase ----

/// What every time chart of a run marks besides its data.
#[derive(Clone, Copy, Debug)]
pub struct Phases<'a> {
    /// The fault windows, shaded and labelled.
    pub windows: &'a [Window],
    /// When the liveness phase began (every partition healed, every node
    /// resumed and restarted), if the run got that far.
    pub liveness_ns: Option<u64>,
    /// When the run ended: the time axes end here.
    pub end_ns: u64,
}

/// What a shaded stretch of a time chart is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ShadeKind {
    /// The `i`th fault window of the run (its colour).
    Fault(usize),
    /// The liveness phase.
    Liveness,
}

/// A shaded stretch of a chart, in the chart's x units, with its label.
#[derive(Clone, Debug)]
struct Shade {
    start: f64,
    end: f64,
    label: String,
    kind: ShadeKind,
}

impl Shade {
    fn fill(&self) -> RGBAColor {
        match self.kind {
            ShadeKind::Fault(i) => Palette99::pick(i + 3).mix(0.12),
            ShadeKind::Liveness => LIVENESS.mix(0.10),
        }
    }

    fn ink(&self) -> RGBColor {
        match self.kind {
            ShadeKind::Fault(_) => RGBColor(60, 60, 60),
            ShadeKind::Liveness => LIVENESS,
        }
    }
}

impl Phases<'_> {
    /// The stretches within `from_ns..=to_ns` (clipped to it), in the units
    /// `x` maps a time to: the fault windows, then the liveness phase.
    fn shades(&self, from_ns: u64, to_ns: u64, x: impl Fn(u64) -> f64) -> Vec<Shade> {
        let clip = |a: u64, b: u64| {
            (a <= to_ns && b >= from_ns).then(|| (x(a.max(from_ns)), x(b.min(to_ns))))
        };
        let mut shades: Vec<Shade> = self
            .windows
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                let (start, end) = clip(w.start_ns, w.end_ns)?;
                Some(Shade {
                    start,
                    end,
                    label: w.label.clone(),
                    kind: ShadeKind::Fault(i),
                })
            })
            .collect();
        let liveness = self.liveness_ns.filter(|&l| l < self.end_ns);
        if let Some((start, end)) = liveness.and_then(|l| clip(l, self.end_ns)) {
            shades.push(Shade {
                start,
                end,
                label: "liveness phase".into(),
                kind: ShadeKind::Liveness,
            });
        }
        shades
    }
}

type Chart2d<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Shades each stretch from `bottom` to `top`; the liveness phase also
/// gets a line where it begins.
fn shade<DB: DrawingBackend>(
    chart: &mut Chart2d<'_, DB>,
    shades: &[Shade],
    bottom: f64,
    top: f64,
) -> Drawn {
    for s in shades {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(s.start, bottom), (s.end, top)],
                s.fill().filled(),
            )))
            .map_err(err)?;
        if s.kind == ShadeKind::Liveness {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(s.start, bottom), (s.start, top)],
                    LIVENESS.stroke_width(2),
                )))
                .map_err(err)?;
        }
    }
    Ok(())
}

// ---- The label band above the plot ----

/// A label in the band above the plot: its text ends at `x` when
/// `right_aligned` (it would run off the picture otherwise), else starts there.
#[derive(Clone, Debug)]
struct Placed {
    text: String,
    x: f64,
    right_aligned: bool,
    lane: usize,
    color: RGBColor,
}

/// Places each stretch's label above its start (plot range `range`), in
/// the first lane where it overlaps no other label. The liveness phase
/// is placed first, so it is never the label left out.
fn place_labels(shades: &[Shade], range: (f64, f64)) -> Vec<Placed> {
    let mut order: Vec<&Shade> = shades.iter().collect();
    order.sort_by_key(|s| s.kind != ShadeKind::Liveness);
    let edge = f64::from(WIDTH) - 4.0;
    let mut lanes: Vec<Vec<(f64, f64)>> = vec![Vec::new(); LANES_MAX];
    let mut placed = Vec::new();
    for s in order.into_iter().take(LABELS_MAX) {
        let width = text_px(&s.label, LABEL_FONT);
        let start = plot_x(s.start, range);
        let right_aligned = start + width > edge;
        let left = if right_aligned { edge - width } else { start };
        let span = (left - 3.0, left + width + 3.0);
        let free = |lane: &Vec<(f64, f64)>| lane.iter().all(|&(a, b)| span.1 <= a || span.0 >= b);
        let Some(lane) = lanes.iter().position(free) else {
            continue;
        };
        lanes[lane].push(span);
        placed.push(Placed {
            text: s.label.clone(),
            x: if right_aligned { edge } else { start },
            right_aligned,
            lane,
            color: s.ink(),
        });
    }
    placed
}

fn lanes_used(placed: &[Placed]) -> usize {
    placed.iter().map(|p| p.lane + 1).max().unwrap_or(0)
}

fn draw_labels(root: &Area<'_>, placed: &[Placed]) -> Drawn {
    for p in placed {
        let y = CAPTION_PX + LANE_PX * p.lane as u32 + LANE_PX / 2;
        let h = if p.right_aligned {
            HPos::Right
        } else {
            HPos::Left
        };
        let style = label_style(p.color).pos(Pos::new(h, VPos::Center));
        root.draw(&Text::new(p.text.clone(), (p.x as i32, y as i32), style))
            .map_err(err)?;
    }
    Ok(())
}

// ---- The legend below the plot ----

/// How a legend entry's mark looks.
#[derive(Clone, Copy, Debug)]
enum Swatch {
    Dot(RGBAColor),
    Cross(RGBAColor),
    Line(RGBAColor),
    Block(RGBAColor),
}

/// One legend entry.
#[derive(Clone, Debug)]
struct Entry {
    swatch: Swatch,
    text: String,
}

fn entry(swatch: Swatch, text: impl Into<String>) -> Entry {
    Entry {
        swatch,
        text: text.into(),
    }
}

/// Where each entry goes, as (row, x): left to right from the plot's left
/// edge, wrapping at the picture's right edge.
fn legend_layout(entries: &[Entry]) -> Vec<(usize, f64)> {
    let start = f64::from(MARGIN_PX + Y_LABELS_PX);
    let edge = f64::from(WIDTH - MARGIN_PX);
    let (mut row, mut x) = (0, start);
    entries
        .iter()
        .map(|e| {
            let width = 22.0 + text_px(&e.text, LABEL_FONT);
            if x + width > edge && x > start {
                (row, x) = (row + 1, start);
            }
            let at = (row, x);
            x += width + 20.0;
            at
        })
        .collect()
}

fn legend_rows(layout: &[(usize, f64)]) -> usize {
    layout.iter().map(|(row, _)| row + 1).max().unwrap_or(0)
}

fn draw_swatch(root: &Area<'_>, swatch: Swatch, (x, y): (i32, i32)) -> Drawn {
    let drawn = match swatch {
        Swatch::Dot(c) => root.draw(&Circle::new((x + 8, y), 4, c.filled())),
        Swatch::Cross(c) => root.draw(&Cross::new((x + 8, y), 4, c.stroke_width(2))),
        Swatch::Line(c) => root.draw(&PathElement::new(
            vec![(x, y), (x + 16, y)],
            c.stroke_width(2),
        )),
        Swatch::Block(c) => root.draw(&Rectangle::new([(x, y - 5), (x + 16, y + 5)], c.filled())),
    };
    drawn.map_err(err)
}

fn draw_legend(root: &Area<'_>, entries: &[Entry], layout: &[(usize, f64)], top: u32) -> Drawn {
    for (e, &(row, x)) in entries.iter().zip(layout) {
        let y = (top + LEGEND_ROW_PX * row as u32 + LEGEND_ROW_PX / 2) as i32;
        draw_swatch(root, e.swatch, (x as i32, y))?;
        let style = label_style(BLACK).pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new(e.text.clone(), (x as i32 + 22, y), style))
            .map_err(err)?;
    }
    Ok(())
}

// ---- The frame every chart is drawn in ----

/// A chart's layout: the caption, the labels above the plot, the plot's
/// height and the legend below it.
struct Frame<'a> {
    caption: &'a str,
    labels: Vec<Placed>,
    plot_px: u32,
    legend: Vec<Entry>,
}

/// Draws `frame` around the plot that `draw` draws into the area it is given.
fn framed(frame: Frame<'_>, draw: impl FnOnce(&Area<'_>) -> Drawn) -> String {
    let layout = legend_layout(&frame.legend);
    let rows = legend_rows(&layout) as u32;
    let head = CAPTION_PX + LANE_PX * lanes_used(&frame.labels) as u32;
    let foot = LEGEND_ROW_PX * rows + if rows > 0 { 8 } else { 0 };
    render(head + frame.plot_px + foot, |root| {
        root.fill(&WHITE).map_err(err)?;
        let caption = (FONT, 18)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(
            frame.caption.to_string(),
            ((WIDTH / 2) as i32, 8),
            caption,
        ))
        .map_err(err)?;
        let (_, rest) = root.split_vertically(head);
        let (plot, _) = rest.split_vertically(frame.plot_px);
        draw(&plot)?;
        draw_labels(root, &frame.labels)?;
        draw_legend(root, &frame.legend, &layout, head + frame.plot_px)
    })
}

/// The plot's coordinates (`x` across, `y` up) in `area`, with room for
/// the axes' labels and no inner grid lines.
fn axes<'a, 'b>(
    area: &'a Area<'b>,
    x: (f64, f64),
    y: (f64, f64),
) -> Result<Chart2d<'a, SVGBackend<'b>>, String> {
    ChartBuilder::on(area)
        .margin(MARGIN_PX)
        .margin_right(MARGIN_RIGHT_PX)
        .x_label_area_size(X_LABELS_PX)
        .y_label_area_size(Y_LABELS_PX)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)
        .map_err(err)
}

/// A chart of time in seconds (0 to `end_s`) against 0 to `top`.
fn time_axes<'a, 'b>(
    area: &'a Area<'b>,
    end_s: f64,
    top: f64,
    y_desc: &str,
) -> Result<Chart2d<'a, SVGBackend<'b>>, String> {
    let mut chart = axes(area, (0.0, end_s), (0.0, top))?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc(y_desc)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// The y coordinate of row `row` among `rows` (row 0 at the top).
fn row_y(rows: usize, row: usize) -> f64 {
    rows as f64 - 1.0 - row as f64
}

/// The name of the row at y coordinate `y` (rows sit on whole numbers).
fn row_name(names: &[String], y: f64) -> String {
    let row = names.len() as f64 - 1.0 - y;
    if (row - row.round()).abs() > 1e-6 || row < 0.0 {
        return String::new();
    }
    names.get(row.round() as usize).cloned().unwrap_or_default()
}

/// A chart with `x` across and one row per name down (the first at the
/// top, rows on whole numbers).
fn row_axes<'a, 'b>(
    area: &'a Area<'b>,
    x: (f64, f64),
    x_desc: &str,
    names: &[String],
) -> Result<Chart2d<'a, SVGBackend<'b>>, String> {
    let rows = names.len() as f64;
    let mut chart = axes(area, x, (-0.5, rows - 0.5))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_labels(names.len())
        .y_label_formatter(&|y| row_name(names, *y))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// `n0`, `n1`, ... for servers, then `c0`, `c1`, ... for the processes
/// from `servers` on (workload clients that are processes of their own,
/// numbered after the servers: client `c` is process `servers + c`).
pub fn process_names(processes: usize, servers: usize) -> Vec<String> {
    (0..processes)
        .map(|p| match p.checked_sub(servers) {
            Some(c) => format!("c{c}"),
            None => format!("n{p}"),
        })
        .collect()
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

/// One function's latency points: (time s, latency ms) answered ok, and failed.
type LatencySeries<'a> = (&'a str, Vec<(f64, f64)>, Vec<(f64, f64)>);

/// Each function's points, thinned; and whether any series was thinned.
fn latency_series(ops: &[ClientOp], end_s: f64) -> (Vec<LatencySeries<'_>>, bool) {
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
    (series, thinned)
}

/// Latency of each completed operation at its invocation time, by function
/// (a dot per operation answered ok, a cross per failed one; timed-out
/// operations have no latency and are not drawn); fault windows and the
/// liveness phase shaded. Long runs are thinned per time bucket to the
/// fastest, median and slowest operation (the title says so).
pub fn latency(ops: &[ClientOp], phases: &Phases<'_>) -> String {
    let max_ms = ops
        .iter()
        .filter_map(ClientOp::latency_ns)
        .max()
        .unwrap_or(1) as f64
        / 1e6;
    let top = (max_ms * 1.15).max(0.001);
    let end_s = secs(phases.end_ns).max(1e-9);
    let (series, thinned) = latency_series(ops, end_s);
    let caption = if thinned {
        "Client latency (fault windows shaded; per time bucket: fastest, median, slowest)"
    } else {
        "Client latency (fault windows shaded)"
    };
    let shades = phases.shades(0, phases.end_ns, secs);
    let mut legend: Vec<Entry> = series
        .iter()
        .enumerate()
        .map(|(i, (f, _, _))| entry(Swatch::Dot(Palette99::pick(i).to_rgba()), *f))
        .collect();
    if series.iter().any(|(_, _, failed)| !failed.is_empty()) {
        legend.push(entry(
            Swatch::Cross(NEUTRAL.to_rgba()),
            "failed (a cross in the operation's colour)",
        ));
    }
    let frame = Frame {
        caption,
        labels: place_labels(&shades, (0.0, end_s)),
        plot_px: 380,
        legend,
    };
    framed(frame, |area| {
        let mut chart = time_axes(area, end_s, top, "latency (ms)")?;
        shade(&mut chart, &shades, 0.0, top)?;
        for (i, (_, ok, failed)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(ok.iter().map(|&p| Circle::new(p, 2, color.filled())))
                .map_err(err)?;
            chart
                .draw_series(failed.iter().map(|&p| Cross::new(p, 3, color)))
                .map_err(err)?;
        }
        Ok(())
    })
}

/// Operations answered ok per second, per time bucket and function.
fn throughput_series(ops: &[ClientOp], end_ns: u64) -> Vec<(&str, Vec<(f64, f64)>)> {
    let buckets = 100usize;
    let width_ns = (end_ns / buckets as u64).max(1);
    let per_sec = 1e9 / width_ns as f64;
    by_function(ops)
        .into_iter()
        .map(|(f, group)| {
            let mut counts = vec![0f64; buckets + 1];
            for o in group.iter().filter(|o| o.outcome_name() == "ok") {
                if let Some(c) = o.completed_ns {
                    counts[((c / width_ns) as usize).min(buckets)] += 1.0;
                }
            }
            let line = counts
                .into_iter()
                .enumerate()
                .map(|(b, v)| (secs(b as u64 * width_ns), v * per_sec))
                .collect();
            (f, line)
        })
        .collect()
}

/// Operations completed ok per time bucket, by function; fault windows and
/// the liveness phase shaded.
pub fn throughput(ops: &[ClientOp], phases: &Phases<'_>) -> String {
    let series = throughput_series(ops, phases.end_ns);
    let top = series
        .iter()
        .flat_map(|(_, line)| line.iter().map(|p| p.1))
        .fold(1.0, f64::max)
        * 1.15;
    let end_s = secs(phases.end_ns).max(1e-9);
    let shades = phases.shades(0, phases.end_ns, secs);
    let legend = series
        .iter()
        .enumerate()
        .map(|(i, (f, _))| entry(Swatch::Line(Palette99::pick(i).to_rgba()), *f))
        .collect();
    let frame = Frame {
        caption: "Throughput: operations completed ok per second",
        labels: place_labels(&shades, (0.0, end_s)),
        plot_px: 320,
        legend,
    };
    framed(frame, |area| {
        let mut chart = time_axes(area, end_s, top, "ops/s")?;
        shade(&mut chart, &shades, 0.0, top)?;
        for (i, (_, line)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(line.iter().copied(), color.stroke_width(2)))
                .map_err(err)?;
        }
        Ok(())
    })
}

/// Each node's role over time (e.g. leader / candidate / follower), one row per node.
pub fn roles(changes: &[RoleChange], nodes: usize, phases: &Phases<'_>) -> String {
    let mut spans = Vec::new();
    for node in 0..nodes as u32 {
        let mine: Vec<&RoleChange> = changes.iter().filter(|c| c.node == node).collect();
        for (i, c) in mine.iter().enumerate() {
            let Some(role) = &c.role else { continue };
            let until = mine.get(i + 1).map_or(phases.end_ns, |n| n.time_ns);
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
        phases,
    )
}

/// Protocol intervals (e.g. in-doubt periods), one row per node, coloured by
/// the part of their label before any parenthesis.
pub fn intervals(spans: &[Interval], nodes: usize, phases: &Phases<'_>) -> String {
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
        phases,
    )
}

/// Labelled spans per node, one row each, a colour per label (named in
/// the legend).
fn timeline_rows(caption: &str, spans: &[Interval], nodes: usize, phases: &Phases<'_>) -> String {
    let mut names: Vec<&str> = spans.iter().map(|s| s.label.as_str()).collect();
    names.sort();
    names.dedup();
    let colour = |label: &str| {
        Palette99::pick(names.iter().position(|n| *n == label).unwrap_or(0) + 10).to_rgba()
    };
    let end_s = secs(phases.end_ns).max(1e-9);
    let shades = phases.shades(0, phases.end_ns, secs);
    let rows = process_names(nodes, nodes);
    let frame = Frame {
        caption,
        labels: place_labels(&shades, (0.0, end_s)),
        plot_px: 80 + 36 * nodes as u32,
        legend: names
            .iter()
            .map(|n| entry(Swatch::Block(colour(n)), *n))
            .collect(),
    };
    framed(frame, |area| {
        let mut chart = row_axes(area, (0.0, end_s), "time (s)", &rows)?;
        shade(&mut chart, &shades, -0.5, nodes as f64 - 0.5)?;
        for s in spans {
            let row = row_y(nodes, s.node as usize);
            let rect = Rectangle::new(
                [(secs(s.start_ns), row - 0.35), (secs(s.end_ns), row + 0.35)],
                colour(&s.label).filled(),
            );
            chart.draw_series(std::iter::once(rect)).map_err(err)?;
        }
        Ok(())
    })
}

/// What a Lamport diagram shows: which processes, named how, and which
/// messages.
#[derive(Clone, Copy, Debug)]
pub struct LamportView {
    /// Its rows: processes `0..processes`.
    pub processes: usize,
    /// Processes from `servers` on are workload clients, named `c0`, `c1`,
    /// ... (see [`process_names`]).
    pub servers: usize,
    /// The window's start.
    pub from_ns: u64,
    /// The window's end.
    pub to_ns: u64,
    /// Messages drawn at most (the earliest), and drops at most.
    pub limit: usize,
}

/// Messages as lines from (send time, sender) to (arrival, receiver), a dot
/// at the arrival, within the view's window; drops as red crosses at the
/// receiver; fault windows and the liveness phase shaded; a legend.
pub fn lamport(trace: &[TraceRecord], view: &LamportView, phases: &Phases<'_>) -> String {
    let (from_ns, to_ns) = (view.from_ns, view.to_ns);
    let inside = |t: u64| t >= from_ns && t <= to_ns;
    let of_kind = |kind: &'static str| {
        trace
            .iter()
            .filter(move |r| r.kind == kind && inside(r.time_ns))
            .take(view.limit)
    };
    let (delivered, dropped): (Vec<&TraceRecord>, Vec<&TraceRecord>) =
        (of_kind("deliver").collect(), of_kind("drop").collect());
    let rows = view.processes;
    let y = move |node: Option<u32>| row_y(rows, node.unwrap_or(0) as usize);
    let ms = |ns: u64| (ns.saturating_sub(from_ns)) as f64 / 1e6;
    let end_ms = ms(to_ns).max(1e-6);
    let shades = phases.shades(from_ns, to_ns, ms);
    let caption = format!(
        "Messages from {} to {} (drops as crosses)",
        crate::time::SimTime::from_nanos(from_ns),
        crate::time::SimTime::from_nanos(to_ns)
    );
    let blue = RGBColor(30, 90, 200).mix(0.6);
    let frame = Frame {
        caption: &caption,
        labels: place_labels(&shades, (0.0, end_ms)),
        plot_px: 100 + 40 * rows as u32,
        legend: vec![
            entry(Swatch::Line(blue), "message (sent to delivered)"),
            entry(Swatch::Dot(blue), "delivery"),
            entry(Swatch::Cross(RED.to_rgba()), "dropped"),
        ],
    };
    let names = process_names(rows, view.servers);
    framed(frame, |area| {
        let mut chart = row_axes(area, (0.0, end_ms), "time in window (ms)", &names)?;
        shade(&mut chart, &shades, -0.5, rows as f64 - 0.5)?;
        for p in 0..rows {
            let line = vec![(0.0, row_y(rows, p)), (end_ms, row_y(rows, p))];
            chart
                .draw_series(LineSeries::new(line, BLACK.mix(0.25)))
                .map_err(err)?;
        }
        for r in &delivered {
            let sent = r.sent_ns.unwrap_or(r.time_ns).max(from_ns);
            let line = vec![(ms(sent), y(r.peer)), (ms(r.time_ns), y(r.node))];
            chart
                .draw_series(LineSeries::new(line, blue.stroke_width(1)))
                .map_err(err)?;
            let arrival = Circle::new((ms(r.time_ns), y(r.node)), 2, blue.filled());
            chart.draw_series(std::iter::once(arrival)).map_err(err)?;
        }
        let drops = dropped
            .iter()
            .map(|r| Cross::new((ms(r.time_ns), y(r.node)), 4, RED.stroke_width(2)));
        chart.draw_series(drops).map_err(err)?;
        Ok(())
    })
}

/// One operation of a linearizability counterexample, as its timeline
/// draws it.
#[derive(Clone, Debug, PartialEq)]
pub struct CounterexampleOp {
    /// The logical client process.
    pub process: i64,
    /// When it was invoked.
    pub call_ns: u64,
    /// When it returned (`None`: it never did; drawn to the end).
    pub return_ns: Option<u64>,
    /// What it did, e.g. `get("k0") -> ""`.
    pub description: String,
    /// Whether it is one of the operations that cannot come next (red),
    /// rather than part of the linearizable prefix (green).
    pub stuck: bool,
}

const PREFIX_GREEN: RGBColor = RGBColor(108, 191, 106);
const STUCK_RED: RGBColor = RGBColor(224, 90, 79);

/// A linearizability counterexample on a time axis (simulated ms): one
/// row per process, the deepest linearizable prefix's operations green,
/// those that cannot be placed next red, each labelled with what it did.
pub fn counterexample(ops: &[CounterexampleOp]) -> String {
    let mut processes: Vec<i64> = ops.iter().map(|o| o.process).collect();
    processes.sort_unstable();
    processes.dedup();
    let lo = ops.iter().map(|o| o.call_ns).min().unwrap_or(0);
    let hi = ops
        .iter()
        .map(|o| o.return_ns.unwrap_or(o.call_ns))
        .max()
        .unwrap_or(lo)
        .max(lo + 1);
    let ms = |ns: u64| ns as f64 / 1e6;
    let range = (ms(lo), ms(hi));
    let names: Vec<String> = processes.iter().map(|p| format!("process {p}")).collect();
    let frame = Frame {
        caption: "Operations of the counterexample, by process",
        labels: Vec::new(),
        plot_px: 80 + 30 * processes.len() as u32,
        legend: vec![
            entry(Swatch::Block(PREFIX_GREEN.to_rgba()), "linearizable prefix"),
            entry(Swatch::Block(STUCK_RED.to_rgba()), "cannot come next"),
        ],
    };
    framed(frame, |area| {
        let mut chart = row_axes(area, range, "time (ms)", &names)?;
        let plot_right = plot_x(range.1, range);
        for o in ops {
            let row = processes.iter().position(|p| *p == o.process).unwrap_or(0);
            let y = row_y(processes.len(), row);
            let (a, b) = (ms(o.call_ns), ms(o.return_ns.unwrap_or(hi)));
            let color = if o.stuck { STUCK_RED } else { PREFIX_GREEN };
            let bar = Rectangle::new([(a, y - 0.3), (b, y + 0.3)], color.mix(0.85).filled());
            chart.draw_series(std::iter::once(bar)).map_err(err)?;
            // A label that would run past the plot ends at its bar's end instead.
            let runs_over = plot_x(a, range) + 3.0 + text_px(&o.description, 11) > plot_right;
            let (at, dx, h) = if runs_over {
                (b, -3, HPos::Right)
            } else {
                (a, 3, HPos::Left)
            };
            let style = (FONT, 11)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(h, VPos::Center));
            let label =
                EmptyElement::at((at, y)) + Text::new(o.description.clone(), (dx, 0), style);
            chart.draw_series(std::iter::once(label)).map_err(err)?;
        }
        Ok(())
    })
}

/// The CAP trade-off, one panel per partition shape: each store's
/// availability during the partition (x) against the share of its runs
/// that were linearizable (y); the stores in a legend below.
pub fn cap_tradeoff(points: &[(String, String, f64, f64)], shapes: &[&str]) -> String {
    let mut stores: Vec<&str> = points.iter().map(|p| p.0.as_str()).collect();
    stores.dedup();
    let legend = stores
        .iter()
        .enumerate()
        .map(|(i, s)| entry(Swatch::Dot(Palette99::pick(i).to_rgba()), *s))
        .collect();
    let frame = Frame {
        caption: "CAP: availability during the partition vs consistency",
        labels: Vec::new(),
        plot_px: 320,
        legend,
    };
    framed(frame, |area| {
        let panels = area.split_evenly((1, shapes.len().max(1)));
        for (i, (panel, shape)) in panels.iter().zip(shapes).enumerate() {
            let mut chart = ChartBuilder::on(panel)
                .caption(*shape, (FONT, 15))
                .margin(MARGIN_PX)
                .margin_right(16)
                .x_label_area_size(36)
                .y_label_area_size(48)
                .build_cartesian_2d(-0.05f64..1.05, -0.05f64..1.05)
                .map_err(err)?;
            // The y axis is named once, on the first panel; all share it.
            let y_desc = if i == 0 {
                "share of runs linearizable"
            } else {
                ""
            };
            chart
                .configure_mesh()
                .x_labels(3)
                .y_labels(3)
                .x_desc("share of requests answered")
                .y_desc(y_desc)
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(err)?;
            // Stores often share a point (both CP stores at 100%
            // linearizable): each is drawn smaller than the one before, so
            // one on top of another still shows as a ring.
            for (i, store) in stores.iter().enumerate() {
                let color = Palette99::pick(i).to_rgba();
                let radius = 5 + 3 * (stores.len() - 1 - i) as i32;
                let mine = points
                    .iter()
                    .filter(|p| p.0 == *store && p.1 == *shape)
                    .map(move |p| Circle::new((p.2, p.3), radius, color.filled()));
                chart.draw_series(mine).map_err(err)?;
            }
        }
        Ok(())
    })
}

/// Availability over time across a partition: one line per store, each
/// point `(t, share)` holding for the bucket `t..t + bucket_s` (drawn as
/// steps, so a change shows where its bucket begins); the partition
/// (`window`, in seconds) shaded.
pub fn availability_over_time(
    series: &[(String, Vec<(f64, f64)>)],
    window: (f64, f64),
    bucket_s: f64,
) -> String {
    let end = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.0 + bucket_s))
        .fold(1.0, f64::max);
    let shades = vec![Shade {
        start: window.0,
        end: window.1,
        label: "partition".into(),
        kind: ShadeKind::Fault(0),
    }];
    let legend = series
        .iter()
        .enumerate()
        .map(|(i, (name, _))| entry(Swatch::Line(Palette99::pick(i).to_rgba()), name.clone()))
        .collect();
    let frame = Frame {
        caption: "Availability over time across a majority/minority split",
        labels: place_labels(&shades, (0.0, end)),
        plot_px: 320,
        legend,
    };
    framed(frame, |area| {
        let mut chart = axes(area, (0.0, end), (0.0, 1.05))?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("share answered ok")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        shade(&mut chart, &shades, 0.0, 1.05)?;
        // Stores often agree (both CP stores serve 60% in a split): each
        // line is drawn narrower than the one before, so one on top of
        // another still shows.
        for (i, (_, points)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let width = 2 + 2 * (series.len() - 1 - i) as u32;
            let steps = points
                .iter()
                .flat_map(|&(t, v)| [(t, v), (t + bucket_s, v)]);
            chart
                .draw_series(LineSeries::new(steps, color.stroke_width(width)))
                .map_err(err)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::RecordOutcome;

    /// A text element of a chart: what it says, where, and how big.
    #[derive(Debug)]
    struct SvgText {
        text: String,
        x: f64,
        y: f64,
        anchor: String,
        size: f64,
        rotated: bool,
    }

    fn attr(n: roxmltree::Node<'_, '_>, key: &str) -> f64 {
        n.attribute(key).and_then(|v| v.parse().ok()).unwrap_or(0.0)
    }

    fn texts(svg: &str) -> Vec<SvgText> {
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| SvgText {
                text: n.text().unwrap_or("").trim().to_string(),
                x: attr(n, "x"),
                y: attr(n, "y"),
                anchor: n.attribute("text-anchor").unwrap_or("start").into(),
                size: attr(n, "font-size"),
                rotated: n
                    .attribute("transform")
                    .is_some_and(|t| t.contains("rotate")),
            })
            .collect()
    }

    fn text<'a>(all: &'a [SvgText], what: &str) -> &'a SvgText {
        all.iter().find(|t| t.text == what).unwrap_or_else(|| {
            panic!(
                "no text {what:?} in {:?}",
                all.iter().map(|t| &t.text).collect::<Vec<_>>()
            )
        })
    }

    /// Opaque filled rectangles other than the background: the data of a
    /// row chart (shading is translucent).
    fn opaque_rects(svg: &str) -> Vec<(f64, f64)> {
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}"));
        doc.descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("opacity") == Some("1"))
            .filter(|n| n.attribute("fill") != Some("#FFFFFF"))
            .map(|n| (attr(n, "y"), attr(n, "y") + attr(n, "height")))
            .collect()
    }

    /// Asserts that no text runs past the picture's left or right edge
    /// (a glyph estimated at 0.6 of the font size).
    fn assert_inside(svg: &str) {
        for t in texts(svg) {
            let w = 0.6 * t.size * t.text.chars().count() as f64;
            let (left, right) = match t.anchor.as_str() {
                _ if t.rotated => (t.x - t.size, t.x + t.size),
                "middle" => (t.x - w / 2.0, t.x + w / 2.0),
                "end" => (t.x - w, t.x),
                _ => (t.x, t.x + w),
            };
            assert!(
                left >= 0.0 && right <= f64::from(WIDTH),
                "{:?} spans {left:.0}..{right:.0}, outside 0..{WIDTH}",
                t.text
            );
        }
    }

    const S: u64 = 1_000_000_000;

    fn window(start_s: u64, end_s: u64, label: &str) -> Window {
        Window {
            start_ns: start_s * S,
            end_ns: end_s * S,
            label: label.into(),
        }
    }

    fn op(f: &str, invoked_ms: u64, latency_ms: u64, ok: bool) -> ClientOp {
        let value = serde_json::Value::Null;
        ClientOp {
            process: 0,
            client: 0,
            f: f.into(),
            key: None,
            input: value.clone(),
            invoked_ns: invoked_ms * 1_000_000,
            completed_ns: Some((invoked_ms + latency_ms) * 1_000_000),
            outcome: if ok {
                RecordOutcome::Ok(value)
            } else {
                RecordOutcome::Fail(value)
            },
        }
    }

    fn ops() -> Vec<ClientOp> {
        (0..200)
            .map(|i| {
                op(
                    ["get", "put"][i % 2],
                    i as u64 * 100,
                    5 + i as u64 % 7,
                    i % 9 != 0,
                )
            })
            .collect()
    }

    fn role(t_s: u64, node: u32, role: &str) -> RoleChange {
        RoleChange {
            time_ns: t_s * S,
            node,
            role: Some(role.into()),
        }
    }

    fn roles_of(nodes: u32) -> Vec<RoleChange> {
        let mut changes: Vec<RoleChange> = (0..nodes).map(|n| role(0, n, "follower")).collect();
        changes.push(role(2, 0, "leader"));
        changes.push(role(9, 1, "leader"));
        changes
    }

    fn record(kind: &'static str, t_ms: u64, node: u32, peer: u32) -> TraceRecord {
        TraceRecord {
            time_ns: t_ms * 1_000_000,
            kind,
            node: Some(node),
            peer: Some(peer),
            sent_ns: Some(t_ms.saturating_sub(3) * 1_000_000),
            detail: String::new(),
        }
    }

    fn trace() -> Vec<TraceRecord> {
        let mut trace: Vec<TraceRecord> = (0..40)
            .map(|i| {
                record(
                    "deliver",
                    10_000 + i * 20,
                    (i % 7) as u32,
                    ((i + 3) % 7) as u32,
                )
            })
            .collect();
        trace.push(record("drop", 10_300, 2, 6));
        trace
    }

    const WINDOWS: &[Window] = &[];

    fn phases(windows: &[Window]) -> Phases<'_> {
        Phases {
            windows,
            liveness_ns: Some(15 * S),
            end_ns: 20 * S,
        }
    }

    fn lamport_view(from_s: u64, to_s: u64) -> LamportView {
        LamportView {
            processes: 7,
            servers: 5,
            from_ns: from_s * S,
            to_ns: to_s * S,
            limit: 100,
        }
    }

    #[test]
    fn lamport_names_client_lanes_as_clients() {
        let svg = lamport(&trace(), &lamport_view(10, 11), &phases(WINDOWS));
        let all = texts(&svg);
        for lane in ["n0", "n4", "c0", "c1"] {
            text(&all, lane);
        }
        assert!(!all.iter().any(|t| t.text == "n5" || t.text == "n6"));
        assert_inside(&svg);
        let names = process_names(3, 3);
        assert_eq!(names, ["n0", "n1", "n2"], "no clients: every lane a server");
    }

    #[test]
    fn lamport_has_a_legend_below_the_plot_and_shades_fault_windows() {
        let windows = [window(9, 10, "n1 down"), window(10, 12, "partition p")];
        let svg = lamport(&trace(), &lamport_view(10, 11), &phases(&windows));
        let all = texts(&svg);
        let axis = text(&all, "time in window (ms)");
        for entry in ["message (sent to delivered)", "delivery", "dropped"] {
            assert!(
                text(&all, entry).y > axis.y,
                "{entry} is not below the plot"
            );
        }
        // Both windows reach into 10 s..11 s: each is shaded and labelled.
        text(&all, "n1 down");
        text(&all, "partition p");
        assert_eq!(
            svg.matches("opacity=\"0.12\"").count(),
            2,
            "two fault shades"
        );
        assert_inside(&svg);
        let outside = lamport(
            &trace(),
            &lamport_view(10, 11),
            &phases(&[window(3, 4, "n2 down")]),
        );
        assert!(!texts(&outside).iter().any(|t| t.text == "n2 down"));
    }

    #[test]
    fn role_chart_labels_and_legend_keep_off_the_data() {
        let windows = [
            window(1, 3, "n0 down"),
            window(2, 4, "partition split"),
            window(2, 5, "n3 paused"),
        ];
        let svg = roles(&roles_of(3), 3, &phases(&windows));
        let all = texts(&svg);
        let spans = opaque_rects(&svg);
        let axis = text(&all, "time (s)");
        let data: Vec<&(f64, f64)> = spans.iter().filter(|(top, _)| *top < axis.y).collect();
        let data_top = data.iter().map(|r| r.0).fold(f64::MAX, f64::min);
        assert!(!data.is_empty(), "no role spans drawn");
        for label in ["n0 down", "partition split", "n3 paused", "liveness phase"] {
            let t = text(&all, label);
            assert!(
                t.y + t.size / 2.0 <= data_top,
                "{label:?} at y {} overlaps the data from y {data_top}",
                t.y
            );
        }
        for name in ["follower", "leader"] {
            assert!(
                text(&all, name).y > axis.y,
                "legend entry {name} is not below the plot"
            );
        }
        let overlapping: Vec<f64> = ["n0 down", "partition split", "n3 paused"]
            .iter()
            .map(|l| text(&all, l).y)
            .collect();
        assert!(
            overlapping[0] != overlapping[1] && overlapping[1] != overlapping[2],
            "labels of windows that start close together share a lane: {overlapping:?}"
        );
        assert_inside(&svg);
    }

    #[test]
    fn latency_legend_shows_the_failed_operations_cross() {
        let svg = latency(&ops(), &phases(WINDOWS));
        let all = texts(&svg);
        let axis = text(&all, "time (s)");
        for name in ["get", "put", "failed (a cross in the operation's colour)"] {
            assert!(
                text(&all, name).y > axis.y,
                "{name} not in the legend below the plot"
            );
        }
        assert_inside(&svg);
        let all_ok: Vec<ClientOp> = ops()
            .into_iter()
            .filter(|o| o.outcome_name() == "ok")
            .collect();
        let svg = latency(&all_ok, &phases(WINDOWS));
        assert!(
            !svg.contains("failed"),
            "no failures, no cross in the legend"
        );
    }

    #[test]
    fn every_time_chart_marks_the_liveness_phase() {
        let windows = [window(4, 6, "partition p")];
        let p = phases(&windows);
        let spans = [Interval {
            node: 1,
            start_ns: 2 * S,
            end_ns: 7 * S,
            label: "in doubt (tx 1)".into(),
        }];
        let charts = [
            ("latency", latency(&ops(), &p)),
            ("throughput", throughput(&ops(), &p)),
            ("roles", roles(&roles_of(3), 3, &p)),
            ("intervals", intervals(&spans, 3, &p)),
            ("lamport", lamport(&trace(), &lamport_view(14, 16), &p)),
        ];
        for (name, svg) in &charts {
            let all = texts(svg);
            assert!(
                all.iter().any(|t| t.text == "liveness phase"),
                "{name} does not label the liveness phase"
            );
            assert!(svg.contains("fill=\"#147832\""), "{name} does not shade it");
            assert_inside(svg);
        }
        let before = lamport(&trace(), &lamport_view(10, 11), &p);
        assert!(
            !before.contains("liveness phase"),
            "not in a window before it"
        );
        let none = Phases {
            liveness_ns: None,
            ..p
        };
        assert!(!latency(&ops(), &none).contains("liveness phase"));
    }

    #[test]
    fn the_liveness_label_is_never_the_one_left_out() {
        let windows: Vec<Window> = (0..40)
            .map(|i| window(i / 4, 20, "partition crowded"))
            .collect();
        let shades = phases(&windows).shades(0, 20 * S, secs);
        let placed = place_labels(&shades, (0.0, 20.0));
        assert!(lanes_used(&placed) <= LANES_MAX);
        assert!(placed.iter().any(|p| p.text == "liveness phase"));
        assert!(placed.len() < shades.len(), "some labels found no room");
    }

    fn cx_op(process: i64, call_ms: u64, return_ms: Option<u64>, stuck: bool) -> CounterexampleOp {
        CounterexampleOp {
            process,
            call_ns: call_ms * 1_000_000,
            return_ns: return_ms.map(|r| r * 1_000_000),
            description: format!("put(\"key-{process}\", \"a long value\") -> ok"),
            stuck,
        }
    }

    #[test]
    fn counterexample_has_a_time_axis_and_keeps_its_labels_inside() {
        // From 0 to 1000 ms: the last tick, "1000.0", sits on the axis end.
        let ops = [
            cx_op(1, 0, Some(120), false),
            cx_op(4, 300, Some(450), false),
            cx_op(0, 900, Some(1000), true),
            cx_op(3, 950, None, true),
        ];
        let svg = counterexample(&ops);
        let all = texts(&svg);
        text(&all, "time (ms)");
        text(&all, "process 0");
        text(&all, "linearizable prefix");
        text(&all, "cannot come next");
        let ticks: Vec<f64> = all
            .iter()
            .filter_map(|t| t.text.parse::<f64>().ok())
            .collect();
        assert!(ticks.len() >= 3, "time ticks: {ticks:?}");
        assert_inside(&svg);
    }

    #[test]
    fn the_cap_scatter_names_both_axes() {
        let points = vec![
            ("quorum (CP)".to_string(), "split".to_string(), 0.6, 1.0),
            ("eventual (AP)".to_string(), "split".to_string(), 1.0, 0.0),
        ];
        let svg = cap_tradeoff(&points, &["none", "split"]);
        let all = texts(&svg);
        let y = text(&all, "share of runs linearizable");
        assert!(y.rotated, "the y axis name runs along the axis");
        text(&all, "share of requests answered");
        let axis = text(&all, "share of requests answered");
        assert!(
            text(&all, "quorum (CP)").y > axis.y,
            "the legend is below the panels"
        );
        assert_inside(&svg);
    }

    #[test]
    fn availability_over_time_steps_down_where_its_bucket_begins() {
        let series = vec![(
            "quorum (CP)".to_string(),
            vec![(4.0, 1.0), (5.0, 0.6), (6.0, 0.6)],
        )];
        let svg = availability_over_time(&series, (5.0, 7.0), 1.0);
        let all = texts(&svg);
        text(&all, "partition");
        text(&all, "quorum (CP)");
        // The line holds 1.0 until 5 s and 0.6 from 5 s: two points at x(5).
        let x5 = plot_x(5.0, (0.0, 7.0)).round() as i64;
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}"));
        let line = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .filter_map(|n| n.attribute("points"))
            .max_by_key(|p| p.split_whitespace().count())
            .unwrap_or_default()
            .to_string();
        let at_x5 = line
            .split_whitespace()
            .filter(|p| p.split(',').next().and_then(|x| x.parse::<i64>().ok()) == Some(x5))
            .count();
        assert_eq!(at_x5, 2, "a vertical step at 5 s in {line}");
        assert_inside(&svg);
    }
}
