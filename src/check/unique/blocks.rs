//! Step three, blocks: following the successor links from every head (the
//! initial value, or a required mutation with no predecessor) chains the
//! versions into blocks; a required mutation no head reaches sits on a
//! loop. Also indexes each version's readers, which complete a block's ops.

use super::conflict::with_supports;
use super::{Conflict, Facts, Version, Why, Work, INIT};
use crate::check::budget::Exhausted;

/// A block: its versions in order (the first may be `INIT`).
pub(super) struct Block {
    pub(super) versions: Vec<Version>,
}

/// Follows the successor links from every head (the initial value, and
/// every required mutation with no predecessor). `Ok(Err(_))`: some
/// mutations are linked round a loop.
pub(super) fn blocks(
    facts: &Facts,
    succ: &[u32],
    init_succ: u32,
    work: &mut Work,
) -> Result<Result<Vec<Block>, Conflict>, Exhausted> {
    let mut out = Vec::new();
    let mut placed = 0usize;
    let heads = std::iter::once(INIT).chain(
        facts
            .mutations
            .iter()
            .enumerate()
            .filter(|(_, m)| m.required && m.pred.is_none())
            .map(|(i, _)| i as u32),
    );
    for head in heads {
        let mut versions = vec![head];
        let mut next = if head == INIT {
            init_succ
        } else {
            succ[head as usize]
        };
        while next != u32::MAX {
            work.step()?;
            versions.push(next);
            next = succ[next as usize];
        }
        placed += versions.len() - usize::from(head == INIT);
        out.push(Block { versions });
    }
    let required = facts.mutations.iter().filter(|m| m.required).count();
    if placed == required {
        return Ok(Ok(out));
    }
    Ok(Err(looped(facts, &out)))
}

/// The mutations of one loop, found from any required mutation that no
/// block reached.
fn looped(facts: &Facts, blocks: &[Block]) -> Conflict {
    let mut reached = vec![false; facts.mutations.len()];
    for v in blocks.iter().flat_map(|b| &b.versions) {
        if *v != INIT {
            reached[*v as usize] = true;
        }
    }
    let start = (0..facts.mutations.len())
        .find(|&i| facts.mutations[i].required && !reached[i])
        .unwrap_or_else(|| unreachable!("fewer placed than required means one is unplaced"));
    // Walk back along predecessors until a version repeats: that is the loop.
    let mut seen_at = vec![usize::MAX; facts.mutations.len()];
    let mut path = Vec::new();
    let mut m = start as u32;
    while seen_at[m as usize] == usize::MAX {
        seen_at[m as usize] = path.len();
        path.push(m);
        match facts.mutations[m as usize].pred {
            Some((p, _)) if p != INIT => m = p,
            _ => unreachable!("an unplaced required mutation has a predecessor"),
        }
    }
    let ops: Vec<usize> = path[seen_at[m as usize]..]
        .iter()
        .map(|&v| facts.mutations[v as usize].op)
        .collect();
    with_supports(facts, Why::Loop { ops: ops.clone() }, ops)
}

/// The readers of each version, by version slot (`INIT` = slot 0,
/// mutation `m` = slot `m + 1`), in a flat array.
pub(super) struct Readers {
    start: Vec<u32>,
    ops: Vec<u32>,
}

impl Readers {
    pub(super) fn of(&self, v: Version) -> &[u32] {
        let slot = slot(v);
        &self.ops[self.start[slot] as usize..self.start[slot + 1] as usize]
    }
}

fn slot(v: Version) -> usize {
    if v == INIT {
        0
    } else {
        v as usize + 1
    }
}

pub(super) fn readers_by_version(facts: &Facts) -> Readers {
    let slots = facts.mutations.len() + 1;
    let mut count = vec![0u32; slots + 1];
    let reads = facts.observers.iter().filter(|o| o.cas.is_none());
    for o in reads.clone() {
        count[slot(facts.seen(o)) + 1] += 1;
    }
    for i in 1..count.len() {
        count[i] += count[i - 1];
    }
    let mut fill = count.clone();
    let mut ops = vec![0u32; count[slots] as usize];
    for o in reads {
        let s = slot(facts.seen(o));
        ops[fill[s] as usize] = o.op as u32;
        fill[s] += 1;
    }
    Readers { start: count, ops }
}

pub(super) fn block_ops(block: &Block, facts: &Facts, readers: &Readers) -> Vec<usize> {
    let mut out = Vec::new();
    for &v in &block.versions {
        if v != INIT {
            out.push(facts.mutations[v as usize].op);
        }
        out.extend(readers.of(v).iter().map(|&r| r as usize));
    }
    out
}
