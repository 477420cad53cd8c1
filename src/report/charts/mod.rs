//! SVG charts drawn with plotters: client latency over time per operation
//! type and throughput over time (like Jepsen's latency plots), the role
//! timeline per node (e.g. who was leader when), protocol intervals, a
//! Lamport (space-time) diagram of messages in a time window with drops as
//! crosses, a linearizability counterexample's timeline, an isolation
//! anomaly's cycle, the CAP experiment's two charts and grouped bars. Each function returns the SVG text.
//!
//! Every chart has one layout, top to bottom: the caption, a band of
//! labels (one per fault window, and "liveness phase"), the plot, and the
//! legend. Nothing but the data is drawn inside the plot, so no label or
//! legend covers a point; the plot keeps room on its right for the last
//! x-axis label. Time charts shade each fault window and, in a colour of
//! its own with a line where it begins, the liveness phase (every fault
//! healed, see [`Phases`]).
//!
//! This module owns that layout (the frame, axes, fault and liveness
//! shading, the label band and the legend) and the names of process rows.
//! Each chart lives in a file of its own and is re-exported here: `time`
//! (latency and throughput), `lanes` (a row per process: roles, intervals,
//! the Lamport diagram), `counterexample`, `cycle` (a diagram, not a time
//! chart), `cap` (the CAP experiment) and `bars` (grouped bars).

mod bars;
mod cap;
mod counterexample;
mod cycle;
mod lanes;
mod steps;
#[cfg(test)]
mod test_support;
mod time;

pub use bars::{grouped_bars, Bars};
pub use cap::{availability_over_time, cap_tradeoff, goodput_over_time, tradeoff, TradeoffAxes};
pub use counterexample::{counterexample, CounterexampleOp};
pub use cycle::{cycle, CycleEdge, CycleNode};
pub use lanes::{intervals, lamport, roles, LamportView};
pub use steps::series_over_time;
pub use time::{latency, throughput};

use super::timeline::Window;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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

/// The names of processes `0..processes`, each as [`process_name`] gives it.
pub fn process_names(processes: usize, servers: usize) -> Vec<String> {
    (0..processes).map(|p| process_name(p, servers)).collect()
}

/// Process `process`'s name, as [`crate::process::NodeId::name`] gives it:
/// `n0`, `n1`, ... for servers, then `c0`, `c1`, ... for client processes.
pub fn process_name(process: usize, servers: usize) -> String {
    crate::process::NodeId(process as u32).name(servers)
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::process::Interval;

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
}
