//! Helpers every integration test shares: shipped scenarios (their path,
//! loading, sweeping seeds while asserting each run ends as the scenario
//! expects, with the replay command in the failure message), reading a
//! metric, running the built `faultline` binary (and asserting it never
//! panics), temporary files, and notes that show even when the test
//! harness captures output.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use faultline::run::{as_expected, run, RunOptions};
use faultline::scenario::Scenario;
use faultline::sim::RunResult;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The built binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_faultline");

/// The path of shipped scenario `file`.
pub fn scenario_path(file: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .join("scenarios")
        .join(file)
}

/// Loads shipped scenario `file`; a mistake in it fails the test.
pub fn load(file: &str) -> Scenario {
    Scenario::load(&scenario_path(file)).unwrap_or_else(|e| panic!("{e}"))
}

/// The text of shipped scenario `file`, to derive variants from.
pub fn scenario_text(file: &str) -> String {
    std::fs::read_to_string(scenario_path(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Every shipped scenario's file name, sorted.
pub fn shipped_scenarios() -> Vec<String> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join("scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.retain(|n| n.ends_with(".toml"));
    names.sort();
    assert!(!names.is_empty(), "no scenarios found in {}", dir.display());
    names
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
                "{file} seed {seed} did not end as expected ({:?}): {:?}\nreplay: faultline run scenarios/{file} --seed {seed}",
                scenario.expect,
                result.violations
            );
            result
        })
        .collect()
}

/// Runs the built `faultline` with `args`; fails the test if it panicked.
pub fn faultline(args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    out
}

/// The command's standard output as JSON.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// A fresh, empty temporary directory for this test process.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "faultline-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

/// Writes `content` to a fresh temporary file named `name`.
pub fn temp_file(name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = temp_dir("file").join(name);
    std::fs::write(&path, content).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// A note on stderr that shows even when the harness captures output
/// (for a test that skips itself, say why).
pub fn note(text: &str) {
    let _ = std::io::stderr().write_all(format!("note: {text}\n").as_bytes());
}
