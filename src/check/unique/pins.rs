//! Step two, which mutations happened and what follows what: the
//! mutations every linearization must hold (the completed ones, and every
//! one a required op saw), then the pins, each observer saying which
//! version came directly before which, and the one successor of each
//! version. A version with two successors or two predecessors is a
//! conflict.

use super::conflict::with_supports;
use super::{Conflict, Facts, Kind, Version, Why, Work, INIT};
use crate::check::budget::Exhausted;
use crate::check::model::Model;
use crate::check::wgl::PartOp;

/// A compare-and-set that must have happened but compared against a value
/// no sequence of mutations produces.
pub(super) fn unreachable_cas(facts: &Facts) -> Option<Conflict> {
    let o = facts
        .observers
        .iter()
        .find(|o| !o.resolved && o.cas.is_some_and(|c| facts.mutations[c as usize].required))?;
    Some(with_supports(
        facts,
        Why::Unreachable { reader: o.op },
        vec![o.op],
    ))
}

/// Marks the mutations that must be in every linearization: the completed
/// ones and every one whose value a required op saw.
pub(super) fn mark_required<M: Model>(
    facts: &mut Facts,
    ops: &[PartOp<'_, M>],
    work: &mut Work,
) -> Result<(), Exhausted> {
    let mut queue = Vec::new();
    for (i, m) in facts.mutations.iter_mut().enumerate() {
        if ops[m.op].return_time.is_some() {
            m.required = true;
            queue.push(i as u32);
        }
    }
    // A cas's observer index, by mutation, to follow what a required cas saw.
    let mut observer_of_cas = vec![u32::MAX; facts.mutations.len()];
    for (i, o) in facts.observers.iter().enumerate() {
        if let Some(c) = o.cas {
            observer_of_cas[c as usize] = i as u32;
        }
    }
    for o in facts.observers.iter().filter(|o| o.cas.is_none()) {
        for &m in &facts.chains[o.chain.0 as usize..o.chain.1 as usize] {
            work.step()?;
            let mutation = &mut facts.mutations[m as usize];
            if !mutation.required {
                mutation.required = true;
                mutation.required_by = Some(o.op);
                queue.push(m);
            }
        }
    }
    while let Some(m) = queue.pop() {
        work.step()?;
        let o = observer_of_cas[m as usize];
        if o == u32::MAX {
            continue;
        }
        let observer = &facts.observers[o as usize];
        let (a, b, by) = (observer.chain.0, observer.chain.1, observer.op);
        for i in a..b {
            let seen = facts.chains[i as usize];
            let mutation = &mut facts.mutations[seen as usize];
            if !mutation.required {
                mutation.required = true;
                mutation.required_by = Some(by);
                queue.push(seen);
            }
        }
    }
    Ok(())
}

/// Records what each required observer says came directly before what,
/// and links each version to its one successor. `Ok(Err(_))`: the pins
/// contradict each other.
#[allow(clippy::type_complexity)]
pub(super) fn pin(
    facts: &mut Facts,
    work: &mut Work,
) -> Result<Result<(Vec<u32>, u32), Conflict>, Exhausted> {
    for o in 0..facts.observers.len() {
        let observer = &facts.observers[o];
        let unneeded = observer
            .cas
            .is_some_and(|c| !facts.mutations[c as usize].required);
        if unneeded || !observer.resolved {
            continue;
        }
        let by = observer.op;
        let (a, b) = observer.chain;
        let cas = observer.cas;
        let mut before = INIT;
        for i in a..b {
            work.step()?;
            let m = facts.chains[i as usize];
            let first_write = i == a && facts.mutations[m as usize].kind != Kind::Append;
            if !first_write {
                if let Err(c) = set_pred(facts, m, before, by) {
                    return Ok(Err(c));
                }
            }
            before = m;
        }
        if let Some(c) = cas {
            if let Err(c) = set_pred(facts, c, before, by) {
                return Ok(Err(c));
            }
        }
    }
    let mut succ = vec![u32::MAX; facts.mutations.len()];
    let mut init_succ = u32::MAX;
    for (i, m) in facts.mutations.iter().enumerate() {
        work.step()?;
        let Some((p, _)) = m.pred.filter(|_| m.required) else {
            continue;
        };
        let slot = if p == INIT {
            &mut init_succ
        } else {
            &mut succ[p as usize]
        };
        if *slot != u32::MAX {
            let first = facts.mutations[*slot as usize].op;
            let support = vec![first, m.op];
            let why = Why::TwoSuccessors {
                first,
                second: m.op,
            };
            return Ok(Err(with_supports(facts, why, support)));
        }
        *slot = i as u32;
    }
    Ok(Ok((succ, init_succ)))
}

fn set_pred(facts: &mut Facts, m: u32, pred: Version, by: usize) -> Result<(), Conflict> {
    let mutation = &mut facts.mutations[m as usize];
    match mutation.pred {
        None => {
            mutation.pred = Some((pred, by));
            Ok(())
        }
        Some((p, _)) if p == pred => Ok(()),
        Some((_, by_a)) => {
            let op = mutation.op;
            let why = Why::TwoPredecessors { op, by_a, by_b: by };
            Err(with_supports(facts, why, vec![op, by_a, by]))
        }
    }
}
