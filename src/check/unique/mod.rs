//! Linearizability of one register-like partition whose written values are
//! unique, decided in O(n log n) instead of searched.
//!
//! When no two mutations write the same value (and none writes the initial
//! one), every read names the mutation whose value it saw, so the history's
//! *versions* are known. What a linearization must look like follows:
//!
//! * Every mutation produces one version; a read sits between the version
//!   it saw and the next mutation. A compare-and-set sits directly after
//!   the version it compared against, and an append directly after the
//!   version its value extends (a read of `"a b c "` says `c` was appended
//!   right after `b`, and `b` right after `a`). These *pins* chain versions
//!   into **blocks** that a linearization must keep contiguous and in
//!   order. Blocks start with the initial value, a blind write, or an
//!   append no read ever saw (its version is overwritten unread).
//! * Inside a block the order is fixed (a version's mutation, then its
//!   reads in any order, then the next version's mutation), so it is
//!   consistent with real time iff no op finishes before an op of an
//!   earlier level begins.
//! * Between blocks, real time forces `X` before `Y` iff some op of `X`
//!   finishes before some op of `Y` begins, i.e. iff `min_return(X) <
//!   max_call(Y)`. That relation has the interval-order property (`a→b`
//!   and `c→d` imply `a→d` or `c→b`), so it is acyclic iff it has no
//!   cycle of two: no blocks with `min_return(X) < max_call(Y)` and
//!   `min_return(Y) < max_call(X)`. A sort and a prefix maximum find one.
//!
//! With these, a history is linearizable iff every observed value can be
//! produced, the pins form chains (no version with two successors or two
//! predecessors, no loop), every block is consistent inside, and no two
//! blocks force each other. Unknown-outcome mutations that nothing
//! observed are left out (that they never happened is always allowed);
//! unknown reads constrain nothing. This is the cluster argument of
//! Gibbons & Korach ("Testing shared memories", 1997) for read/write
//! registers, with compare-and-set and append handled as pins.
//!
//! The procedure applies only when its preconditions hold (the model says
//! how each op accesses the object, written values are unique, and with
//! appends every written string ends in one separator that occurs nowhere
//! else in it); otherwise the caller runs the general search. Every
//! conflict it reports names a sub-history that is illegal on its own, so
//! the caller can search that small piece for a step-by-step
//! counterexample.
//!
//! The steps, one file each: `values` resolves what every read saw into
//! versions; `pins` marks the mutations that must have happened and
//! links each version to its successor; `blocks` follows the links into
//! blocks; `real_time` checks each block inside and the blocks against
//! each other; `conflict` names the sub-history behind a verdict of
//! illegal. This file holds the records they share and `run`, which takes
//! the steps in order.

mod blocks;
mod conflict;
mod pins;
mod real_time;
mod values;

use super::budget::{Exhausted, Meter};
use super::model::{Access, Model};
use super::wgl::PartOp;
use blocks::{block_ops, blocks, readers_by_version};
pub(crate) use conflict::{Conflict, Why};
use pins::{mark_required, pin, unreachable_cas};
use real_time::{block_span, two_cycle};
use values::read_facts;

/// A version: `INIT` (the initial value) or the index of its mutation.
type Version = u32;
const INIT: Version = u32::MAX;
/// Bytes of working memory per op, charged to the budget up front: the
/// op's access, its mutation or observer record, its share of the value
/// table, the readers index and the blocks (measured: about 150).
const BYTES_PER_OP: usize = 192;

/// How the procedure ended for one partition.
pub(crate) enum Decision {
    /// Its preconditions do not hold; the reason, for diagnostics.
    NotApplicable(&'static str),
    /// Linearizable.
    Linearizable,
    /// Not linearizable; the proof.
    Illegal(Conflict),
    /// A bound was hit first.
    Stopped(Exhausted),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Write,
    Cas,
    Append,
}

struct Mutation {
    op: usize,
    kind: Kind,
    required: bool,
    /// For a mutation of unknown outcome that must have happened: an op
    /// that saw its value.
    required_by: Option<usize>,
    pred: Option<(Version, usize)>,
}

/// An op that saw a version: a read, or a compare-and-set (its old value).
struct Observer {
    op: usize,
    /// For a compare-and-set, its mutation.
    cas: Option<u32>,
    /// The mutations whose values make up what it saw, oldest first
    /// (empty = the initial value); a range of `Facts::chains`.
    chain: (u32, u32),
    /// False when no sequence of the mutations produces what it saw (only
    /// for a compare-and-set of unknown outcome, which then never
    /// happened unless something saw its value).
    resolved: bool,
}

/// What the values say, before time is looked at.
struct Facts {
    mutations: Vec<Mutation>,
    observers: Vec<Observer>,
    chains: Vec<u32>,
}

impl Facts {
    fn chain(&self, o: &Observer) -> &[u32] {
        &self.chains[o.chain.0 as usize..o.chain.1 as usize]
    }

    /// The version `o` saw.
    fn seen(&self, o: &Observer) -> Version {
        self.chain(o).last().copied().unwrap_or(INIT)
    }
}

/// Decides one partition; also returns the steps it took. `steps_max`
/// caps the work, counted as for the search (one step per op or value
/// piece handled).
pub(crate) fn decide<M: Model>(
    model: &M,
    ops: &[PartOp<'_, M>],
    meter: &mut Meter<'_>,
    steps_max: u64,
) -> (Decision, u64) {
    let mut work = Work {
        meter,
        steps: 0,
        steps_max,
        held_bytes: 0,
    };
    let decision = match run(model, ops, &mut work) {
        Ok(d) => d,
        Err(stop) => Decision::Stopped(stop),
    };
    (decision, work.steps.min(steps_max))
}

/// Counts work against the budget.
struct Work<'m, 'b> {
    meter: &'m mut Meter<'b>,
    steps: u64,
    steps_max: u64,
    /// Bytes of working memory held (charged up front).
    held_bytes: usize,
}

impl Work<'_, '_> {
    fn step(&mut self) -> Result<(), Exhausted> {
        self.steps += 1;
        if self.steps > self.steps_max {
            return Err(Exhausted::Steps {
                budget_steps: self.steps_max,
            });
        }
        let held = self.held_bytes;
        self.meter.tick(|| held)
    }

    /// Makes room for one more piece in `chains`, asking the budget first:
    /// reads of long appended strings hold a piece per append they saw,
    /// beyond the per-op charge. A vector that outgrows its buffer stays
    /// counted at both sizes (the allocator may keep the old one).
    fn room_for_piece(&mut self, chains: &mut Vec<u32>) -> Result<(), Exhausted> {
        if chains.len() < chains.capacity() {
            return Ok(());
        }
        let grown = (chains.capacity() * 2).max(1024);
        if grown > u32::MAX as usize {
            return Err(Exhausted::Allocation {
                bytes: grown as u64 * 4,
            });
        }
        self.meter.grant(self.held_bytes, grown * 4)?;
        chains.reserve_exact(grown - chains.len());
        self.held_bytes += grown * 4;
        Ok(())
    }
}

fn run<M: Model>(model: &M, ops: &[PartOp<'_, M>], work: &mut Work) -> Result<Decision, Exhausted> {
    let Some(init) = model.initial_value() else {
        return Ok(Decision::NotApplicable("the model is not register-like"));
    };
    let mut accesses = Vec::with_capacity(ops.len());
    for op in ops {
        match model.access(op.input, op.output) {
            // A read that never completed constrains nothing, whatever
            // its recorded output (the search never places it either).
            Some(Access::Read(_)) if op.return_time.is_none() => accesses.push(Access::Unobserved),
            Some(a) => accesses.push(a),
            None => return Ok(Decision::NotApplicable("an op is not a register access")),
        }
    }
    work.held_bytes = ops.len() * BYTES_PER_OP;
    work.meter.grant(0, work.held_bytes)?;
    let facts = match read_facts(&accesses, init, work)? {
        Ok(facts) => facts,
        Err(decision) => return Ok(decision),
    };
    let mut facts = facts;
    mark_required(&mut facts, ops, work)?;
    if let Some(conflict) = unreachable_cas(&facts) {
        return Ok(Decision::Illegal(conflict));
    }
    let (succ, init_succ) = match pin(&mut facts, work)? {
        Ok(links) => links,
        Err(conflict) => return Ok(Decision::Illegal(conflict)),
    };
    let blocks = match blocks(&facts, &succ, init_succ, work)? {
        Ok(b) => b,
        Err(conflict) => return Ok(Decision::Illegal(conflict)),
    };
    let readers = readers_by_version(&facts);
    let mut spans = Vec::with_capacity(blocks.len());
    for block in &blocks {
        let span = match block_span(block, &facts, &readers, ops, work)? {
            Ok(s) => s,
            Err(why) => {
                let support = block_ops(block, &facts, &readers);
                return Ok(Decision::Illegal(Conflict { why, support }));
            }
        };
        spans.push(span);
    }
    Ok(match two_cycle(&spans) {
        None => Decision::Linearizable,
        Some((x, y, why)) => {
            let mut support = block_ops(&blocks[x], &facts, &readers);
            support.extend(block_ops(&blocks[y], &facts, &readers));
            support.sort_unstable();
            Decision::Illegal(Conflict { why, support })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::budget::{Budget, Limits};

    fn budget(memory_bytes_max: usize) -> Budget {
        Budget::new(Limits {
            steps_max: None,
            memory_bytes_max,
            deadline: None,
        })
    }

    /// Work with no step bound, counting memory against `meter`.
    fn unbounded_steps<'m, 'b>(meter: &'m mut Meter<'b>) -> Work<'m, 'b> {
        Work {
            meter,
            steps: 0,
            steps_max: u64::MAX,
            held_bytes: 0,
        }
    }

    /// The step budget allows exactly `steps_max` steps.
    #[test]
    fn work_takes_exactly_its_step_budget() {
        let budget = budget(usize::MAX);
        let mut meter = Meter::new(&budget);
        let mut work = Work {
            meter: &mut meter,
            steps: 0,
            steps_max: 3,
            held_bytes: 0,
        };
        for _ in 0..3 {
            assert_eq!(work.step(), Ok(()));
        }
        assert_eq!(work.steps, 3);
        assert_eq!(
            work.step(),
            Err(Exhausted::Steps { budget_steps: 3 }),
            "the fourth step is past the budget"
        );
    }

    /// Room for more pieces is asked of the memory budget first, counted
    /// while held, and refused when the budget cannot hold it.
    #[test]
    fn room_for_pieces_is_granted_by_the_memory_budget() {
        let roomy = budget(1 << 20);
        let mut meter = Meter::new(&roomy);
        let mut work = unbounded_steps(&mut meter);
        let mut chains = Vec::new();
        assert_eq!(work.room_for_piece(&mut chains), Ok(()));
        assert!(chains.capacity() >= 1024);
        assert_eq!(work.held_bytes, 1024 * 4, "the first buffer is charged");
        let first = chains.capacity();
        chains.extend(0..first as u32);
        assert_eq!(work.room_for_piece(&mut chains), Ok(()));
        assert_eq!(chains.capacity(), 2 * first);
        assert_eq!(
            work.held_bytes,
            (1024 + 2 * first) * 4,
            "both buffers counted after growth"
        );
        assert!(roomy.memory_bytes_peak() >= (1024 + 2 * first) * 4);

        // The first buffer is 1,024 pieces of 4 bytes: a budget of 4,096
        // bytes holds it, one byte less does not.
        for (max, fits) in [(4096, true), (4095, false)] {
            let tight = budget(max);
            let mut meter = Meter::new(&tight);
            let mut work = unbounded_steps(&mut meter);
            let mut chains: Vec<u32> = Vec::new();
            let room = work.room_for_piece(&mut chains);
            if fits {
                assert_eq!(room, Ok(()));
            } else {
                let budget_bytes = max as u64;
                assert_eq!(room, Err(Exhausted::Memory { budget_bytes }));
                assert_eq!(chains.capacity(), 0, "nothing allocated past the budget");
            }
        }
    }

    /// While the buffer has room, no more is asked for.
    #[test]
    fn room_left_in_the_buffer_asks_for_nothing() {
        let roomy = budget(1 << 20);
        let mut meter = Meter::new(&roomy);
        let mut work = unbounded_steps(&mut meter);
        let mut chains = Vec::new();
        assert_eq!(work.room_for_piece(&mut chains), Ok(()));
        let capacity = chains.capacity();
        chains.push(7);
        assert_eq!(work.room_for_piece(&mut chains), Ok(()));
        assert_eq!(chains.capacity(), capacity);
        assert_eq!(work.held_bytes, 1024 * 4);
    }

    /// Deciding charges every op's working memory up front: the peak is
    /// at least that, and a budget below it stops the procedure.
    #[test]
    fn deciding_charges_each_op_up_front() {
        use crate::check::models::register::{RegInput, RegOutput};
        use crate::check::models::RegisterModel;
        let model = RegisterModel {
            cas: false,
            conventions: Default::default(),
        };
        let inputs: Vec<RegInput> = (0..100).map(|v| RegInput::Write(Some(v))).collect();
        let ops: Vec<PartOp<'_, RegisterModel>> = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| PartOp {
                input,
                output: Some(&RegOutput::Done),
                call_time: 10 * i as u64,
                return_time: Some(10 * i as u64 + 5),
            })
            .collect();
        let charge = ops.len() * BYTES_PER_OP;
        let roomy = budget(1 << 30);
        let mut meter = Meter::new(&roomy);
        let (decision, steps) = decide(&model, &ops, &mut meter, u64::MAX);
        drop(meter);
        assert!(matches!(decision, Decision::Linearizable));
        assert!(steps >= ops.len() as u64, "a step per op at least");
        assert!(roomy.memory_bytes_peak() >= charge);

        let tight = budget(charge - 1);
        let mut meter = Meter::new(&tight);
        let (decision, _) = decide(&model, &ops, &mut meter, u64::MAX);
        assert!(
            matches!(decision, Decision::Stopped(Exhausted::Memory { .. })),
            "a budget below the ops' charge stops the procedure"
        );
    }
}
