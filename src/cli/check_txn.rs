//! `faultline check --model list-append|rw-register`: isolation anomalies of a
//! transaction history (issue 14), with the exit-code contract of the
//! linearizability check: 0 the consistency model holds, 1 an anomaly it
//! forbids was found, 2 bad input, 3 undecided (the step budget ran out).
// The wall clock is read for the elapsed time shown to the user only.
#![allow(clippy::disallowed_methods)]
use super::check::{deadline, does_not_fit, peak_rss_bytes, CheckArgs, ConsistencyArg};
use crate::check::history::History;
use crate::check::txn::{self, Consistency, TxnBudget, TxnReport, TxnVerdict, Workload};
use crate::check::Exhausted;
use serde_json::json;
use std::time::Instant;

/// The step budget when `--steps` is not given: edges looked at, about a
/// second of search; histories of 100,000 transactions need a few million.
pub const DEFAULT_TXN_STEPS: u64 = 200_000_000;

impl ConsistencyArg {
    fn model(self) -> Consistency {
        match self {
            ConsistencyArg::ReadCommitted => Consistency::ReadCommitted,
            ConsistencyArg::SnapshotIsolation => Consistency::SnapshotIsolation,
            ConsistencyArg::Serializable => Consistency::Serializable,
            ConsistencyArg::StrongSessionSerializable => Consistency::StrongSessionSerializable,
            ConsistencyArg::StrictSerializable => Consistency::StrictSerializable,
        }
    }
}

/// Checks `history` as transactions of the `--model` workload; returns
/// the exit code.
/// `counted_max` is the part of `--memory` the checker's own structures
/// may take (the history was counted against it as it was read; it is
/// freed as the transactions are read, and the graph's edges take its
/// place).
pub fn run(
    args: &CheckArgs,
    workload: Workload,
    history: History,
    started: Instant,
    counted_max: usize,
) -> i32 {
    let consistency = args
        .consistency
        .map_or(Consistency::Serializable, ConsistencyArg::model);
    let budget = TxnBudget {
        steps_max: args.steps.unwrap_or(DEFAULT_TXN_STEPS),
        graph_bytes_max: counted_max as u64,
        deadline: Some(deadline(args, started)),
    };
    let report = match txn::check(history, workload, consistency, &budget) {
        Ok(report) => report,
        Err(err) => return does_not_fit(args, &err),
    };
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    if args.json {
        let mut out = json!(report);
        out["model"] = json!(workload.name());
        out["history"] = json!(args.history.display().to_string());
        out["elapsed_ms"] = json!(elapsed_ms);
        out["peak_rss_bytes"] = json!(peak_rss_bytes());
        println!("{out}");
    } else {
        print_text(&report, args, elapsed_ms);
    }
    match report.verdict {
        TxnVerdict::Held => super::EXIT_OK,
        TxnVerdict::Violated => super::EXIT_VIOLATION,
        TxnVerdict::Undecided => super::EXIT_UNKNOWN,
    }
}

fn print_text(report: &TxnReport, args: &CheckArgs, elapsed_ms: f64) {
    let verdict = match (report.verdict, report.budget) {
        (TxnVerdict::Held, _) => "holds",
        (TxnVerdict::Violated, _) => "VIOLATED",
        (_, Some(Exhausted::Timeout { .. })) => "undecided (--timeout passed)",
        (_, Some(Exhausted::Memory { .. })) => "undecided (the dependency graph outgrew --memory)",
        _ => "undecided (the step budget ran out)",
    };
    println!(
        "{} {verdict}  {}: {} transactions, {} steps, {elapsed_ms:.1} ms",
        report.consistency.name(),
        args.history.display(),
        report.transactions,
        report.steps
    );
    if !report.ruled_out.is_empty() {
        let names: Vec<&str> = report.ruled_out.iter().map(|m| m.name()).collect();
        println!("ruled out: {}", names.join(", "));
    }
    for a in &report.anomalies {
        let txns: Vec<String> = a
            .txns
            .iter()
            .map(|t| format!("T{} (line {}, process {})", t.index, t.line, t.process))
            .collect();
        println!("{}: {}", a.class, txns.join(", "));
        for line in &a.explanation {
            println!("    {line}");
        }
    }
}
