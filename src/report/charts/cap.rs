//! The experiments' charts: a trade-off, one panel per condition (the CAP
//! experiment's availability against consistency per partition shape,
//! the durability experiment's latency against loss per fault); and
//! availability or goodput over time across a fault.

use super::steps::{steps_over_time, StepChart};
use super::{entry, err, framed, Frame, Swatch, FONT, MARGIN_PX};
use plotters::prelude::*;

/// The CAP trade-off, one panel per partition shape: each store's
/// availability during the partition (x) against the share of its runs
/// that were linearizable (y); the stores in a legend below.
pub fn cap_tradeoff(points: &[(String, String, f64, f64)], shapes: &[&str]) -> String {
    let axes = TradeoffAxes {
        caption: "CAP: availability during the partition vs consistency",
        x_desc: "share of requests answered",
        y_desc: "share of runs linearizable",
        x_range: (-0.05, 1.05),
        y_range: (-0.05, 1.05),
    };
    tradeoff(&axes, points, shapes)
}

/// The axes of a [`tradeoff`] chart.
pub struct TradeoffAxes<'a> {
    /// The chart's caption.
    pub caption: &'a str,
    /// What x measures.
    pub x_desc: &'a str,
    /// What y measures (named once, on the first panel).
    pub y_desc: &'a str,
    /// The x axis's range.
    pub x_range: (f64, f64),
    /// The y axis's range.
    pub y_range: (f64, f64),
}

/// A trade-off, one panel per condition: each series' points
/// `(series, panel, x, y)` as dots, the series in a legend below.
pub fn tradeoff(
    axes: &TradeoffAxes<'_>,
    points: &[(String, String, f64, f64)],
    panels: &[&str],
) -> String {
    let mut series: Vec<&str> = Vec::new();
    for p in points {
        if !series.contains(&p.0.as_str()) {
            series.push(p.0.as_str());
        }
    }
    let legend = series
        .iter()
        .enumerate()
        .map(|(i, s)| entry(Swatch::Dot(Palette99::pick(i).to_rgba()), *s))
        .collect();
    let frame = Frame {
        caption: axes.caption,
        labels: Vec::new(),
        plot_px: 320,
        legend,
    };
    framed(frame, |area| {
        let areas = area.split_evenly((1, panels.len().max(1)));
        for (i, (panel, name)) in areas.iter().zip(panels).enumerate() {
            let mut chart = ChartBuilder::on(panel)
                .caption(*name, (FONT, 15))
                .margin(MARGIN_PX)
                .margin_right(16)
                .x_label_area_size(36)
                .y_label_area_size(48)
                .build_cartesian_2d(
                    axes.x_range.0..axes.x_range.1,
                    axes.y_range.0..axes.y_range.1,
                )
                .map_err(err)?;
            let y_desc = if i == 0 { axes.y_desc } else { "" };
            chart
                .configure_mesh()
                .x_labels(3)
                .y_labels(3)
                .x_desc(axes.x_desc)
                .y_desc(y_desc)
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(err)?;
            // Series often share a point (both CP stores at 100%
            // linearizable): each is drawn smaller than the one before, so
            // one on top of another still shows as a ring.
            for (i, one) in series.iter().enumerate() {
                let color = Palette99::pick(i).to_rgba();
                let radius = 5 + 3 * (series.len() - 1 - i) as i32;
                let mine = points
                    .iter()
                    .filter(|p| p.0 == *one && p.1 == *name)
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
    let look = StepChart {
        caption: "Availability over time across a majority/minority split",
        y_desc: "share answered ok",
        shade: Some((window.0, window.1, "partition")),
        y_max: 1.05,
    };
    steps_over_time(&look, series, bucket_s)
}

/// Goodput over time across a load spike: one line per retry policy, in
/// requests per second answered in time, each point holding for its
/// bucket; the spike (`window`, in seconds) shaded.
pub fn goodput_over_time(
    series: &[(String, Vec<(f64, f64)>)],
    window: (f64, f64),
    bucket_s: f64,
) -> String {
    let top = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.1))
        .fold(1.0, f64::max);
    let look = StepChart {
        caption: "Goodput over time across a 2 s spike to 3x capacity",
        y_desc: "requests per second answered in time",
        shade: Some((window.0, window.1, "spike")),
        y_max: top * 1.1,
    };
    steps_over_time(&look, series, bucket_s)
}

#[cfg(test)]
mod tests {
    use super::super::plot_x;
    use super::super::test_support::*;
    use super::*;

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
    fn goodput_over_time_shades_the_spike_and_scales_to_the_highest_line() {
        let series = vec![(
            "3 retries, no backoff".to_string(),
            vec![(0.0, 100.0), (6.0, 0.0)],
        )];
        let svg = goodput_over_time(&series, (6.0, 8.0), 1.0);
        let all = texts(&svg);
        text(&all, "spike");
        text(&all, "3 retries, no backoff");
        text(&all, "100.0");
        assert!(text(&all, "requests per second answered in time").rotated);
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
