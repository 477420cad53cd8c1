//! Helpers shared by the scenario test files: loading a shipped scenario,
//! reading a metric, and sweeping seeds while asserting each run ends as the
//! scenario expects (with the replay command in the failure message).
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use faultline::run::{as_expected, run, RunOptions};
use faultline::scenario::Scenario;
use faultline::sim::RunResult;
use std::path::{Path, PathBuf};

/// The path of shipped scenario `file`.
pub fn scenario_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file)
}

/// Loads shipped scenario `file`; a mistake in it fails the test.
pub fn load(file: &str) -> Scenario {
    Scenario::load(&scenario_path(file)).unwrap_or_else(|e| panic!("{e}"))
}

/// A numeric metric of a run (0 when absent).
pub fn metric(result: &RunResult, key: &str) -> u64 {
    result
        .metrics
        .get(key)
        .and_then(|v| v.as_u64())
        .unwrap_or(0)
}

/// Runs seeds `0..seeds` of shipped scenario `file`, asserting each ends as
/// expected; returns the results.
pub fn sweep(file: &str, seeds: u64) -> Vec<RunResult> {
    let scenario = load(file);
    (0..seeds)
        .map(|seed| {
            let result = run(&scenario, seed, RunOptions::default());
            assert!(
                as_expected(&scenario, &result),
                "{file} seed {seed}: {:?}\nreplay: faultline run scenarios/{file} --seed {seed}",
                result.violations
            );
            result
        })
        .collect()
}
