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
// Value lookups only: the table is never iterated, so its order cannot leak
// into a verdict (and the checker does not run inside a simulation's
// event loop's ordering anyway).
#![allow(clippy::disallowed_types)]
use super::budget::{Exhausted, Meter};
use super::model::{Access, Model, Val};
use super::wgl::PartOp;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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

type ValueTable<'a> = HashMap<Val<'a>, u32, rustc_hash::FxBuildHasher>;

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

// ----- values --------------------------------------------------------------------------

/// Indexes every mutation by its value and resolves what each observer
/// saw. `Ok(Err(_))`: decided already (not applicable, or an unreachable
/// value).
fn read_facts(
    accesses: &[Access<'_>],
    init: Val<'static>,
    work: &mut Work,
) -> Result<Result<Facts, Decision>, Exhausted> {
    let mut table: ValueTable<'_> = HashMap::default();
    let mut mutations = Vec::new();
    let mut appends = false;
    for (op, access) in accesses.iter().enumerate() {
        work.step()?;
        let (kind, value) = match *access {
            Access::Write(v) => (Kind::Write, v),
            Access::Cas(_, new) => (Kind::Cas, new),
            Access::Append(s) => {
                appends = true;
                (Kind::Append, Val::Str(s))
            }
            Access::Read(_) | Access::Unobserved => continue,
        };
        if value == init {
            return Ok(Err(Decision::NotApplicable(
                "a mutation writes the initial value",
            )));
        }
        let index = mutations.len() as u32;
        if table.insert(value, index).is_some() {
            return Ok(Err(Decision::NotApplicable("a value is written twice")));
        }
        mutations.push(Mutation {
            op,
            kind,
            required: false,
            required_by: None,
            pred: None,
        });
    }
    let separator = if appends {
        match separator(accesses, init) {
            Some(sep) => Some(sep),
            None => {
                return Ok(Err(Decision::NotApplicable(
                    "appended values do not end in one common separator",
                )))
            }
        }
    } else {
        None
    };
    let mut stamps = Stamps::new(mutations.len());
    let mut facts = Facts {
        mutations,
        observers: Vec::new(),
        chains: Vec::new(),
    };
    for (op, access) in accesses.iter().enumerate() {
        let (seen, cas) = match *access {
            Access::Read(v) => (v, None),
            Access::Cas(old, new) => (old, table.get(&new).copied()),
            _ => continue,
        };
        let start = facts.chains.len() as u32;
        let resolved = match separator {
            None => resolve_whole(
                seen,
                init,
                &table,
                &facts.mutations,
                &mut facts.chains,
                work,
            )?,
            Some(sep) => resolve_pieces(seen, sep, &table, &mut facts, &mut stamps, work)?,
        };
        if !resolved {
            facts.chains.truncate(start as usize);
            if cas.is_none() {
                let conflict = Conflict {
                    why: Why::Unreachable { reader: op },
                    support: vec![op],
                };
                return Ok(Err(Decision::Illegal(conflict)));
            }
        }
        facts.observers.push(Observer {
            op,
            cas,
            chain: (start, facts.chains.len() as u32),
            resolved,
        });
    }
    Ok(Ok(facts))
}

/// The separator every written string ends in, if there is one: each
/// mutation's value is a non-empty string whose only occurrence of the
/// separator is its last character, and the initial value is "".
fn separator(accesses: &[Access<'_>], init: Val<'static>) -> Option<char> {
    if init != Val::Str("") {
        return None;
    }
    let mut sep = None;
    for access in accesses {
        let value = match *access {
            Access::Write(Val::Str(s)) | Access::Cas(_, Val::Str(s)) | Access::Append(s) => s,
            Access::Write(_) | Access::Cas(..) => return None,
            Access::Read(_) | Access::Unobserved => continue,
        };
        let last = value.chars().next_back()?;
        if *sep.get_or_insert(last) != last {
            return None;
        }
        if value[..value.len() - last.len_utf8()].contains(last) {
            return None;
        }
    }
    sep
}

/// Resolves a value that is one mutation's value (no appends in play).
fn resolve_whole(
    seen: Val<'_>,
    init: Val<'static>,
    table: &ValueTable<'_>,
    mutations: &[Mutation],
    chains: &mut Vec<u32>,
    work: &mut Work,
) -> Result<bool, Exhausted> {
    if seen == init {
        return Ok(true);
    }
    match table.get(&seen) {
        Some(&m) => {
            assert!(
                mutations[m as usize].kind != Kind::Append,
                "no appends without a separator"
            );
            work.room_for_piece(chains)?;
            chains.push(m);
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Resolves a string built by appends into the mutations of its pieces:
/// a write or compare-and-set first (or an append onto the initial ""),
/// then appends only, none twice (`stamps` marks the pieces seen in this
/// value: each mutation's slot holds the last observer that saw it).
fn resolve_pieces(
    seen: Val<'_>,
    sep: char,
    table: &ValueTable<'_>,
    facts: &mut Facts,
    stamps: &mut Stamps,
    work: &mut Work,
) -> Result<bool, Exhausted> {
    let Val::Str(text) = seen else {
        return Ok(false);
    };
    if text.is_empty() {
        return Ok(true);
    }
    if !text.ends_with(sep) {
        return Ok(false);
    }
    let stamp = stamps.next();
    for (i, piece) in text.split_inclusive(sep).enumerate() {
        work.step()?;
        let Some(&m) = table.get(&Val::Str(piece)) else {
            return Ok(false);
        };
        if i > 0 && facts.mutations[m as usize].kind != Kind::Append {
            return Ok(false);
        }
        if std::mem::replace(&mut stamps.of[m as usize], stamp) == stamp {
            return Ok(false); // one op's value twice in one state
        }
        work.room_for_piece(&mut facts.chains)?;
        facts.chains.push(m);
    }
    Ok(true)
}

/// Per mutation, the last value (by number) whose pieces included it.
struct Stamps {
    of: Vec<u32>,
    last: u32,
}

impl Stamps {
    fn new(mutations: usize) -> Self {
        Stamps {
            of: vec![0; mutations],
            last: 0,
        }
    }

    /// A fresh number for the next value.
    fn next(&mut self) -> u32 {
        self.last += 1;
        self.last
    }
}

// ----- which mutations happened, and what follows what ---------------------------------

/// A compare-and-set that must have happened but compared against a value
/// no sequence of mutations produces.
fn unreachable_cas(facts: &Facts) -> Option<Conflict> {
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
fn mark_required<M: Model>(
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
fn pin(facts: &mut Facts, work: &mut Work) -> Result<Result<(Vec<u32>, u32), Conflict>, Exhausted> {
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

/// A conflict whose support is `ops` plus, transitively, every mutation
/// they saw, what each mutation was applied to, and the op that pinned it
/// there: a sub-history in which the same pins, and so the same conflict,
/// hold.
fn with_supports(facts: &Facts, why: Why, ops: Vec<usize>) -> Conflict {
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

// ----- blocks --------------------------------------------------------------------------

/// A block: its versions in order (the first may be `INIT`).
struct Block {
    versions: Vec<Version>,
}

/// Follows the successor links from every head (the initial value, and
/// every required mutation with no predecessor). `Ok(Err(_))`: some
/// mutations are linked round a loop.
fn blocks(
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
struct Readers {
    start: Vec<u32>,
    ops: Vec<u32>,
}

impl Readers {
    fn of(&self, v: Version) -> &[u32] {
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

fn readers_by_version(facts: &Facts) -> Readers {
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

fn block_ops(block: &Block, facts: &Facts, readers: &Readers) -> Vec<usize> {
    let mut out = Vec::new();
    for &v in &block.versions {
        if v != INIT {
            out.push(facts.mutations[v as usize].op);
        }
        out.extend(readers.of(v).iter().map(|&r| r as usize));
    }
    out
}

/// A block's extent in real time: its earliest return (`None` = the
/// initial value's, before everything) and latest call, with the ops.
#[derive(Clone, Copy)]
struct Span {
    min_return: Option<(u64, usize)>,
    max_call: Option<(u64, usize)>,
}

/// Checks a block's fixed order against real time and measures its span.
/// `Ok(Err(_))`: an op finished before an op it must follow began.
fn block_span<M: Model>(
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
fn two_cycle(spans: &[Span]) -> Option<(usize, usize, Why)> {
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
