//! A grow-only counter (G-Counter CRDT): the small protocol of the
//! "property-test your protocol" example. Each node counts its own
//! increments (synced to disk before it acknowledges them), gossips its
//! vector of counts, and merges vectors by element-wise maximum.
//!
//! `buggy_merge` sums instead of taking the maximum: a classic mistake that
//! counts an increment once per gossip round. The checks catch it.

use faultline::history::Outcome;
use faultline::process::{
    CheckInfo, Ctx, Disk, DiskKey, EndState, Invariants, Lifecycle, NodeId, Process, Protocol,
    RequestId, TimerId, Violation,
};
use faultline::rng::SimRng;
use faultline::time::{SimDuration, SimTime};
use serde::Serialize;
use std::collections::BTreeMap;

/// A client operation.
#[derive(Clone, Debug, Serialize)]
pub enum Op {
    /// Add one.
    Increment,
    /// Read the total.
    Read,
}

/// The gossiped state.
#[derive(Clone, Debug, Serialize)]
pub struct State(Vec<u64>);

// Both go into the trace hash by their serde encoding.
faultline::trace_hash_by_serde!(Op, State);

/// What the checks observe.
#[derive(Clone, Debug)]
pub enum Note {
    /// A client's increment was applied here.
    Incremented,
    /// This node's total is now this.
    Total(u64),
}

const OWN: DiskKey = DiskKey::single("own");

/// One G-Counter replica.
pub struct Replica {
    me: usize,
    counts: Vec<u64>,
    buggy_merge: bool,
}

impl Replica {
    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

impl Process for Replica {
    type Msg = State;
    type Timer = ();
    type Op = Op;
    type Res = u64;
    type Stored = u64;
    type Note = Note;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<u64>) {
        self.counts[self.me] = disk.get(OWN).copied().unwrap_or(0);
        ctx.set_timer(SimDuration::from_millis(50), ());
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, _from: NodeId, State(other): State) {
        for (mine, theirs) in self.counts.iter_mut().zip(other) {
            *mine = if self.buggy_merge {
                *mine + theirs
            } else {
                (*mine).max(theirs)
            };
        }
        ctx.note(Note::Total(self.total()));
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, _t: ()) {
        ctx.broadcast(State(self.counts.clone()));
        ctx.set_timer(SimDuration::from_millis(50), ());
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: Op) {
        if let Op::Increment = op {
            self.counts[self.me] += 1;
            ctx.write(OWN, self.counts[self.me]);
            ctx.sync();
            ctx.note(Note::Incremented);
            ctx.note(Note::Total(self.total()));
        }
        ctx.reply_ok(req, self.total());
    }
}

/// The protocol bundle: replicas, a workload of increments and reads, checks.
pub struct GCounter {
    /// Number of replicas.
    pub replicas: usize,
    /// Merge by sum instead of maximum (the planted bug).
    pub buggy_merge: bool,
}

impl Protocol for GCounter {
    type Node = Replica;
    type Invariants = Checks;

    fn server_count(&self) -> usize {
        self.replicas
    }

    fn new_process(&self, id: NodeId) -> Replica {
        Replica {
            me: id.index(),
            counts: vec![0; self.replicas],
            buggy_merge: self.buggy_merge,
        }
    }

    fn next_op(&mut self, _client: usize, rng: &mut SimRng) -> (NodeId, Op) {
        let node = NodeId(rng.below(self.replicas as u64) as u32);
        let op = if rng.chance(0.8) {
            Op::Increment
        } else {
            Op::Read
        };
        (node, op)
    }

    fn invariants(&self) -> Checks {
        Checks::default()
    }
}

/// The checks: no replica ever counts more than was incremented, and after
/// the liveness phase every replica counts exactly every increment.
#[derive(Default)]
pub struct Checks {
    increments: u64,
    last_total: BTreeMap<NodeId, u64>,
}

impl Invariants<Replica> for Checks {
    fn names(&self) -> &'static [CheckInfo] {
        const CHECKS: &[CheckInfo] = &[
            CheckInfo::always("gcounter.bounded"),
            CheckInfo::always("gcounter.monotonic"),
            CheckInfo::eventually("gcounter.convergence"),
        ];
        CHECKS
    }

    fn on_note(&mut self, at: SimTime, node: NodeId, note: &Note) -> Result<(), Violation> {
        match *note {
            Note::Incremented => self.increments += 1,
            Note::Total(total) => {
                if total > self.increments {
                    let msg = format!(
                        "{node} counts {total}, but only {} increments were made",
                        self.increments
                    );
                    return Err(Violation::new("gcounter.bounded", at, msg));
                }
                let last = self.last_total.insert(node, total).unwrap_or(0);
                if total < last {
                    let msg = format!("{node}'s total went down from {last} to {total}");
                    return Err(Violation::new("gcounter.monotonic", at, msg));
                }
            }
        }
        Ok(())
    }

    fn on_lifecycle(&mut self, _at: SimTime, node: NodeId, event: Lifecycle) {
        if event == Lifecycle::Crashed {
            self.last_total.remove(&node); // a restarted replica relearns what it lost
        }
    }

    fn at_end(&mut self, end: &EndState<'_, Replica>) -> Vec<Violation> {
        let acked = end
            .history
            .ops
            .iter()
            .filter(|o| matches!(o.op, Op::Increment) && matches!(o.outcome, Outcome::Ok(_)))
            .count() as u64;
        let mut violations = Vec::new();
        for (i, replica) in end.nodes.iter().enumerate() {
            let total = replica.map_or(0, |r| r.total());
            if total != self.increments || total < acked {
                let msg = format!("n{i} counts {total} after the liveness phase; {} increments were made ({acked} acknowledged)", self.increments);
                violations.push(Violation::new("gcounter.convergence", end.time, msg));
            }
        }
        violations
    }
}
