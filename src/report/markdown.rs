//! `report.md`: a system-design write-up of one run. Front matter; the
//! setup (topology as an ASCII diagram, protocol, workload, faults); the
//! requirements of the scenario's `[slo]` section, each PASS or FAIL with
//! the measured value; key metrics with their thresholds; the protocol's
//! own section (its registry entry's `report_section`); the checks; and
//! the trade-offs the run shows (service during faults against outside).

use super::replay_command;
use super::timeline::Window;
use crate::history::Record;
use crate::run::verdict;
use crate::scenario::Scenario;
use crate::sim::RunResult;
use crate::stats::{in_window, service, Service};
use crate::time::{SimDuration, SimTime};
use std::fmt::Write;

fn dur(ns: Option<u64>) -> String {
    ns.map_or("-".into(), |n| SimDuration::from_nanos(n).to_string())
}

fn pct(p: Option<f64>) -> String {
    p.map_or("-".into(), |p| format!("{:.2}%", p * 100.0))
}

/// One requirement: name, target, measured, met?
struct Requirement {
    name: &'static str,
    target: String,
    measured: String,
    met: bool,
}

fn requirements(scenario: &Scenario, all: &Service, throughput: f64) -> Vec<Requirement> {
    let slo = &scenario.slo;
    let mut out = Vec::new();
    let mut latency = |name, target: Option<SimDuration>, measured: Option<u64>| {
        if let Some(t) = target {
            out.push(Requirement {
                name,
                target: format!("<= {t}"),
                measured: dur(measured),
                met: measured.is_some_and(|m| m <= t.as_nanos()),
            });
        }
    };
    latency("latency p50", slo.latency_p50, all.p50_ns);
    latency("latency p99", slo.latency_p99, all.p99_ns);
    if let Some(a) = slo.availability {
        out.push(Requirement {
            name: "availability",
            target: format!(">= {}", pct(Some(a))),
            measured: pct(all.availability),
            met: all.availability.is_some_and(|m| m >= a),
        });
    }
    if let Some(t) = slo.throughput {
        out.push(Requirement {
            name: "throughput",
            target: format!(">= {t} ops/s"),
            measured: format!("{throughput:.1} ops/s"),
            met: throughput >= t,
        });
    }
    out
}

/// The write-up of `result`.
pub fn report_md(
    scenario: &Scenario,
    result: &RunResult,
    ops: &[Record],
    windows: &[Window],
) -> String {
    let mut md = String::new();
    let verdict = verdict(scenario, result);
    let all = service(ops.iter());
    let duration_s = scenario.config.duration.as_secs_f64().max(1e-9);
    let throughput = ops.iter().filter(|o| o.outcome_name() == "ok").count() as f64 / duration_s;
    let _ = writeln!(
        md,
        "---\ntitle: \"{}: seed {}\"",
        scenario.name, result.seed
    );
    let _ = writeln!(
        md,
        "scenario: {}\nprotocol: {}\nnodes: {}\nseed: {}",
        scenario.name,
        scenario.protocol.name(),
        scenario.nodes,
        result.seed
    );
    let _ = writeln!(
        md,
        "verdict: {}\ntrace_hash: {}\nreproduce: \"{}\"\n---\n",
        verdict.name(),
        result.trace_hash,
        replay_command(scenario, result.seed, result.swarm.is_some())
    );
    let _ = writeln!(md, "# {} (seed {})\n", scenario.name, result.seed);
    if !scenario.description.is_empty() {
        let _ = writeln!(md, "{}\n", scenario.description);
    }
    setup(&mut md, scenario, result);
    let reqs = requirements(scenario, &all, throughput);
    let _ = writeln!(md, "## Requirements\n");
    if reqs.is_empty() {
        let _ = writeln!(md, "The scenario states none: add an `[slo]` section (`latency_p99 = \"50ms\"`, `availability = 0.999`, ...) to evaluate them here.\n");
    } else {
        let _ = writeln!(
            md,
            "| requirement | target | measured | result |\n|---|---|---|---|"
        );
        for r in &reqs {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                r.name,
                r.target,
                r.measured,
                if r.met { "PASS" } else { "FAIL" }
            );
        }
        let _ = writeln!(md);
    }
    metrics(&mut md, scenario, result, &all, throughput);
    protocol_section(&mut md, scenario, result);
    checks(&mut md, scenario, result);
    tradeoffs(&mut md, result, ops, windows, &all);
    md
}

fn setup(md: &mut String, scenario: &Scenario, result: &RunResult) {
    let config = &scenario.config;
    let _ = writeln!(md, "## Setup\n\n```text");
    let nodes: Vec<String> = (0..scenario.nodes).map(|i| format!("[n{i}]")).collect();
    let row = nodes.join("---");
    let link = &config.network.default;
    let line = format!(
        " network: {}, loss {}, duplicate {} ",
        link.latency, link.loss, link.duplicate
    );
    let width = row.len().max(line.len()) + 4;
    let _ = writeln!(md, "+{}+", "-".repeat(width));
    let _ = writeln!(md, "|{line:^width$}|");
    let _ = writeln!(md, "|  {row:<w$}  |", w = width - 4);
    let _ = writeln!(
        md,
        "|{:^width$}|",
        "(every node reaches every other unless a fault cuts the link)"
    );
    let _ = writeln!(md, "+{}+", "-".repeat(width));
    let w = &config.workload;
    let _ = writeln!(
        md,
        "     ^\n     | {} client(s), one operation at a time, every {} (timeout {})\n```\n",
        w.clients, w.interval, w.timeout
    );
    let _ = writeln!(md, "- **Protocol:** {}", scenario.protocol.name());
    if let Some(toml::Value::Table(options)) = scenario.document.get(scenario.protocol.name()) {
        let text = toml::to_string(options)
            .unwrap_or_default()
            .trim()
            .replace('\n', ", ");
        let _ = writeln!(md, "  with `{text}`");
    }
    let _ = writeln!(
        md,
        "- **Run:** {} of faults, then {} of liveness phase; {} events; {} link overrides",
        config.duration,
        config.settle,
        result.events,
        config.network.links.len()
    );
    let _ = writeln!(md, "- **Faults applied:** {}\n", result.faults.len());
    if !result.faults.is_empty() {
        let _ = writeln!(md, "| time | fault |\n|---|---|");
        for f in result.faults.iter().take(40) {
            let _ = writeln!(
                md,
                "| {} | {} |",
                SimTime::from_nanos(f.time_ns),
                f.description.replace('|', "\\|")
            );
        }
        if result.faults.len() > 40 {
            let _ = writeln!(
                md,
                "| ... | {} more in summary.json |",
                result.faults.len() - 40
            );
        }
        let _ = writeln!(md);
    }
}

fn metrics(
    md: &mut String,
    scenario: &Scenario,
    result: &RunResult,
    all: &Service,
    throughput: f64,
) {
    let slo = &scenario.slo;
    let limit = |d: Option<SimDuration>| d.map_or("-".into(), |d| format!("<= {d}"));
    let _ = writeln!(
        md,
        "## Key metrics\n\n| metric | value | threshold |\n|---|---|---|"
    );
    let rows = [
        (
            "operations invoked",
            all.invoked.to_string(),
            "-".to_string(),
        ),
        (
            "availability (answered within timeout)",
            pct(all.availability),
            slo.availability
                .map_or("-".into(), |a| format!(">= {}", pct(Some(a)))),
        ),
        ("latency p50", dur(all.p50_ns), limit(slo.latency_p50)),
        ("latency p99", dur(all.p99_ns), limit(slo.latency_p99)),
        (
            "throughput (ok ops per simulated second)",
            format!("{throughput:.1}"),
            slo.throughput.map_or("-".into(), |t| format!(">= {t}")),
        ),
        (
            "messages sent / delivered / dropped",
            format!(
                "{} / {} / {}",
                result.net.sent,
                result.net.delivered,
                result.net.dropped()
            ),
            "-".into(),
        ),
        (
            "faults applied",
            result.faults.len().to_string(),
            "-".into(),
        ),
    ];
    for (name, value, threshold) in rows {
        let _ = writeln!(md, "| {name} | {value} | {threshold} |");
    }
    let engine = [
        "messages_",
        "dropped_",
        "ops_",
        "op_latency",
        "timers_fired",
        "faults_applied",
        "late_replies",
        "requests_to_down",
        "disk_syncs",
        "ignored_violations",
    ];
    for (k, v) in &result.metrics {
        if !engine.iter().any(|p| k.starts_with(p)) {
            let shown = match v.as_u64() {
                Some(ns) if k.ends_with("_ns") || k.contains("_ns_") => {
                    SimDuration::from_nanos(ns).to_string()
                }
                _ => v.to_string(),
            };
            let _ = writeln!(md, "| {k} | {shown} | - |");
        }
    }
    let _ = writeln!(md);
}

/// The protocol's own section, when it has one.
fn protocol_section(md: &mut String, scenario: &Scenario, result: &RunResult) {
    let Some(section) = scenario.protocol.report_section(result) else {
        return;
    };
    let _ = writeln!(
        md,
        "## {}\n\n| measure | value | what it means |\n|---|---|---|",
        section.title
    );
    for row in &section.rows {
        let _ = writeln!(md, "| {} | {} | {} |", row.measure, row.value, row.meaning);
    }
    let _ = writeln!(md);
    for (k, chart) in section.charts.iter().enumerate() {
        let file = super::protocol_chart_file(k);
        let _ = writeln!(md, "![{}]({file})\n", chart.title);
    }
}

fn checks(md: &mut String, scenario: &Scenario, result: &RunResult) {
    let _ = writeln!(
        md,
        "## Checks\n\n| check | judged | result |\n|---|---|---|"
    );
    for row in crate::run::check_rows(scenario, result) {
        let state = super::check_state_text(&row);
        let kind = row.kind.name();
        let _ = writeln!(
            md,
            "| {} | {kind} | {} |",
            row.name,
            state.replace('|', "\\|")
        );
    }
    let _ = writeln!(md);
}

fn tradeoffs(
    md: &mut String,
    result: &RunResult,
    ops: &[Record],
    windows: &[Window],
    all: &Service,
) {
    let _ = writeln!(md, "## Trade-offs observed\n");
    let during = service(ops.iter().filter(|o| in_window(o, windows)));
    let outside = service(ops.iter().filter(|o| !in_window(o, windows)));
    if windows.is_empty() {
        let _ = writeln!(
            md,
            "- No fault was in force: this run is the baseline ({} answered, p99 {}).",
            pct(all.availability),
            dur(all.p99_ns)
        );
    } else {
        let _ = writeln!(
            md,
            "- **Availability under faults:** {} of the {} requests made while a fault was in force were answered in time, against {} of the {} made outside fault windows.",
            pct(during.availability), during.invoked, pct(outside.availability), outside.invoked
        );
        let _ = writeln!(
            md,
            "- **Latency under faults:** p99 {} during fault windows, {} outside.",
            dur(during.p99_ns),
            dur(outside.p99_ns)
        );
    }
    let unknown = ops.iter().filter(|o| o.outcome_name() == "info").count();
    if unknown > 0 {
        let _ = writeln!(md, "- **Uncertainty:** {unknown} operations timed out: their clients cannot know whether they took effect (they are \"maybe\" to the linearizability checker).");
    }
    let done = ops
        .iter()
        .filter(|o| o.outcome_name() == "ok")
        .count()
        .max(1);
    let n = &result.net;
    let _ = writeln!(
        md,
        "- **Cost:** {:.1} messages per successful operation; {} dropped (loss {}, partitions {}, nodes down {}), {} duplicated.",
        n.sent as f64 / done as f64, n.dropped(), n.dropped_loss, n.dropped_partition, n.dropped_node, n.duplicated
    );
    let verdict = match (result.violations.len(), result.undecided.len()) {
        (0, 0) => {
            "every check held: the protocol kept its guarantees under these faults".to_string()
        }
        (0, n) => {
            format!("no check failed, but {n} could not be decided within its budget: see above")
        }
        (n, _) => format!("{n} check(s) failed: see above"),
    };
    let _ = writeln!(md, "- **Correctness:** {verdict}.");
}
