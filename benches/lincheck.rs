//! Benchmark of the linearizability checker on Porcupine's data (issue 4):
//! all 102 etcd histories (cas-register) and all 6 kv histories, each file
//! checked once per run, single-threaded and with the default threads;
//! median of 3 runs. Parsing is timed separately from checking.
//! Run: FAULTLINE_PORCUPINE_DATA=../shared/data/porcupine cargo bench --bench lincheck
#![allow(clippy::disallowed_methods)] // wall-clock timing is the point of a benchmark
use faultline::check::history::parse_file;
use faultline::check::{check_history, CheckOptions, History, ModelKind, Verdict};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The allocator the `faultline` binary uses (cli/Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RUNS: usize = 3;

struct Case {
    name: String,
    model: ModelKind,
    history: History,
}

fn load(dir: &Path) -> (Vec<Case>, Duration) {
    let start = Instant::now(); // determinism: ok (benchmark, not a run)
    let mut cases = Vec::new();
    for sub in ["jepsen", "kv"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
            .expect("data folder")
            .map(|e| e.expect("dir entry").path())
            .collect();
        files.sort();
        for path in files {
            let history = parse_file(&path, None).expect("parse");
            if history.ops.is_empty() {
                continue; // etcd_095 is empty and has no verdict
            }
            let model = if sub == "kv" {
                ModelKind::Kv
            } else {
                ModelKind::CasRegister
            };
            let name = format!(
                "{sub}/{}",
                path.file_name().expect("name").to_string_lossy()
            );
            cases.push(Case {
                name,
                model,
                history,
            });
        }
    }
    (cases, start.elapsed())
}

/// Checks every case once; returns each case's time and verdict letter.
fn run_all(cases: &[Case], threads: usize) -> Vec<(Duration, char)> {
    let opts = CheckOptions {
        threads,
        ..CheckOptions::default()
    };
    cases
        .iter()
        .map(|c| {
            let start = Instant::now(); // determinism: ok (benchmark, not a run)
            let report = check_history(c.model, &c.history, &opts).expect("model fits");
            let verdict = match report.verdict {
                Verdict::Linearizable => 'L',
                Verdict::Illegal(_) => 'I',
                Verdict::Unknown(_) => 'U',
            };
            (start.elapsed(), verdict)
        })
        .collect()
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn peak_rss_mib() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or("VmHWM: ? kB");
    let kb: f64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    format!("{:.0} MiB", kb / 1024.0)
}

fn main() {
    let Some(dir) = std::env::var_os("FAULTLINE_PORCUPINE_DATA") else {
        println!("FAULTLINE_PORCUPINE_DATA is not set. Run: FAULTLINE_PORCUPINE_DATA=../shared/data/porcupine cargo bench --bench lincheck");
        return;
    };
    let (cases, parse_time) = load(Path::new(&dir));
    println!("parsed {} histories in {}", cases.len(), ms(parse_time));
    println!();
    println!("| set | threads | total (median of {RUNS}) | slowest file |");
    println!("|---|---|---|---|");
    for threads in [1usize, 0] {
        let runs: Vec<Vec<(Duration, char)>> =
            (0..RUNS).map(|_| run_all(&cases, threads)).collect();
        report(&cases, &runs, threads, "jepsen/", "all 102 etcd");
        for kv in [
            "kv/c01-ok.txt",
            "kv/c01-bad.txt",
            "kv/c10-ok.txt",
            "kv/c10-bad.txt",
            "kv/c50-ok.txt",
            "kv/c50-bad.txt",
        ] {
            report(&cases, &runs, threads, kv, kv);
        }
    }
    println!();
    println!(
        "peak RSS of the whole benchmark process: {}",
        peak_rss_mib()
    );
}

/// Prints one table row: the median total over the cases whose name starts
/// with `prefix`, and the slowest of them.
fn report(
    cases: &[Case],
    runs: &[Vec<(Duration, char)>],
    threads: usize,
    prefix: &str,
    label: &str,
) {
    let picked: Vec<usize> = (0..cases.len())
        .filter(|&i| cases[i].name.starts_with(prefix))
        .collect();
    let totals: Vec<Duration> = runs
        .iter()
        .map(|r| picked.iter().map(|&i| r[i].0).sum())
        .collect();
    let slowest = picked
        .iter()
        .max_by_key(|&&i| median(runs.iter().map(|r| r[i].0).collect()))
        .copied();
    let slowest = slowest.map_or(String::new(), |i| {
        let verdicts: String = runs.iter().map(|r| r[i].1).collect();
        format!(
            "{} {} ({verdicts})",
            cases[i].name,
            ms(median(runs.iter().map(|r| r[i].0).collect()))
        )
    });
    let threads = if threads == 0 {
        "default".to_string()
    } else {
        threads.to_string()
    };
    println!(
        "| {label} | {threads} | {} | {slowest} |",
        ms(median(totals))
    );
}
