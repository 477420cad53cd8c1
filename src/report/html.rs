//! `index.html`: one self-contained page per run (no scripts, no network
//! fetches): the verdict, the summary, the protocol's own section, the
//! checks, a linearizability counterexample drawn as a timeline when there
//! is one, an isolation anomaly drawn as its cycle of transactions, the
//! charts inline, and the faults.

use super::charts::{
    counterexample as counterexample_chart, cycle as cycle_chart, html_escape, CounterexampleOp,
    CycleEdge, CycleNode,
};
use super::replay_command;
use crate::run::verdict;
use crate::scenario::Scenario;
use crate::sim::RunResult;
use crate::time::SimTime;
use serde_json::Value;
use std::fmt::Write;

const STYLE: &str = "body{font-family:sans-serif;margin:0 auto;max-width:1000px;padding:0 16px 40px;color:#222}\
header{padding:12px 16px;border-radius:6px;margin:16px 0}header.pass{background:#e3f4e1}header.fail{background:#fbe3e1}header.undecided{background:#fbf1d6}\
h1{margin:0 0 4px;font-size:22px}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px}\
th{background:#f4f4f4}code{background:#f4f4f4;padding:1px 4px}section{margin-top:20px}svg{max-width:100%;height:auto}";

/// The page for `result`; `charts` are (title, SVG text) pairs.
pub fn index_html(scenario: &Scenario, result: &RunResult, charts: &[(&str, String)]) -> String {
    let verdict = verdict(scenario, result);
    let mut h = String::new();
    let title = format!("{} — seed {}", scenario.name, result.seed);
    let _ = write!(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n", html_escape(&title));
    let _ = writeln!(
        h,
        "<header class=\"{}\"><h1>{}</h1><div>{}</div></header>",
        verdict.name(),
        html_escape(&title),
        html_escape(&super::verdict_line(
            verdict,
            &scenario.expect,
            crate::run::failed_liveness(scenario, result)
        ))
    );
    if !scenario.description.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", html_escape(&scenario.description));
    }
    summary(&mut h, scenario, result);
    protocol_section(&mut h, scenario, result);
    checks(&mut h, scenario, result);
    for v in &result.violations {
        if let Some(data) = &v.data {
            if data["anomalies"].is_array() {
                isolation(&mut h, &v.check, data);
            } else {
                counterexample(&mut h, &v.check, data);
            }
        }
    }
    let _ = writeln!(h, "<section><h2>Charts</h2>");
    for (name, svg) in charts {
        let _ = writeln!(
            h,
            "<figure><figcaption>{}</figcaption>{}</figure>",
            html_escape(name),
            svg
        );
    }
    let _ = writeln!(h, "</section>");
    faults(&mut h, result);
    let _ = writeln!(h, "<footer><p>Files beside this page: <code>summary.json</code>, <code>history.jsonl</code>, <code>report.md</code>, <code>trace.json</code> (open it in Perfetto or chrome://tracing).</p></footer>\n</body></html>");
    h
}

fn row(h: &mut String, k: &str, v: &str) {
    let _ = writeln!(
        h,
        "<tr><th>{}</th><td>{}</td></tr>",
        html_escape(k),
        html_escape(v)
    );
}

fn summary(h: &mut String, scenario: &Scenario, result: &RunResult) {
    let _ = writeln!(h, "<section><h2>Summary</h2><table>");
    row(
        h,
        "protocol",
        &format!("{}, {} nodes", scenario.protocol.name(), scenario.nodes),
    );
    row(h, "seed", &result.seed.to_string());
    if let Some(mix) = &result.swarm {
        row(h, "swarm mix", mix);
    }
    row(h, "simulated time", &result.sim_time.to_string());
    row(h, "events", &result.events.to_string());
    let n = &result.net;
    row(
        h,
        "messages",
        &format!(
            "sent {}, delivered {}, dropped {}, duplicated {}",
            n.sent,
            n.delivered,
            n.dropped(),
            n.duplicated
        ),
    );
    let m = |k: &str| {
        result
            .metrics
            .get(k)
            .map_or("-".to_string(), |v| v.to_string())
    };
    row(
        h,
        "operations",
        &format!(
            "{} invoked: {} ok, {} fail, {} unknown",
            m("ops_invoked"),
            m("ops_ok"),
            m("ops_fail"),
            m("ops_unknown")
        ),
    );
    row(h, "trace hash", &result.trace_hash);
    row(
        h,
        "replay",
        &replay_command(scenario, result.seed, result.swarm.is_some()),
    );
    let _ = writeln!(h, "</table></section>");
}

/// The protocol's own section, when it has one.
fn protocol_section(h: &mut String, scenario: &Scenario, result: &RunResult) {
    let Some(section) = scenario.protocol.report_section(result) else {
        return;
    };
    let _ = writeln!(
        h,
        "<section><h2>{}</h2><table><tr><th>measure</th><th>value</th><th>what it means</th></tr>",
        html_escape(&section.title)
    );
    for row in &section.rows {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&row.measure),
            html_escape(&row.value),
            html_escape(&row.meaning)
        );
    }
    let _ = writeln!(h, "</table></section>");
}

fn checks(h: &mut String, scenario: &Scenario, result: &RunResult) {
    let _ = writeln!(
        h,
        "<section><h2>Checks</h2><table><tr><th>check</th><th>judged</th><th>result</th></tr>"
    );
    for row in crate::run::check_rows(scenario, result) {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            html_escape(row.name),
            row.kind.name(),
            html_escape(&super::check_state_text(&row))
        );
    }
    let _ = writeln!(h, "</table></section>");
}

fn faults(h: &mut String, result: &RunResult) {
    if result.faults.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<section><h2>Faults</h2><table><tr><th>time</th><th>fault</th></tr>"
    );
    for f in &result.faults {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td></tr>",
            SimTime::from_nanos(f.time_ns),
            html_escape(&f.description)
        );
    }
    let _ = writeln!(h, "</table></section>");
}

/// A linearizability counterexample: the deepest linearizable prefix (green)
/// and the operations that cannot be placed next (red), one row per
/// process, on a time axis.
fn counterexample(h: &mut String, check: &str, data: &Value) {
    let prefix = data["prefix"].as_array().cloned().unwrap_or_default();
    let stuck: Vec<Value> = data["cannot_place"]
        .as_array()
        .map(|a| a.iter().map(|s| s["op"].clone()).collect())
        .unwrap_or_default();
    if prefix.is_empty() && stuck.is_empty() {
        return;
    }
    let op = |o: &Value, stuck: bool| CounterexampleOp {
        process: o["process"].as_i64().unwrap_or(0),
        call_ns: o["call_time"].as_u64().unwrap_or(0),
        return_ns: o["return_time"].as_u64(),
        description: o["description"].as_str().unwrap_or("").to_string(),
        stuck,
    };
    let ops: Vec<CounterexampleOp> = prefix
        .iter()
        .map(|o| op(o, false))
        .chain(stuck.iter().map(|o| op(o, true)))
        .collect();
    let _ = writeln!(
        h,
        "<section><h2>Counterexample: {}</h2>",
        html_escape(check)
    );
    let key = data["key"]
        .as_str()
        .map(|k| format!(" on key {k:?}"))
        .unwrap_or_default();
    let _ = writeln!(h, "<p>The longest linearizable prefix{} (green: its last operations) ends in state <code>{}</code>; none of the red operations can come next.</p>", html_escape(&key), html_escape(data["state_after_prefix"].as_str().unwrap_or("?")));
    if let Some(why) = data["explanation"].as_str() {
        let _ = writeln!(h, "<p><b>Why:</b> {}</p>", html_escape(why));
    }
    let _ = writeln!(h, "{}</section>", counterexample_chart(&ops));
}

/// Isolation anomalies shown at most, each with its diagram.
const ANOMALIES_SHOWN: usize = 3;

/// An isolation check's anomalies (the transaction checker's report): the
/// models ruled out, and the first anomalies the model forbids, each with
/// its cycle drawn (transactions as boxes, labelled edges) and its
/// transactions' operations listed.
fn isolation(h: &mut String, check: &str, data: &Value) {
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect()
    };
    let _ = writeln!(
        h,
        "<section><h2>Isolation anomalies: {}</h2>",
        html_escape(check)
    );
    let _ = writeln!(
        h,
        "<p>Checked against <code>{}</code>; the anomalies rule out: {}.</p>",
        html_escape(data["consistency"].as_str().unwrap_or("?")),
        html_escape(&names(&data["ruled_out"]).join(", "))
    );
    let anomalies = data["anomalies"].as_array().cloned().unwrap_or_default();
    // The first of each class, cycles (which have a diagram) first.
    let mut shown: Vec<&Value> = Vec::new();
    let has_edges = |a: &Value| a["edges"].as_array().is_some_and(|e| !e.is_empty());
    for cycles in [true, false] {
        for a in anomalies.iter().filter(|a| has_edges(a) == cycles) {
            if !shown.iter().any(|s| s["class"] == a["class"]) {
                shown.push(a);
            }
        }
    }
    for a in shown.iter().take(ANOMALIES_SHOWN) {
        let class = a["class"].as_str().unwrap_or("?");
        let _ = writeln!(h, "<h3>{}</h3>", html_escape(class));
        let txns = a["txns"].as_array().cloned().unwrap_or_default();
        let edges: Vec<CycleEdge> = a["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let dep = e["dep"].as_str().unwrap_or("?");
                let label = match (e["key"].as_str(), e["value"].as_i64()) {
                    (Some(k), Some(v)) => format!("{dep}({k}, {v})"),
                    _ => dep.to_string(),
                };
                CycleEdge {
                    from: e["from"].as_u64().unwrap_or(0) as usize,
                    to: e["to"].as_u64().unwrap_or(0) as usize,
                    label,
                }
            })
            .collect();
        if !edges.is_empty() {
            let nodes: Vec<CycleNode> = txns
                .iter()
                .map(|t| CycleNode {
                    index: t["index"].as_u64().unwrap_or(0) as usize,
                    detail: format!("process {}", t["process"].as_i64().unwrap_or(0)),
                })
                .collect();
            let caption = format!("{class}: the cycle of transactions");
            let _ = writeln!(h, "{}", cycle_chart(&caption, &nodes, &edges));
        }
        let _ = writeln!(h, "<ul>");
        for line in names(&a["explanation"]) {
            let _ = writeln!(h, "<li>{}</li>", html_escape(&line));
        }
        let _ = writeln!(h, "</ul>");
        let _ = writeln!(
            h,
            "<table><tr><th>transaction</th><th>process</th><th>operations</th></tr>"
        );
        for t in &txns {
            let _ = writeln!(
                h,
                "<tr><td>T{}</td><td>{}</td><td><code>{}</code></td></tr>",
                t["index"].as_u64().unwrap_or(0),
                t["process"].as_i64().unwrap_or(0),
                html_escape(t["ops"].as_str().unwrap_or(""))
            );
        }
        let _ = writeln!(h, "</table>");
    }
    let listed = shown.len().min(ANOMALIES_SHOWN);
    if anomalies.len() > listed {
        let _ = writeln!(
            h,
            "<p>{} more in <code>summary.json</code>.</p>",
            anomalies.len() - listed
        );
    }
    let _ = writeln!(h, "</section>");
}
