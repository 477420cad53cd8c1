//! Every shipped scenario ends as its `[checks] expect` says, across a
//! sweep of seeds (a smaller count than CI's explore runs; each scenario
//! file says what it shows and where it comes from).

mod common;

use faultline::run::{run, RunOptions};
use faultline::scenario::Scenario;

const SEEDS: u64 = 25;

fn check_scenario(file: &str) {
    common::sweep(file, SEEDS);
}

#[test]
fn broadcast_calm() {
    check_scenario("broadcast-calm.toml");
}

#[test]
fn broadcast_partition() {
    check_scenario("broadcast-partition.toml");
}

#[test]
fn broadcast_lossy_crash() {
    check_scenario("broadcast-lossy-crash.toml");
}

#[test]
fn broadcast_no_persist_is_caught() {
    check_scenario("broadcast-no-persist.toml");
}

/// Without retransmission a lossy network loses values for good: the
/// delivery check must notice on most seeds (the protocol option exists to
/// show this).
#[test]
fn broadcast_without_retransmission_is_caught_under_loss() {
    let text = common::scenario_text("broadcast-lossy-crash.toml").replace(
        "gossip_interval = \"50ms\"",
        "gossip_interval = \"50ms\"\nretransmit = false",
    );
    let scenario = match Scenario::parse(&text, "no-retransmit") {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let caught = (0..10)
        .filter(|&seed| {
            run(&scenario, seed, RunOptions::default())
                .violations
                .iter()
                .any(|v| v.check == "broadcast.delivery")
        })
        .count();
    assert!(
        caught >= 9,
        "only {caught} of 10 seeds caught the lost values"
    );
}

#[test]
fn cap_quorum_split_stays_linearizable() {
    check_scenario("cap-quorum-split.toml");
}

#[test]
fn cap_eventual_split_is_caught_not_linearizable() {
    check_scenario("cap-eventual-split.toml");
}

/// Regression: seed 838 of the quorum storm had one coordinator issue the
/// same version to two writes, and reads flipped between their values.
#[test]
fn cap_quorum_storm_seed_838_stays_linearizable() {
    let scenario = common::load("cap-quorum-storm.toml");
    let result = run(&scenario, 838, RunOptions::default());
    assert!(result.violations.is_empty(), "{:?}", result.violations);
}
