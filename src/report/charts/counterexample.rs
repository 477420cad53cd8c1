//! A linearizability counterexample drawn on a time axis: one row per
//! client process, the deepest linearizable prefix green and the
//! operations that cannot come next red.

use super::{entry, err, framed, plot_x, row_axes, row_y, text_px, Frame, Swatch, FONT};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

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
}
