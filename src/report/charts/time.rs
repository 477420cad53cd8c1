//! The time charts of a run's client operations, by function: latency
//! of each operation (thinned per time bucket on long runs) and
//! throughput, with fault windows and the liveness phase shaded.

use super::{
    entry, err, framed, place_labels, secs, shade, time_axes, Entry, Frame, Phases, Swatch, NEUTRAL,
};
use crate::history::Record;
use plotters::prelude::*;
use std::collections::BTreeMap;

fn by_function(ops: &[Record]) -> BTreeMap<&str, Vec<&Record>> {
    let mut groups: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
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
fn latency_series(ops: &[Record], end_s: f64) -> (Vec<LatencySeries<'_>>, bool) {
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
pub fn latency(ops: &[Record], phases: &Phases<'_>) -> String {
    let max_ms = ops.iter().filter_map(Record::latency_ns).max().unwrap_or(1) as f64 / 1e6;
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
fn throughput_series(ops: &[Record], end_ns: u64) -> Vec<(&str, Vec<(f64, f64)>)> {
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
pub fn throughput(ops: &[Record], phases: &Phases<'_>) -> String {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

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
        let all_ok: Vec<Record> = ops()
            .into_iter()
            .filter(|o| o.outcome_name() == "ok")
            .collect();
        let svg = latency(&all_ok, &phases(WINDOWS));
        assert!(
            !svg.contains("failed"),
            "no failures, no cross in the legend"
        );
    }
}
