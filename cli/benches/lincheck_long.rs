//! The end-of-run linearizability check on long runs (issue 11): checker
//! CPU time and counted memory against history length, with and without
//! the unique-writes procedure, under the run's default budget (50 M
//! steps, 1 GiB, one thread); a planted stale read in the longest
//! history; and `faultline check --timeout` against its deadline.
//!
//! Histories come from real runs (raft-calm with 32 clients stretched from
//! 10 s to 640 s, 600 s with 320 clients, the quorum store with 500
//! clients), written as `history.jsonl` and read back as `faultline check`
//! reads them. CPU time is the checking thread's own
//! (CLOCK_THREAD_CPUTIME_ID), the sizes interleaved round-robin over
//! `--reps` repetitions; the table gives the median and the range.
//!
//! Run: cargo bench --bench lincheck_long [-- --reps 5]
#![allow(clippy::disallowed_methods)] // timing is the point of a benchmark
use faultline::check::history::parse_str;
use faultline::check::value::Value;
use faultline::check::{check_history, CheckOptions, History, ModelKind, Verdict};
use faultline::process::CheckBudget;
use faultline::run::{run, RunOptions};
use faultline::scenario::Scenario;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The allocator the `faultline` binary uses (cli/Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The calling thread's CPU time in seconds.
fn thread_cpu_s() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: a valid pointer to a timespec, a clock Linux knows.
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.sec as f64 + t.nsec as f64 * 1e-9
}

/// A history from a run of `text` (a scenario), as `faultline check` reads it.
fn history_of(text: &str) -> History {
    let scenario = Scenario::parse(text, "bench.toml").expect("scenario");
    let result = run(&scenario, scenario.default_seed, RunOptions::default());
    let mut jsonl = Vec::new();
    faultline::history::write_jsonl(&result.history, &mut jsonl).expect("write");
    parse_str(&String::from_utf8(jsonl).expect("utf8"), None, "bench").expect("parse")
}

fn raft_calm(duration_s: u64, clients: usize) -> String {
    let text = std::fs::read_to_string(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join("scenarios/raft-calm.toml"),
    )
    .expect("raft-calm");
    text.replace(
        "duration = \"10s\"",
        &format!("duration = \"{duration_s}s\""),
    )
    .replace("clients = 3", &format!("clients = {clients}"))
    .replace("seed = 1", "seed = 1\nmax_history_ops = 4000000")
}

const QUORUM_500: &str = r#"
name = "quorum-500"
protocol = "quorum"
nodes = 5
duration = "20s"
seed = 1
[store]
keys = 2
read_ratio = 0.5
[quorum]
r = 3
w = 3
[network]
latency = { dist = "uniform", min = "1ms", max = "5ms" }
[[faults]]
at = "5s"
action = "partition"
name = "split"
shape = "split"
[[faults]]
at = "13s"
action = "heal"
name = "split"
[workload]
clients = 500
interval = "20ms"
timeout = "1s"
[checks]
settle = "3s"
"#;

/// How a case is checked: with the unique-writes procedure or by search
/// alone, and under which memory budget (the run's default: 1 GiB).
#[derive(Clone, Copy)]
struct Mode {
    unique_writes: bool,
    memory_bytes: usize,
}

const DEFAULT: Mode = Mode {
    unique_writes: true,
    memory_bytes: 1 << 30,
};

/// One measurement: CPU seconds, steps, counted peak bytes, verdict letter.
fn measure(history: &History, mode: Mode) -> (f64, u64, usize, char) {
    let opts = CheckOptions {
        unique_writes: mode.unique_writes,
        memory_bytes_max: mode.memory_bytes,
        ..CheckBudget::default().options()
    };
    let before = thread_cpu_s();
    let report = check_history(ModelKind::Kv, history, &opts).expect("fits the kv model");
    let cpu = thread_cpu_s() - before;
    let letter = match report.verdict {
        Verdict::Linearizable => 'L',
        Verdict::Illegal(_) => 'I',
        Verdict::Unknown(_) => 'U',
    };
    (cpu, report.steps, report.memory_bytes_peak, letter)
}

fn median_range(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[xs.len() / 2], xs[0], xs[xs.len() - 1])
}

fn main() {
    let reps: usize = std::env::args()
        .skip_while(|a| a != "--reps")
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    println!("## Checker time against history length (raft-calm, 32 clients)\n");
    let mut cases: Vec<(String, History, Mode)> = Vec::new();
    let search_only = Mode {
        unique_writes: false,
        ..DEFAULT
    };
    for factor in [1u64, 2, 4, 8, 16, 32, 64] {
        let h = history_of(&raft_calm(10 * factor, 32));
        cases.push((format!("{factor}x ({} s)", 10 * factor), h.clone(), DEFAULT));
        if factor <= 4 {
            let name = format!("{factor}x ({} s), search only", 10 * factor);
            cases.push((name, h, search_only));
        }
    }
    let crowded = history_of(&raft_calm(600, 320));
    cases.push(("600 s, 320 clients".into(), crowded.clone(), DEFAULT));
    let roomy = Mode {
        memory_bytes: 2 << 30,
        ..DEFAULT
    };
    assert_eq!(
        DEFAULT.memory_bytes,
        CheckBudget::default().memory_bytes,
        "the run's default"
    );
    cases.push(("600 s, 320 clients, 2 GiB budget".into(), crowded, roomy));
    cases.push((
        "quorum, 500 clients, 20 s".into(),
        history_of(QUORUM_500),
        DEFAULT,
    ));
    let mut samples: Vec<Vec<(f64, u64, usize, char)>> = vec![Vec::new(); cases.len()];
    for _ in 0..reps {
        for (i, (_, h, mode)) in cases.iter().enumerate() {
            samples[i].push(measure(h, *mode));
        }
    }
    println!("| history | ops | verdict | steps | checker CPU ms, median (min-max) | ns per op | counted memory MiB |");
    println!("|---|---:|---|---:|---|---:|---:|");
    for ((name, h, _), s) in cases.iter().zip(&samples) {
        let (med, lo, hi) = median_range(s.iter().map(|x| x.0 * 1e3).collect());
        let verdicts: String = s.iter().map(|x| x.3).collect();
        println!(
            "| {name} | {} | {verdicts} | {} | {med:.1} ({lo:.1}-{hi:.1}) | {:.0} | {:.1} |",
            h.ops.len(),
            s[0].1,
            med * 1e6 / h.ops.len().max(1) as f64,
            s[0].2 as f64 / (1 << 20) as f64
        );
    }
    let longest = cases.iter().find(|c| c.0.starts_with("64x")).map(|c| &c.1);
    planted_stale_read(longest.expect("the 64x case"));
    deadline_accuracy();
}

/// Replaces a read in the middle of the history by the value its key held
/// two writes earlier, after a later write of the key had completed.
fn planted_stale_read(history: &History) {
    let mut h = history.clone();
    let mid = h.ops.len() / 2;
    let (mut target, mut stale) = (None, None);
    'search: for i in mid..h.ops.len() {
        if h.ops[i].f != "get" || h.ops[i].output.is_none() {
            continue;
        }
        let key = h.ops[i].key.clone();
        let begin = h.ops[i].call_time;
        let puts: Vec<&Value> = h.ops[..i]
            .iter()
            .filter(|o| o.key == key && o.f == "put")
            .filter(|o| o.return_time.is_some_and(|r| r < begin))
            .map(|o| &o.input)
            .collect();
        if puts.len() >= 2 {
            target = Some(i);
            stale = Some(puts[puts.len() - 2].clone());
            break 'search;
        }
    }
    let (Some(i), Some(value)) = (target, stale) else {
        println!("\n(no read to plant a stale value in)");
        return;
    };
    h.ops[i].output = Some(value);
    let (cpu, steps, _, letter) = measure(&h, DEFAULT);
    let report = check_history(ModelKind::Kv, &h, &CheckBudget::default().options())
        .expect("fits the kv model");
    println!(
        "\n## A planted stale read\n\nop #{i} of {} in the 640 s history: verdict {letter} in {:.1} ms CPU ({steps} steps), counterexample:\n",
        h.ops.len(),
        cpu * 1e3
    );
    if let Verdict::Illegal(cx) = report.verdict {
        println!("```\n{cx}```");
    }
}

/// `faultline check --timeout T` on a history the search cannot decide:
/// how long the command takes, wall clock, against T.
fn deadline_accuracy() {
    let writes = 26;
    let mut lines = Vec::new();
    for p in 0..=writes {
        let (f, v) = if p == writes {
            ("read", "null".to_string())
        } else {
            ("write", (p / 2).to_string())
        };
        lines.push(format!(
            r#"{{"process": {p}, "type": "invoke", "f": "{f}", "value": {v}, "time_ns": {p}}}"#
        ));
    }
    for p in 0..=writes {
        let (f, v) = if p == writes {
            ("read", "999".to_string())
        } else {
            ("write", (p / 2).to_string())
        };
        lines.push(format!(
            r#"{{"process": {p}, "type": "ok", "f": "{f}", "value": {v}, "time_ns": {}}}"#,
            1000 + p
        ));
    }
    let path = std::env::temp_dir().join("faultline-bench-hard.jsonl");
    std::fs::write(&path, lines.join("\n")).expect("write");
    println!("\n## `faultline check --timeout` (wall clock of the whole command)\n");
    println!("| --timeout | wall, median (min-max) over 5 | over the timeout |");
    println!("|---|---|---|");
    for timeout_s in [0.5f64, 1.0, 2.0] {
        let mut walls = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let status = Command::new(env!("CARGO_BIN_EXE_faultline"))
                .args([
                    "check",
                    path.to_str().unwrap_or_default(),
                    "--model",
                    "register",
                ])
                .args([
                    "--memory",
                    "8GiB",
                    "--timeout",
                    &format!("{}ms", timeout_s * 1e3),
                ])
                .output()
                .expect("run faultline");
            assert_eq!(status.status.code(), Some(3));
            walls.push(start.elapsed().as_secs_f64());
        }
        let (med, lo, hi) = median_range(walls);
        println!(
            "| {timeout_s} s | {med:.3} s ({lo:.3}-{hi:.3}) | {:+.1}% (worst {:+.1}%) |",
            (med / timeout_s - 1.0) * 100.0,
            (hi / timeout_s - 1.0) * 100.0
        );
    }
}
