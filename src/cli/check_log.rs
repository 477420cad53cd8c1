//! `faultline check --model log`: a partitioned log's history (producers'
//! sends with the offsets acknowledged, consumers' polls) checked as
//! Jepsen's Kafka checker does, with the exit codes of the other checks:
//! 0 the log kept its order and lost nothing, 1 it did not, 2 bad input.
use super::check::{bad_input, does_not_fit, CheckArgs};
use crate::check::history::History;
use crate::check::log::{self, LogReport};
use serde_json::json;

/// Checks `history` as a log's; returns the exit code.
pub fn run(args: &CheckArgs, history: &History) -> i32 {
    if args.consistency.is_some() || args.initial_value.is_some() {
        return bad_input("--consistency and --initial-value do not apply to --model log");
    }
    let report = match log::check(history) {
        Ok(report) => report,
        Err(err) => return does_not_fit(args, &err),
    };
    let holds = report.holds(args.exactly_once);
    if args.json {
        let mut out = json!(report);
        out["verdict"] = json!(if holds { "held" } else { "violated" });
        out["model"] = json!("log");
        out["exactly_once"] = json!(args.exactly_once);
        out["history"] = json!(args.history.display().to_string());
        println!("{out}");
    } else {
        print_text(&report, args, holds);
    }
    if holds {
        super::EXIT_OK
    } else {
        super::EXIT_VIOLATION
    }
}

fn print_text(r: &LogReport, args: &CheckArgs, holds: bool) {
    println!(
        "log {}  {}: {} sends acknowledged, {} records polled",
        if holds { "holds" } else { "VIOLATED" },
        args.history.display(),
        r.acknowledged,
        r.polled
    );
    let show = |name: &str, count: usize, examples: Vec<String>| {
        if count > 0 {
            let more = count.saturating_sub(examples.len());
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            println!("{name} ({count}): {}{tail}", examples.join("; "));
        }
    };
    let write = |w: &log::Write| match w.offset {
        Some(o) => format!("{} at {}:{o}", w.value, w.key),
        None => format!("{} to {}", w.value, w.key),
    };
    let step = |s: &log::Step| format!("process {} {}:{} -> {}", s.process, s.key, s.from, s.to);
    show(
        "lost-write",
        r.lost_writes.count,
        r.lost_writes.examples.iter().map(write).collect(),
    );
    show(
        "unseen",
        r.unseen.count,
        r.unseen.examples.iter().map(write).collect(),
    );
    show(
        "duplicate",
        r.duplicates.count,
        r.duplicates
            .examples
            .iter()
            .map(|c| format!("{} at {}:{:?}", c.values[0], c.key, c.offsets))
            .collect(),
    );
    show(
        "inconsistent-offsets",
        r.inconsistent_offsets.count,
        r.inconsistent_offsets
            .examples
            .iter()
            .map(|c| format!("{}:{} holds {:?}", c.key, c.offsets[0], c.values))
            .collect(),
    );
    show(
        "poll-skip",
        r.poll_skips.count,
        r.poll_skips
            .examples
            .iter()
            .map(|s| format!("{} skipping {:?}", step(&s.step), s.skipped))
            .collect(),
    );
    show(
        "nonmonotonic-poll",
        r.nonmonotonic_polls.count,
        r.nonmonotonic_polls.examples.iter().map(step).collect(),
    );
    show(
        "nonmonotonic-send",
        r.nonmonotonic_sends.count,
        r.nonmonotonic_sends.examples.iter().map(step).collect(),
    );
}
