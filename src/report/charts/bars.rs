//! Grouped bars: one group per condition along x, one bar per series in
//! each group (the consensus experiment's availability per partition
//! shape, its latencies and recovery times per store).

use super::{axes, entry, err, framed, Frame, Swatch};
use plotters::prelude::*;

/// What a [`grouped_bars`] chart shows.
pub struct Bars<'a> {
    /// The chart's caption.
    pub caption: &'a str,
    /// What y measures.
    pub y_desc: &'a str,
    /// The groups along x, in order.
    pub groups: &'a [String],
    /// Each series' name and its value per group (`groups.len()` values;
    /// `None` draws no bar).
    pub series: &'a [(String, Vec<Option<f64>>)],
}

/// The width of a group that bars fill (the rest is the gap between groups).
const GROUP_FILL: f64 = 0.8;

/// Grouped bars, the series in a legend below; y from 0 to a tenth above
/// the tallest bar.
pub fn grouped_bars(bars: &Bars<'_>) -> String {
    let legend = bars
        .series
        .iter()
        .enumerate()
        .map(|(i, (name, _))| entry(Swatch::Block(Palette99::pick(i).to_rgba()), name.clone()))
        .collect();
    let top = bars
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .fold(0.0, |a: f64, &b| a.max(b));
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let frame = Frame {
        caption: bars.caption,
        labels: Vec::new(),
        plot_px: 300,
        legend,
    };
    let groups = bars.groups;
    framed(frame, |area| {
        let x = (-0.5, groups.len() as f64 - 0.5);
        let mut chart = axes(area, x, (0.0, top))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(groups.len())
            .x_label_formatter(&|x| group_name(groups, *x))
            .y_desc(bars.y_desc)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        let width = GROUP_FILL / bars.series.len().max(1) as f64;
        for (i, (_, values)) in bars.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let left = |g: usize| g as f64 - GROUP_FILL / 2.0 + i as f64 * width;
            let rects = values.iter().enumerate().filter_map(|(g, v)| {
                v.map(|v| Rectangle::new([(left(g), 0.0), (left(g) + width, v)], color.filled()))
            });
            chart.draw_series(rects).map_err(err)?;
        }
        Ok(())
    })
}

/// The name of the group at x coordinate `x` (groups sit on whole numbers).
fn group_name(groups: &[String], x: f64) -> String {
    if (x - x.round()).abs() > 1e-6 || x < -0.5 {
        return String::new();
    }
    groups.get(x.round() as usize).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_bar_per_value_and_names_every_group() {
        let groups = vec!["none".to_string(), "split".to_string()];
        let series = vec![
            ("raft".to_string(), vec![Some(1.0), Some(0.6)]),
            ("paxos".to_string(), vec![Some(1.0), None]),
        ];
        let svg = grouped_bars(&Bars {
            caption: "availability",
            y_desc: "share",
            groups: &groups,
            series: &series,
        });
        assert!(svg.contains("none") && svg.contains("split"));
        assert!(svg.contains("raft") && svg.contains("paxos"));
        // Three bars and two legend blocks.
        assert_eq!(svg.matches("<rect").count() - 1, 5, "{svg}");
    }

    #[test]
    fn a_group_name_sits_only_on_whole_numbers() {
        let groups = vec!["a".to_string(), "b".to_string()];
        assert_eq!(group_name(&groups, 1.0), "b");
        assert_eq!(group_name(&groups, 0.5), "");
        assert_eq!(group_name(&groups, 2.0), "");
    }
}
