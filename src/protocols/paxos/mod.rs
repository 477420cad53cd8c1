//! Multi-Paxos (Lamport, "Paxos Made Simple" §3; the shape of van
//! Renesse & Altinbuken, "Paxos Made Moderately Complex"): a replicated
//! key-value store with the same client sessions and workload as Raft's,
//! so that the two compare like for like.
//!
//! Every server is an acceptor, a learner and a proposer. A proposer that
//! hears no leader for an election timeout first asks whether a majority
//! hears none either (a probe, like Raft's PreVote: a server that only
//! lost a few heartbeats deposes no one), then runs phase 1 (prepare /
//! promise) once, for every slot from its first unchosen one, with a
//! ballot (round, its id) above any it has seen; holding a majority of
//! promises it is the distinguished proposer (the leader). It re-proposes
//! in each slot the value of the highest ballot a promise reported, fills
//! the gaps with no-ops, and then runs phase 2 (accept / accepted) alone
//! for each client command, in a new slot. A value a majority accepted is
//! chosen: the leader tells every server (a commit notice), which apply
//! the chosen slots in order. Acceptors write and sync their promised
//! ballot and every accepted (ballot, value) before they answer. A
//! preempted proposer backs off for a random, growing time before it
//! tries again (`backoff`), so that dueling proposers converge.
//!
//! Layout: [`replica`] is a server, [`checks`] the invariants, [`def`]
//! the registry entry and its options; the client is Raft's
//! ([`crate::protocols::raft::client::Client`]), through [`SessionWire`].
//! Processes `0..nodes` are servers, `nodes..nodes + clients` clients.

mod checks;
mod def;
pub mod replica;
mod slots;
#[cfg(test)]
mod tests;

use crate::process::{Ctx, Disk, NodeId, Process, Protocol, RequestId, TimerId};
use crate::protocols::raft::client::{Client, ClientSide, SessionWire};
use crate::protocols::raft::kv::{self, Kv, KvOp, KvRes};
use crate::protocols::raft::messages::Answer;
use crate::protocols::raft::WorkloadOptions;
use crate::rng::SimRng;
use crate::sim::Placement;
use crate::time::SimTime;
use replica::Replica;
use serde::Serialize;
use std::rc::Rc;

pub use checks::{PaxosChecks, CHECKS};
pub use def::{Def, PaxosOptions};

/// Roles a scenario fault may target.
pub const ROLES: &[&str] = &["leader", "follower", "candidate"];

/// Multi-Paxos's code-level fault points (`Ctx::buggify`): an accepted
/// batch not answered (the leader's resend of a lost batch), a server
/// that skips the probe and runs phase 1 at once (a disruptive proposer
/// that deposes a live leader), and a snapshot taken at once (catch-up and
/// takeovers from snapshots).
pub const BUGGIFY_POINTS: &[&str] = &[
    "paxos.drop-accepted-reply",
    "paxos.skip-probe",
    "paxos.snapshot-early",
];

/// A ballot: a round and the proposer that owns it; ordered by round, then
/// proposer, so that no two proposers share one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Ballot {
    /// The round (0: no ballot yet).
    pub round: u64,
    /// The proposer.
    pub node: u32,
}

/// What a slot of the replicated log holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Cmd {
    /// Nothing: a gap a new leader filled.
    Noop,
    /// Command `seq` of client session `session`.
    Op {
        /// The client's session.
        session: u64,
        /// The command's number in its session.
        seq: u64,
        /// The operation (shared with the client's retries).
        op: Rc<KvOp>,
    },
}

impl Cmd {
    /// Who issued it: `(session, seq)`, or `None` for a no-op.
    pub fn id(&self) -> CmdId {
        match self {
            Cmd::Noop => None,
            Cmd::Op { session, seq, .. } => Some((*session, *seq)),
        }
    }
}

/// A command's identity in the checks: its `(session, seq)`, `None` for a
/// no-op.
pub type CmdId = Option<(u64, u64)>;

/// A slot of the log: its number (from 0).
pub type Slot = u64;

/// Messages between Multi-Paxos processes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Msg {
    /// Client → server: apply command `seq` of `session`.
    Request {
        /// The client's session.
        session: u64,
        /// The command's number.
        seq: u64,
        /// The operation.
        op: Rc<KvOp>,
    },
    /// Server → client: the outcome of command `seq`.
    Response {
        /// The command answered.
        seq: u64,
        /// Its outcome, or a pointer to the leader.
        outcome: Answer,
    },
    /// Before phase 1: would you promise `ballot`? (No promise is made.)
    Probe {
        /// The ballot phase 1 would use.
        ballot: Ballot,
    },
    /// Yes to a probe: this acceptor hears no leader and promised less.
    ProbeOk {
        /// The ballot probed.
        ballot: Ballot,
    },
    /// Phase 1a: promise `ballot`, and report what you accepted from
    /// slot `from` on.
    Prepare {
        /// The proposer's ballot.
        ballot: Ballot,
        /// The first slot the proposer has not seen chosen.
        from: Slot,
    },
    /// Phase 1b: promised `ballot`; what this acceptor accepted from the
    /// prepare's slot on, and its snapshot if it compacted slots the
    /// prepare asked about.
    Promise {
        /// The ballot promised.
        ballot: Ballot,
        /// (slot, ballot accepted in, value) for each slot.
        accepted: Vec<(Slot, Ballot, Cmd)>,
        /// (its first slot not in the snapshot, the store then), when the
        /// prepare's slot is before that.
        snapshot: Option<(Slot, Rc<Kv>)>,
    },
    /// Phase 2a, a batch: accept each (slot, value) in `ballot`. Carries
    /// the commit notice too: every slot below `chosen` is chosen (an
    /// acceptor that accepted a slot's value in this ballot learns it).
    Accept {
        /// The leader's ballot.
        ballot: Ballot,
        /// (slot, value), consecutive slots.
        entries: Vec<(Slot, Cmd)>,
        /// The end of the leader's chosen prefix.
        chosen: Slot,
    },
    /// Phase 2b: accepted these slots in `ballot`.
    Accepted {
        /// The ballot.
        ballot: Ballot,
        /// The slots accepted.
        slots: Vec<Slot>,
    },
    /// Refused: this acceptor promised `promised`, above the ballot asked.
    Nack {
        /// The ballot promised.
        promised: Ballot,
    },
    /// Leader → a follower with nothing to accept: I lead in `ballot`;
    /// every slot below `chosen` is chosen (a learner that did not accept
    /// one of them in this ballot asks for it).
    Heartbeat {
        /// The leader's ballot.
        ballot: Ballot,
        /// The end of the leader's chosen prefix.
        chosen: Slot,
    },
    /// Learner → leader: send me the chosen values from `from`.
    Learn {
        /// The first slot wanted.
        from: Slot,
    },
    /// The answer to a learner behind the sender's snapshot: the store as
    /// of slot `slot` (every slot before it applied).
    Snapshot {
        /// The first slot not in the snapshot.
        slot: Slot,
        /// The store.
        kv: Rc<Kv>,
    },
    /// The answer to a learner: these slots are chosen with these values.
    Chosen {
        /// (slot, value), by slot.
        entries: Vec<(Slot, Cmd)>,
    },
}

impl Msg {
    /// The message's kind, for fault rules and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Msg::Request { .. } | Msg::Response { .. } => "client",
            Msg::Probe { .. } | Msg::ProbeOk { .. } | Msg::Prepare { .. } | Msg::Promise { .. } => {
                "prepare"
            }
            Msg::Accept { .. } | Msg::Accepted { .. } => "accept",
            Msg::Nack { .. } => "nack",
            Msg::Heartbeat { .. } => "heartbeat",
            Msg::Learn { .. } | Msg::Chosen { .. } | Msg::Snapshot { .. } => "learn",
        }
    }
}

/// Every message kind, as [`Msg::kind`] names them.
pub const MESSAGE_KINDS: &[&str] = &["client", "prepare", "accept", "nack", "heartbeat", "learn"];

/// Timers of Multi-Paxos processes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Timer {
    /// A server's periodic tick: a leader's heartbeat and retransmission,
    /// a follower's look for a lapsed leader.
    Tick,
    /// A client's retry deadline.
    ClientRetry,
}

crate::trace_hash_by_serde!(Msg, Timer);

/// What processes keep on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// An acceptor's promised ballot.
    Promised(Ballot),
    /// An acceptor's accepted value of a slot (key: the slot).
    Accepted(Ballot, Cmd),
    /// The store as of a slot (every slot before it applied): the
    /// accepted values before it are deleted.
    Snapshot(Slot, Box<Kv>),
    /// A client's session counter.
    Session(u64),
}

/// Ghost observations for the checks; they never change the run.
#[derive(Clone, Debug)]
pub enum Note {
    /// An acceptor promised `ballot` (or promised it again).
    Promised {
        /// The ballot.
        ballot: Ballot,
    },
    /// An acceptor accepted `cmd` in `slot` in `ballot`.
    Accepted {
        /// The slot.
        slot: Slot,
        /// The ballot.
        ballot: Ballot,
        /// The value's identity.
        cmd: CmdId,
    },
    /// A learner learned that `cmd` is chosen in `slot`.
    Learned {
        /// The slot.
        slot: Slot,
        /// The value's identity.
        cmd: CmdId,
    },
    /// A server snapshotted its store as of `slot`.
    Snapshotted {
        /// The first slot not in the snapshot.
        slot: Slot,
    },
    /// A server behind installed another's snapshot as of `slot`: a new
    /// leader from a promise (`leader`), or a learner.
    Installed {
        /// The first slot not in the snapshot.
        slot: Slot,
        /// Whether a new leader installed it.
        leader: bool,
    },
    /// A proposer became leader in `ballot`.
    Elected {
        /// The ballot.
        ballot: Ballot,
    },
}

/// A Multi-Paxos process: a server or a client.
pub enum PaxosNode {
    /// A server.
    Server(Box<Replica>),
    /// A client.
    Client(Client<PaxosNode>),
}

impl PaxosNode {
    /// The server, if this is one.
    pub fn server(&self) -> Option<&Replica> {
        match self {
            PaxosNode::Server(s) => Some(s),
            PaxosNode::Client(_) => None,
        }
    }

    /// The client, if this is one.
    pub fn client(&self) -> Option<&Client<PaxosNode>> {
        match self {
            PaxosNode::Client(c) => Some(c),
            PaxosNode::Server(_) => None,
        }
    }
}

impl SessionWire for PaxosNode {
    fn request(session: u64, seq: u64, op: Rc<KvOp>) -> Msg {
        Msg::Request { session, seq, op }
    }
    fn answer(msg: Msg) -> Option<(u64, Answer)> {
        match msg {
            Msg::Response { seq, outcome } => Some((seq, outcome)),
            _ => None,
        }
    }
    fn retry_timer() -> Timer {
        Timer::ClientRetry
    }
    fn is_retry_timer(timer: &Timer) -> bool {
        *timer == Timer::ClientRetry
    }
    fn session_record(count: u64) -> Stored {
        Stored::Session(count)
    }
    fn session_count(stored: &Stored) -> Option<u64> {
        match stored {
            Stored::Session(n) => Some(*n),
            _ => None,
        }
    }
}

impl Process for PaxosNode {
    type Msg = Msg;
    type Timer = Timer;
    type Op = KvOp;
    type Res = KvRes;
    type Stored = Stored;
    type Note = Note;

    fn message_kind(msg: &Msg) -> &'static str {
        msg.kind()
    }

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<Stored>) {
        match self {
            PaxosNode::Server(s) => s.start(ctx, disk),
            PaxosNode::Client(c) => c.start(ctx, disk),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            PaxosNode::Server(s) => s.on_message(ctx, from, msg),
            PaxosNode::Client(c) => c.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, id: TimerId, timer: Timer) {
        match self {
            PaxosNode::Server(s) => s.on_timer(ctx, timer),
            PaxosNode::Client(c) => c.on_timer(ctx, id, timer),
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: KvOp) {
        match self {
            PaxosNode::Client(c) => c.on_request(ctx, req, op),
            // Servers take commands from client processes only.
            PaxosNode::Server(_) => ctx.reply_fail(req, KvRes::Stale),
        }
    }

    fn role(&self) -> Option<&'static str> {
        Some(self.server()?.role())
    }
}

/// The Multi-Paxos bundle: servers, clients, the key-value workload and
/// the checks.
pub struct Paxos {
    options: PaxosOptions,
    servers: usize,
    liveness_start: SimTime,
    clients: ClientSide,
}

impl Paxos {
    /// Multi-Paxos on `servers` servers with `clients` client processes;
    /// the liveness phase begins at `liveness_start`.
    pub fn new(
        options: PaxosOptions,
        servers: usize,
        clients: usize,
        liveness_start: SimTime,
    ) -> Self {
        let workload = WorkloadOptions {
            keys: options.keys,
            client_retry: options.client_retry,
            get_put_only: options.get_put_only,
        };
        Paxos {
            clients: ClientSide::new(servers, clients, &workload),
            options,
            servers,
            liveness_start,
        }
    }

    /// The same, its clients sending each request first to the server
    /// `placement` picks among `targets` (every server when empty).
    pub fn with_placement(mut self, placement: Placement, targets: &[NodeId]) -> Self {
        self.clients = self.clients.with_placement(placement, targets);
        self
    }
}

impl Protocol for Paxos {
    type Node = PaxosNode;
    type Invariants = PaxosChecks;

    fn server_count(&self) -> usize {
        self.servers
    }

    fn process_count(&self) -> usize {
        self.clients.process_count()
    }

    fn new_process(&self, id: NodeId) -> PaxosNode {
        if id.index() < self.servers {
            PaxosNode::Server(Box::new(Replica::new(
                self.options.clone(),
                id,
                self.servers,
            )))
        } else {
            PaxosNode::Client(self.clients.client())
        }
    }

    fn next_op(&mut self, client: usize, rng: &mut SimRng) -> (NodeId, KvOp) {
        self.clients.next_op(client, rng)
    }

    fn invariants(&self) -> PaxosChecks {
        PaxosChecks::new(
            self.servers,
            self.liveness_start,
            self.options.liveness_bound(),
        )
    }

    fn op_fields(&self, op: &KvOp) -> crate::process::OpFields {
        kv::op_fields(op)
    }

    fn result_value(&self, op: &KvOp, res: &KvRes) -> serde_json::Value {
        kv::result_value(op, res)
    }
}
