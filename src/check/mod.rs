//! Checking recorded histories: linearizability against sequential models.
//!
//! Layout: [`history`] reads files into paired ops; [`model`] is the
//! sequential-specification trait, [`models`] the built-in ones; `unique`
//! decides register-like partitions whose written values are unique in
//! O(n log n); `wgl` is the general per-partition search (Wing & Gong with
//! Lowe's memo cache, `memo`); `budget` bounds steps, memory and (outside
//! runs) wall time; [`counterexample`] explains a violation; [`units`]
//! parses human durations and sizes. This module drives them: encode,
//! partition, decide what can be decided directly, search the rest (in
//! parallel by default), combine. The answer is `Linearizable`, `Illegal`
//! or `Unknown` (with the bound and how far the check got), never a guess;
//! with a step budget and no deadline it is a function of the history and
//! the options alone.
mod budget;
pub mod counterexample;
pub mod history;
pub mod log;
mod memo;
pub mod model;
pub mod models;
pub mod queue;
pub mod txn;
mod unique;
pub mod units;
pub mod value;
mod wgl;

pub use budget::{Deadline, Exhausted, UnknownReason};
pub use counterexample::Counterexample;
pub use history::{History, HistoryError, Op};
pub use model::{Access, Model, ModelKind, Partition, Val};

use budget::{Budget, Limits, Meter};
use rayon::prelude::*;
use thiserror::Error;
use unique::Decision;
use wgl::{Outcome, PartOp, Search};

/// The step budget of [`CheckOptions::default`]: a few seconds of search
/// at most; histories with unique writes need about `n log n` steps.
pub const DEFAULT_STEPS: u64 = 50_000_000;

/// The bounds and parallelism of one check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Search steps over all partitions (`None`: no step bound). Counted
    /// deterministically: the same history gives the same verdict under
    /// the same budget, whatever the thread count.
    pub steps_max: Option<u64>,
    /// Memory budget for the checker's structures (the history it holds
    /// and every search's memo cache), in bytes; growth that would pass it
    /// stops the check.
    pub memory_bytes_max: usize,
    /// Worker threads; 0 = rayon's default, 1 = sequential. With more than
    /// one, which partition hits the memory budget first may vary.
    pub threads: usize,
    /// A wall-clock limit, for checks outside simulated runs only (a run's
    /// verdict must not depend on the machine's speed).
    pub deadline: Option<Deadline>,
    /// Decide register-like partitions whose written values are unique
    /// directly, in O(n log n) (on by default). Off, every partition is
    /// searched: for cross-checking the two.
    pub unique_writes: bool,
    /// How the register models' registers start and what a nil read
    /// means (faultline's defaults: nil, and a nil read reads nil).
    pub register: models::Conventions,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            steps_max: Some(DEFAULT_STEPS),
            memory_bytes_max: 1 << 30,
            threads: 0,
            deadline: None,
            unique_writes: true,
            register: models::Conventions::default(),
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
    /// Partitions decided directly because their written values are unique.
    pub partitions_unique: usize,
    /// Why the first partition left to the general search could not be
    /// decided directly (e.g. "a value is written twice").
    pub searched_because: Option<&'static str>,
    /// Search steps taken (the unit of the step budget).
    pub steps: u64,
    /// The most bytes the checker's structures held at once, as counted
    /// against the memory budget (the history and every search's memo).
    pub memory_bytes_peak: usize,
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
        ModelKind::Register | ModelKind::CasRegister => {
            let model = models::RegisterModel {
                cas: kind == ModelKind::CasRegister,
                conventions: opts.register,
            };
            check(&model, history, opts)
        }
        ModelKind::Kv => check(&models::KvModel, history, opts),
    }
}

/// Checks a history against any model.
pub fn check<M: Model>(
    model: &M,
    history: &History,
    opts: &CheckOptions,
) -> Result<CheckReport, ModelError> {
    let budget = Budget::new(Limits {
        steps_max: opts.steps_max,
        memory_bytes_max: opts.memory_bytes_max,
        deadline: opts.deadline.clone(),
    });
    let encoded = encode(model, history)?;
    let partitions = model.partition(&history.ops);
    let mut run = Run {
        model,
        history,
        encoded: &encoded,
        partitions: &partitions,
        budget: &budget,
        threads: opts.threads,
        unique_writes: opts.unique_writes,
        steps: 0,
        unique: 0,
        searched_because: None,
    };
    let verdict = match budget.charge(held_bytes::<M>(history)) {
        Ok(()) => run.verdict(),
        Err(stop) => Verdict::Unknown(run.unknown(stop, &[], None)),
    };
    Ok(CheckReport {
        verdict,
        model: model.name(),
        ops: history.ops.len(),
        partitions: partitions.len(),
        partitions_unique: run.unique,
        searched_because: run.searched_because,
        steps: run.steps,
        memory_bytes_peak: budget.memory_bytes_peak(),
    })
}

/// Bytes the check holds for its whole length besides the searches: the
/// history (ops and their values), its encoding (which copies the values),
/// the partition index and the per-partition op views.
fn held_bytes<M: Model>(history: &History) -> usize {
    let per_op = std::mem::size_of::<(M::Input, Option<M::Output>)>()
        + std::mem::size_of::<usize>()
        + std::mem::size_of::<PartOp<'_, M>>();
    let slack = (history.ops.capacity() - history.ops.len()) * std::mem::size_of::<Op>();
    let ops: usize = history
        .ops
        .iter()
        .map(|op| {
            let values =
                op.input.heap_bytes() + op.output.as_ref().map_or(0, value::Value::heap_bytes);
            op.bytes() + per_op + values
        })
        .sum();
    slack + ops
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
/// mid-round, and the step budget is shared out at round boundaries).
const SLICE_STEPS_FIRST: u64 = 1 << 12;
/// Steps allowed for the search of a conflict's sub-history (to turn the
/// direct procedure's proof into a step-by-step counterexample).
const SUPPORT_STEPS_MAX: u64 = 1 << 20;

/// One check in progress.
struct Run<'a, M: Model> {
    model: &'a M,
    history: &'a History,
    encoded: &'a Encoded<M>,
    partitions: &'a [Partition],
    budget: &'a Budget,
    threads: usize,
    unique_writes: bool,
    /// Steps taken so far, over all partitions.
    steps: u64,
    /// Partitions decided by the unique-writes procedure.
    unique: usize,
    /// Why the first partition it could not decide was searched.
    searched_because: Option<&'static str>,
}

/// Where one partition stands.
enum Standing<S> {
    /// Decided by the unique-writes procedure or the search.
    Linearizable,
    /// Proved not linearizable by the unique-writes procedure.
    Proven(Box<unique::Conflict>),
    /// A bound stopped it, after this longest linearizable prefix.
    Stopped(Exhausted, usize),
    /// Left for the general search.
    Search,
    /// The search's outcome, to be turned into a counterexample.
    Searched(Outcome<S>, usize),
}

impl<'a, M: Model> Run<'a, M> {
    fn verdict(&mut self) -> Verdict {
        let mut standings = self.decide_unique();
        // The first partition proved illegal (in partition order) is
        // explained; the others need no counterexample.
        let proven = standings.iter().enumerate().find_map(|(i, s)| match s {
            Standing::Proven(conflict) => Some((i, conflict)),
            _ => None,
        });
        if let Some((i, conflict)) = proven {
            let conflict = conflict.as_ref().clone();
            let cx = self.explain(&self.partitions[i], &conflict);
            return Verdict::Illegal(Box::new(cx));
        }
        self.search(&mut standings);
        self.combine(standings)
    }

    fn remaining_steps(&self) -> u64 {
        self.budget
            .steps_max()
            .map_or(u64::MAX, |max| max.saturating_sub(self.steps))
    }

    fn ops_of(&self, partition: &Partition, local: &[usize]) -> Vec<PartOp<'a, M>> {
        local
            .iter()
            .map(|&l| {
                let i = partition.ops[l];
                PartOp {
                    input: &self.encoded[i].0,
                    output: self.encoded[i].1.as_ref(),
                    call_time: self.history.ops[i].call_time,
                    return_time: self.history.ops[i].return_time,
                }
            })
            .collect()
    }

    fn all_ops(&self, partition: &Partition) -> Vec<PartOp<'a, M>> {
        let local: Vec<usize> = (0..partition.ops.len()).collect();
        self.ops_of(partition, &local)
    }

    /// Runs the unique-writes procedure on every partition. Each gets the
    /// whole remaining step budget (so the outcome does not depend on the
    /// order they run in); their steps are then summed.
    fn decide_unique(&mut self) -> Vec<Standing<M::State>> {
        if !self.unique_writes {
            return self.partitions.iter().map(|_| Standing::Search).collect();
        }
        let cap = self.remaining_steps();
        let this = &*self;
        let one = |p: &Partition| {
            let mut meter = Meter::new(this.budget);
            let ops = this.all_ops(p);
            unique::decide(this.model, &ops, &mut meter, cap)
        };
        let decisions: Vec<(Decision, u64)> = if self.threads == 1 || self.partitions.len() <= 1 {
            self.partitions.iter().map(one).collect()
        } else {
            self.partitions.par_iter().map(one).collect()
        };
        let mut standings = Vec::with_capacity(decisions.len());
        for (decision, steps) in decisions {
            self.steps = self.steps.saturating_add(steps);
            let standing = match decision {
                Decision::NotApplicable(why) => {
                    self.searched_because = self.searched_because.or(Some(why));
                    Standing::Search
                }
                Decision::Linearizable => {
                    self.unique += 1;
                    Standing::Linearizable
                }
                Decision::Stopped(stop) => Standing::Stopped(stop, 0),
                Decision::Illegal(conflict) => {
                    self.unique += 1;
                    Standing::Proven(Box::new(conflict))
                }
            };
            standings.push(standing);
        }
        standings
    }

    /// A counterexample for a conflict the direct procedure proved: the
    /// search over the conflict's (small, itself illegal) sub-history gives
    /// the step-by-step form; the proof gives the explanation.
    fn explain(&mut self, p: &Partition, conflict: &unique::Conflict) -> Counterexample {
        let part: Vec<&Op> = conflict
            .support
            .iter()
            .map(|&l| &self.history.ops[p.ops[l]])
            .collect();
        let explanation =
            counterexample::explain_conflict(self.model, p, self.history, &conflict.why);
        let ops = self.ops_of(p, &conflict.support);
        let steps = self.remaining_steps().min(SUPPORT_STEPS_MAX);
        let outcome = Search::new(self.model, ops, self.budget).map(|mut search| {
            let outcome = search.advance(steps);
            self.steps = self.steps.saturating_add(search.steps());
            outcome
        });
        let mut cx = match outcome {
            Ok(Some(Outcome::Illegal { prefix, state })) => {
                let enc: Vec<_> = conflict
                    .support
                    .iter()
                    .map(|&l| &self.encoded[p.ops[l]])
                    .collect();
                counterexample::build(self.model, p.key.clone(), &part, &enc, &prefix, &state)
            }
            Ok(Some(Outcome::Linearizable)) => panic!(
                "checker bug: the unique-writes procedure proved {} ops illegal ({:?}) but the search linearized them",
                part.len(),
                conflict.why
            ),
            // Out of budget for the step-by-step form: the proof alone.
            _ => counterexample::from_ops(self.model, p.key.clone(), &part),
        };
        cx.partition_ops = p.ops.len();
        cx.explanation = Some(explanation);
        cx
    }

    /// Searches the partitions the direct procedure left, round-robin until
    /// one is illegal, a bound stops them, or all are linearizable.
    fn search(&mut self, standings: &mut [Standing<M::State>]) {
        let mut searches: Vec<Option<Search<'a, M>>> = Vec::with_capacity(standings.len());
        for (p, standing) in self.partitions.iter().zip(standings.iter_mut()) {
            if !matches!(standing, Standing::Search) {
                searches.push(None);
                continue;
            }
            match Search::new(self.model, self.all_ops(p), self.budget) {
                Ok(search) => searches.push(Some(search)),
                Err(stop) => {
                    *standing = Standing::Stopped(stop, 0);
                    searches.push(None);
                }
            }
        }
        let mode = Parallelism::choose(self.threads, searches.iter().flatten().count());
        let mut slice = SLICE_STEPS_FIRST;
        loop {
            let open = searches.iter().flatten().count() as u64;
            if open == 0 {
                return;
            }
            let remaining = self.remaining_steps();
            if remaining == 0 {
                let budget_steps = self.budget.steps_max().unwrap_or(u64::MAX);
                for (search, standing) in searches.iter_mut().zip(standings.iter_mut()) {
                    if let Some(s) = search.take() {
                        let stop = Exhausted::Steps { budget_steps };
                        *standing = Standing::Stopped(stop, s.deepest());
                    }
                }
                return;
            }
            let allowance = slice.min((remaining / open).max(1));
            let before: u64 = searches.iter().flatten().map(Search::steps).sum();
            let mut outcomes: Vec<Option<Outcome<M::State>>> =
                searches.iter().map(|_| None).collect();
            match &mode {
                Parallelism::Pool(pool) => {
                    pool.install(|| round_parallel(&mut searches, &mut outcomes, allowance))
                }
                Parallelism::Global => round_parallel(&mut searches, &mut outcomes, allowance),
                Parallelism::Sequential => {
                    round_sequential(&mut searches, &mut outcomes, allowance)
                }
            }
            let after: u64 = searches.iter().flatten().map(Search::steps).sum();
            self.steps = self.steps.saturating_add(after - before);
            let mut stop = false;
            let decided = outcomes.into_iter().zip(searches.iter_mut());
            for ((outcome, search), standing) in decided.zip(standings.iter_mut()) {
                let Some(outcome) = outcome else { continue };
                let deepest = search.take().map_or(0, |s| s.deepest());
                stop |= !matches!(outcome, Outcome::Linearizable);
                *standing = Standing::Searched(outcome, deepest);
            }
            if stop {
                return;
            }
            slice = slice.saturating_mul(2);
        }
    }

    /// Illegal anywhere wins (it is a proof); else a bound means Unknown.
    fn combine(&mut self, standings: Vec<Standing<M::State>>) -> Verdict {
        for (i, standing) in standings.iter().enumerate() {
            if let Standing::Searched(Outcome::Illegal { prefix, state }, _) = standing {
                let p = &self.partitions[i];
                let part: Vec<&Op> = p.ops.iter().map(|&j| &self.history.ops[j]).collect();
                let enc: Vec<_> = p.ops.iter().map(|&j| &self.encoded[j]).collect();
                let cx =
                    counterexample::build(self.model, p.key.clone(), &part, &enc, prefix, state);
                return Verdict::Illegal(Box::new(cx));
            }
        }
        let stopped = standings.iter().enumerate().find_map(|(i, s)| match s {
            Standing::Stopped(stop, deepest)
            | Standing::Searched(Outcome::Stopped(stop), deepest) => Some((i, *stop, *deepest)),
            _ => None,
        });
        match stopped {
            None => Verdict::Linearizable,
            Some((i, stop, deepest)) => {
                Verdict::Unknown(self.unknown(stop, &standings, Some((i, deepest))))
            }
        }
    }

    /// The reason for an undecided check, with how far it got.
    fn unknown(
        &self,
        stop: Exhausted,
        standings: &[Standing<M::State>],
        undecided: Option<(usize, usize)>,
    ) -> UnknownReason {
        let mut reason = UnknownReason::bare(stop);
        reason.steps = self.steps;
        reason.partitions = self.partitions.len();
        reason.partitions_decided = standings
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    Standing::Linearizable | Standing::Searched(Outcome::Linearizable, _)
                )
            })
            .count();
        if let Some((i, deepest)) = undecided {
            let p = &self.partitions[i];
            reason.undecided_key = p.key.clone();
            reason.undecided_ops = p.ops.len();
            reason.undecided_prefix = deepest;
        }
        reason
    }
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

/// Advances one undecided search; its outcome, once decided.
fn advance_one<M: Model>(
    search: &mut Option<Search<'_, M>>,
    outcome: &mut Option<Outcome<M::State>>,
    slice: u64,
) {
    if let Some(s) = search {
        *outcome = s.advance(slice);
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
