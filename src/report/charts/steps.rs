//! Step charts over time: lines of per-bucket values, each holding for
//! its bucket, with an optional span shaded (a partition, a load spike).
//! The CAP and resilience experiments draw theirs with it, and so does a
//! protocol's own section of the run report.

use super::{axes, entry, err, framed, place_labels, shade, Frame, Shade, ShadeKind, Swatch};
use crate::protocols::SeriesChart;
use plotters::prelude::*;

/// A protocol's chart of per-window series (its report section's).
pub fn series_over_time(chart: &SeriesChart) -> String {
    let top = chart
        .series
        .iter()
        .flat_map(|(_, values)| values.iter().copied())
        .fold(0.0, f64::max);
    let look = StepChart {
        caption: &chart.title,
        y_desc: &chart.y_desc,
        shade: chart
            .shade
            .as_ref()
            .map(|(start, end, label)| (*start, *end, label.as_str())),
        y_max: if top > 0.0 { top * 1.1 } else { 1.0 },
    };
    let series: Vec<(String, Vec<(f64, f64)>)> = chart
        .series
        .iter()
        .map(|(name, values)| {
            let points = values
                .iter()
                .enumerate()
                .map(|(w, &v)| (w as f64 * chart.window_s, v))
                .collect();
            (name.clone(), points)
        })
        .collect();
    steps_over_time(&look, &series, chart.window_s)
}

/// What a step chart over time says around its lines.
pub(super) struct StepChart<'a> {
    /// The caption above it.
    pub caption: &'a str,
    /// What the y axis counts.
    pub y_desc: &'a str,
    /// A span to shade, in seconds, and its label.
    pub shade: Option<(f64, f64, &'a str)>,
    /// The top of the y axis.
    pub y_max: f64,
}

/// Lines of `(time s, value)` points, each value holding for `bucket_s`.
pub(super) fn steps_over_time(
    look: &StepChart<'_>,
    series: &[(String, Vec<(f64, f64)>)],
    bucket_s: f64,
) -> String {
    let end = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.0 + bucket_s))
        .fold(1.0, f64::max);
    let shades: Vec<Shade> = look
        .shade
        .iter()
        .map(|&(start, end, label)| Shade {
            start,
            end,
            label: label.into(),
            kind: ShadeKind::Fault(0),
        })
        .collect();
    let legend = series
        .iter()
        .enumerate()
        .map(|(i, (name, _))| entry(Swatch::Line(Palette99::pick(i).to_rgba()), name.clone()))
        .collect();
    let frame = Frame {
        caption: look.caption,
        labels: place_labels(&shades, (0.0, end)),
        plot_px: 320,
        legend,
    };
    framed(frame, |area| {
        let mut chart = axes(area, (0.0, end), (0.0, look.y_max))?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc(look.y_desc)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        shade(&mut chart, &shades, 0.0, look.y_max)?;
        // Lines often agree (both CP stores serve 60% in a split): each
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
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn a_protocol_chart_names_its_lines_and_axis_and_shades_its_span() {
        let chart = SeriesChart {
            title: "Goodput per window".into(),
            y_desc: "requests per window".into(),
            window_s: 1.0,
            shade: Some((2.0, 4.0, "spike".into())),
            series: vec![
                ("goodput".into(), vec![100.0, 100.0, 3.0, 2.0, 90.0]),
                ("attempts".into(), vec![100.0, 100.0, 400.0, 380.0, 95.0]),
            ],
        };
        let svg = series_over_time(&chart);
        let all = texts(&svg);
        for label in [
            "Goodput per window",
            "requests per window",
            "goodput",
            "attempts",
            "spike",
        ] {
            text(&all, label);
        }
        assert_inside(&svg);
    }
}
