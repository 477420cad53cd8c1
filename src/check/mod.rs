//! Checking recorded histories: linearizability against sequential models.
//!
//! Layout: [`history`] reads files into paired ops; [`model`] is the
//! sequential-specification trait, [`models`] the built-in ones; `wgl` is
//! the per-partition search (Wing & Gong with Lowe's memo cache, `memo`);
//! `budget` bounds time and memory; [`counterexample`] explains a violation;
//! [`units`] parses human durations and sizes. This module drives them:
//! encode, partition, search partitions (in parallel by default), combine.
//! The answer is `Linearizable`, `Illegal` or `Unknown`, never a guess.
mod budget;
pub mod counterexample;
pub mod history;
mod memo;
pub mod model;
pub mod models;
pub mod units;
pub mod value;
mod wgl;

pub use budget::UnknownReason;
pub use counterexample::Counterexample;
pub use history::{History, HistoryError, Op};
pub use model::{Model, ModelKind, Partition};

use budget::Budget;
use rayon::prelude::*;
use std::time::Duration;
use thiserror::Error;
use wgl::{Outcome, PartOp, Search};

/// The bounds and parallelism of one check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Wall-clock budget for the whole check.
    pub timeout: Duration,
    /// Memory budget for all memo caches together, in bytes.
    pub memory_bytes_max: usize,
    /// Worker threads; 0 = rayon's default, 1 = sequential.
    pub threads: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            timeout: Duration::from_secs(10),
            memory_bytes_max: 1 << 30,
            threads: 0,
        }
    }
}

/// The answer of a check.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// Some order of the ops satisfies the model.
    Linearizable,
    /// No order does; the explanation.
    Illegal(Box<Counterexample>),
    /// The check ran out of budget before deciding.
    Unknown(UnknownReason),
}

/// The verdict and what it took.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// The answer.
    pub verdict: Verdict,
    /// The model's name.
    pub model: &'static str,
    /// Ops checked (`:fail` ops excluded).
    pub ops: usize,
    /// Independent partitions.
    pub partitions: usize,
    /// Wall time of the check.
    pub elapsed: Duration,
}

/// An op that does not fit the chosen model (bad input, not a violation).
#[derive(Debug, Error)]
#[error("line {line}: {message}")]
pub struct ModelError {
    /// Line of the op's invocation.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Checks a history against a built-in model.
pub fn check_history(
    kind: ModelKind,
    history: &History,
    opts: &CheckOptions,
) -> Result<CheckReport, ModelError> {
    match kind {
        ModelKind::Register => check(&models::RegisterModel { cas: false }, history, opts),
        ModelKind::CasRegister => check(&models::RegisterModel { cas: true }, history, opts),
        ModelKind::Kv => check(&models::KvModel, history, opts),
    }
}

/// Checks a history against any model.
pub fn check<M: Model>(
    model: &M,
    history: &History,
    opts: &CheckOptions,
) -> Result<CheckReport, ModelError> {
    let budget = Budget::start(opts.timeout, opts.memory_bytes_max);
    let encoded = encode(model, history)?;
    let partitions = model.partition(&history.ops);
    let outcomes = run_partitions(model, history, &encoded, &partitions, &budget, opts.threads);
    let verdict = combine(model, history, &encoded, &partitions, outcomes);
    Ok(CheckReport {
        verdict,
        model: model.name(),
        ops: history.ops.len(),
        partitions: partitions.len(),
        elapsed: budget.elapsed(),
    })
}

type Encoded<M> = Vec<(<M as Model>::Input, Option<<M as Model>::Output>)>;

fn encode<M: Model>(model: &M, history: &History) -> Result<Encoded<M>, ModelError> {
    history
        .ops
        .iter()
        .map(|op| {
            model.encode(op).map_err(|message| ModelError {
                line: op.call_line,
                message,
            })
        })
        .collect()
}

/// Steps each undecided partition gets in the first round; doubled every
/// round. Interleaving partitions this way finds a cheap refutation in one
/// partition before a hard one exhausts the budget, and keeps the verdict
/// independent of the thread count (partitions never stop each other
/// mid-round).
const SLICE_STEPS_FIRST: u64 = 1 << 12;

/// Searches all partitions round-robin until one is illegal, a budget runs
/// out, or all are linearizable. `None` = left undecided.
fn run_partitions<'a, M: Model>(
    model: &'a M,
    history: &'a History,
    encoded: &'a Encoded<M>,
    partitions: &'a [Partition],
    budget: &'a Budget,
    threads: usize,
) -> Vec<Option<Outcome<M::State>>> {
    let mut searches: Vec<Option<Search<'a, M>>> = partitions
        .iter()
        .map(|p| Some(Search::new(model, part_ops(history, encoded, p), budget)))
        .collect();
    let mut outcomes: Vec<Option<Outcome<M::State>>> = partitions.iter().map(|_| None).collect();
    let mode = Parallelism::choose(threads, partitions.len());
    let mut slice = SLICE_STEPS_FIRST;
    while outcomes.iter().any(Option::is_none) {
        match &mode {
            Parallelism::Pool(pool) => {
                pool.install(|| round_parallel(&mut searches, &mut outcomes, slice))
            }
            Parallelism::Global => round_parallel(&mut searches, &mut outcomes, slice),
            Parallelism::Sequential => round_sequential(&mut searches, &mut outcomes, slice),
        }
        if outcomes
            .iter()
            .flatten()
            .any(|o| !matches!(o, Outcome::Linearizable))
        {
            break;
        }
        slice = slice.saturating_mul(2);
    }
    outcomes
}

/// Where the rounds run.
enum Parallelism {
    /// On the caller's thread (`threads = 1`, or one partition).
    Sequential,
    /// On rayon's global pool (`threads = 0`): no pool to build per check.
    Global,
    /// On a pool of the requested size.
    Pool(rayon::ThreadPool),
}

impl Parallelism {
    fn choose(threads: usize, partitions: usize) -> Self {
        if threads == 1 || partitions <= 1 {
            return Parallelism::Sequential;
        }
        if threads == 0 {
            return Parallelism::Global;
        }
        match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
            Ok(pool) => Parallelism::Pool(pool),
            Err(_) => Parallelism::Global,
        }
    }
}

/// Advances one undecided search; drops it (freeing its memo) once decided.
fn advance_one<M: Model>(
    search: &mut Option<Search<'_, M>>,
    outcome: &mut Option<Outcome<M::State>>,
    slice: u64,
) {
    if let Some(s) = search {
        *outcome = s.advance(slice);
        if outcome.is_some() {
            *search = None;
        }
    }
}

fn round_sequential<M: Model>(
    searches: &mut [Option<Search<'_, M>>],
    outcomes: &mut [Option<Outcome<M::State>>],
    slice: u64,
) {
    for (search, outcome) in searches.iter_mut().zip(outcomes.iter_mut()) {
        advance_one(search, outcome, slice);
    }
}

fn round_parallel<M: Model>(
    searches: &mut [Option<Search<'_, M>>],
    outcomes: &mut [Option<Outcome<M::State>>],
    slice: u64,
) {
    searches
        .par_iter_mut()
        .zip(outcomes.par_iter_mut())
        .for_each(|(search, outcome)| advance_one(search, outcome, slice));
}

fn part_ops<'a, M: Model>(
    history: &'a History,
    encoded: &'a Encoded<M>,
    partition: &Partition,
) -> Vec<PartOp<'a, M>> {
    partition
        .ops
        .iter()
        .map(|&i| PartOp {
            input: &encoded[i].0,
            output: encoded[i].1.as_ref(),
            call_time: history.ops[i].call_time,
            return_time: history.ops[i].return_time,
        })
        .collect()
}

/// Illegal anywhere wins (it is a proof); else a budget stop means Unknown.
fn combine<M: Model>(
    model: &M,
    history: &History,
    encoded: &Encoded<M>,
    partitions: &[Partition],
    outcomes: Vec<Option<Outcome<M::State>>>,
) -> Verdict {
    let mut unknown = None;
    for (partition, outcome) in partitions.iter().zip(outcomes) {
        let Some(outcome) = outcome else { continue };
        match outcome {
            Outcome::Illegal { prefix, state } => {
                let part: Vec<&Op> = partition.ops.iter().map(|&i| &history.ops[i]).collect();
                let enc: Vec<_> = partition.ops.iter().map(|&i| &encoded[i]).collect();
                let cx = counterexample::build(
                    model,
                    partition.key.clone(),
                    &part,
                    &enc,
                    &prefix,
                    &state,
                );
                return Verdict::Illegal(Box::new(cx));
            }
            Outcome::Stopped(reason) => unknown = unknown.or(Some(reason)),
            Outcome::Linearizable => {}
        }
    }
    match unknown {
        Some(reason) => Verdict::Unknown(reason),
        None => Verdict::Linearizable,
    }
}
