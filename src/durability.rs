//! The durability experiment (`faultline durability`): the `log`
//! protocol's producer settings side by side under three faults, over
//! seeds: how many acknowledged writes each loses, and what it costs in
//! produce latency and in sends that are not acknowledged.
//!
//! - **Settings**: `acks = 0`, `acks = 1`, `acks = "all"` with one or two
//!   in-sync replicas required, and `acks = "all"` with one and unclean
//!   leader election allowed.
//! - **Faults**: brokers crashing one at a time; a broker cut off from
//!   everyone (its followers stop fetching, the controller moves its
//!   leaderships, and it goes on believing it leads); and the followers cut
//!   off from the leader, which then crashes while they are out of sync
//!   (the path to an unclean election).
//!
//! A second part measures **window completeness against watermark delay**:
//! the sink counting events per 1 s window of event time while 5% of sends
//! are held up 50 ms to 1 s; the further the watermark trails the event
//! times seen, the fewer late events are dropped, and the later each
//! window's count is final.
//!
//! Loss is judged as the protocol's `log.lost` judges it: an acknowledged
//! send missing from its partition's final committed log. With `acks = 0`
//! nothing is acknowledged with an offset; the sends missing from the log
//! are counted apart (and, per 10,000 sent, stand for its loss rate).

use crate::experiment::{mean, median, number, sweep};
use crate::scenario::{Scenario, ScenarioError};
use serde::Serialize;

/// The producer settings compared, as `(label, [log] TOML)`.
pub const SETTINGS: &[(&str, &str)] = &[
    ("acks = 0", "acks = 0\n"),
    ("acks = 1", "acks = 1\n"),
    (
        "acks = all, min ISR 1",
        "acks = \"all\"\nmin_insync_replicas = 1\n",
    ),
    (
        "acks = all, min ISR 2",
        "acks = \"all\"\nmin_insync_replicas = 2\n",
    ),
    (
        "acks = all, min ISR 1, unclean",
        "acks = \"all\"\nmin_insync_replicas = 1\nunclean_leader_election = true\n",
    ),
];

/// The faults compared, as `(label, [[faults]] TOML)`.
pub const FAULTS: &[(&str, &str)] = &[
    (
        "broker crashes",
        r#"[[faults]]
at = "2s"
every = "3s"
jitter = "1s"
action = "crash"
node = "broker"
for = ["1s", "2s"]
"#,
    ),
    (
        "a broker cut off",
        r#"[[faults]]
at = "2s"
every = "3s"
jitter = "1s"
action = "partition"
shape = "isolate"
node = "broker"
for = ["1s", "2s"]
"#,
    ),
    (
        "followers cut off, leader crashes",
        r#"[[faults]]
at = "2s"
every = "6s"
action = "partition"
groups = [[1, 2], [0, 3, 4, 5, 6]]
for = "3s"

[[faults]]
at = "4s"
every = "6s"
action = "crash"
node = 0
for = "2s"
"#,
    ),
];

/// A setting under a fault, over seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The producer setting.
    pub setting: String,
    /// The fault.
    pub fault: String,
    /// Runs.
    pub seeds: u64,
    /// Sends acknowledged with an offset, mean per run.
    pub acknowledged: f64,
    /// Acknowledged sends missing from the final logs, mean per run.
    pub lost: f64,
    /// Runs that lost an acknowledged send.
    pub runs_with_loss: u64,
    /// Lost per 10,000 acknowledged, over all runs (with `acks = 0`:
    /// missing per 10,000 sent).
    pub lost_per_10k: f64,
    /// `acks = 0` sends missing from the final logs, mean per run.
    pub unconfirmed_missing: f64,
    /// Sends answered (ok) of those invoked, over all runs.
    pub answered: f64,
    /// Produce latency, median over runs of each run's p50 (ms).
    pub p50_ms: f64,
    /// Produce latency, median over runs of each run's p99 (ms).
    pub p99_ms: f64,
}

/// The watermark delays compared (ms behind the latest event time).
pub const WATERMARK_DELAYS_MS: &[u64] = &[0, 50, 100, 200, 500, 1000];

/// Windowed counts with one watermark delay, over seeds.
#[derive(Clone, Debug, Serialize)]
pub struct WindowRow {
    /// How far the watermark trails the latest event time (ms).
    pub delay_ms: u64,
    /// Events in the final logs, over all runs.
    pub events: u64,
    /// Events counted in their windows (on time or late).
    pub counted: u64,
    /// Of those, counted after the watermark passed their window's end.
    pub late: u64,
    /// Events dropped as too late.
    pub dropped: u64,
    /// Counted of events.
    pub completeness: f64,
}

/// The experiment's results.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    /// Seeds per row.
    pub seeds: u64,
    /// One row per fault and setting, faults outermost.
    pub rows: Vec<Row>,
    /// One row per watermark delay.
    pub windows: Vec<WindowRow>,
}

/// The stream scenario: 1 s windows, a watermark `delay_ms` behind, no
/// allowed lateness, 5% of sends late.
fn stream(delay_ms: u64) -> String {
    format!(
        r#"name = "durability-windows"
protocol = "log"
nodes = 7
duration = "20s"

[network]
latency = {{ dist = "uniform", min = "1ms", max = "5ms" }}

[network.slow]
share = 0.05
latency = {{ dist = "uniform", min = "50ms", max = "1s" }}
kinds = ["produce"]

[workload]
clients = 8
interval = "5ms"
timeout = "3s"

[log]
commit = "with-effect"
window = "1s"
out_of_orderness = "{delay_ms}ms"
"#
    )
}

fn window_row(delay_ms: u64, seeds: u64) -> Result<WindowRow, ScenarioError> {
    let parsed = Scenario::parse(&stream(delay_ms), "durability-windows.toml")?;
    let results = sweep(&parsed, seeds);
    let total = |key: &str| results.iter().map(|r| number(r, key)).sum::<f64>() as u64;
    let (events, counted) = (total("log_window_events"), total("log_window_counted"));
    Ok(WindowRow {
        delay_ms,
        events,
        counted,
        late: total("log_window_late"),
        dropped: total("log_window_dropped"),
        completeness: counted as f64 / events.max(1) as f64,
    })
}

/// The log scenario of one setting under one fault.
fn scenario(setting: &str, fault: &str) -> String {
    format!(
        r#"name = "durability"
protocol = "log"
nodes = 7
duration = "20s"

[network]
latency = {{ dist = "uniform", min = "1ms", max = "5ms" }}

{fault}
[workload]
clients = 8
interval = "5ms"
timeout = "3s"

[log]
{setting}"#
    )
}

fn row(setting: (&str, &str), fault: (&str, &str), seeds: u64) -> Result<Row, ScenarioError> {
    let parsed = Scenario::parse(&scenario(setting.1, fault.1), "durability.toml")?;
    let results = sweep(&parsed, seeds);
    let total = |key: &str| results.iter().map(|r| number(r, key)).sum::<f64>();
    let ms = |key: &str| median(results.iter().map(|r| number(r, key) / 1e6).collect());
    // Sends the setting counts as done: acknowledged, or (acks = 0) sent.
    let done = total("log_acknowledged") + total("log_unconfirmed");
    let gone = total("log_lost") + total("log_unconfirmed_missing");
    Ok(Row {
        setting: setting.0.to_string(),
        fault: fault.0.to_string(),
        seeds,
        acknowledged: mean(results.iter().map(|r| number(r, "log_acknowledged"))),
        lost: mean(results.iter().map(|r| number(r, "log_lost"))),
        runs_with_loss: results
            .iter()
            .filter(|r| number(r, "log_lost") > 0.0)
            .count() as u64,
        lost_per_10k: if done > 0.0 { 1e4 * gone / done } else { 0.0 },
        unconfirmed_missing: mean(results.iter().map(|r| number(r, "log_unconfirmed_missing"))),
        answered: total("ops_ok") / total("ops_invoked").max(1.0),
        p50_ms: ms("op_latency_ns_p50"),
        p99_ms: ms("op_latency_ns_p99"),
    })
}

/// Runs every setting under every fault on seeds `0..seeds`.
pub fn experiment(seeds: u64) -> Result<Results, ScenarioError> {
    let mut rows = Vec::new();
    for &fault in FAULTS {
        for &setting in SETTINGS {
            rows.push(row(setting, fault, seeds)?);
        }
    }
    let windows = WATERMARK_DELAYS_MS
        .iter()
        .map(|&delay| window_row(delay, seeds))
        .collect::<Result<_, _>>()?;
    Ok(Results {
        seeds,
        rows,
        windows,
    })
}

/// The results as Markdown: one table per fault.
pub fn markdown(results: &Results, command: &str) -> String {
    let mut md = format!(
        "# Durability: what each producer setting loses\n\nFrom `{command}`: the `log` protocol (3 brokers, 6 partitions replicated three ways, 8 producers), 20 s of faults and 5 s to settle, {} seeds per row. *Lost* is an acknowledged send missing from its partition's final committed log (with `acks = 0`, *lost per 10k* counts the sends missing per 10,000 sent); *answered* the share of sends acknowledged; latencies are the median over seeds of each run's p50 and p99.\n",
        results.seeds
    );
    for &(fault, _) in FAULTS {
        md.push_str(&format!(
            "\n## {fault}\n\n| setting | acknowledged | lost (mean) | runs with loss | lost per 10k | acks=0 missing | answered | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|---|---|\n"
        ));
        for r in results.rows.iter().filter(|r| r.fault == fault) {
            md.push_str(&format!(
                "| {} | {:.0} | {:.1} | {}/{} | {:.1} | {:.1} | {:.1}% | {:.1} | {:.1} |\n",
                r.setting,
                r.acknowledged,
                r.lost,
                r.runs_with_loss,
                r.seeds,
                r.lost_per_10k,
                r.unconfirmed_missing,
                100.0 * r.answered,
                r.p50_ms,
                r.p99_ms
            ));
        }
    }
    md.push_str("\n## Window completeness against watermark delay\n\nThe sink counts events per 1 s window of event time (the producer's clock when the workload asked for the send) while 5% of sends are held up 50 ms to 1 s in the network (a producer retries after 300 ms), so they reach their partition behind later events; no allowed lateness. A window's count is final once the watermark, this far behind the least of the partitions' latest event times, passes its end: the delay is also how late every count comes.\n\n| watermark delay | events | counted | of which late | dropped | completeness |\n|---|---|---|---|---|---|\n");
    for w in &results.windows {
        md.push_str(&format!(
            "| {} ms | {} | {} | {} | {} | {:.2}% |\n",
            w.delay_ms,
            w.events,
            w.counted,
            w.late,
            w.dropped,
            100.0 * w.completeness
        ));
    }
    md
}

/// The chart's points: `(setting, fault, p99 ms, lost per 10k)`.
pub fn tradeoff_points(results: &Results) -> Vec<(String, String, f64, f64)> {
    results
        .rows
        .iter()
        .map(|r| (r.setting.clone(), r.fault.clone(), r.p99_ms, r.lost_per_10k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_under_every_fault_is_a_valid_scenario() {
        for &(_, fault) in FAULTS {
            for &(_, setting) in SETTINGS {
                let text = scenario(setting, fault);
                Scenario::parse(&text, "durability.toml").unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }

    #[test]
    fn acks_1_and_unclean_elections_lose_writes_and_acks_all_does_not() {
        let rows = |setting: usize, fault: usize| {
            row(SETTINGS[setting], FAULTS[fault], 2).unwrap_or_else(|e| panic!("{e}"))
        };
        let acks_1 = rows(1, 1);
        assert_eq!(acks_1.runs_with_loss, 2, "{acks_1:?}");
        assert!(acks_1.lost_per_10k > 0.0);
        let all_2 = rows(3, 1);
        assert_eq!(all_2.lost, 0.0, "{all_2:?}");
        assert!(
            all_2.p50_ms > acks_1.p50_ms,
            "waiting for the ISR costs latency"
        );
        let (clean, unclean) = (rows(2, 2), rows(4, 2));
        assert_eq!(clean.lost, 0.0, "{clean:?}");
        assert!(unclean.lost > 0.0, "{unclean:?}");
        let (eager, patient) = (window_row(0, 2), window_row(1000, 2));
        let (eager, patient) = (
            eager.unwrap_or_else(|e| panic!("{e}")),
            patient.unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(eager.dropped > patient.dropped, "{eager:?} {patient:?}");
        assert_eq!(patient.counted + patient.dropped, patient.events);
        let md = markdown(
            &Results {
                seeds: 2,
                rows: vec![acks_1],
                windows: vec![patient],
            },
            "cmd",
        );
        assert!(md.contains("| 1000 ms |"), "{md}");
        assert!(md.contains("| acks = 1 | ") && md.contains("2/2"), "{md}");
    }
}
