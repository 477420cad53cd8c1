//! Command-line interface: parses arguments with clap, dispatches to one
//! module per command, and maps every outcome to the exit-code contract:
//! 0 every check held, 1 a check was violated, 2 bad input or usage,
//! 3 a check could not decide within its budget. The only place that reads
//! the wall clock. [`main`] runs the built-in protocols; [`main_with`]
//! gives a crate's own protocols the whole CLI.
mod cap;
mod check;
mod check_log;
mod check_queue;
mod check_txn;
mod consensus;
mod durability;
mod explore;
mod guided;
mod merge;
mod protocols;
mod resilience;
mod run;
mod shards;
mod shrink;

use crate::protocols::Registry;
use clap::{Parser, Subcommand};

/// faultline: a deterministic simulator for distributed systems.
#[derive(Parser, Debug)]
#[command(name = "faultline", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario for one seed: summary, trace hash and exit code.
    Run(run::RunArgs),
    /// Run many seeds of a scenario in parallel; group failures; print replay commands.
    Explore(explore::ExploreArgs),
    /// Combine the `explore --json` reports of a sharded sweep.
    Merge(merge::MergeArgs),
    /// Minimize a failing seed into a small scenario that fails the same check.
    Shrink(shrink::ShrinkArgs),
    /// The CAP experiment: the quorum (CP), eventual (AP), Raft (CP) and Multi-Paxos (CP) stores under partitions, charted.
    Cap(cap::CapArgs),
    /// The consensus experiment: the stores that elect a leader (Raft, Multi-Paxos) compared on latency, messages per operation, recovery after a leader crash and availability per partition shape, charted.
    Consensus(consensus::ConsensusArgs),
    /// The placement experiment: hash mod N, consistent hashing (1, 16, 256 virtual nodes), rendezvous and jump hashing, keys moved when a node joins or leaves and load imbalance, charted.
    Shards(shards::ShardsArgs),
    /// The resilience experiment: retry policies under a load spike, balancers around a slow replica, jitter under contention, charted.
    Resilience(resilience::ResilienceArgs),
    /// The durability experiment: the log's producer settings (acks, minimum in-sync replicas, unclean election) under broker crashes and cut-offs, acknowledged writes lost against produce latency, charted.
    Durability(durability::DurabilityArgs),
    /// Check a recorded history for linearizability against a model.
    Check(check::CheckArgs),
    /// List the protocols scenario files may name, with their checks and roles.
    Protocols(protocols::ProtocolsArgs),
}

/// Exit code: every check held.
pub const EXIT_OK: i32 = 0;
/// Exit code: a check was violated.
pub const EXIT_VIOLATION: i32 = 1;
/// Exit code: bad input or usage.
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code: a check could not decide within its budget.
pub const EXIT_UNKNOWN: i32 = 3;

/// Parses the process arguments, runs the command with the built-in
/// protocols and returns its exit code.
pub fn main() -> i32 {
    main_with(Registry::builtin())
}

/// [`main`] with the protocols of `registry`: a crate that registers its
/// own protocols (`Registry::builtin().with(MyDef)`) gets `run`, `explore`,
/// `shrink`, reports and every other command for them.
pub fn main_with(registry: Registry) -> i32 {
    restore_default_sigpipe();
    crate::sim::panics::install_quiet_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            };
            let _ = err.print();
            return code;
        }
    };
    match cli.command {
        Command::Run(args) => run::run(args, &registry),
        Command::Explore(args) => explore::run(args, &registry),
        Command::Merge(args) => merge::run(args),
        Command::Shrink(args) => shrink::run(args, &registry),
        Command::Cap(args) => cap::run(args, &registry),
        Command::Consensus(args) => consensus::run(args, &registry),
        Command::Shards(args) => shards::run(args),
        Command::Resilience(args) => resilience::run(args),
        Command::Durability(args) => durability::run(args),
        Command::Check(args) => check::run(args),
        Command::Protocols(args) => protocols::run(args, &registry),
    }
}

/// Loads and validates a scenario file; on a mistake prints it and gives
/// the exit code. `swarm`: the command was asked for swarm mixes, which
/// need the scenario's `[swarm]` ranges.
fn load_scenario(
    path: &std::path::Path,
    swarm: bool,
    registry: &Registry,
) -> Result<crate::scenario::Scenario, i32> {
    let scenario = crate::scenario::Scenario::load_with(path, registry).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_BAD_INPUT
    })?;
    if swarm && scenario.swarm.is_none() {
        eprintln!("error: {}: --swarm needs a [swarm] section with the ranges to draw from (see docs/scenarios.md)", scenario.file);
        return Err(EXIT_BAD_INPUT);
    }
    Ok(scenario)
}

/// An experiment's `results.json`: the command that made it, its summary
/// and every run.
fn results_json(
    command: &str,
    summary: &impl serde::Serialize,
    runs: &impl serde::Serialize,
) -> (&'static str, String) {
    let json = serde_json::json!({ "command": command, "summary": summary, "runs": runs });
    ("results.json", format!("{json:#}\n"))
}

/// Writes an experiment's `files` (name, contents) into `out`, then its
/// Markdown summary to stdout and the list of what was written; the exit
/// code (bad input when `out` cannot be written).
fn write_experiment(out: &std::path::Path, files: &[(&str, String)], md: &str) -> i32 {
    let written = std::fs::create_dir_all(out).and_then(|_| {
        files
            .iter()
            .try_for_each(|(name, text)| std::fs::write(out.join(name), text))
    });
    if let Err(e) = written {
        eprintln!("error: cannot write to {}: {e}", out.display());
        return EXIT_BAD_INPUT;
    }
    print!("{md}");
    let names: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
    println!("\nwrote {} ({})", out.display(), names.join(", "));
    EXIT_OK
}

/// Lets a closed output end the program quietly, as it does `cat` or
/// `grep`: Rust ignores SIGPIPE, so a write to a closed pipe (`faultline
/// check ... | head`) would otherwise fail and `println!` panic. With the
/// default action the process ends at that write, silently (status 141).
#[cfg(unix)]
fn restore_default_sigpipe() {
    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: setting a signal's action to its default is async-signal-safe
    // and done before any other thread exists.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_default_sigpipe() {}
