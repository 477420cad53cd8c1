//! Every shipped service scenario ends as its `[checks] expect` says across
//! a sweep of seeds (CI runs 1,000 each), and shows what its story
//! promises: fixed retries without backoff keep goodput under half its
//! level after the spike (metastable), while a retry budget or a circuit
//! breaker brings it back to at least 90% within the recovery bound.

mod common;

use common::{scenario_text, sweep};
use faultline::run::{run, RunOptions};
use faultline::scenario::Scenario;
use faultline::sim::RunResult;

const SEEDS: u64 = 8;

fn share(r: &RunResult, key: &str) -> f64 {
    r.metrics
        .get(key)
        .and_then(|v| v.as_f64())
        .unwrap_or(f64::NAN)
}

/// Goodput once the recovery bound has passed, over goodput before the trigger.
fn recovered(r: &RunResult) -> f64 {
    share(r, "service_good_share_after_recovery_bound") / share(r, "service_baseline_good_share")
}

#[test]
fn fixed_retries_without_backoff_stay_collapsed_after_the_spike() {
    for r in sweep("service-retry-storm.toml", SEEDS) {
        assert!(
            share(&r, "service_baseline_good_share") > 0.95,
            "seed {}: healthy before",
            r.seed
        );
        assert!(
            recovered(&r) < 0.5,
            "seed {}: {:.2} of the level before",
            r.seed,
            recovered(&r)
        );
        assert!(
            share(&r, "service_amplification") > 2.0,
            "seed {}: retries amplify",
            r.seed
        );
        assert!(
            common::metric(&r, "service_wasted") > 1000,
            "seed {}: work for no one",
            r.seed
        );
        // Every replica's queue stays full long after the spike.
        let held = &r.metrics["service_held_per_window"]["0"];
        let full = (10..18)
            .filter(|&w| held[w].as_u64().unwrap_or(0) >= 20)
            .count();
        assert_eq!(full, 8, "seed {}: {held}", r.seed);
    }
}

#[test]
fn a_retry_budget_or_a_breaker_brings_goodput_back() {
    for file in ["service-retry-budget.toml", "service-retry-breaker.toml"] {
        for r in sweep(file, SEEDS) {
            assert!(
                recovered(&r) >= 0.9,
                "{file} seed {}: {:.2}",
                r.seed,
                recovered(&r)
            );
        }
    }
    for r in sweep("service-retry-budget.toml", SEEDS) {
        assert!(
            share(&r, "service_amplification") < 1.2,
            "seed {}: retries bounded",
            r.seed
        );
    }
    for r in sweep("service-retry-breaker.toml", SEEDS) {
        assert!(
            common::metric(&r, "service_breaker_opened") > 0,
            "seed {}",
            r.seed
        );
        assert!(
            common::metric(&r, "service_outcome_breaker_open") > 0,
            "seed {}: failed fast",
            r.seed
        );
    }
}

#[test]
fn backoff_and_lifo_recover_too() {
    for file in ["service-retry-backoff.toml", "service-lifo.toml"] {
        sweep(file, SEEDS);
    }
}

/// The same storm with the servers skipping attempts their clients have
/// stopped waiting for (the deadline each attempt carries): the work that
/// kept the storm going is no longer done, and goodput comes back on most
/// seeds (194 of seeds 0..200; the scenario is not shipped as a cure for
/// the other 6).
#[test]
fn skipping_abandoned_attempts_mostly_cures_the_storm() {
    let text = scenario_text("service-retry-storm.toml")
        .replace("queue = 20", "queue = 20\ndrop_expired = true");
    let scenario = Scenario::parse(&text, "drop-expired.toml").unwrap_or_else(|e| panic!("{e}"));
    let results: Vec<RunResult> = (0..SEEDS)
        .map(|seed| run(&scenario, seed, RunOptions::default()))
        .collect();
    assert!(results
        .iter()
        .all(|r| common::metric(r, "service_dropped_expired") > 0));
    let cured = results.iter().filter(|r| recovered(r) >= 0.9).count();
    assert!(cured >= 6, "{cured} of {SEEDS} seeds recovered");
}

/// A proxy balances for every client: it alone forwards attempts, takes a
/// crashed replica out after its first failures (one ejection, one mark
/// down, one mark up, where four clients each needed their own), and when
/// it crashes itself no request gets through.
#[test]
fn a_proxy_balances_for_every_client_and_takes_them_all_down_with_it() {
    let blind = sweep("service-crash-round-robin.toml", SEEDS);
    let proxied = sweep("service-proxy-health-checks.toml", SEEDS);
    for (b, p) in blind.iter().zip(&proxied) {
        let m = |key| common::metric(p, key);
        assert_eq!(
            m("service_forwarded"),
            m("service_attempts"),
            "seed {}",
            p.seed
        );
        assert_eq!(m("service_attempts_to_down"), 0, "the proxy never crashed");
        assert!(
            m("service_forwarded_to_down") * 10 < common::metric(b, "service_attempts_to_down"),
            "seed {}: {} forwarded to the dead replica",
            p.seed,
            m("service_forwarded_to_down")
        );
        assert!(
            m("service_ejections") >= 1,
            "seed {}: the proxy ejects it after two timeouts in a row",
            p.seed
        );
        assert_eq!(m("service_marked_down"), 1, "seed {}: one prober", p.seed);
        assert_eq!(m("service_marked_up"), 1, "seed {}", p.seed);
    }
    for r in sweep("service-proxy-crash.toml", SEEDS) {
        let availability = share(&r, "service_availability");
        assert!(
            availability < 0.8,
            "seed {}: 5 s of 20 without the proxy, availability {availability}",
            r.seed
        );
        assert!(common::metric(&r, "service_attempts_to_down") > 0);
    }
}

/// Health checks take a crashed replica out of rotation: attempts sent to
/// it fall by more than ten times, and they mark it down and, once it is
/// back, up again.
#[test]
fn health_checks_keep_attempts_away_from_a_crashed_replica() {
    let blind = sweep("service-crash-round-robin.toml", SEEDS);
    let checked = sweep("service-crash-health-checks.toml", SEEDS);
    for (b, c) in blind.iter().zip(&checked) {
        let (to_down_blind, to_down) = (
            common::metric(b, "service_attempts_to_down"),
            common::metric(c, "service_attempts_to_down"),
        );
        assert!(
            to_down * 10 < to_down_blind,
            "seed {}: {to_down} vs {to_down_blind}",
            c.seed
        );
        assert!(
            common::metric(c, "service_marked_down") >= 4,
            "seed {}: every client marks it down",
            c.seed
        );
        assert!(
            common::metric(c, "service_marked_up") >= 4,
            "seed {}: and up after the restart",
            c.seed
        );
    }
}

#[test]
fn a_slow_replica_misses_the_p99_objective_under_round_robin_but_not_peak_ewma() {
    let slow = sweep("service-fail-slow.toml", SEEDS);
    let ewma = sweep("service-fail-slow-peak-ewma.toml", SEEDS);
    for (r, e) in slow.iter().zip(&ewma) {
        let p99 = common::metric(r, "service_latency_ns_p99");
        assert!(p99 > 200_000_000, "seed {}: p99 {p99} ns", r.seed);
        let p99 = common::metric(e, "service_latency_ns_p99");
        assert!(
            p99 <= 200_000_000,
            "seed {}: p99 {p99} ns with peak-ewma",
            e.seed
        );
        assert!(
            common::metric(e, "service_attempts") < common::metric(r, "service_attempts"),
            "seed {}: fewer attempts time out and retry",
            e.seed
        );
    }
}

/// Closed-loop users: the engine's workload hands each client process one
/// call at a time; the client answers it once its retries are done, so
/// the history holds every call with its outcome, and the checks count
/// the same requests.
#[test]
fn closed_loop_calls_are_answered_and_recorded() {
    let text = r#"
name = "closed-loop"
protocol = "service"
nodes = 3
duration = "5s"

[workload]
clients = 3
interval = "10ms"
timeout = "2s"

[service]
deadline = "500ms"

[service.retry]
retries = 2

[service.server]
concurrency = 1
service_time = { dist = "exponential", mean = "5ms" }
error_rate = 0.2
"#;
    let scenario = Scenario::parse(text, "closed-loop.toml").unwrap_or_else(|e| panic!("{e}"));
    let r = run(&scenario, 5, RunOptions::default());
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    let calls = common::metric(&r, "ops_invoked");
    assert!(calls > 300, "{calls} calls");
    assert_eq!(
        common::metric(&r, "service_requests"),
        calls,
        "no open-loop traffic"
    );
    assert_eq!(
        common::metric(&r, "ops_ok"),
        common::metric(&r, "service_outcome_ok")
    );
    assert!(
        common::metric(&r, "service_outcome_exhausted") > 0,
        "some fail three times at 20%"
    );
    assert!(r.history.iter().all(|op| op.f == "call"));
}

/// Clients cut off from the registry keep a crashed replica in their list:
/// more than twice the attempts reach it as in the same run without the
/// partition, where its registration lapses for every client.
#[test]
fn a_partition_from_the_registry_leaves_membership_stale() {
    let text = scenario_text("service-discovery-partition.toml");
    let cut =
        "[[faults]]\nat = \"4s\"\naction = \"partition\"\nname = \"cut\"\ngroups = [[3], [4, 5]]\n";
    let heal = "[[faults]]\nat = \"16s\"\naction = \"heal\"\nname = \"cut\"\n";
    assert!(
        text.contains(cut) && text.contains(heal),
        "the scenario's partition changed"
    );
    let uncut = Scenario::parse(&text.replace(cut, "").replace(heal, ""), "uncut.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    for r in sweep("service-discovery-partition.toml", SEEDS) {
        let stale = common::metric(&r, "service_attempts_to_down");
        let fresh = common::metric(
            &run(&uncut, r.seed, RunOptions::default()),
            "service_attempts_to_down",
        );
        assert!(
            stale > 2 * fresh,
            "seed {}: {stale} attempts to the dead replica vs {fresh} without the partition",
            r.seed
        );
        assert!(fresh > 0, "seed {}: the lapse takes a few seconds", r.seed);
    }
}

/// A breaker per endpoint (Finagle's failure accrual) also takes the
/// crashed replica out: its breaker opens after a few timed-out attempts
/// and half-open probes keep failing until it restarts.
#[test]
fn a_breaker_per_endpoint_keeps_attempts_away_from_a_crashed_replica() {
    let text = scenario_text("service-crash-round-robin.toml").replace(
        "[service.slo]",
        "[service.breaker]\nfailures = 3\nopen_for = \"1s\"\nper_endpoint = true\n\n[service.slo]",
    );
    let scenario =
        Scenario::parse(&text, "breaker-per-endpoint.toml").unwrap_or_else(|e| panic!("{e}"));
    for (seed, blind) in sweep("service-crash-round-robin.toml", 4)
        .iter()
        .enumerate()
    {
        let r = run(&scenario, seed as u64, RunOptions::default());
        let (to_down, blind_to_down) = (
            common::metric(&r, "service_attempts_to_down"),
            common::metric(blind, "service_attempts_to_down"),
        );
        assert!(
            to_down * 3 < blind_to_down,
            "seed {seed}: {to_down} vs {blind_to_down}"
        );
        assert_eq!(
            common::metric(&r, "service_outcome_breaker_open"),
            0,
            "other replicas stay closed"
        );
    }
}
