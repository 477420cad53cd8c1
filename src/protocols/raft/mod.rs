//! Raft (Ongaro & Ousterhout, "In Search of an Understandable Consensus
//! Algorithm", §5 and §7, with PreVote and CheckQuorum from Ongaro's thesis
//! §9.6): a replicated key-value store with client sessions, checked for
//! the paper's safety properties as the run goes and for linearizability
//! and liveness at its end.
//!
//! Layout: [`server`] is a Raft server, [`client`] a client process that
//! finds the leader and retries, [`log`] the log with its snapshot
//! boundary, [`kv`] the state machine with its session table, [`messages`]
//! the wire, timer, disk and note types, [`checks`] the invariants. This
//! module bundles them: options, the process type (a server or a client),
//! the workload and the history format.
//!
//! The server, log and messages are generic over the [`StateMachine`] they
//! replicate, [`kv::Kv`] by default (so `Server`, `Msg` and the rest name
//! the key-value version Raft's runs use). A protocol that embeds Raft
//! groups with a machine of its own runs each member as a [`Replica`], or
//! drives a [`Server`] from any process whose types are Raft's ([`Host`]).
//!
//! Processes `0..nodes` are servers, `nodes..nodes + clients` are clients;
//! workload client `c` always talks to client process `nodes + c`.

pub mod checks;
pub mod client;
mod def;
pub mod kv;
pub mod log;
pub mod machine;
pub mod messages;
mod options;
mod replica;
pub mod server;
mod trace;

use crate::process::{Ctx, Disk, NodeId, OpFields, Process, Protocol, RequestId, TimerId};
use crate::rng::SimRng;
use crate::sim::Placement;
use crate::time::SimTime;
use checks::RaftChecks;
use client::{Client, ClientSide};
use kv::{KvOp, KvRes};
use messages::{Msg, Note, Stored, Timer};
use serde_json::Value;
use server::Server;

pub use checks::CHECKS;
pub use def::Def;
pub use machine::{Host, StateMachine};
pub use options::{RaftOptions, ServerOptions, WorkloadOptions};
pub use replica::Replica;

/// Roles a scenario fault may target.
pub const ROLES: &[&str] = &["leader", "follower", "candidate"];

/// A Raft process: a server or a client.
pub enum RaftNode {
    /// A server.
    Server(Box<Server>),
    /// A client.
    Client(Client),
}

impl RaftNode {
    /// The server, if this is one.
    pub fn server(&self) -> Option<&Server> {
        match self {
            RaftNode::Server(s) => Some(s),
            RaftNode::Client(_) => None,
        }
    }

    /// The client, if this is one.
    pub fn client(&self) -> Option<&Client> {
        match self {
            RaftNode::Client(c) => Some(c),
            RaftNode::Server(_) => None,
        }
    }
}

/// Raft's code-level fault points (`Ctx::buggify`): an election timeout
/// at its minimum (more simultaneous candidates, split votes), an
/// AppendEntries processed but not answered (the leader's retransmission
/// path), a snapshot taken early (compaction and InstallSnapshot), and a
/// new leader that does not append its no-op (entries of earlier terms
/// then wait for the §5.4.2 rule: Figure 8's window, opened from any
/// scenario).
pub const BUGGIFY_POINTS: &[&str] = &[
    "raft.short-election-timeout",
    "raft.drop-append-reply",
    "raft.snapshot-early",
    "raft.skip-leader-noop",
];

impl Process for RaftNode {
    type Msg = Msg;
    type Timer = Timer;
    type Op = KvOp;
    type Res = KvRes;
    type Stored = Stored;
    type Note = Note;

    fn message_kind(msg: &Msg) -> &'static str {
        msg.kind().name()
    }

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<Stored>) {
        match self {
            RaftNode::Server(s) => {
                s.start(ctx, disk);
                s.assert_invariants();
            }
            RaftNode::Client(c) => c.start(ctx, disk),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            RaftNode::Server(s) => {
                s.on_message(ctx, from, msg);
                s.assert_invariants();
            }
            RaftNode::Client(c) => c.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, id: TimerId, timer: Timer) {
        match self {
            RaftNode::Server(s) => {
                s.on_timer(ctx, id, timer);
                s.assert_invariants();
            }
            RaftNode::Client(c) => c.on_timer(ctx, id, timer),
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: KvOp) {
        match self {
            RaftNode::Client(c) => c.on_request(ctx, req, op),
            // Servers take commands from client processes only.
            RaftNode::Server(_) => ctx.reply_fail(req, KvRes::Stale),
        }
    }

    fn role(&self) -> Option<&'static str> {
        Some(self.server()?.role().name())
    }
}

/// The Raft bundle: servers, clients, the key-value workload and the checks.
pub struct Raft {
    options: RaftOptions,
    servers: usize,
    liveness_start: SimTime,
    clients: ClientSide,
}

impl Raft {
    /// Raft on `servers` servers with `clients` client processes; the
    /// liveness phase begins at `liveness_start` (the scenario's duration).
    pub fn new(
        options: RaftOptions,
        servers: usize,
        clients: usize,
        liveness_start: SimTime,
    ) -> Self {
        Raft {
            clients: ClientSide::new(servers, clients, &options.workload),
            options,
            servers,
            liveness_start,
        }
    }

    /// The same, its clients sending each request first to the server
    /// `placement` picks among `targets` (every server when empty); they
    /// then follow `NotLeader` hints to the leader as always.
    pub fn with_placement(mut self, placement: Placement, targets: &[NodeId]) -> Self {
        self.clients = self.clients.with_placement(placement, targets);
        self
    }
}

impl Protocol for Raft {
    type Node = RaftNode;
    type Invariants = RaftChecks;

    fn server_count(&self) -> usize {
        self.servers
    }

    fn process_count(&self) -> usize {
        self.clients.process_count()
    }

    fn new_process(&self, id: NodeId) -> RaftNode {
        if id.index() < self.servers {
            let server = Server::new(self.options.server.clone(), id, self.servers);
            RaftNode::Server(Box::new(server))
        } else {
            RaftNode::Client(self.clients.client())
        }
    }

    fn next_op(&mut self, client: usize, rng: &mut SimRng) -> (NodeId, KvOp) {
        self.clients.next_op(client, rng)
    }

    /// `behind`: a live server whose log ends before the highest commit
    /// index of any live server (it lacks entries the cluster committed:
    /// a follower back from a crash or a partition, until it catches up).
    fn tagged(&self, tag: &str, servers: &[Option<&RaftNode>]) -> Vec<NodeId> {
        if tag != "behind" {
            return Vec::new();
        }
        let live: Vec<(usize, &server::Server)> = servers
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.and_then(RaftNode::server).map(|s| (i, s)))
            .collect();
        let commit = live
            .iter()
            .map(|(_, s)| s.commit_index())
            .max()
            .unwrap_or(0);
        live.iter()
            .filter(|(_, s)| s.log().last_index() < commit)
            .map(|&(i, _)| NodeId(i as u32))
            .collect()
    }

    fn invariants(&self) -> RaftChecks {
        RaftChecks::new(
            self.options.liveness_bound(),
            self.options.liveness_election_timeouts,
            self.servers,
            self.liveness_start,
        )
    }

    fn op_fields(&self, op: &KvOp) -> OpFields {
        kv::op_fields(op)
    }

    fn result_value(&self, op: &KvOp, res: &KvRes) -> Value {
        kv::result_value(op, res)
    }
}

#[cfg(test)]
mod tests;
