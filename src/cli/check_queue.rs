//! `faultline check --model queue`: a queue history (Jepsen's total-queue
//! workload, or faultline's JSON lines) tallied for lost, unexpected and
//! duplicated values, with the exit codes of the other checks: 0 the
//! queue kept its promise, 1 it did not, 2 bad input.
use super::check::{bad_input, does_not_fit, CheckArgs};
use crate::check::history::History;
use crate::check::queue::{self, Tally, LISTED_MAX};
use serde_json::json;

/// Checks `history` as a queue's; returns the exit code.
pub fn run(args: &CheckArgs, history: &History) -> i32 {
    if args.consistency.is_some() || args.initial_value.is_some() {
        return bad_input("--consistency and --initial-value do not apply to --model queue");
    }
    let tally = match queue::check(history) {
        Ok(tally) => tally,
        Err(err) => return does_not_fit(args, &err),
    };
    let holds = tally.holds(args.exactly_once);
    if args.json {
        let mut out = json!(tally);
        out["verdict"] = json!(if holds { "held" } else { "violated" });
        out["model"] = json!("queue");
        out["exactly_once"] = json!(args.exactly_once);
        out["history"] = json!(args.history.display().to_string());
        println!("{out}");
    } else {
        print_text(&tally, args, holds);
    }
    if holds {
        super::EXIT_OK
    } else {
        super::EXIT_VIOLATION
    }
}

fn print_text(t: &Tally, args: &CheckArgs, holds: bool) {
    let promise = if args.exactly_once {
        "exactly-once"
    } else {
        "at-least-once"
    };
    println!(
        "queue ({promise}) {}  {}: {} enqueues attempted, {} acknowledged, {} values dequeued, {} recovered",
        if holds { "holds" } else { "VIOLATED" },
        args.history.display(),
        t.attempted,
        t.acknowledged,
        t.delivered,
        t.recovered
    );
    let list = |values: &[i64], count: usize| queue::values_text(values, count, LISTED_MAX);
    if t.lost_count > 0 {
        println!("lost ({}): {}", t.lost_count, list(&t.lost, t.lost_count));
    }
    if t.unexpected_count > 0 {
        println!(
            "unexpected ({}): {}",
            t.unexpected_count,
            list(&t.unexpected, t.unexpected_count)
        );
    }
    if t.duplicated_count > 0 {
        let shown: Vec<String> = t
            .duplicated
            .iter()
            .map(|(v, n)| format!("{v} x{n}"))
            .collect();
        println!("duplicated ({}): {}", t.duplicated_count, shown.join(", "));
    }
}
