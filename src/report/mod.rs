//! Run summaries: the JSON object `faultline run --json` prints (and
//! `summary.json` holds), the human summary, and the replay command.

pub mod charts;
pub mod html;
pub mod markdown;
pub mod perfetto;
pub mod timeline;

use crate::run::{check_rows, failed_liveness, verdict, CheckStatus, RunVerdict};
use crate::scenario::{Expect, Scenario};
use crate::sim::RunResult;
use crate::time::SimTime;
use serde_json::{json, Value};
use std::fmt::Write;

/// The exact command that replays `seed` of `scenario` (with its swarm
/// fault mix when `swarm`).
pub fn replay_command(scenario: &Scenario, seed: u64, swarm: bool) -> String {
    let flag = if swarm { " --swarm" } else { "" };
    format!(
        "{} run {} --seed {seed}{flag}",
        scenario.registry.program_name(),
        shell_quote(&scenario.file)
    )
}

fn shell_quote(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c));
    if plain && !text.is_empty() {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Wall-clock measurements of a run, taken by the caller (the library never
/// reads the wall clock).
#[derive(Clone, Copy, Debug, Default)]
pub struct WallTime {
    /// Seconds the run took.
    pub seconds: f64,
}

/// The summary object. Keys `scenario`, `seed`, `trace_hash`, `events`,
/// `sim_time_ns`, `verdict` (`pass`, `fail` or `undecided`), `violations`,
/// `checks` (`[{name, status, reason}]`, status `held`, `violated`,
/// `undecided` or `disabled`), `undecided` and `metrics` are a contract.
pub fn summary_json(scenario: &Scenario, result: &RunResult, wall: WallTime) -> Value {
    let verdict = verdict(scenario, result);
    let expect = match &scenario.expect {
        Expect::Pass => json!("pass"),
        Expect::Violation(None) => json!("violation"),
        Expect::Violation(Some(check)) => json!(format!("violation of {check}")),
    };
    let events_per_sec = if wall.seconds > 0.0 {
        result.events as f64 / wall.seconds
    } else {
        0.0
    };
    json!({
        "scenario": scenario.name,
        "file": scenario.file,
        "protocol": scenario.protocol.name(),
        "nodes": scenario.nodes,
        "seed": result.seed,
        "trace_hash": result.trace_hash,
        "events": result.events,
        "sim_time_ns": result.sim_time.as_nanos(),
        "end_reason": result.end_reason,
        "verdict": verdict.name(),
        "expect": expect,
        "violations": violations_json(scenario, result),
        "undecided": result.undecided,
        "checks": check_rows(scenario, result),
        "faults": result.faults,
        "metrics": result.metrics,
        "wall_time_s": wall.seconds,
        "events_per_wall_s": events_per_sec,
        "swarm": result.swarm,
        "replay": replay_command(scenario, result.seed, result.swarm.is_some()),
    })
}

/// The violations, each with its check's kind (`always`, `at-end`,
/// `eventually` for liveness, `bound`).
fn violations_json(scenario: &Scenario, result: &RunResult) -> Value {
    let kinds: Vec<_> = scenario
        .protocol
        .checks()
        .iter()
        .chain(crate::protocols::engine_checks(scenario.config.quiescent))
        .collect();
    let list = result.violations.iter().map(|v| {
        let mut value = json!(v);
        if let Some(c) = kinds.iter().find(|c| c.name == v.check) {
            value["kind"] = json!(c.kind);
        }
        value
    });
    Value::Array(list.collect())
}

fn metric(result: &RunResult, key: &str) -> String {
    result.metric_text(key)
}

fn ns_metric(result: &RunResult, key: &str) -> String {
    result.metric_duration_text(key)
}

/// The human summary (naming the report page when one was written), ending
/// with the verdict and, on failure, the replay command.
pub fn human_summary(
    scenario: &Scenario,
    result: &RunResult,
    wall: WallTime,
    report: Option<&std::path::Path>,
) -> String {
    let mut out = String::new();
    let verdict = verdict(scenario, result);
    let config = &scenario.config;
    let _ = writeln!(out, "scenario    {} ({})", scenario.name, scenario.file);
    let _ = writeln!(
        out,
        "protocol    {}, {} nodes",
        scenario.protocol.name(),
        scenario.nodes
    );
    let _ = writeln!(out, "seed        {}", result.seed);
    if let Some(mix) = &result.swarm {
        let _ = writeln!(out, "swarm       {mix}");
    }
    let _ = writeln!(
        out,
        "sim time    {} ({} faults + {} settle)",
        result.sim_time, config.duration, config.settle
    );
    let _ = writeln!(
        out,
        "events      {} ({:?})",
        result.events, result.end_reason
    );
    let n = &result.net;
    let _ = writeln!(
        out,
        "messages    sent {}, delivered {}, dropped {} (loss {}, partition {}, node down {}), duplicated {}",
        n.sent,
        n.delivered,
        n.dropped(),
        n.dropped_loss,
        n.dropped_partition,
        n.dropped_node,
        n.duplicated
    );
    let _ = writeln!(out, "faults      {} applied", result.faults.len());
    for f in result.faults.iter().take(12) {
        let _ = writeln!(
            out,
            "  {:>10}  {}",
            SimTime::from_nanos(f.time_ns).to_string(),
            f.description
        );
    }
    if result.faults.len() > 12 {
        let _ = writeln!(
            out,
            "  ... and {} more (see --json)",
            result.faults.len() - 12
        );
    }
    let _ = writeln!(
        out,
        "operations  {} invoked: {} ok, {} fail, {} unknown; latency p50 {} p99 {}",
        metric(result, "ops_invoked"),
        metric(result, "ops_ok"),
        metric(result, "ops_fail"),
        metric(result, "ops_unknown"),
        ns_metric(result, "op_latency_ns_p50"),
        ns_metric(result, "op_latency_ns_p99"),
    );
    write_protocol_metrics(&mut out, scenario, result);
    write_checks(&mut out, scenario, result);
    let rate = if wall.seconds > 0.0 {
        result.events as f64 / wall.seconds
    } else {
        0.0
    };
    let _ = writeln!(
        out,
        "wall time   {:.3}s ({:.0} events/s)",
        wall.seconds, rate
    );
    let _ = writeln!(out, "trace hash  {}", result.trace_hash);
    if let Some(dir) = report {
        let _ = writeln!(out, "report      {}", dir.join("index.html").display());
    }
    let liveness = failed_liveness(scenario, result);
    let _ = writeln!(
        out,
        "verdict     {}",
        verdict_line(verdict, &scenario.expect, liveness)
    );
    if verdict != RunVerdict::Pass {
        let _ = writeln!(
            out,
            "replay      {}",
            replay_command(scenario, result.seed, result.swarm.is_some())
        );
    }
    out
}

/// The verdict in words, e.g. `PASS: every check held`; `liveness` says
/// that the first violation is of a liveness check.
pub fn verdict_line(verdict: RunVerdict, expect: &Expect, liveness: bool) -> String {
    match (verdict, expect) {
        (RunVerdict::Pass, Expect::Pass) => "PASS: every check held".to_string(),
        (RunVerdict::Pass, Expect::Violation(_)) => {
            "PASS: the expected violation happened".to_string()
        }
        (RunVerdict::Fail, Expect::Pass) if liveness => {
            "FAIL: a liveness check was violated (no progress after the faults were repaired)"
                .to_string()
        }
        (RunVerdict::Fail, Expect::Pass) => "FAIL: a safety check was violated".to_string(),
        (RunVerdict::Fail, Expect::Violation(Some(c))) => {
            format!("FAIL: expected a violation of {c}, which did not happen")
        }
        (RunVerdict::Fail, Expect::Violation(None)) => {
            "FAIL: expected a violation, but every check held".to_string()
        }
        (RunVerdict::Undecided, _) => {
            "UNDECIDED: no check failed, but one could not be decided within its budget (see checks)"
                .to_string()
        }
    }
}

/// The protocol's own headline metrics, for protocols that have them.
fn write_protocol_metrics(out: &mut String, scenario: &Scenario, result: &RunResult) {
    if let Some(line) = scenario.protocol.headline(result) {
        let _ = writeln!(out, "{line}");
    }
}

/// A check's status in words: `held`, `VIOLATED at T: message`,
/// `UNDECIDED: reason` or `disabled`.
pub fn check_state_text(row: &crate::run::CheckRow) -> String {
    let reason = row.reason.as_deref().unwrap_or("");
    match row.status {
        CheckStatus::Held => "held".to_string(),
        CheckStatus::Violated => format!(
            "VIOLATED at {}{}: {reason}",
            SimTime::from_nanos(row.time_ns.unwrap_or(0)),
            row.failure_kind
                .as_ref()
                .map_or(String::new(), |k| format!(" [{k}]"))
        ),
        CheckStatus::Undecided => format!("UNDECIDED: {reason}"),
        CheckStatus::Disabled => "disabled".to_string(),
    }
}

fn write_checks(out: &mut String, scenario: &Scenario, result: &RunResult) {
    let _ = writeln!(out, "checks");
    for row in check_rows(scenario, result) {
        let _ = writeln!(
            out,
            "  {:<28} {:<10} {}",
            row.name,
            row.kind.name(),
            check_state_text(&row)
        );
    }
}

/// When the run's liveness phase began (the engine logs it as a fault
/// when the fault phase, `duration`, ends and `settle` is above zero), if
/// the run got that far.
fn liveness_start_ns(result: &RunResult) -> Option<u64> {
    result
        .faults
        .iter()
        .find(|f| matches!(f.effect, crate::sim::FaultEffect::LivenessPhase { .. }))
        .map(|f| f.time_ns)
}

/// Files `write_run_report` writes into a run's directory.
pub const REPORT_FILES: &[&str] = &[
    "summary.json",
    "history.jsonl",
    "latency.svg",
    "throughput.svg",
    "lamport.svg",
    "trace.json",
    "report.md",
    "index.html",
];

/// The file of the protocol section's chart `k` (from 0) in a run report.
pub fn protocol_chart_file(k: usize) -> String {
    format!("protocol-{}.svg", k + 1)
}

/// Writes every output of one run into `dir`: `summary.json`,
/// `history.jsonl`, the SVG charts (`latency.svg`, `throughput.svg`,
/// `roles.svg` when the protocol has roles, `intervals.svg` when it reports
/// intervals, `lamport.svg` over `window` or
/// the first second after the first fault), `trace.json` for Perfetto,
/// `report.md` and `index.html`. `result` must have been run with
/// `record_trace` for the Lamport diagram and trace to show messages.
pub fn write_run_report(
    dir: &std::path::Path,
    scenario: &Scenario,
    result: &RunResult,
    wall: WallTime,
    window: Option<(u64, u64)>,
) -> std::io::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("summary.json"),
        format!("{:#}\n", summary_json(scenario, result, wall)),
    )?;
    let mut history = std::io::BufWriter::new(std::fs::File::create(dir.join("history.jsonl"))?);
    crate::history::write_jsonl(&result.history, &mut history)?;
    history.flush()?;
    let end_ns = result.sim_time.as_nanos();
    let windows = timeline::fault_windows(&result.faults, end_ns);
    let ops = &result.history;
    let processes = result
        .trace
        .iter()
        .filter_map(|r| r.node.max(r.peer))
        .max()
        .map_or(scenario.nodes, |m| (m as usize + 1).max(scenario.nodes));
    let (from, to) = window.unwrap_or_else(|| {
        let start = result.faults.first().map_or(0, |f| f.time_ns);
        (start, (start + 1_000_000_000).min(end_ns))
    });
    let phases = charts::Phases {
        windows: &windows,
        liveness_ns: liveness_start_ns(result),
        end_ns,
    };
    // Clients that are processes are numbered after the servers.
    let servers = if scenario.protocol.client_processes() {
        scenario.nodes
    } else {
        processes
    };
    let lamport = charts::LamportView {
        processes,
        servers,
        from_ns: from,
        to_ns: to,
        limit: 3000,
    };
    // (title, file, SVG): the optional charts only when there is something to draw.
    let mut charts: Vec<(String, String, String)> = vec![
        (
            "Client latency over time".into(),
            "latency.svg".into(),
            charts::latency(ops, &phases),
        ),
        (
            "Throughput over time".into(),
            "throughput.svg".into(),
            charts::throughput(ops, &phases),
        ),
    ];
    if !result.roles.is_empty() {
        charts.push((
            "Roles over time".into(),
            "roles.svg".into(),
            charts::roles(&result.roles, scenario.nodes, &phases),
        ));
    }
    if !result.intervals.is_empty() {
        charts.push((
            "Protocol intervals".into(),
            "intervals.svg".into(),
            charts::intervals(&result.intervals, scenario.nodes, &phases),
        ));
    }
    // The protocol's own charts, numbered as report.md names them.
    if let Some(section) = scenario.protocol.report_section(result) {
        for (k, chart) in section.charts.iter().enumerate() {
            charts.push((
                chart.title.clone(),
                protocol_chart_file(k),
                charts::series_over_time(chart),
            ));
        }
    }
    charts.push((
        "Messages (Lamport diagram)".into(),
        "lamport.svg".into(),
        charts::lamport(&result.trace, &lamport, &phases),
    ));
    for (_, file, svg) in &charts {
        std::fs::write(dir.join(file), svg)?;
    }
    let inline: Vec<(&str, String)> = charts
        .iter()
        .map(|(title, _, svg)| (title.as_str(), svg.clone()))
        .collect();
    std::fs::write(
        dir.join("trace.json"),
        perfetto::trace_json(&result.trace, processes, servers, 500_000).to_string(),
    )?;
    std::fs::write(
        dir.join("report.md"),
        markdown::report_md(scenario, result, ops, &windows),
    )?;
    std::fs::write(
        dir.join("index.html"),
        html::index_html(scenario, result, &inline),
    )
}
