//! The proof that a partition is not linearizable: why, by local op index,
//! and the support, a sub-history illegal on its own that the caller
//! searches for a step-by-step counterexample.

use super::{Facts, INIT};
use std::collections::{BTreeMap, BTreeSet};

/// Why a partition is not linearizable, by local op index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Why {
    /// `reader` saw a value that no sequence of the history's mutations
    /// produces.
    Unreachable { reader: usize },
    /// Mutations `first` and `second` both apply directly to one version.
    TwoSuccessors { first: usize, second: usize },
    /// `by_a` and `by_b` saw different versions directly before `op`'s.
    TwoPredecessors { op: usize, by_a: usize, by_b: usize },
    /// The versions of these mutations would each have to come before the
    /// next, round a loop.
    Loop { ops: Vec<usize> },
    /// `later` must be linearized after `earlier` (the values say so) but
    /// finished before `earlier` began.
    OutOfOrder { earlier: usize, later: usize },
    /// Real time orders two blocks both ways: `a` finished before `b`
    /// began (`a: None` = the initial value, before everything), and `c`
    /// finished before `d` began, where `a` and `d` share a block and `b`
    /// and `c` the other.
    RealTime {
        a: Option<usize>,
        b: usize,
        c: usize,
        d: usize,
    },
}

/// A proof that a partition is not linearizable: the reason, and the
/// local ops of a sub-history that is illegal on its own.
#[derive(Clone, Debug)]
pub(crate) struct Conflict {
    pub why: Why,
    pub support: Vec<usize>,
}

/// A conflict whose support is `ops` plus, transitively, every mutation
/// they saw, what each mutation was applied to, and the op that pinned it
/// there: a sub-history in which the same pins, and so the same conflict,
/// hold.
pub(super) fn with_supports(facts: &Facts, why: Why, ops: Vec<usize>) -> Conflict {
    let observer_of_op: BTreeMap<usize, usize> = facts
        .observers
        .iter()
        .enumerate()
        .map(|(i, o)| (o.op, i))
        .collect();
    let mutation_of_op: BTreeMap<usize, usize> = facts
        .mutations
        .iter()
        .enumerate()
        .map(|(i, m)| (m.op, i))
        .collect();
    let mut support = BTreeSet::new();
    let mut queue = ops;
    while let Some(op) = queue.pop() {
        if !support.insert(op) {
            continue;
        }
        if let Some(&o) = observer_of_op.get(&op) {
            let chain = facts.chain(&facts.observers[o]);
            queue.extend(chain.iter().map(|&m| facts.mutations[m as usize].op));
        }
        if let Some(&m) = mutation_of_op.get(&op) {
            // Who saw it, if that is what makes it part of every
            // linearization; what it was applied to, and the op that says so.
            queue.extend(facts.mutations[m].required_by);
            if let Some((p, by)) = facts.mutations[m].pred {
                queue.push(by);
                if p != INIT {
                    queue.push(facts.mutations[p as usize].op);
                }
            }
        }
    }
    Conflict {
        why,
        support: support.into_iter().collect(),
    }
}
