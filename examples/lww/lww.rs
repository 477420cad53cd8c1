//! A last-writer-wins register, as a crate of its own would write it: the
//! protocol (replicas that stamp each write with a Lamport clock and keep
//! the highest stamp), its checks, and the one [`ProtocolDef`] that makes
//! it a protocol scenario files can name (`protocol = "lww"`, options in
//! `[lww]`). Registered with `faultline::cli::main_with`, it gets `run`,
//! `explore`, `shrink` and the reports.
//!
//! The planted bug (`[lww] bug = true`): a replica adopts whatever state a
//! peer gossips, even one older than its own, so a replica's stamp can go
//! backwards. `lww.monotonic` catches it as it happens.

use faultline::history::Outcome;
use faultline::process::{
    CheckInfo, Ctx, Disk, DiskKey, EndState, Invariants, NodeId, OpFields, Process, Protocol,
    RequestId, TimerId, Violation,
};
use faultline::protocols::{ProtocolDef, Setup};
use faultline::rng::SimRng;
use faultline::scenario::{OptionsInput, ScenarioError};
use faultline::time::{SimDuration, SimTime};
use faultline::trace::{TraceHash, TraceHasher};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// Options of the `[lww]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LwwOptions {
    /// How often a replica sends its state to every peer.
    pub sync_interval: SimDuration,
    /// The planted bug: adopt a peer's state even when it is older.
    pub bug: bool,
}

impl Default for LwwOptions {
    fn default() -> Self {
        LwwOptions {
            sync_interval: SimDuration::from_millis(100),
            bug: false,
        }
    }
}

/// A write's stamp: (Lamport time, writer). Higher wins.
pub type Stamp = (u64, u32);

/// A client operation.
#[derive(Clone, Debug, Serialize)]
pub enum Op {
    /// Write a value.
    Write(u64),
    /// Read the value.
    Read,
}

/// A replica's state as it is gossiped and stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct State {
    /// The stamp of the value.
    pub stamp: Stamp,
    /// The value (`None`: never written).
    pub value: Option<u64>,
}

// How each type enters the run's trace hash: its fields in order, an
// enum's variant index first.
impl TraceHash for Op {
    fn trace_hash(&self, h: &mut TraceHasher) {
        match self {
            Op::Write(v) => {
                h.word(0);
                v.trace_hash(h);
            }
            Op::Read => h.word(1),
        }
    }
}

impl TraceHash for State {
    fn trace_hash(&self, h: &mut TraceHasher) {
        (self.stamp, self.value).trace_hash(h);
    }
}

impl TraceHash for SyncTick {
    fn trace_hash(&self, _h: &mut TraceHasher) {}
}

/// What the checks observe.
#[derive(Clone, Debug)]
pub enum Note {
    /// The replica's stamp is now this.
    Stamped(Stamp),
}

/// The one timer: time to gossip.
#[derive(Clone, Debug, Serialize)]
pub struct SyncTick;

/// A replica.
pub struct Replica {
    options: LwwOptions,
    state: State,
}

const STATE: &str = "state";

impl Replica {
    fn adopt(&mut self, ctx: &mut Ctx<'_, Self>, state: State) {
        let newer = state.stamp > self.state.stamp;
        if !(newer || self.options.bug) || state == self.state {
            return;
        }
        self.state = state;
        ctx.write(DiskKey::new(STATE, 0), self.state.clone());
        ctx.sync();
        ctx.note(Note::Stamped(self.state.stamp));
    }

    fn arm(&self, ctx: &mut Ctx<'_, Self>) {
        ctx.set_timer(self.options.sync_interval, SyncTick);
    }

    /// The replica's state.
    pub fn state(&self) -> &State {
        &self.state
    }
}

impl Process for Replica {
    type Msg = State;
    type Timer = SyncTick;
    type Op = Op;
    type Res = Option<u64>;
    type Stored = State;
    type Note = Note;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<State>) {
        if let Some(state) = disk.get(DiskKey::new(STATE, 0)) {
            self.state = state.clone();
        }
        self.arm(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, _from: NodeId, state: State) {
        self.adopt(ctx, state);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, _timer: SyncTick) {
        let peers: Vec<NodeId> = ctx.peers().collect();
        for peer in peers {
            ctx.send(peer, self.state.clone());
        }
        self.arm(ctx);
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: Op) {
        match op {
            Op::Write(value) => {
                let stamp = (self.state.stamp.0 + 1, ctx.me().0);
                self.adopt(
                    ctx,
                    State {
                        stamp,
                        value: Some(value),
                    },
                );
                ctx.reply_ok(req, Some(value));
            }
            Op::Read => ctx.reply_ok(req, self.state.value),
        }
    }
}

/// The protocol bundle: replicas, a workload of writes (fresh values) and
/// reads at random replicas, and the checks.
pub struct Lww {
    options: LwwOptions,
    nodes: usize,
    next_value: u64,
}

impl Protocol for Lww {
    type Node = Replica;
    type Invariants = LwwChecks;

    fn server_count(&self) -> usize {
        self.nodes
    }

    fn new_process(&self, _id: NodeId) -> Replica {
        Replica {
            options: self.options.clone(),
            state: State {
                stamp: (0, 0),
                value: None,
            },
        }
    }

    fn next_op(&mut self, _client: usize, rng: &mut SimRng) -> (NodeId, Op) {
        let node = NodeId(rng.below(self.nodes as u64) as u32);
        if rng.chance(0.5) {
            return (node, Op::Read);
        }
        self.next_value += 1;
        (node, Op::Write(self.next_value))
    }

    fn invariants(&self) -> LwwChecks {
        LwwChecks::default()
    }

    fn op_fields(&self, op: &Op) -> OpFields {
        let (f, value) = match op {
            Op::Write(v) => ("write", json!(v)),
            Op::Read => ("read", json!(null)),
        };
        OpFields {
            f: f.into(),
            key: None,
            value,
        }
    }

    fn result_value(&self, _op: &Op, res: &Option<u64>) -> serde_json::Value {
        json!(res)
    }
}

/// Checks: `lww.monotonic` (a replica's stamp never goes backwards, judged
/// always) and `lww.convergence` (after the liveness phase every replica
/// holds the newest acknowledged write, judged at the end).
#[derive(Default)]
pub struct LwwChecks {
    stamps: BTreeMap<NodeId, Stamp>,
}

/// The checks: one safety check judged as the run goes, one liveness
/// check judged after the liveness phase.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo::always("lww.monotonic"),
    CheckInfo::eventually("lww.convergence"),
];

impl Invariants<Replica> for LwwChecks {
    fn names(&self) -> &'static [CheckInfo] {
        CHECKS
    }

    fn on_note(&mut self, at: SimTime, node: NodeId, note: &Note) -> Result<(), Violation> {
        let Note::Stamped(stamp) = note;
        let before = self.stamps.insert(node, *stamp).unwrap_or((0, 0));
        if *stamp < before {
            let m = format!("{node} went back from stamp {before:?} to {stamp:?}");
            return Err(Violation::new("lww.monotonic", at, m));
        }
        Ok(())
    }

    fn at_end(&mut self, end: &EndState<'_, Replica>) -> Vec<Violation> {
        let newest = end
            .history
            .ops
            .iter()
            .filter(|o| matches!(o.outcome, Outcome::Ok(_)) && matches!(o.op, Op::Write(_)))
            .count();
        let states: Vec<&State> = end.nodes.iter().flatten().map(|r| r.state()).collect();
        let converged = states.windows(2).all(|w| w[0] == w[1]);
        if converged || newest == 0 {
            return Vec::new();
        }
        let m = format!("replicas still differ after the liveness phase: {states:?}");
        vec![Violation::new("lww.convergence", end.time, m)]
    }
}

/// The registry entry: `protocol = "lww"`, options in `[lww]`.
pub struct LwwDef;

impl ProtocolDef for LwwDef {
    type Options = LwwOptions;
    type Protocol = Lww;

    fn name(&self) -> &'static str {
        "lww"
    }

    fn about(&self) -> &'static str {
        "a last-writer-wins register (the example of a protocol from a crate of its own)"
    }

    fn checks(&self) -> &'static [CheckInfo] {
        CHECKS
    }

    fn options(&self, input: &OptionsInput<'_>) -> Result<LwwOptions, ScenarioError> {
        let options: LwwOptions = input.table("lww")?;
        if options.sync_interval == SimDuration::ZERO {
            return Err(input.error(
                "lww",
                Some("sync_interval"),
                "expected sync_interval above 0",
            ));
        }
        Ok(options)
    }

    fn build(&self, options: &LwwOptions, setup: &Setup) -> Lww {
        Lww {
            options: options.clone(),
            nodes: setup.nodes,
            next_value: 0,
        }
    }
}
