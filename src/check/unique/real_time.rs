//! Step four, real time: each block's fixed order checked against the
//! ops' call and return times, then the blocks against each other, where
//! the interval-order argument of the procedure (module doc of `unique`)
//! reduces the check to finding two blocks that real time orders both ways.

use super::blocks::{Block, Readers};
use super::{Facts, Why, Work, INIT};
use crate::check::budget::Exhausted;
use crate::check::model::Model;
use crate::check::wgl::PartOp;

/// A block's extent in real time: its earliest return (`None` = the
/// initial value's, before everything) and latest call, with the ops.
#[derive(Clone, Copy)]
pub(super) struct Span {
    min_return: Option<(u64, usize)>,
    max_call: Option<(u64, usize)>,
}

/// Checks a block's fixed order against real time and measures its span.
/// `Ok(Err(_))`: an op finished before an op it must follow began.
pub(super) fn block_span<M: Model>(
    block: &Block,
    facts: &Facts,
    readers: &Readers,
    ops: &[PartOp<'_, M>],
    work: &mut Work,
) -> Result<Result<Span, Why>, Exhausted> {
    let ret = |op: usize| ops[op].return_time.unwrap_or(u64::MAX);
    let mut span = Span {
        min_return: None,
        max_call: None,
    };
    let is_init = block.versions[0] == INIT;
    // The latest call among ops of earlier levels: every op of a later
    // level must return at or after it.
    let mut latest_before: Option<(u64, usize)> = None;
    for &v in &block.versions {
        let writer = (v != INIT).then(|| facts.mutations[v as usize].op as u32);
        for level in [writer.as_slice(), readers.of(v)] {
            let mut latest_here = latest_before;
            for &op in level {
                work.step()?;
                let op = op as usize;
                if let Some((call, earlier)) = latest_before {
                    if ret(op) < call {
                        return Ok(Err(Why::OutOfOrder { earlier, later: op }));
                    }
                }
                let call = ops[op].call_time;
                if latest_here.is_none_or(|(c, _)| call > c) {
                    latest_here = Some((call, op));
                }
                if !is_init && span.min_return.is_none_or(|(r, _)| ret(op) < r) {
                    span.min_return = Some((ret(op), op));
                }
                if span.max_call.is_none_or(|(c, _)| call > c) {
                    span.max_call = Some((call, op));
                }
            }
            latest_before = latest_here;
        }
    }
    if !is_init && span.min_return.is_none() {
        unreachable!("a block that is not the initial value's has its head's mutation");
    }
    Ok(Ok(span))
}

/// Two blocks that real time orders both ways, if any: (index, index, why).
pub(super) fn two_cycle(spans: &[Span]) -> Option<(usize, usize, Why)> {
    // f: earliest return (None = -infinity); s: latest call.
    let f = |i: usize| spans[i].min_return.map(|(r, _)| r);
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_unstable_by_key(|&i| (f(i), i));
    // best[k]: the two largest latest calls, of different blocks, among
    // order[..=k].
    let mut best: Vec<[Option<(u64, usize)>; 2]> = Vec::with_capacity(order.len());
    let mut top: [Option<(u64, usize)>; 2] = [None, None];
    for &i in &order {
        if let Some((s, _)) = spans[i].max_call {
            let entry = Some((s, i));
            if top[0].is_none_or(|(t, _)| s > t) {
                top = [entry, top[0]];
            } else if top[1].is_none_or(|(t, _)| s > t) {
                top[1] = entry;
            }
        }
        best.push(top);
    }
    for x in 0..spans.len() {
        let Some((s_x, _)) = spans[x].max_call else {
            continue;
        };
        // Blocks real time puts before x: earliest return < s_x.
        let before = order.partition_point(|&i| f(i).is_none_or(|r| r < s_x));
        if before == 0 {
            continue;
        }
        let [first, second] = best[before - 1];
        let partner = match first {
            Some((_, b)) if b != x => first,
            _ => second,
        };
        let Some((s_b, b)) = partner else { continue };
        // ... and real time puts x before b too iff f(x) < s_b.
        if f(x).is_none_or(|r| r < s_b) {
            return Some((b, x, real_time_why(spans, b, x)));
        }
    }
    None
}

/// The four ops that order blocks `p` and `q` both ways, with the initial
/// value's block (if one of them is) as `p`, so that `a: None` means "the
/// initial value, before everything".
fn real_time_why(spans: &[Span], p: usize, q: usize) -> Why {
    let (p, q) = if spans[q].min_return.is_none() {
        (q, p)
    } else {
        (p, q)
    };
    let op = |end: Option<(u64, usize)>| {
        end.map(|(_, op)| op)
            .unwrap_or_else(|| unreachable!("both blocks of a cycle have ops at both ends"))
    };
    Why::RealTime {
        a: spans[p].min_return.map(|(_, op)| op),
        b: op(spans[q].max_call),
        c: op(spans[q].min_return),
        d: op(spans[p].max_call),
    }
}
