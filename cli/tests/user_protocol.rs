//! A protocol from a crate of its own (examples/lww: a last-writer-wins
//! register and its registry entry) gets everything a built-in one has:
//! scenario files name it, its options are validated with positions, runs
//! and sweeps use it, `explore` finds its planted bug and `shrink`
//! minimizes the failure into a scenario that fails the same way.
#[path = "../../examples/lww/lww.rs"]
mod lww;

use faultline::explore::shrink::shrink;
use faultline::explore::{explore, ExploreOptions};
use faultline::protocols::Registry;
use faultline::run::{as_expected, run, RunOptions};
use faultline::scenario::Scenario;
use std::path::Path;

fn registry() -> Registry {
    Registry::builtin().with(lww::LwwDef)
}

fn load(file: &str) -> Scenario {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .join("examples/lww")
        .join(file);
    Scenario::load_with(&path, &registry()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_registered_protocol_runs_from_its_scenario_file() {
    let scenario = load("lww-partitions.toml");
    assert_eq!(scenario.protocol.name(), "lww");
    for seed in 0..20 {
        let result = run(&scenario, seed, RunOptions::default());
        assert!(
            as_expected(&scenario, &result),
            "seed {seed}: {:?}",
            result.violations
        );
    }
}

#[test]
fn explore_finds_the_planted_bug_and_shrink_minimizes_it() {
    let scenario = load("lww-bug.toml");
    let seeds: Vec<u64> = (0..20).collect();
    let outcomes = explore(&scenario, &seeds, ExploreOptions::default(), &|_| {})
        .unwrap_or_else(|e| panic!("{e}"));
    let failing: Vec<u64> = outcomes
        .iter()
        .filter(|o| o.check.as_deref() == Some("lww.monotonic"))
        .map(|o| o.seed)
        .collect();
    assert!(!failing.is_empty(), "the planted bug is found");
    let shrunk = shrink(&scenario, failing[0], false, 300).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(shrunk.check, "lww.monotonic");
    assert!(
        shrunk.operations.1 < shrunk.operations.0,
        "{}",
        shrunk.summary()
    );
    let again = scenario
        .reparse(&shrunk.toml, "shrunk.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    let result = run(&again, again.default_seed, RunOptions::default());
    assert!(result.violations.iter().any(|v| v.check == "lww.monotonic"));
}

#[test]
fn its_options_are_checked_with_positions() {
    let text = "name = \"x\"\nprotocol = \"lww\"\nnodes = 3\nduration = \"5s\"\n\n[lww]\nsync_interval = \"0s\"\n";
    let err = Scenario::parse_with(text, "x.toml", &registry())
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        (err.line, err.field.as_deref()),
        (7, Some("lww.sync_interval"))
    );
    let text = text.replace("sync_interval = \"0s\"", "sync = 1");
    let err = Scenario::parse_with(&text, "x.toml", &registry())
        .map(|_| ())
        .unwrap_err();
    assert!(err.message.contains("unknown field `sync`"), "{err}");
    // Without the registration the protocol is unknown, with the list of those that are.
    let err = Scenario::parse(&text, "x.toml").map(|_| ()).unwrap_err();
    assert!(err.message.contains("unknown protocol \"lww\""), "{err}");
}
