//! What the experiments (`faultline resilience`, `faultline durability`)
//! share: running a scenario over seeds in parallel, and the numbers
//! they read from the runs.

use crate::run::{run, RunOptions};
use crate::scenario::Scenario;
use crate::sim::RunResult;
use rayon::prelude::*;

/// Runs `scenario` on seeds `0..seeds`, in parallel (each run is
/// deterministic on its own).
pub fn sweep(scenario: &Scenario, seeds: u64) -> Vec<RunResult> {
    (0..seeds)
        .into_par_iter()
        .map(|seed| run(scenario, seed, RunOptions::default()))
        .collect()
}

/// Metric `key` of `r` as a number (0 when missing).
pub fn number(r: &RunResult, key: &str) -> f64 {
    r.metrics
        .get(key)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0)
}

/// The mean of `values` (0 when there are none).
pub fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / f64::from(n)
    }
}

/// The median of `values` (the upper one of an even count; 0 when none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}
