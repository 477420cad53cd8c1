//! `faultline explore`, `merge` and `shrink`, driven through the binary as
//! CI users drive them: results independent of --jobs, shards that merge
//! into exactly the unsharded sweep, and a planted violation that is found,
//! replayed by its printed command with the same trace hash, and shrunk to
//! a small file that still fails.

use faultline::explore::{explore, ExploreOptions};
use faultline::scenario::Scenario;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

mod common;

use common::{temp_dir, BIN};

fn scenario_path(name: &str) -> String {
    common::scenario_path(name).display().to_string()
}

/// Runs the binary: its exit code and standard output.
fn faultline(args: &[&str]) -> (i32, String) {
    let out = common::faultline(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The fields of a report that must not depend on how the sweep was run.
fn essence(report: &Value) -> Value {
    serde_json::json!({
        "seeds": report["seeds"], "seeds_run": report["seeds_run"], "events": report["events"],
        "failures": report["failures"], "by_check": report["by_check"], "verdict": report["verdict"],
    })
}

#[test]
fn outcomes_do_not_depend_on_jobs() {
    let path = scenario_path("broadcast-no-persist.toml");
    let scenario = Scenario::load(Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
    let seeds: Vec<u64> = (0..16).collect();
    let with = |jobs| {
        explore(
            &scenario,
            &seeds,
            ExploreOptions {
                jobs: Some(jobs),
                ..Default::default()
            },
            &|_| {},
        )
    };
    let one = with(1).unwrap_or_else(|e| panic!("{e}"));
    let two = with(2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        one, two,
        "per-seed outcomes (trace hashes included) differ between --jobs 1 and 2"
    );

    let (code1, out1) = faultline(&[
        "explore", &path, "--seeds", "0..24", "--jobs", "1", "--json",
    ]);
    let (code2, out2) = faultline(&[
        "explore", &path, "--seeds", "0..24", "--jobs", "2", "--json",
    ]);
    assert_eq!((code1, code2), (0, 0));
    assert_eq!(essence(&json(&out1)), essence(&json(&out2)));
}

#[test]
fn shards_merge_into_the_unsharded_sweep() {
    let path = scenario_path("broadcast-no-persist.toml");
    let dir = temp_dir("shards");
    let (_, whole) = faultline(&["explore", &path, "--seeds", "5..35", "--json"]);
    let mut files = Vec::new();
    for i in 0..3 {
        let (code, out) = faultline(&[
            "explore",
            &path,
            "--seeds",
            "5..35",
            "--shard",
            &format!("{i}/3"),
            "--json",
        ]);
        assert_eq!(code, 0);
        let file = dir.join(format!("shard-{i}.json"));
        std::fs::write(&file, out).unwrap_or_else(|e| panic!("{e}"));
        files.push(file.display().to_string());
    }
    let mut args = vec!["merge", "--json"];
    args.extend(files.iter().map(String::as_str));
    let (code, merged) = faultline(&args);
    assert_eq!(code, 0);
    let merged = json(&merged);
    assert_eq!(
        merged["shards"],
        serde_json::json!([]),
        "all three shards are present"
    );
    assert_eq!(essence(&merged), essence(&json(&whole)));

    // Two shards of three: an error naming the missing shard, unless asked
    // for; a shard twice is an error naming both files.
    let partial = Command::new(BIN)
        .args(["merge", &files[0], &files[1]])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        partial.status.code(),
        Some(2),
        "a partial sweep must not pass"
    );
    let stderr = String::from_utf8_lossy(&partial.stderr);
    assert!(stderr.contains("shard 2/3 is missing"), "{stderr}");
    let (code, partial) = faultline(&[
        "merge",
        "--json",
        "--allow-incomplete",
        &files[0],
        &files[1],
    ]);
    assert_eq!(
        code, 0,
        "the scenario's expected violation is in these shards"
    );
    let partial = json(&partial);
    assert_eq!(partial["seeds_run"], 20);
    assert_eq!(
        partial["missing_shards"],
        serde_json::json!([{"index": 2, "count": 3}])
    );
    let twice = Command::new(BIN)
        .args(["merge", &files[0], &files[0]])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(twice.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&twice.stderr);
    assert!(stderr.contains("shard 0/3 appears twice"), "{stderr}");
    assert!(
        !stderr.contains('{'),
        "a plain message, not a debug struct: {stderr}"
    );
}

#[test]
fn planted_violation_is_found_replayed_and_shrunk() {
    let path = scenario_path("broadcast-no-persist.toml");
    let (code, out) = faultline(&["explore", &path, "--seeds", "0..10", "--json"]);
    assert_eq!(
        code, 0,
        "the scenario expects this violation, so finding it is a pass"
    );
    let report = json(&out);
    let failure = &report["failures"][0];
    assert_eq!(failure["check"], "broadcast.delivery");

    // The printed replay command reproduces the run exactly.
    let replay = failure["replay"].as_str().unwrap_or_default();
    let words: Vec<&str> = replay.split_whitespace().collect();
    assert_eq!(words[..2], ["faultline", "run"]);
    let mut args = words[1..].to_vec();
    args.push("--json");
    let (code, run) = faultline(&args);
    assert_eq!(code, 0);
    assert_eq!(json(&run)["trace_hash"], failure["trace_hash"]);

    // Shrinking gives a small standalone file that still fails the check.
    let dir = temp_dir("shrink");
    let file = dir.join("shrunk.toml").display().to_string();
    let seed = failure["seed"].to_string();
    let (code, summary) = faultline(&["shrink", &path, "--seed", &seed, "--out", &file]);
    assert_eq!(code, 0, "{summary}");
    let shrunk = Scenario::load(Path::new(&file)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        shrunk.config.faults.len() <= 5,
        "{} faults left",
        shrunk.config.faults.len()
    );
    let (_, rerun) = faultline(&["run", &file, "--json"]);
    let violations = json(&rerun)["violations"].clone();
    assert_eq!(violations[0]["check"], "broadcast.delivery", "{rerun}");

    // The same input shrinks to the same output.
    let again = dir.join("again.toml").display().to_string();
    faultline(&["shrink", &path, "--seed", &seed, "--out", &again]);
    assert_eq!(
        std::fs::read_to_string(&file).ok(),
        std::fs::read_to_string(&again).ok()
    );
}

#[test]
fn a_passing_scenario_passes_and_a_bad_shrink_is_refused() {
    let path = scenario_path("broadcast-calm.toml");
    let (code, out) = faultline(&["explore", &path, "--seeds", "0..8", "--verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("every trace hash matched"), "{out}");
    let (code, _) = faultline(&["shrink", &path, "--seed", "1"]);
    assert_eq!(
        code, 2,
        "a seed that holds every check has nothing to shrink"
    );
    let (code, _) = faultline(&["explore", &path, "--seeds", "9..3"]);
    assert_eq!(code, 2);
    let (code, _) = faultline(&["explore", &path, "--swarm"]);
    assert_eq!(code, 2, "no [swarm] section");
}

#[test]
fn swarm_failures_replay_with_their_mix() {
    // A lossy, crashy mix finds the no-persist bug; the printed replay
    // (with --swarm) reproduces the same run.
    let text = std::fs::read_to_string(scenario_path("broadcast-no-persist.toml")).unwrap_or_default()
        + "\n[swarm]\nloss = [0.0, 0.3]\ncrash = { every = [\"500ms\", \"5s\"], duration = [\"100ms\", \"1s\"] }\n";
    let dir = temp_dir("swarm");
    let file = dir.join("swarm.toml");
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    let file = file.display().to_string();
    let (_, out) = faultline(&["explore", &file, "--seeds", "0..12", "--swarm", "--json"]);
    let report = json(&out);
    let failure = &report["failures"][0];
    let replay = failure["replay"].as_str().unwrap_or_default();
    assert!(replay.ends_with("--swarm"), "{replay}");
    assert!(failure["swarm"]
        .as_str()
        .is_some_and(|m| m.contains("loss")));
    let mut args: Vec<&str> = replay.split_whitespace().skip(1).collect();
    args.push("--json");
    let (_, run) = faultline(&args);
    assert_eq!(json(&run)["trace_hash"], failure["trace_hash"]);
    assert_eq!(json(&run)["swarm"], failure["swarm"]);
}

/// `explore --guided`: from a calm scenario whose protocol loses
/// acknowledged values on a crash (broadcast without persistence), a plain
/// sweep finds nothing (no fault ever happens), while the guided search
/// adds crash episodes, finds the violation, and writes the run out as a
/// scenario that replays with the reported trace hash. The search is the
/// same with one thread or two.
#[test]
fn a_guided_search_finds_what_a_calm_sweep_cannot_and_its_runs_replay() {
    let dir = temp_dir("guided");
    let file = dir.join("volatile-calm.toml");
    let text =
        "name = \"volatile-calm\"\nprotocol = \"broadcast\"\nnodes = 3\nduration = \"10s\"\n\
                [broadcast]\npersist = false\n[workload]\nclients = 2\ninterval = \"50ms\"\n";
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    let file = file.display().to_string();
    let (plain, _) = faultline(&["explore", &file, "--seeds", "0..200", "--jobs", "2"]);
    assert_eq!(plain, 0, "no fault, no violation");
    let out = dir.join("found").display().to_string();
    let run = |jobs: &str| {
        faultline(&[
            "explore", &file, "--guided", "--seeds", "0..200", "--jobs", jobs, "--json", "--out",
            &out,
        ])
    };
    let (code, stdout) = run("2");
    assert_eq!(code, 1, "{stdout}");
    let report = json(&stdout);
    assert_eq!(report["guided"], true);
    assert!(report["coverage"].as_u64().unwrap_or(0) > 0, "{report}");
    let failure = &report["failures"][0];
    assert_eq!(failure["check"], "broadcast.delivery", "{report}");
    let written = failure["file"].as_str().unwrap_or_default().to_string();
    let (replayed, stdout) = faultline(&["run", &written, "--no-out", "--json"]);
    assert_eq!(replayed, 1, "the written run fails again");
    assert_eq!(json(&stdout)["trace_hash"], failure["trace_hash"]);
    let (_, one_thread) = run("1");
    let strip = |mut v: Value| {
        for key in ["jobs", "wall_time_s", "runs_per_sec"] {
            v[key] = Value::Null;
        }
        v
    };
    assert_eq!(strip(json(&one_thread)), strip(report));
}

/// A fault whose repair the failure does not need loses the repair: a
/// crash that lasts until the liveness phase restarts the node is one
/// fault event instead of two.
#[test]
fn shrink_drops_a_repair_the_failure_does_not_need() {
    let text = r#"
name = "ack-before-sync"
protocol = "broadcast"
nodes = 3
duration = "10s"
seed = 1

[broadcast]
persist = false
gossip_interval = "200ms"

[workload]
clients = 4
interval = "10ms"

[checks]
settle = "5s"

[[faults]]
at = "5s"
action = "crash"
node = 2

[[faults]]
at = "5300ms"
action = "restart"
node = 2
"#;
    let scenario = Scenario::parse(text, "ack-before-sync.toml").unwrap_or_else(|e| panic!("{e}"));
    let seed = (0..20u64)
        .find(|&seed| {
            let result = faultline::run::run_config(&scenario, scenario.config(seed));
            result
                .violations
                .iter()
                .any(|v| v.check == "broadcast.delivery")
        })
        .expect("a crash right after acknowledgements loses a value (the fixture)");
    let shrunk = faultline::explore::shrink::shrink(&scenario, seed, false, 200)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(shrunk.faults, (2, 1), "{}", shrunk.summary());
    assert!(
        matches!(
            shrunk.config.faults[0].action,
            faultline::sim::FaultAction::Crash(_)
        ),
        "{:?}",
        shrunk.config.faults
    );
}

/// Shrinking keeps the bug, not only the check: a correct saga under a
/// harsh fault mix ends with a saga reported stuck (`saga.outcome/stuck`),
/// and the shrunk scenario fails with that same kind.
#[test]
fn shrink_keeps_the_failure_kind() {
    let path = scenario_path("saga-happy.toml");
    let text = std::fs::read_to_string(&path).expect("saga-happy.toml");
    let text = format!(
        "{text}\n[swarm]\nloss = [0.0, 0.2]\ncrash = {{ every = [\"1s\", \"10s\"], duration = [\"200ms\", \"3s\"] }}\npause = {{ every = [\"2s\", \"15s\"], duration = [\"100ms\", \"2s\"] }}\n"
    );
    let scenario = Scenario::parse(&text, "saga-harsh.toml").unwrap_or_else(|e| panic!("{e}"));
    let stuck = (0..200u64).find(|&seed| {
        let (config, _) = scenario.swarm_config(seed).expect("a swarm section");
        let result = faultline::run::run_config(&scenario, config);
        result.violations.first().map(|v| v.identity()).as_deref() == Some("saga.outcome/stuck")
    });
    let seed = stuck.expect("a seed whose first failure is a stuck saga (the fixture)");
    let shrunk = faultline::explore::shrink::shrink(&scenario, seed, true, 200)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(shrunk.check, "saga.outcome/stuck", "{}", shrunk.summary());
    // The seeds it tries besides the run's are a function of the run's:
    // the same input shrinks to the same file.
    let twice = faultline::explore::shrink::shrink(&scenario, seed, true, 200)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(twice.toml, shrunk.toml);
    let again = scenario
        .reparse(&shrunk.toml, "shrunk.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    let result = faultline::run::run_config(&again, again.config(again.default_seed));
    assert!(
        result
            .violations
            .iter()
            .any(|v| v.identity() == "saga.outcome/stuck"),
        "{:?}",
        result.violations
    );
}
