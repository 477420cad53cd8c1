//! Charts with one row (lane) per process: each node's role over time,
//! protocol intervals per node, and the Lamport diagram of the messages
//! between processes in a time window.

use super::{
    entry, err, framed, place_labels, process_names, row_axes, row_y, secs, shade, Frame, Phases,
    Swatch,
};
use crate::process::Interval;
use crate::sim::{RoleChange, TraceRecord};
use plotters::prelude::*;

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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

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
}
