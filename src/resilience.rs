//! The resilience experiment (`faultline resilience`): the service family
//! run side by side under three stresses, over seeds.
//!
//! - **Retry policies under a load spike** (service-retry-storm's service:
//!   a 2 s spike to 3x capacity): no retries, fixed retries without
//!   backoff, backoff with full and decorrelated jitter, a retry budget and
//!   a circuit breaker. Goodput over time (the metastable one stays down),
//!   retry amplification, work wasted, and how many seeds recover.
//! - **Balancing around a slow replica** (service-fail-slow's gray
//!   failure): the p50 and p99 latency of each balancing policy, and of
//!   round-robin with latency-based outlier ejection, with four clients
//!   (light load on each) and with one (more in flight per client).
//! - **Jitter under contention** (the AWS Architecture Blog's "Exponential
//!   Backoff And Jitter"): clients that all call a one-at-a-time server at
//!   once, refused while it is busy, retrying until served; the calls made
//!   and the time until every client is served, per jitter variant.

use crate::experiment::{mean, median, number, sweep};
use crate::scenario::{Scenario, ScenarioError};
use crate::sim::RunResult;
use serde::Serialize;

/// The spike of the retry-policy comparison: from 6 s to 8 s.
pub const SPIKE_S: (f64, f64) = (6.0, 8.0);

/// The service of service-retry-storm, with `policy` (TOML tables) added.
fn storm(policy: &str) -> String {
    format!(
        r#"name = "resilience-storm"
protocol = "service"
nodes = 4
duration = "20s"

[network]
latency = {{ dist = "uniform", min = "1ms", max = "3ms" }}

[workload]
clients = 4
max_ops = 0

[service]
rate = 100.0
deadline = "1s"
attempt_timeout = "300ms"
phases = [{{ at = "6s", for = "2s", x = 4.8 }}]

[service.server]
concurrency = 2
queue = 20
service_time = {{ dist = "exponential", mean = "50ms" }}
{policy}
"#
    )
}

/// The retry policies compared, as `(label, TOML)`.
pub const RETRY_POLICIES: &[(&str, &str)] = &[
    ("no retries", ""),
    ("3 retries, no backoff", "[service.retry]\nretries = 3\n"),
    (
        "3 retries, backoff + full jitter",
        "[service.retry]\nretries = 3\nbase = \"100ms\"\njitter = \"full\"\n",
    ),
    (
        "3 retries, backoff + decorrelated jitter",
        "[service.retry]\nretries = 3\nbase = \"500ms\"\njitter = \"decorrelated\"\n",
    ),
    (
        "3 retries, retry budget 10%",
        "[service.retry]\nretries = 3\n[service.budget]\nratio = 0.1\n",
    ),
    (
        "3 retries, circuit breaker",
        "[service.retry]\nretries = 3\n[service.breaker]\nfailures = 5\nopen_for = \"1s\"\n",
    ),
];

/// service-fail-slow's service with `clients` clients and `balance` (TOML).
fn fail_slow(clients: usize, balance: &str) -> String {
    format!(
        r#"name = "resilience-fail-slow"
protocol = "service"
nodes = 4
duration = "20s"

[network]
latency = {{ dist = "uniform", min = "1ms", max = "3ms" }}

[workload]
clients = {clients}
max_ops = 0

[service]
rate = 100.0
deadline = "1s"
attempt_timeout = "300ms"
{balance}

[[service.slow]]
node = 1
at = "5s"
for = "10s"
factor = 10.0

[service.retry]
retries = 2

[service.server]
concurrency = 2
queue = 20
service_time = {{ dist = "exponential", mean = "20ms" }}
"#
    )
}

/// The balancing policies compared, as `(label, TOML in [service])`.
pub const BALANCERS: &[(&str, &str)] = &[
    ("round-robin", "balance = \"round-robin\""),
    ("random", "balance = \"random\""),
    ("least-outstanding", "balance = \"least-outstanding\""),
    ("two-choices", "balance = \"two-choices\""),
    ("peak-ewma", "balance = \"peak-ewma\""),
    (
        "round-robin + outlier ejection (slow after 100 ms)",
        "balance = \"round-robin\"\noutlier = { consecutive = 2, slow_after = \"100ms\", eject_for = \"1s\" }",
    ),
];

/// Clients sharing a busy service: 40 of them send 170 requests per
/// second to four replicas that serve one attempt at a time (20 ms on
/// average: 85% of capacity), so each client rarely has an attempt in
/// flight and its own balancer sees every replica idle. With `proxy` the
/// balancer is a proxy's (a fifth node), which sees every attempt.
fn busy(balance: &str, proxy: bool) -> String {
    let (nodes, proxy) = if proxy {
        (5, "\n[service.proxy]\n")
    } else {
        (4, "")
    };
    format!(
        r#"name = "resilience-busy"
protocol = "service"
nodes = {nodes}
duration = "20s"

[network]
latency = {{ dist = "uniform", min = "1ms", max = "3ms" }}

[workload]
clients = {BUSY_CLIENTS}
max_ops = 0

[service]
rate = 170.0
deadline = "2s"
balance = "{balance}"
{proxy}
[service.retry]
retries = 0

[service.server]
concurrency = 1
queue = 100
service_time = {{ dist = "exponential", mean = "20ms" }}
"#
    )
}

/// The clients of [`busy`].
const BUSY_CLIENTS: usize = 40;

/// The balancers compared in the clients and at a proxy.
pub const BUSY_BALANCERS: &[&str] = &[
    "round-robin",
    "least-outstanding",
    "two-choices",
    "peak-ewma",
];

/// Contention: `CONTENDERS` clients call at once (their first calls
/// within a microsecond) a server that serves one call at a time (10 ms)
/// and refuses the rest; each retries until served.
const CONTENDERS: usize = 50;

fn contention(jitter: &str) -> String {
    format!(
        r#"name = "resilience-contention"
protocol = "service"
nodes = 1
duration = "60s"

[network]
latency = {{ dist = "constant", value = "1ms" }}

[workload]
clients = {CONTENDERS}
max_ops = {CONTENDERS}
interval = "1us"
timeout = "60s"

[service]
deadline = "60s"

[service.retry]
retries = 1000
base = "10ms"
cap = "1s"
jitter = "{jitter}"

[service.server]
concurrency = 1
queue = 0
service_time = {{ dist = "constant", value = "10ms" }}
"#
    )
}

/// The jitter variants compared.
pub const JITTERS: &[&str] = &["none", "full", "equal", "decorrelated"];

/// One retry policy over the seeds.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyRow {
    /// The policy.
    pub policy: String,
    /// Seeds run.
    pub seeds: u64,
    /// Seeds on which `service.recovery` held.
    pub recovered: u64,
    /// Mean attempts per request.
    pub amplification: f64,
    /// Mean share of requests answered in time over the run.
    pub availability: f64,
    /// Mean share answered in time once the recovery bound (5 s after the
    /// spike) has passed, over that share before the spike.
    pub after_over_before: f64,
    /// Mean attempts served after their client stopped waiting, per request.
    pub wasted_per_request: f64,
    /// Goodput per second in each one-second window, averaged over seeds.
    pub goodput: Vec<f64>,
}

/// One balancing policy around a slow replica.
#[derive(Clone, Debug, Serialize)]
pub struct BalanceRow {
    /// The policy.
    pub policy: String,
    /// Client processes.
    pub clients: usize,
    /// Whether a proxy balanced (the clients did otherwise).
    pub at_proxy: bool,
    /// Median over seeds of the p50 latency, ms.
    pub p50_ms: f64,
    /// Median over seeds of the p99 latency, ms.
    pub p99_ms: f64,
    /// Mean attempts per request.
    pub amplification: f64,
}

/// One jitter variant under contention.
#[derive(Clone, Debug, Serialize)]
pub struct JitterRow {
    /// The variant.
    pub jitter: String,
    /// Mean calls made (attempts) to serve every client once.
    pub calls: f64,
    /// Mean time until the last client was served, ms.
    pub completion_ms: f64,
}

/// Everything the experiment measured.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    /// Retry policies under the spike.
    pub policies: Vec<PolicyRow>,
    /// Balancing policies around a slow replica.
    pub balancers: Vec<BalanceRow>,
    /// Balancing policies in the clients and at a proxy, on a busy service.
    pub busy: Vec<BalanceRow>,
    /// Jitter variants under contention.
    pub jitters: Vec<JitterRow>,
}

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, "resilience.toml")
}

fn policy_row(label: &str, toml: &str, seeds: u64) -> Result<PolicyRow, ScenarioError> {
    let results = sweep(&parse(&storm(toml))?, seeds);
    let windows = results
        .iter()
        .filter_map(|r| {
            r.metrics
                .get("service_goodput_per_window")?
                .as_array()
                .map(Vec::len)
        })
        .max()
        .unwrap_or(0);
    let goodput = (0..windows)
        .map(|w| {
            mean(results.iter().map(|r| {
                r.metrics["service_goodput_per_window"]
                    .get(w)
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or(0.0)
            }))
        })
        .collect();
    let recovered = results
        .iter()
        .filter(|r| !r.violations.iter().any(|v| v.check == "service.recovery"))
        .count();
    Ok(PolicyRow {
        policy: label.to_string(),
        seeds,
        recovered: recovered as u64,
        amplification: mean(results.iter().map(|r| number(r, "service_amplification"))),
        availability: mean(results.iter().map(|r| number(r, "service_availability"))),
        after_over_before: mean(results.iter().map(|r| {
            number(r, "service_good_share_after_recovery_bound")
                / number(r, "service_baseline_good_share").max(1e-9)
        })),
        wasted_per_request: mean(
            results
                .iter()
                .map(|r| number(r, "service_wasted") / number(r, "service_requests").max(1.0)),
        ),
        goodput,
    })
}

fn balance_row(
    label: &str,
    toml: &str,
    clients: usize,
    seeds: u64,
) -> Result<BalanceRow, ScenarioError> {
    let results = sweep(&parse(&fail_slow(clients, toml))?, seeds);
    Ok(latency_row(&results, label, clients, false))
}

/// The latencies of `results` as a row for `policy` with `clients`
/// clients, balanced at a proxy or not.
fn latency_row(results: &[RunResult], policy: &str, clients: usize, at_proxy: bool) -> BalanceRow {
    let ms = |key: &str| median(results.iter().map(|r| number(r, key) / 1e6).collect());
    BalanceRow {
        policy: policy.to_string(),
        clients,
        at_proxy,
        p50_ms: ms("service_latency_ns_p50"),
        p99_ms: ms("service_latency_ns_p99"),
        amplification: mean(results.iter().map(|r| number(r, "service_amplification"))),
    }
}

/// A balancing policy on the busy service, in the clients or at a proxy.
fn busy_row(balance: &str, proxy: bool, seeds: u64) -> Result<BalanceRow, ScenarioError> {
    let results = sweep(&parse(&busy(balance, proxy))?, seeds);
    Ok(latency_row(&results, balance, BUSY_CLIENTS, proxy))
}

fn jitter_row(jitter: &str, seeds: u64) -> Result<JitterRow, ScenarioError> {
    let results = sweep(&parse(&contention(jitter))?, seeds);
    Ok(JitterRow {
        jitter: jitter.to_string(),
        calls: mean(results.iter().map(|r| number(r, "service_attempts"))),
        completion_ms: mean(
            results
                .iter()
                .map(|r| number(r, "service_last_end_ns") / 1e6),
        ),
    })
}

/// Runs the whole experiment with `seeds` seeds per configuration.
pub fn experiment(seeds: u64) -> Result<Results, ScenarioError> {
    let policies = RETRY_POLICIES
        .iter()
        .map(|(label, toml)| policy_row(label, toml, seeds))
        .collect::<Result<_, _>>()?;
    let mut balancers = Vec::new();
    for clients in [4, 1] {
        for (label, toml) in BALANCERS {
            balancers.push(balance_row(label, toml, clients, seeds)?);
        }
    }
    let mut busy = Vec::new();
    for proxy in [false, true] {
        for balance in BUSY_BALANCERS {
            busy.push(busy_row(balance, proxy, seeds)?);
        }
    }
    let jitters = JITTERS
        .iter()
        .map(|j| jitter_row(j, seeds))
        .collect::<Result<_, _>>()?;
    Ok(Results {
        policies,
        balancers,
        busy,
        jitters,
    })
}

/// The results as Markdown, headed by the command that produced them.
pub fn markdown(results: &Results, command: &str) -> String {
    let mut md = format!("# Resilience experiment\n\nCommand: `{command}`\n\n");
    md += "## Retry policies under a 2 s spike to 3x capacity\n\n";
    md += "| policy | seeds recovered | attempts per request | availability | goodput share after recovery bound / before spike | wasted attempts per request |\n|---|---|---|---|---|---|\n";
    for p in &results.policies {
        md += &format!(
            "| {} | {} of {} | {:.2} | {:.3} | {:.2} | {:.2} |\n",
            p.policy,
            p.recovered,
            p.seeds,
            p.amplification,
            p.availability,
            p.after_over_before,
            p.wasted_per_request
        );
    }
    md += "\n## Balancing around a replica ten times slower for 10 s\n\n";
    md += "| policy | clients | p50 ms (median of seeds) | p99 ms (median of seeds) | attempts per request |\n|---|---|---|---|---|\n";
    for b in &results.balancers {
        md += &format!(
            "| {} | {} | {:.1} | {:.1} | {:.3} |\n",
            b.policy, b.clients, b.p50_ms, b.p99_ms, b.amplification
        );
    }
    md += &format!("\n## Balancing a busy service: in the clients or at a proxy ({BUSY_CLIENTS} clients, 85% of capacity)\n\n");
    md += "| policy | where | p50 ms (median of seeds) | p99 ms (median of seeds) |\n|---|---|---|---|\n";
    for b in &results.busy {
        let place = if b.at_proxy { "proxy" } else { "clients" };
        md += &format!(
            "| {} | {place} | {:.1} | {:.1} |\n",
            b.policy, b.p50_ms, b.p99_ms
        );
    }
    md += &format!("\n## Jitter under contention ({CONTENDERS} clients at once, one call served per 10 ms)\n\n");
    md += "| jitter | calls (mean) | time until all served, ms (mean) |\n|---|---|---|\n";
    for j in &results.jitters {
        md += &format!(
            "| {} | {:.0} | {:.0} |\n",
            j.jitter, j.calls, j.completion_ms
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str) -> PolicyRow {
        let toml = RETRY_POLICIES
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, t)| *t)
            .unwrap_or_else(|| panic!("no policy {label}"));
        policy_row(label, toml, 3).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The experiment's lesson: fixed retries without backoff leave goodput
    /// under half its level after the spike; a budget or a breaker bring it
    /// back to 90% or more.
    #[test]
    fn retries_without_backoff_stay_down_while_a_budget_or_a_breaker_recover() {
        let storm = row("3 retries, no backoff");
        assert!(storm.after_over_before < 0.5, "{storm:?}");
        assert_eq!(storm.recovered, 0);
        for label in ["3 retries, retry budget 10%", "3 retries, circuit breaker"] {
            let cured = row(label);
            assert!(cured.after_over_before >= 0.9, "{cured:?}");
            assert_eq!(cured.recovered, 3, "{label}");
            assert!(cured.amplification < storm.amplification, "{label}");
        }
    }

    /// Around a slow replica, latency-aware balancing meets a p99 that
    /// round-robin and two-choices miss by far.
    #[test]
    fn peak_ewma_keeps_the_slow_replicas_tail_out_of_the_p99() {
        let p99 = |label: &str| {
            let toml = BALANCERS
                .iter()
                .find(|(l, _)| *l == label)
                .map(|(_, t)| *t)
                .unwrap_or_else(|| panic!("no balancer {label}"));
            balance_row(label, toml, 4, 3)
                .unwrap_or_else(|e| panic!("{e}"))
                .p99_ms
        };
        let ewma = p99("peak-ewma");
        for other in ["round-robin", "two-choices"] {
            let theirs = p99(other);
            assert!(
                ewma * 1.3 < theirs,
                "peak-ewma {ewma} ms, {other} {theirs} ms"
            );
        }
    }

    /// On a busy service a proxy's least-outstanding (join the shortest
    /// queue, seeing every attempt) cuts queueing that 40 blind
    /// client-side balancers cannot.
    #[test]
    fn least_outstanding_at_a_proxy_beats_least_outstanding_in_the_clients() {
        let row = |proxy| busy_row("least-outstanding", proxy, 3).unwrap_or_else(|e| panic!("{e}"));
        let (clients, proxy) = (row(false), row(true));
        assert!(
            proxy.p50_ms * 1.3 < clients.p50_ms,
            "{proxy:?} vs {clients:?}"
        );
        assert!(proxy.p99_ms < clients.p99_ms, "{proxy:?} vs {clients:?}");
    }

    #[test]
    fn jitter_gets_contending_clients_served_sooner_with_fewer_calls() {
        let none = jitter_row("none", 3).unwrap_or_else(|e| panic!("{e}"));
        let full = jitter_row("full", 3).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            full.completion_ms * 2.0 < none.completion_ms,
            "{full:?} vs {none:?}"
        );
        assert!(full.calls * 2.0 < none.calls, "{full:?} vs {none:?}");
        // In lockstep every round serves one client and refuses the rest.
        let lockstep = (CONTENDERS * (CONTENDERS + 1) / 2) as f64;
        assert_eq!(none.calls, lockstep);
    }

    #[test]
    fn the_markdown_has_a_row_per_configuration() {
        let results = Results {
            policies: vec![row("no retries")],
            balancers: vec![
                balance_row("round-robin", BALANCERS[0].1, 4, 1).unwrap_or_else(|e| panic!("{e}"))
            ],
            busy: vec![busy_row("two-choices", true, 1).unwrap_or_else(|e| panic!("{e}"))],
            jitters: Vec::new(),
        };
        let md = markdown(&results, "faultline resilience --seeds 3");
        assert!(md.contains("| no retries | 3 of 3 |"), "{md}");
        assert!(md.contains("| round-robin | 4 |"), "{md}");
        assert!(md.contains("| two-choices | proxy |"), "{md}");
        assert!(md.contains("Command: `faultline resilience --seeds 3`"));
    }
}
