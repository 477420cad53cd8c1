//! The Wing & Gong linearizability search with Lowe's memoization, for one
//! partition. Owns the doubly-linked list of call/return entries (with
//! lift/unlift in the style of dancing links), the backtracking stack, and
//! the record of the deepest point reached (for counterexamples).
//!
//! Unknown-outcome ops return at +infinity: their return entries sit after
//! every real return, so the search never has to place them, and it ends as
//! soon as every completed op is linearized.
use super::budget::{Budget, Exhausted, Meter};
use super::memo::{hash_state, zobrist, Memo};
use super::model::Model;

const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;

/// One op of a partition, as the search sees it.
pub(crate) struct PartOp<'a, M: Model> {
    pub input: &'a M::Input,
    pub output: Option<&'a M::Output>,
    pub call_time: u64,
    /// `None` = unknown outcome (returns at +infinity).
    pub return_time: Option<u64>,
}

/// How one partition's search ended.
pub(crate) enum Outcome<S> {
    /// Every completed op was placed.
    Linearizable,
    /// No order works; the deepest prefix reached and the state after it.
    Illegal { prefix: Vec<usize>, state: S },
    /// A bound was hit before the search decided.
    Stopped(Exhausted),
}

/// The entries in time order, as a doubly-linked list through indices.
/// Node 0 is the head sentinel; each op has a call node and a return node.
struct EntryList {
    next: Vec<u32>,
    prev: Vec<u32>,
    op: Vec<u32>,
    /// For a call node, its return node; `NIL` for return nodes.
    ret: Vec<u32>,
}

impl EntryList {
    fn build<M: Model>(ops: &[PartOp<'_, M>]) -> Self {
        // (time, 0 = call / 1 = return, op): calls sort before returns at
        // equal times, so ops that touch in time count as concurrent.
        let mut order: Vec<(u64, u8, u32)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            order.push((op.call_time, 0, i as u32));
            order.push((op.return_time.map_or(u64::MAX, |t| t), 1, i as u32));
        }
        order.sort_unstable();
        let n = order.len() + 1;
        assert!(n < NIL as usize, "a partition has fewer than 2^31 ops");
        let mut list = EntryList {
            next: vec![NIL; n],
            prev: vec![NIL; n],
            op: vec![0; n],
            ret: vec![NIL; n],
        };
        let mut return_node = vec![0u32; ops.len()];
        for (pos, &(_, kind, op)) in order.iter().enumerate() {
            let node = pos as u32 + 1;
            list.op[node as usize] = op;
            list.prev[node as usize] = node - 1;
            list.next[node as usize - 1] = node;
            if kind == 1 {
                return_node[op as usize] = node;
            }
        }
        for node in 1..n {
            if list.ret[node] == NIL && is_call_kind(&order[node - 1]) {
                list.ret[node] = return_node[list.op[node] as usize];
            }
        }
        list
    }

    fn first(&self) -> u32 {
        self.next[HEAD as usize]
    }

    fn is_call(&self, node: u32) -> bool {
        self.ret[node as usize] != NIL
    }

    fn op(&self, node: u32) -> usize {
        self.op[node as usize] as usize
    }

    fn unlink(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = n;
        if n != NIL {
            self.prev[n as usize] = p;
        }
    }

    fn relink(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = node;
        if n != NIL {
            self.prev[n as usize] = node;
        }
    }

    /// Removes a call and its return (the op is linearized).
    fn lift(&mut self, call: u32) {
        self.unlink(call);
        self.unlink(self.ret[call as usize]);
    }

    /// Undoes [`EntryList::lift`]; must be called in reverse lift order.
    fn unlift(&mut self, call: u32) {
        self.relink(self.ret[call as usize]);
        self.relink(call);
    }
}

fn is_call_kind(entry: &(u64, u8, u32)) -> bool {
    entry.1 == 0
}

/// A linearized op on the backtracking stack.
struct Frame {
    node: u32,
    /// Memo index of the state before this op.
    prev_state: u32,
    /// Which of the op's possible next states was taken.
    alt: u32,
}

/// The search's mutable position: linearized set, its hash, current state.
struct Position {
    bits: Vec<u64>,
    zob: u64,
    state: u32,
}

impl Position {
    /// Adds `op` to the linearized set (it must not be in it).
    fn linearize(&mut self, op: usize) {
        self.toggle(op, false);
    }

    /// Takes `op` out of the linearized set (it must be in it).
    fn undo(&mut self, op: usize) {
        self.toggle(op, true);
    }

    /// Flips `op`'s bit, which must be `was`: the set the memo keys on
    /// is exactly the ops on the stack, or a cached configuration could
    /// prune a branch that linearizes.
    fn toggle(&mut self, op: usize, was: bool) {
        let (word, bit) = (op / 64, 1u64 << (op % 64));
        assert_eq!(
            self.bits[word] & bit != 0,
            was,
            "op {op}: linearized twice, or undone while not linearized"
        );
        self.bits[word] ^= bit;
        self.zob ^= zobrist(op);
    }
}

/// The search over one partition, resumable: [`Search::advance`] runs a
/// bounded number of steps so a driver can interleave partitions.
pub(crate) struct Search<'a, M: Model> {
    model: &'a M,
    ops: Vec<PartOp<'a, M>>,
    list: EntryList,
    memo: Memo<M::State>,
    pos: Position,
    stack: Vec<Frame>,
    /// Ops of the deepest stack seen, and the memo index of its state.
    deepest: (Vec<usize>, u32),
    candidates: Vec<M::State>,
    meter: Meter<'a>,
    node: u32,
    alt: u32,
    /// Completed ops not yet linearized.
    remaining: usize,
    /// Steps taken so far.
    steps: u64,
}

impl<'a, M: Model> Search<'a, M> {
    /// Prepares the search of one partition's ops; `Err` if the budget
    /// cannot hold even its first memo entry.
    pub(crate) fn new(
        model: &'a M,
        ops: Vec<PartOp<'a, M>>,
        budget: &'a Budget,
    ) -> Result<Self, Exhausted> {
        let remaining = ops.iter().filter(|op| op.return_time.is_some()).count();
        let list = EntryList::build(&ops);
        let words = ops.len().div_ceil(64);
        let mut memo: Memo<M::State> = Memo::new(words);
        let mut meter = Meter::new(budget);
        let init = model.init();
        let init_heap = model.state_heap_bytes(&init);
        let bits = vec![0u64; words];
        meter.grant(memo.bytes(), memo.growth_bytes() + init_heap)?;
        let state = memo
            .insert_new(hash_state(&init), &bits, init, init_heap)
            .map_err(|e| Exhausted::Allocation { bytes: e.0 as u64 })?;
        let node = list.first();
        Ok(Search {
            model,
            ops,
            list,
            memo,
            pos: Position {
                bits,
                zob: 0,
                state,
            },
            stack: Vec::new(),
            deepest: (Vec::new(), state),
            candidates: Vec::new(),
            meter,
            node,
            alt: 0,
            remaining,
            steps: 0,
        })
    }

    /// Steps taken so far.
    pub(crate) fn steps(&self) -> u64 {
        self.steps
    }

    /// Ops in the longest linearizable prefix found so far.
    pub(crate) fn deepest(&self) -> usize {
        self.deepest.0.len()
    }

    /// Runs up to `steps_max` steps; `None` if still undecided.
    pub(crate) fn advance(&mut self, steps_max: u64) -> Option<Outcome<M::State>> {
        if self.remaining == 0 {
            return Some(Outcome::Linearizable);
        }
        for _ in 0..steps_max {
            self.steps += 1;
            let memo = &self.memo;
            if let Err(stop) = self.meter.tick(|| memo.bytes()) {
                return Some(Outcome::Stopped(stop));
            }
            assert!(
                self.node != NIL,
                "a completed op's return entry is always ahead"
            );
            let decided = if self.list.is_call(self.node) {
                self.try_call()
            } else {
                self.backtrack()
            };
            if decided.is_some() {
                return decided;
            }
        }
        None
    }

    /// At a call entry: linearize its op next if that reaches an unseen
    /// configuration, else move on to the next entry.
    fn try_call(&mut self) -> Option<Outcome<M::State>> {
        let op = self.list.op(self.node);
        self.candidates.clear();
        let (input, output) = (self.ops[op].input, self.ops[op].output);
        self.model.step(
            self.memo.state(self.pos.state),
            input,
            output,
            &mut self.candidates,
        );
        self.pos.linearize(op);
        let unseen = take_unseen(
            self.model,
            &mut self.memo,
            &mut self.meter,
            &self.pos,
            &mut self.candidates,
            self.alt,
        );
        let unseen = match unseen {
            Ok(unseen) => unseen,
            Err(stop) => {
                self.pos.undo(op);
                return Some(Outcome::Stopped(stop));
            }
        };
        let Some((taken, new_state)) = unseen else {
            self.pos.undo(op);
            self.node = self.list.next[self.node as usize];
            self.alt = 0;
            return None;
        };
        self.stack.push(Frame {
            node: self.node,
            prev_state: self.pos.state,
            alt: taken,
        });
        self.pos.state = new_state;
        self.list.lift(self.node);
        self.remaining -= usize::from(self.ops[op].return_time.is_some());
        if self.remaining == 0 {
            return Some(Outcome::Linearizable);
        }
        if self.stack.len() > self.deepest.0.len() {
            self.deepest = (
                self.stack.iter().map(|f| self.list.op(f.node)).collect(),
                self.pos.state,
            );
        }
        self.node = self.list.first();
        self.alt = 0;
        None
    }

    /// At a return entry: its op had to be linearized by now and was not,
    /// so undo the last choice (or conclude Illegal if there is none).
    fn backtrack(&mut self) -> Option<Outcome<M::State>> {
        let Some(frame) = self.stack.pop() else {
            let state = self.memo.state(self.deepest.1).clone();
            return Some(Outcome::Illegal {
                prefix: std::mem::take(&mut self.deepest.0),
                state,
            });
        };
        let op = self.list.op(frame.node);
        self.pos.undo(op);
        self.list.unlift(frame.node);
        self.remaining += usize::from(self.ops[op].return_time.is_some());
        self.pos.state = frame.prev_state;
        self.node = frame.node;
        self.alt = frame.alt + 1;
        None
    }
}

/// Finds the first candidate state, from index `alt` on, whose configuration
/// (with the op's bit already set in `pos`) is not cached; caches it and
/// returns (its candidate index, its memo index). `Err` when the budget
/// cannot hold the new entry.
fn take_unseen<M: Model>(
    model: &M,
    memo: &mut Memo<M::State>,
    meter: &mut Meter<'_>,
    pos: &Position,
    candidates: &mut Vec<M::State>,
    alt: u32,
) -> Result<Option<(u32, u32)>, Exhausted> {
    let mut i = alt as usize;
    while i < candidates.len() {
        let hash = pos.zob ^ hash_state(&candidates[i]);
        if !memo.contains(hash, &pos.bits, &candidates[i]) {
            let heap = model.state_heap_bytes(&candidates[i]);
            meter.grant(memo.bytes(), memo.growth_bytes() + heap)?;
            // Order of the rest does not matter: they are recomputed on
            // backtrack.
            let state = candidates.swap_remove(i);
            let idx = memo
                .insert_new(hash, &pos.bits, state, heap)
                .map_err(|e| Exhausted::Allocation { bytes: e.0 as u64 })?;
            return Ok(Some((i as u32, idx)));
        }
        i += 1;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::models::register::{RegInput, RegOutput};
    use crate::check::models::RegisterModel;

    fn op<'a>(
        input: &'a RegInput,
        output: Option<&'a RegOutput>,
        call: u64,
        ret: Option<u64>,
    ) -> PartOp<'a, RegisterModel> {
        PartOp {
            input,
            output,
            call_time: call,
            return_time: ret,
        }
    }

    #[test]
    fn lift_and_unlift_restore_the_list() {
        let (w, r) = (RegInput::Write(Some(1)), RegInput::Read);
        let ops = [
            op(&w, None, 0, Some(5)),
            op(&r, None, 1, Some(3)),
            op(&w, None, 2, None),
        ];
        let mut list = EntryList::build(&ops);
        let walk = |l: &EntryList| {
            let mut out = Vec::new();
            let mut n = l.first();
            while n != NIL {
                out.push((l.op(n), l.is_call(n)));
                n = l.next[n as usize];
            }
            out
        };
        let before = walk(&list);
        assert_eq!(
            before,
            vec![
                (0, true),
                (1, true),
                (2, true),
                (1, false),
                (0, false),
                (2, false)
            ]
        );
        let c0 = list.first();
        let c1 = list.next[c0 as usize];
        list.lift(c0);
        list.lift(c1);
        assert_eq!(walk(&list), vec![(2, true), (2, false)]);
        list.unlift(c1);
        list.unlift(c0);
        assert_eq!(walk(&list), before);
    }

    const MODEL: RegisterModel = RegisterModel {
        cas: false,
        conventions: crate::check::models::register::Conventions {
            initial: None,
            nil_read: crate::check::models::register::NilRead::Value,
        },
    };

    fn budget() -> Budget {
        Budget::new(crate::check::budget::Limits {
            steps_max: None,
            memory_bytes_max: 1 << 20,
            deadline: None,
        })
    }

    /// A search of `ops` under `budget`, which holds its first entry.
    fn search_of<'a, M: Model>(
        model: &'a M,
        ops: Vec<PartOp<'a, M>>,
        budget: &'a Budget,
    ) -> Search<'a, M> {
        Search::new(model, ops, budget)
            .unwrap_or_else(|_| panic!("the budget holds the first entry"))
    }

    /// The outcome of searching `ops` (a register) for up to 1,000 steps.
    fn first_outcome(ops: Vec<PartOp<'_, RegisterModel>>) -> Option<Outcome<Option<i64>>> {
        let budget = budget();
        let mut search = search_of(&MODEL, ops, &budget);
        search.advance(1000)
    }

    /// A counter whose `bump` adds 1 or 2 (a nondeterministic model, as a
    /// user's may be): `true` is a bump, `false` with an output a read.
    struct Bumper;

    impl Model for Bumper {
        type State = i64;
        type Input = bool;
        type Output = i64;

        fn name(&self) -> &'static str {
            "bumper"
        }

        fn init(&self) -> i64 {
            0
        }

        fn step(&self, state: &i64, bump: &bool, output: Option<&i64>, next: &mut Vec<i64>) {
            match (bump, output) {
                (true, _) => next.extend([state + 1, state + 2]),
                (false, Some(read)) if read != state => {}
                (false, _) => next.push(*state),
            }
        }

        fn encode(&self, _op: &crate::check::history::Op) -> Result<(bool, Option<i64>), String> {
            Err("built by hand in tests".to_string())
        }

        fn describe_state(&self, state: &i64) -> String {
            state.to_string()
        }
    }

    /// When an op may lead to several states, backtracking tries the next
    /// one: a bump then a read of 2 linearizes only through the bump's
    /// second outcome.
    #[test]
    fn backtracking_tries_an_op_s_next_possible_state() {
        let (bump, read) = (true, false);
        let two = 2;
        let ops = vec![
            PartOp::<Bumper> {
                input: &bump,
                output: None,
                call_time: 0,
                return_time: Some(1),
            },
            PartOp::<Bumper> {
                input: &read,
                output: Some(&two),
                call_time: 2,
                return_time: Some(3),
            },
        ];
        let budget = budget();
        let mut search = search_of(&Bumper, ops, &budget);
        assert!(matches!(search.advance(100), Some(Outcome::Linearizable)));
    }

    /// A configuration reached again by another path is skipped for the
    /// op's next possible state: two concurrent bumps then a read of 4
    /// linearize only as +2 +2, and each order reaches (both bumped, 3)
    /// first, already cached from the other order.
    #[test]
    fn a_cached_configuration_gives_way_to_the_next_possible_state() {
        let (bump, read) = (true, false);
        let four = 4;
        let bumped = |call| PartOp::<Bumper> {
            input: &bump,
            output: None,
            call_time: call,
            return_time: Some(10),
        };
        let ops = vec![
            bumped(0),
            bumped(1),
            PartOp::<Bumper> {
                input: &read,
                output: Some(&four),
                call_time: 20,
                return_time: Some(21),
            },
        ];
        let budget = budget();
        let mut search = search_of(&Bumper, ops, &budget);
        assert!(matches!(search.advance(1000), Some(Outcome::Linearizable)));
    }

    /// The memo asks for its next growth before it grows: a search that
    /// runs out of memory stops with the budget never passed.
    #[test]
    fn a_search_stops_before_its_memo_outgrows_the_memory_budget() {
        // 16 concurrent writes and a read of a value none wrote: every
        // subset of the writes is a configuration to cache.
        let inputs: Vec<RegInput> = (0..16).map(|v| RegInput::Write(Some(v))).collect();
        let (done, never) = (RegOutput::Done, RegOutput::Read(Some(99)));
        let read = RegInput::Read;
        let mut ops: Vec<PartOp<'_, RegisterModel>> = inputs
            .iter()
            .map(|w| op(w, Some(&done), 0, Some(100)))
            .collect();
        ops.push(op(&read, Some(&never), 200, Some(201)));
        let max = 1 << 16;
        let budget = Budget::new(crate::check::budget::Limits {
            steps_max: None,
            memory_bytes_max: max,
            deadline: None,
        });
        let mut search = search_of(&MODEL, ops, &budget);
        let outcome = search.advance(10_000_000);
        assert!(
            matches!(outcome, Some(Outcome::Stopped(Exhausted::Memory { .. }))),
            "{:?}",
            outcome.map(|o| matches!(o, Outcome::Linearizable))
        );
        assert!(
            budget.memory_bytes_peak() <= max,
            "peak {} of a {max}-byte budget",
            budget.memory_bytes_peak()
        );
    }

    /// A search stopped part-way says how far it got: each step of a
    /// sequential history linearizes one op, so after `k` steps it has
    /// taken `k` and its deepest prefix holds `k` ops (what an undecided
    /// verdict reports), and it resumes from there.
    #[test]
    fn a_search_counts_its_steps_and_depth_and_resumes() {
        let inputs: Vec<RegInput> = (0..10).map(|v| RegInput::Write(Some(v))).collect();
        let done = RegOutput::Done;
        let ops = inputs
            .iter()
            .enumerate()
            .map(|(i, w)| op(w, Some(&done), 10 * i as u64, Some(10 * i as u64 + 5)))
            .collect();
        let budget = budget();
        let mut search = search_of(&MODEL, ops, &budget);
        assert!(search.advance(4).is_none(), "undecided after 4 of 10 ops");
        assert_eq!((search.steps(), search.deepest()), (4, 4));
        assert!(search.advance(3).is_none());
        assert_eq!((search.steps(), search.deepest()), (7, 7));
        assert!(matches!(search.advance(100), Some(Outcome::Linearizable)));
        assert_eq!(search.steps(), 10);
    }

    #[test]
    fn the_deepest_prefix_is_reported() {
        // write(1) then read -> 2: write is placed, the read can never be.
        let (w, r) = (RegInput::Write(Some(1)), RegInput::Read);
        let (done, two) = (RegOutput::Done, RegOutput::Read(Some(2)));
        let ops = vec![
            op(&w, Some(&done), 0, Some(1)),
            op(&r, Some(&two), 2, Some(3)),
        ];
        match first_outcome(ops) {
            Some(Outcome::Illegal { prefix, state }) => {
                assert_eq!(prefix, vec![0]);
                assert_eq!(state, Some(1));
            }
            _ => panic!("expected Illegal"),
        }
    }

    #[test]
    fn of_equally_deep_prefixes_the_first_reached_is_reported() {
        // Two concurrent writes, then a read of 3: both orders of the
        // writes reach depth 2; the search tries write 0 first.
        let (w1, w2, r) = (
            RegInput::Write(Some(1)),
            RegInput::Write(Some(2)),
            RegInput::Read,
        );
        let (done, three) = (RegOutput::Done, RegOutput::Read(Some(3)));
        let ops = vec![
            op(&w1, Some(&done), 0, Some(5)),
            op(&w2, Some(&done), 1, Some(6)),
            op(&r, Some(&three), 10, Some(11)),
        ];
        match first_outcome(ops) {
            Some(Outcome::Illegal { prefix, state }) => {
                assert_eq!(prefix, vec![0, 1]);
                assert_eq!(state, Some(2));
            }
            _ => panic!("expected Illegal"),
        }
    }
}
