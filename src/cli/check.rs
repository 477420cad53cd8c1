//! `faultline check`: linearizability of a history file (issue 4). Turns
//! the raw flags into a validated plan (model, format, budgets), runs the
//! checker and maps its answer to the exit-code contract: 0 linearizable,
//! 1 not linearizable, 2 bad input, 3 unknown (a budget ran out). The
//! wall-clock `--timeout` counts from the start of the command (reading the
//! file included) and is handed to the checker as a deadline; `--memory`
//! bounds the checker's structures, and the peak resident memory of the
//! whole process is reported beside it.
// The wall clock is read here, outside any simulated run, for `--timeout`
// and the elapsed time shown to the user.
#![allow(clippy::disallowed_methods)]
use crate::check::history::{parse_file_within, Format, HistoryError};
use crate::check::models::{Conventions, NilRead};
use crate::check::txn::Workload;
use crate::check::units::{parse_duration, parse_size};
use crate::check::{check_history, CheckOptions, CheckReport, Deadline, ModelKind, Verdict};
use clap::{Args, ValueEnum};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `faultline check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The history file to check.
    pub history: PathBuf,
    /// The sequential model to check against.
    #[arg(long, value_enum)]
    pub model: ModelArg,
    /// The history's format; `auto` sniffs it from the first line.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatArg,
    /// Time budget, e.g. 150ms, 10s, 2m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Memory budget, at least 64MiB, e.g. 512MiB, 1GiB: a bound on the
    /// whole command's peak resident memory. The checker counts its own
    /// structures (the history, every search) against seven eighths of it,
    /// less 40 MiB for the program and its allocator's caches.
    #[arg(long, default_value = "1GiB", value_parser = parse_memory)]
    pub memory: usize,
    /// A deterministic budget of search steps (the same history gives the
    /// same verdict on every machine); none by default.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Worker threads (0 = one per core, 1 = sequential).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// The value every register holds before its first write (register
    /// models only). faultline's histories start at nil (the default);
    /// Knossos's `(cas-register 0)`, which Jepsen's register tests use,
    /// starts at 0: pass `--initial-value 0` for its histories.
    #[arg(long, allow_negative_numbers = true)]
    pub initial_value: Option<i64>,
    /// What a read that returned nil means (register models only):
    /// `value`, the register held nil (faultline's convention, the
    /// default), or `unknown`, the read learned nothing and constrains
    /// nothing (Knossos's convention).
    #[arg(long, value_enum, default_value = "value")]
    pub nil_read: NilReadArg,
    /// The consistency model a transaction history is checked against
    /// (default: serializable); `--model list-append` and `rw-register` only.
    #[arg(long, value_enum)]
    pub consistency: Option<ConsistencyArg>,
    /// With `--model queue`: a value dequeued twice is a violation (by
    /// default it is reported, as at-least-once delivery allows it); with
    /// `--model log`, a value at two offsets.
    #[arg(long)]
    pub exactly_once: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `--consistency` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ConsistencyArg {
    /// No G0, G1a, G1b, G1c.
    ReadCommitted,
    /// Also no G-single.
    SnapshotIsolation,
    /// No dependency cycle at all (no G2).
    Serializable,
    /// Serializable in an order that respects each process's own order.
    StrongSessionSerializable,
    /// Serializable in an order that respects real time.
    StrictSerializable,
}

/// `--nil-read` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NilReadArg {
    /// A nil read says the register held nil.
    Value,
    /// A nil read says nothing: the value is unknown (Knossos).
    Unknown,
}

/// `--model` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModelArg {
    /// Read/write register.
    Register,
    /// Read/write/compare-and-set register.
    CasRegister,
    /// Key-value store, get/put/append, partitioned by key.
    Kv,
    /// Transactions of list appends and reads (Jepsen's list-append),
    /// checked for isolation anomalies against `--consistency`.
    ListAppend,
    /// Transactions of register writes (each value unique per key) and
    /// reads (Jepsen's rw-register), checked against `--consistency`.
    RwRegister,
    /// A queue's enqueues, dequeues and drains (Jepsen's total-queue):
    /// lost, unexpected and duplicated values (`--exactly-once`).
    Queue,
    /// A partitioned log's sends and polls (Jepsen's Kafka workload): lost
    /// writes, unseen, duplicates (`--exactly-once`), inconsistent
    /// offsets, poll skips, nonmonotonic polls and sends.
    Log,
}

/// `--format` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// Detect from the first non-blank line.
    Auto,
    /// faultline JSON lines.
    Json,
    /// Jepsen EDN operations.
    Edn,
    /// Jepsen log lines (`INFO jepsen.util - ...`).
    JepsenLog,
}

/// What a `--model` checks: one object's linearizability or transactions'
/// isolation.
enum Checked {
    Linearizable(ModelKind),
    Transactions(Workload),
    Queue,
    Log,
}

impl ModelArg {
    fn checked(self) -> Checked {
        match self {
            ModelArg::Register => Checked::Linearizable(ModelKind::Register),
            ModelArg::CasRegister => Checked::Linearizable(ModelKind::CasRegister),
            ModelArg::Kv => Checked::Linearizable(ModelKind::Kv),
            ModelArg::ListAppend => Checked::Transactions(Workload::ListAppend),
            ModelArg::RwRegister => Checked::Transactions(Workload::RwRegister),
            ModelArg::Queue => Checked::Queue,
            ModelArg::Log => Checked::Log,
        }
    }

    /// The command-line name.
    pub(super) fn name(self) -> &'static str {
        match self.checked() {
            Checked::Linearizable(kind) => kind.name(),
            Checked::Transactions(workload) => workload.name(),
            Checked::Queue => "queue",
            Checked::Log => "log",
        }
    }
}

impl FormatArg {
    fn format(self) -> Option<Format> {
        match self {
            FormatArg::Auto => None,
            FormatArg::Json => Some(Format::Json),
            FormatArg::Edn => Some(Format::Edn),
            FormatArg::JepsenLog => Some(Format::JepsenLog),
        }
    }
}

impl CheckArgs {
    /// The register conventions the flags ask for, or why they do not
    /// apply to the chosen model.
    fn conventions(&self) -> Result<Conventions, String> {
        let nil_read = match self.nil_read {
            NilReadArg::Value => NilRead::Value,
            NilReadArg::Unknown => NilRead::Unknown,
        };
        let conventions = Conventions {
            initial: self.initial_value,
            nil_read,
        };
        let register = matches!(self.model, ModelArg::Register | ModelArg::CasRegister);
        if !register && conventions != Conventions::default() {
            return Err(format!(
                "--initial-value and --nil-read unknown apply to --model register and cas-register only, not {}",
                self.model.name()
            ));
        }
        Ok(conventions)
    }
}

/// Runs `faultline check` and returns its exit code.
pub fn run(args: CheckArgs) -> i32 {
    let started = Instant::now();
    let register = match args.conventions() {
        Ok(conventions) => conventions,
        Err(message) => return bad_input(&message),
    };
    let counted_max = counted_budget(args.memory);
    let history = match parse_file_within(&args.history, args.format.format(), counted_max) {
        Ok(history) => history,
        Err(err @ HistoryError::TooLarge { .. }) => return too_large(&err, &args, started),
        Err(err) => return bad_input(&err.to_string()),
    };
    let kind = match args.model.checked() {
        Checked::Linearizable(kind) => kind,
        Checked::Transactions(workload) => {
            return super::check_txn::run(&args, workload, history, started, counted_max)
        }
        Checked::Queue => return super::check_queue::run(&args, &history),
        Checked::Log => return super::check_log::run(&args, &history),
    };
    if args.exactly_once {
        return bad_input("--exactly-once applies to --model queue and log only");
    }
    if args.consistency.is_some() {
        return bad_input("--consistency applies to --model list-append and rw-register only");
    }
    let opts = CheckOptions {
        steps_max: args.steps,
        memory_bytes_max: counted_max,
        threads: args.threads,
        deadline: Some(deadline(&args, started)),
        unique_writes: true,
        register,
    };
    let report = match check_history(kind, &history, &opts) {
        Ok(report) => report,
        Err(err) => return does_not_fit(&args, &err),
    };
    let verdict = exit_code(&report.verdict);
    let measured = Measured {
        elapsed: started.elapsed(),
        peak_rss_bytes: peak_rss_bytes(),
    };
    if args.json {
        println!("{}", to_json(&report, &args, &measured));
    } else {
        print_text(&report, &args, &measured);
    }
    verdict
}

/// What the command measured about itself.
struct Measured {
    elapsed: Duration,
    /// The process's peak resident memory, where the system reports it.
    peak_rss_bytes: Option<u64>,
}

/// The peak resident set size of this process (Linux: `VmHWM`).
pub(super) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Memory the program needs besides what the checker counts: what it
/// holds before the check (its code and startup: 12 MiB for a tiny
/// history in a release build, 21 MiB in the debug build `cargo test`
/// runs), and up to about 25 MiB more that the allocator (mimalloc) keeps
/// of freed blocks before returning them (measured with the hard history
/// of tests/lincheck_cli.rs, whose peak passed a 96 MiB budget by 45 KiB
/// with 32 MiB here). A constant, not a measurement, so that a verdict
/// under `--memory` does not depend on the build.
const PROGRAM_BYTES: usize = 40 << 20;
/// The smallest `--memory`.
const MEMORY_MIN: usize = 64 << 20;

/// `--memory`: a size of at least [`MEMORY_MIN`].
fn parse_memory(text: &str) -> Result<usize, String> {
    let bytes = parse_size(text)?;
    if bytes < MEMORY_MIN {
        return Err(format!(
            "expected at least 64MiB, found `{text}`: the program itself needs about 10 MiB"
        ));
    }
    Ok(bytes)
}

/// The part of `--memory` the checker counts its structures against:
/// seven eighths, less the program's own memory. The counts come from the
/// structures' capacities (resizes and outgrown buffers included); the
/// eighth left covers the allocator's rounding, so the process's real peak
/// stays under `--memory`.
fn counted_budget(memory: usize) -> usize {
    (memory / 8 * 7).saturating_sub(PROGRAM_BYTES)
}

/// `--timeout` from the command's start, as the checkers take it.
pub(super) fn deadline(args: &CheckArgs, started: Instant) -> Deadline {
    let timeout = args.timeout;
    Deadline {
        budget_ms: timeout.as_millis() as u64,
        expired: Arc::new(move || started.elapsed() >= timeout),
    }
}

/// The history does not fit the memory budget: undecided, exit 3.
fn too_large(err: &HistoryError, args: &CheckArgs, started: Instant) -> i32 {
    let reason = err.to_string();
    if args.json {
        // The transaction check names its third answer "undecided".
        let verdict = match args.model.checked() {
            Checked::Transactions(_) | Checked::Queue | Checked::Log => "undecided",
            Checked::Linearizable(_) => "unknown",
        };
        let out = json!({
            "verdict": verdict,
            "model": args.model.name(),
            "history": args.history.display().to_string(),
            "reason": reason,
            "budget": {"budget": "memory", "budget_bytes": args.memory},
            "elapsed_ms": started.elapsed().as_secs_f64() * 1e3,
            "peak_rss_bytes": peak_rss_bytes(),
            "memory_budget_bytes": args.memory,
        });
        println!("{out}");
    } else {
        println!("unknown ({reason})");
    }
    super::EXIT_UNKNOWN
}

/// An op that does not fit the model: bad input naming file and line.
pub(super) fn does_not_fit(args: &CheckArgs, err: &crate::check::ModelError) -> i32 {
    bad_input(&format!(
        "{}:{}: {}",
        args.history.display(),
        err.line,
        crate::clip::clip_long_values(&err.message)
    ))
}

pub(super) fn bad_input(message: &str) -> i32 {
    eprintln!("error: {message}");
    super::EXIT_BAD_INPUT
}

fn exit_code(verdict: &Verdict) -> i32 {
    match verdict {
        Verdict::Linearizable => super::EXIT_OK,
        Verdict::Illegal(_) => super::EXIT_VIOLATION,
        Verdict::Unknown(_) => super::EXIT_UNKNOWN,
    }
}

fn to_json(report: &CheckReport, args: &CheckArgs, measured: &Measured) -> serde_json::Value {
    let mut out = json!({
        "verdict": verdict_name(&report.verdict),
        "model": report.model,
        "history": args.history.display().to_string(),
        "ops": report.ops,
        "partitions": report.partitions,
        "partitions_unique": report.partitions_unique,
        "searched_because": report.searched_because,
        "steps": report.steps,
        "elapsed_ms": measured.elapsed.as_secs_f64() * 1e3,
        "peak_rss_bytes": measured.peak_rss_bytes,
        "memory_budget_bytes": args.memory,
        "memory_bytes_peak": report.memory_bytes_peak,
    });
    match &report.verdict {
        Verdict::Illegal(cx) => out["counterexample"] = json!(cx),
        Verdict::Unknown(reason) => {
            out["reason"] = json!(reason.to_string());
            out["budget"] = json!(reason);
        }
        Verdict::Linearizable => {}
    }
    out
}

fn verdict_name(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Linearizable => "linearizable",
        Verdict::Illegal(_) => "illegal",
        Verdict::Unknown(_) => "unknown",
    }
}

fn print_text(report: &CheckReport, args: &CheckArgs, measured: &Measured) {
    let peak = measured.peak_rss_bytes.map_or(String::new(), |b| {
        format!(", peak {:.1} MiB", b as f64 / (1 << 20) as f64)
    });
    let summary = format!(
        "{}: {} ops, {} partition(s) ({} decided directly: unique writes), model {}, {} steps, {:.1} ms{peak}",
        args.history.display(),
        report.ops,
        report.partitions,
        report.partitions_unique,
        report.model,
        report.steps,
        measured.elapsed.as_secs_f64() * 1e3
    );
    match &report.verdict {
        Verdict::Linearizable => println!("linearizable  {summary}"),
        Verdict::Illegal(cx) => println!("NOT linearizable  {summary}\n{cx}"),
        Verdict::Unknown(reason) => println!("unknown ({reason})  {summary}"),
    }
}
