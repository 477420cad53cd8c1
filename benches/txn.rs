//! Benchmark of the list-append transaction checker (issue 14): histories
//! of 10,000, 100,000 and 1,000,000 transactions of 1 to 4 micro-ops over
//! 1,000 keys, run by 10 concurrent processes against a strictly
//! serializable store (so every check must hold), written as Jepsen EDN.
//! Each size is checked in a fresh child process (so its peak resident
//! memory is its own), three times, the sizes interleaved; the table shows
//! the median and the range of CPU time (user + system, from
//! `/proc/self/stat`) for parsing and for checking, and the peak RSS.
//! Run: cargo bench --bench txn
#![allow(clippy::disallowed_methods)] // CPU time and child processes are the point of a benchmark
mod common;
use common::cpu_seconds;
use faultline::check::history::parse_str;
use faultline::check::txn::{check_list_append, Consistency, TxnVerdict};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

/// The allocator the `faultline` binary uses (cli/Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RUNS: usize = 3;
const KEYS: u64 = 1_000;
const PROCESSES: usize = 10;
/// Appends a key takes before it is retired, in the rotating histories.
const APPENDS_PER_KEY: u64 = 32;
const CHILD: &str = "FAULTLINE_TXN_BENCH_CASE";

/// A small deterministic generator (SplitMix64): the benchmark needs the
/// same history every run, not the simulator's streams.
struct Mix(u64);

impl Mix {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// A strictly serializable history of `n` transactions as EDN: the
/// transactions take effect one at a time, 10 time units apart; each is
/// invoked up to 40 units before and completes up to 40 after, and
/// transaction `i` runs on process `i % 10`, so a process's transactions
/// never overlap while ten are in flight at once.
///
/// With `rotate`, a key that has had [`APPENDS_PER_KEY`] appends is retired
/// and its slot gets a fresh key, as Jepsen's generator does
/// (`:max-writes-per-key`), so reads stay short; without, the 1,000 keys
/// live for the whole history and every read returns a list that grows
/// with it (the input grows with the square of the length).
fn history(n: usize, rotate: bool) -> String {
    let mut rng = Mix(0x5eed);
    let mut lists: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut slots: Vec<u64> = (0..KEYS).collect();
    let mut next_key = KEYS;
    let mut next_element = 0u64;
    let mut lines: Vec<(u64, String)> = Vec::with_capacity(2 * n);
    for i in 0..n {
        let at = 100 + 10 * i as u64;
        let mut invoke = String::from("[");
        let mut done = String::from("[");
        for _ in 0..1 + rng.below(4) {
            let slot = rng.below(KEYS) as usize;
            let key = slots[slot];
            if rng.below(2) == 0 {
                next_element += 1;
                let list = lists.entry(key).or_default();
                list.push(next_element);
                if rotate && list.len() as u64 == APPENDS_PER_KEY {
                    slots[slot] = next_key;
                    next_key += 1;
                }
                let m = format!("[:append {key} {next_element}]");
                invoke.push_str(&m);
                done.push_str(&m);
            } else {
                let list = lists.get(&key).map_or(&[][..], |l| &l[..]);
                let _ = write!(invoke, "[:r {key} nil]");
                let _ = write!(done, "[:r {key} {list:?}]");
            }
        }
        let process = i % PROCESSES;
        let start = at - rng.below(40);
        let end = at + rng.below(40);
        lines.push((
            start,
            format!(
                "{{:type :invoke, :process {process}, :f :txn, :value {invoke}], :time {start}}}"
            ),
        ));
        lines.push((
            end,
            format!("{{:type :ok, :process {process}, :f :txn, :value {done}], :time {end}}}"),
        ));
    }
    lines.sort_by_key(|(t, _)| *t);
    let mut text = String::new();
    for (_, line) in lines {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The cases, each run in its own process: (transactions, rotate keys).
const CASES: [(usize, bool); 5] = [
    (10_000, false),
    (100_000, false),
    (10_000, true),
    (100_000, true),
    (1_000_000, true),
];

/// Child mode: check one case, print "parse_s check_s rss_mib steps mib_of_text".
fn child(case: usize) {
    let (n, rotate) = CASES[case];
    let text = history(n, rotate);
    let text_mib = text.len() as f64 / (1024.0 * 1024.0);
    let before = cpu_seconds();
    let parsed = parse_str(&text, None, "bench.edn").expect("the generated history parses");
    drop(text);
    let parsed_at = cpu_seconds();
    let report = check_list_append(parsed, Consistency::StrictSerializable, u64::MAX)
        .expect("the generated history fits list-append");
    let checked_at = cpu_seconds();
    assert_eq!(
        report.verdict,
        TxnVerdict::Held,
        "a serial history must hold: {:?}",
        report.anomalies.first()
    );
    println!(
        "{} {} {} {} {}",
        parsed_at - before,
        checked_at - parsed_at,
        peak_rss_mib(),
        report.steps,
        text_mib
    );
}

fn main() {
    if let Some(case) = std::env::var(CHILD).ok().and_then(|v| v.parse().ok()) {
        return child(case);
    }
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let mut results: BTreeMap<usize, Vec<Vec<f64>>> = BTreeMap::new();
    for run in 0..RUNS {
        for (case, shape) in CASES.iter().enumerate() {
            let out = Command::new(&exe)
                .env(CHILD, case.to_string())
                .output()
                .expect("run the child");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout);
            eprintln!("run {run} case {shape:?}: {}", text.trim());
            let nums: Vec<f64> = text
                .split_whitespace()
                .map(|v| v.parse().expect("a number"))
                .collect();
            results.entry(case).or_default().push(nums);
        }
    }
    println!("| transactions | keys | history MiB | parse CPU s, median (range) | check CPU s, median (range) | peak RSS MiB, median | steps |");
    println!("|---|---|---|---|---|---|---|");
    for (case, runs) in &results {
        let (n, rotate) = CASES[*case];
        let column = |i: usize| {
            let mut xs: Vec<f64> = runs.iter().map(|r| r[i]).collect();
            xs.sort_by(f64::total_cmp);
            (xs[xs.len() / 2], xs[0], xs[xs.len() - 1])
        };
        let (p, p0, p1) = column(0);
        let (c, c0, c1) = column(1);
        let (m, _, _) = column(2);
        let keys = if rotate {
            "1,000 live, 32 appends each"
        } else {
            "1,000"
        };
        println!(
            "| {n} | {keys} | {:.0} | {p:.2} ({p0:.2}-{p1:.2}) | {c:.2} ({c0:.2}-{c1:.2}) | {m:.0} | {} |",
            runs[0][4], runs[0][3]
        );
    }
}
