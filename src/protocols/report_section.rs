//! A protocol's own section of the run report: a titled table of the
//! measures that explain its behaviour (2PC's blocking, a saga's
//! compensations, Raft's elections), each with what it means, and charts
//! of its own series over time (a service's goodput per window). The
//! reports render it; the protocol only says what goes in it, from the
//! run's typed metrics.

use crate::sim::RunResult;

/// One row: a measure, its value in this run and what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    /// The measure, e.g. `in doubt, longest`.
    pub measure: String,
    /// Its value, formatted for reading (`-` when the run did not record it).
    pub value: String,
    /// What it tells the reader, one sentence.
    pub meaning: String,
}

/// A chart of per-window series over the run, drawn as steps.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesChart {
    /// Its title, e.g. `Circuit breakers over time`.
    pub title: String,
    /// What the y axis counts.
    pub y_desc: String,
    /// The windows' length, in seconds.
    pub window_s: f64,
    /// A span to shade (start and end in seconds, and its label), e.g.
    /// the trigger of a metastable failure.
    pub shade: Option<(f64, f64, String)>,
    /// Each line's name and its value per window, from time 0.
    pub series: Vec<(String, Vec<f64>)>,
}

/// A protocol's section of `report.md` and `index.html`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportSection {
    /// Its heading, e.g. `Two-phase commit`.
    pub title: String,
    /// Its rows, in reading order.
    pub rows: Vec<ReportRow>,
    /// Its charts (`index.html` shows them, and the report's directory
    /// holds each as `protocol-N.svg`).
    pub charts: Vec<SeriesChart>,
}

impl ReportSection {
    /// An empty section titled `title`.
    pub fn new(title: impl Into<String>) -> Self {
        ReportSection {
            title: title.into(),
            rows: Vec::new(),
            charts: Vec::new(),
        }
    }

    /// Adds a row whose value is metric `key` of `result` (a count or text).
    pub fn metric(self, result: &RunResult, measure: &str, key: &str, meaning: &str) -> Self {
        self.row(measure, result.metric_text(key), meaning)
    }

    /// Adds a row whose value is metric `key` of `result` read as a duration.
    pub fn duration(self, result: &RunResult, measure: &str, key: &str, meaning: &str) -> Self {
        self.row(measure, result.metric_duration_text(key), meaning)
    }

    /// Adds a row with a value already formatted.
    pub fn row(mut self, measure: &str, value: String, meaning: &str) -> Self {
        self.rows.push(ReportRow {
            measure: measure.to_string(),
            value,
            meaning: meaning.to_string(),
        });
        self
    }

    /// Adds a chart; one whose series are all empty is left out.
    pub fn chart(mut self, chart: SeriesChart) -> Self {
        if chart.series.iter().any(|(_, values)| !values.is_empty()) {
            self.charts.push(chart);
        }
        self
    }
}
