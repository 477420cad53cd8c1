//! Two replicated key-value stores for the CAP experiment, sharing client
//! processes, a workload and checks:
//!
//! * [`quorum`]: the seed's `ConsistentDataStore` — N replicas with read and
//!   write quorums R and W (ABD-style: a read queries R replicas and writes
//!   the newest value back to W; a write learns the newest version from R
//!   and stores a newer one at W). It refuses a request it cannot serve
//!   with a quorum: with R + W > N it is consistent (CP) and unavailable on
//!   the minority side of a partition.
//! * [`eventual`]: BASE — any replica answers reads and writes at once from
//!   its own copy, last-writer-wins by the replica's own clock, and
//!   anti-entropy spreads writes after a partition heals: available (AP),
//!   not linearizable, and a skewed clock can lose acknowledged writes.
//!
//! Processes `0..nodes` are replicas; `nodes..nodes + clients` are clients,
//! each attached to its home replica (`client % nodes`), so partitions can
//! put clients on both sides. A client sends each operation once to its
//! home replica and reports the reply; it does not retry (the experiment
//! measures what one attempt gets).

pub mod checks;
mod client;
mod def;
pub mod eventual;
pub mod quorum;

use crate::process::{Ctx, Disk, NodeId, OpFields, Process, Protocol, RequestId, TimerId};
use crate::rng::SimRng;
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use checks::StoreChecks;
pub use def::{EventualDef, QuorumDef};

/// A version: a counter (quorum) or a clock reading (eventual), then the
/// writer's id to break ties. Ordered lexicographically.
pub type Stamp = (u64, u32);

/// A client operation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Op {
    /// Read a key (missing keys read as "").
    Get(String),
    /// Write a value.
    Put(String, String),
}

impl Op {
    /// The key.
    pub fn key(&self) -> &str {
        match self {
            Op::Get(k) | Op::Put(k, _) => k,
        }
    }
}

/// Messages of both stores.
#[derive(Clone, Debug, Serialize)]
pub enum Msg {
    /// Client → home replica.
    Request { id: u64, op: Op },
    /// Home replica → client: `ok = false` is a refusal (no effect).
    Response { id: u64, ok: bool, value: String },
    /// Quorum coordinator → replica: what version of `key` do you hold?
    Query { rid: u64, key: String },
    /// Replica → coordinator.
    QueryReply {
        rid: u64,
        stamp: Stamp,
        value: String,
    },
    /// Quorum coordinator → replica: store this version if it is newer.
    Store {
        rid: u64,
        key: String,
        stamp: Stamp,
        value: String,
    },
    /// Replica → coordinator.
    StoreAck { rid: u64 },
    /// Eventual replica → peers: its whole state (anti-entropy).
    Sync {
        entries: Vec<(String, Stamp, String)>,
    },
}

/// Timers of both stores.
#[derive(Clone, Debug, Serialize)]
pub enum Timer {
    /// A quorum request's deadline.
    Deadline(u64),
    /// Time for anti-entropy.
    AntiEntropy,
}

crate::trace_hash_by_serde!(Op, Msg, Timer);

/// Observations for the checks.
#[derive(Clone, Debug)]
pub enum Note {
    /// A replica's copy of `key` changed to `value` at `stamp`.
    Stored {
        key: String,
        stamp: Stamp,
        value: String,
    },
}

/// Which store, with its options.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Quorum replication.
    Quorum(quorum::QuorumOptions),
    /// Eventual consistency.
    Eventual(eventual::EventualOptions),
}

/// Options common to both stores (`[quorum]` / `[eventual]` sections add theirs).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadOptions {
    /// Number of keys (`k0`, `k1`, ...).
    pub keys: u32,
    /// Share of operations that are reads.
    pub read_ratio: f64,
}

impl Default for WorkloadOptions {
    fn default() -> Self {
        WorkloadOptions {
            keys: 3,
            read_ratio: 0.5,
        }
    }
}

/// A store process: a replica of either kind, or a client.
pub enum StoreNode {
    /// A quorum replica.
    Quorum(quorum::QuorumReplica),
    /// An eventual replica.
    Eventual(eventual::EventualReplica),
    /// A client.
    Client(client::Client),
}

/// The durable record of a replica's key.
pub type Record = (Stamp, String);

macro_rules! each {
    ($self:ident, $node:ident => $body:expr) => {
        match $self {
            StoreNode::Quorum($node) => $body,
            StoreNode::Eventual($node) => $body,
            StoreNode::Client($node) => $body,
        }
    };
}

/// The handlers every kind of store process implements.
pub(crate) trait Role {
    fn start(&mut self, ctx: &mut Ctx<'_, StoreNode>, disk: &Disk<Record>);
    fn message(&mut self, ctx: &mut Ctx<'_, StoreNode>, from: NodeId, msg: Msg);
    fn timer(&mut self, ctx: &mut Ctx<'_, StoreNode>, timer: Timer);
    fn request(&mut self, ctx: &mut Ctx<'_, StoreNode>, req: RequestId, op: Op) {
        ctx.reply_fail(req, String::new());
        let _ = op;
    }
}

impl Process for StoreNode {
    type Msg = Msg;
    type Timer = Timer;
    type Op = Op;
    type Res = String;
    type Stored = Record;
    type Note = Note;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<Record>) {
        each!(self, n => n.start(ctx, disk))
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        each!(self, n => n.message(ctx, from, msg))
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, timer: Timer) {
        each!(self, n => n.timer(ctx, timer))
    }
    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: Op) {
        each!(self, n => n.request(ctx, req, op))
    }
}

/// The store protocol bundle.
pub struct Store {
    kind: Kind,
    nodes: usize,
    clients: usize,
    workload: WorkloadOptions,
    next_value: u64,
}

impl Store {
    /// A store of `kind` on `nodes` replicas with `clients` client processes.
    pub fn new(kind: Kind, nodes: usize, clients: usize, workload: WorkloadOptions) -> Self {
        Store {
            kind,
            nodes,
            clients,
            workload,
            next_value: 0,
        }
    }
}

/// The disk index of key `k<i>`.
pub(crate) fn key_index(key: &str) -> u64 {
    key.trim_start_matches('k').parse().unwrap_or(u64::MAX)
}

impl Protocol for Store {
    type Node = StoreNode;
    type Invariants = StoreChecks;

    fn server_count(&self) -> usize {
        self.nodes
    }

    fn process_count(&self) -> usize {
        self.nodes + self.clients
    }

    fn new_process(&self, id: NodeId) -> StoreNode {
        if id.index() >= self.nodes {
            let home = NodeId(((id.index() - self.nodes) % self.nodes) as u32);
            return StoreNode::Client(client::Client::new(home));
        }
        match &self.kind {
            Kind::Quorum(o) => StoreNode::Quorum(quorum::QuorumReplica::new(o.clone())),
            Kind::Eventual(o) => StoreNode::Eventual(eventual::EventualReplica::new(o.clone())),
        }
    }

    fn next_op(&mut self, client: usize, rng: &mut SimRng) -> (NodeId, Op) {
        let key = format!("k{}", rng.below(u64::from(self.workload.keys.max(1))));
        let op = if rng.chance(self.workload.read_ratio) {
            Op::Get(key)
        } else {
            self.next_value += 1;
            Op::Put(key, self.next_value.to_string())
        };
        let process = NodeId((self.nodes + client % self.clients.max(1)) as u32);
        (process, op)
    }

    fn invariants(&self) -> StoreChecks {
        StoreChecks::new(self.nodes, matches!(self.kind, Kind::Eventual(_)))
    }

    fn op_fields(&self, op: &Op) -> OpFields {
        match op {
            Op::Get(k) => OpFields {
                f: "get".into(),
                key: Some(k.clone()),
                value: json!(null),
            },
            Op::Put(k, v) => OpFields {
                f: "put".into(),
                key: Some(k.clone()),
                value: json!(v),
            },
        }
    }

    fn result_value(&self, op: &Op, res: &String) -> serde_json::Value {
        match op {
            Op::Get(_) => json!(res),
            Op::Put(_, v) => json!(v),
        }
    }
}

/// A deadline far enough for a quorum round on a slow network.
pub(crate) const DEFAULT_DEADLINE: SimDuration = SimDuration::from_millis(500);
