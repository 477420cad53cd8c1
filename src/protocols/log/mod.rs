//! A replicated, partitioned log (Kafka-style). Nodes `0..brokers` are
//! brokers, the next node the controller (which also keeps the consumer
//! group's committed offsets), the next the sink (the database consumers
//! apply records to), and the rest consumers; the `[workload]` clients
//! are producers.
//!
//! Each partition has replicas on `replication` brokers, a leader and an
//! in-sync replica set (ISR). Followers fetch from the leader; the leader's
//! high watermark (HW) is the least log end of the ISR, and consumers read
//! only below it. A produce is acknowledged by the leader at once
//! (`acks = 1`), once the whole ISR has it (`acks = "all"`, refused while
//! the ISR is smaller than `min_insync_replicas`), or never (`acks = 0`).
//! A follower that falls behind for `replica_lag_max` leaves the ISR
//! (the leader asks the controller) and rejoins once it has caught up to
//! the HW. Records carry their leader epoch; a follower of a new leader
//! truncates its log where it diverges from the leader's (Kafka's
//! KIP-101 epoch check), so what was never committed can vanish.
//!
//! **The controller** is one node with durable state, lease-based: brokers
//! heartbeat to it, and one silent for `session_timeout` (or back with a
//! new incarnation) loses its leaderships to an in-sync replica, or, with
//! `unclean_leader_election`, to any live replica. Why not a Raft group:
//! the anomalies this protocol exists to show (acknowledged writes lost to
//! `acks = 1`, to unclean elections, consumers' commits) all live in the
//! data path; a single durable controller keeps leadership changes
//! explicit and cheap, and its crash only stalls them (it does not lose
//! data). A replicated controller is the Raft protocol's job.
//!
//! **Consumers** form one group coordinated by the controller: of the `n`
//! live consumers the `i`-th owns partitions `p % n == i`, a new generation
//! whenever one joins or leaves (commits of older ones are refused). Each
//! polls its partitions from their leaders,
//! applies each record to the sink and commits its position to the
//! controller after the batch, before it, or with the effect (the sink
//! stores positions in the effect's own write): at-least-once, at-most-once
//! or exactly-once effects. With `projection`, the sink is an event-sourced
//! read model (account balances), snapshotted and rebuilt from its last
//! snapshot and the log's tail after a restart (`sink`).
//!
//! The checks (`checks`) judge the run against the truth the simulator
//! knows, the final committed log of every partition, and run the history
//! checker (`check::log`) on what producers and consumers saw.

mod broker;
pub mod checks;
mod controller;
mod def;
mod options;
mod producer;
mod replica;
mod sink;
mod windows;

mod consumer;

pub use broker::Broker;
pub use checks::{LogChecks, CHECKS};
pub use consumer::Consumer;
pub use controller::Controller;
pub use def::Def;
pub use options::{Acks, CommitWhen, LogOptions};
pub use producer::Producer;
pub use replica::Replica;
pub use sink::{Sink, Snapshot, ACCOUNTS};
pub use windows::{Tally, WindowSpec, Windows};

use crate::process::{Ctx, Disk, NodeId, OpFields, Process, Protocol, RequestId, TimerId};
use crate::rng::SimRng;
use serde::Serialize;

/// A partition's number.
pub type Partition = u32;

/// A record's position in its partition's log, from 0.
pub type Offset = u64;

/// A record of a partition's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The leader epoch it was appended in.
    pub epoch: u64,
    /// The producer's value.
    pub value: u64,
    /// The idempotent producer's id (0: none).
    pub producer: u64,
    /// The producer's sequence number in this partition.
    pub seq: u64,
    /// Its event time: the producer's clock when it sent it (ns).
    pub time_ns: u64,
}

/// The controller's record of one partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartitionState {
    /// The leader, if any broker may lead it now.
    pub leader: Option<u32>,
    /// Bumped with each new leader (from 1).
    pub epoch: u64,
    /// The in-sync replicas (sorted), the leader among them.
    pub isr: Vec<u32>,
    /// Bumped with every change of leader or ISR.
    pub version: u64,
}

impl PartitionState {
    /// Whether this is a later record than `other`.
    pub fn newer_than(&self, other: &PartitionState) -> bool {
        (self.epoch, self.version) > (other.epoch, other.version)
    }
}

/// A producer's operation: send `value` to `partition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Produce {
    /// The partition.
    pub partition: Partition,
    /// The value (unique per send).
    pub value: u64,
}

/// How a send ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Produced {
    /// The leader acknowledged it at this offset.
    At(Offset),
    /// Sent without waiting (`acks = 0`): its fate is unknown.
    Unconfirmed,
    /// Refused before it was appended anywhere (never in the log).
    Refused,
}

/// Why a leader refused a produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ProduceError {
    /// The broker does not lead the partition.
    NotLeader,
    /// `acks = "all"` and the ISR is smaller than `min_insync_replicas`.
    NotEnoughReplicas,
    /// `acks = "all"`: appended, but the ISR shrank below
    /// `min_insync_replicas` before it was committed (it may be in the
    /// log).
    NotEnoughReplicasAfterAppend,
}

/// Why a leader refused a consumer's poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PollError {
    /// The broker does not lead the partition.
    NotLeader,
    /// The offset is past the log's end (it was truncated): start again
    /// from this offset (the high watermark).
    OutOfRange(Offset),
}

/// Messages.
#[derive(Clone, Debug, Serialize)]
pub enum Msg {
    /// Broker → controller: alive (in incarnation `incarnation`).
    Heartbeat {
        /// Counted on the broker's disk: a restart is a new one.
        incarnation: u64,
    },
    /// Controller → broker: the state of every partition it replicates.
    States(Vec<(Partition, PartitionState)>),
    /// Leader → controller: set the ISR (from the state of `version`).
    AlterIsr {
        /// The partition.
        partition: Partition,
        /// The leader's epoch.
        epoch: u64,
        /// The version the change is based on.
        version: u64,
        /// The new ISR.
        isr: Vec<u32>,
    },
    /// Anyone → controller: who leads what.
    Metadata,
    /// Controller → anyone: the leader of each partition, by partition.
    Leaders(Vec<Option<u32>>),
    /// Producer → leader: append `value`.
    Produce {
        /// The producer's attempt.
        req: u64,
        /// The partition.
        partition: Partition,
        /// The value.
        value: u64,
        /// The idempotent producer's id (0: none).
        producer: u64,
        /// Its sequence number in the partition.
        seq: u64,
        /// The event time (the producer's clock at the send, ns).
        time_ns: u64,
        /// Whether the producer waits for an answer.
        acks: Acks,
    },
    /// Leader → producer: appended at `offset` (and committed, with
    /// `acks = "all"`).
    ProduceOk {
        /// The attempt.
        req: u64,
        /// The offset.
        offset: Offset,
    },
    /// Leader → producer: refused.
    ProduceRefused {
        /// The attempt.
        req: u64,
        /// Why.
        error: ProduceError,
    },
    /// Follower → leader: records from `offset`; the follower's record
    /// before it was appended in `last_epoch`.
    Fetch {
        /// The partition.
        partition: Partition,
        /// The leader epoch the follower follows.
        epoch: u64,
        /// The follower's log end.
        offset: Offset,
        /// The epoch of the follower's last record (0: none).
        last_epoch: u64,
        /// Echoed in the answer.
        seq: u64,
    },
    /// Leader → follower: records from `offset`, and the high watermark.
    Fetched {
        /// The partition.
        partition: Partition,
        /// The fetch's `seq`.
        seq: u64,
        /// Where the records start.
        offset: Offset,
        /// The records.
        entries: Vec<Entry>,
        /// The leader's high watermark.
        hw: Offset,
    },
    /// Leader → follower: your log diverges from mine; my records of
    /// epochs up to your last one end with `epoch`'s, at `end`: truncate
    /// to at most that and fetch again.
    Diverging {
        /// The partition.
        partition: Partition,
        /// The fetch's `seq`.
        seq: u64,
        /// The leader's largest epoch not above the follower's last.
        epoch: u64,
        /// Where the leader's records of that epoch end.
        end: Offset,
    },
    /// Leader → follower: not the leader of that epoch.
    FetchRefused {
        /// The partition.
        partition: Partition,
        /// The fetch's `seq`.
        seq: u64,
    },
    /// Consumer → leader: committed records from `offset`.
    Poll {
        /// The partition.
        partition: Partition,
        /// The consumer's position.
        offset: Offset,
        /// Echoed in the answer.
        seq: u64,
    },
    /// Leader → consumer: the committed records from `offset`.
    Records {
        /// The partition.
        partition: Partition,
        /// The poll's `seq`.
        seq: u64,
        /// Where the values start.
        offset: Offset,
        /// The values.
        values: Vec<u64>,
        /// Their event times (ns).
        times: Vec<u64>,
    },
    /// Leader → consumer: refused.
    PollRefused {
        /// The partition.
        partition: Partition,
        /// The poll's `seq`.
        seq: u64,
        /// Why.
        error: PollError,
    },
    /// Consumer → controller (or the sink, committing with the effect):
    /// the committed positions of these partitions, please.
    FetchPositions(Vec<Partition>),
    /// Controller (or sink) → consumer: committed positions.
    Positions(Vec<(Partition, Offset)>),
    /// Consumer → controller: commit a position.
    Commit {
        /// The group generation the consumer holds the partition in (a
        /// commit from an older one is refused: the partition may have
        /// moved).
        generation: u64,
        /// The partition.
        partition: Partition,
        /// The next offset to consume.
        offset: Offset,
    },
    /// Consumer → controller (the group coordinator): alive.
    GroupHeartbeat,
    /// Controller → consumer: its partitions in the group's generation.
    Assignment {
        /// Bumped whenever a consumer joins or leaves.
        generation: u64,
        /// The partitions it owns.
        partitions: Vec<Partition>,
    },
    /// Consumer → sink: apply the records from `offset` of `partition`
    /// (one batch, one durable write).
    Apply {
        /// The partition.
        partition: Partition,
        /// The first record's offset.
        offset: Offset,
        /// The values.
        values: Vec<u64>,
        /// Their event times (ns).
        times: Vec<u64>,
    },
    /// Sink → consumer: applied (or already applied) up to `offset`.
    Applied {
        /// The partition.
        partition: Partition,
        /// The offset after the batch's last record.
        offset: Offset,
    },
}

/// Timers.
#[derive(Clone, Debug, Serialize)]
pub enum Timer {
    /// Broker: heartbeat to the controller.
    Heartbeat,
    /// Broker (follower): fetch `partition` again unless fetch `seq` has
    /// been answered.
    Fetch {
        /// The partition.
        partition: Partition,
        /// The fetch.
        seq: u64,
    },
    /// Broker (leader): look for followers out of sync, resend ISR changes.
    IsrCheck,
    /// Broker (without `sync`): flush what it has written.
    Flush,
    /// Controller: look for brokers whose session lapsed.
    Sweep,
    /// Producer: (re)send the send `op` (after a backoff or a timeout).
    Attempt {
        /// The operation.
        op: u64,
        /// The attempt this timer belongs to.
        attempt: u32,
    },
    /// Producer (`acks = 0`, which hears of no failure): ask who leads
    /// again.
    RefreshLeaders,
    /// Producer: give `op` up.
    GiveUp {
        /// The operation.
        op: u64,
    },
    /// Consumer: poll again unless poll `seq` has been answered.
    Poll {
        /// The poll.
        seq: u64,
    },
    /// Consumer: processing of the current record is done.
    Processed,
    /// Consumer: the sink did not answer the apply of the batch from
    /// `offset`.
    ApplyTimeout {
        /// The batch's first offset.
        offset: Offset,
    },
    /// Consumer: the committed positions did not come.
    Positions,
    /// Consumer: heartbeat to the group coordinator.
    GroupHeartbeat,
    /// Sink (with a projection): write a snapshot.
    Snapshot,
}

/// What nodes tell the checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// Controller: `leader` leads `partition` in `epoch` (none: offline);
    /// `unclean` when it was not in sync.
    Elected {
        /// The partition.
        partition: Partition,
        /// The epoch.
        epoch: u64,
        /// The new leader.
        leader: Option<u32>,
        /// Chosen from outside the ISR.
        unclean: bool,
    },
    /// Controller: the consumer group is in a new generation (a consumer
    /// joined or left, or the controller restarted).
    Regrouped,
    /// Broker: truncated `count` records of `partition`, `committed` of
    /// them below its high watermark.
    Truncated {
        /// The partition.
        partition: Partition,
        /// Records removed.
        count: u64,
        /// Of which below the high watermark.
        committed: u64,
    },
    /// Consumer: polled `value` at `offset` of `partition`.
    Polled {
        /// The consumer: node id in the high bits, incarnation below.
        consumer: u64,
        /// The partition.
        partition: Partition,
        /// The offset.
        offset: Offset,
        /// The value.
        value: u64,
    },
    /// Sink: `value` took effect.
    Applied {
        /// The value.
        value: u64,
    },
    /// Sink: the record was applied before (its offset is below the
    /// stored position); not again.
    Deduplicated,
}

crate::trace_hash_by_serde!(Produce, Produced, Msg, Timer);

/// What nodes keep on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// A broker's record.
    Entry(Entry),
    /// A counter (incarnations) or a position.
    Number(u64),
    /// The controller's record of a partition (boxed: records, far more
    /// numerous, stay small).
    State(Box<PartitionState>),
    /// The sink's projection snapshot.
    Snapshot(Box<sink::Snapshot>),
}

/// A process of the log.
#[derive(Debug)]
pub enum LogNode {
    /// Nodes `0..brokers`.
    Broker(Broker),
    /// Node `brokers`.
    Controller(Controller),
    /// Node `brokers + 1`.
    Sink(Sink),
    /// The remaining servers.
    Consumer(Consumer),
    /// The clients, after the servers.
    Producer(Producer),
}

impl Process for LogNode {
    type Msg = Msg;
    type Timer = Timer;
    type Op = Produce;
    type Res = Produced;
    type Stored = Stored;
    type Note = Note;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<Stored>) {
        match self {
            LogNode::Broker(b) => b.start(ctx, disk),
            LogNode::Controller(c) => c.start(ctx, disk),
            LogNode::Sink(s) => s.start(ctx, disk),
            LogNode::Consumer(c) => c.start(ctx, disk),
            LogNode::Producer(p) => p.start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            LogNode::Broker(b) => b.message(ctx, from, msg),
            LogNode::Controller(c) => c.message(ctx, from, msg),
            LogNode::Sink(s) => s.message(ctx, from, msg),
            LogNode::Consumer(c) => c.message(ctx, msg),
            LogNode::Producer(p) => p.message(ctx, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, timer: Timer) {
        match self {
            LogNode::Broker(b) => b.timer(ctx, timer),
            LogNode::Controller(c) => c.timer(ctx, timer),
            LogNode::Consumer(c) => c.timer(ctx, timer),
            LogNode::Producer(p) => p.timer(ctx, timer),
            LogNode::Sink(s) => s.timer(ctx, timer),
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: Produce) {
        match self {
            LogNode::Producer(p) => p.send(ctx, req, op),
            _ => ctx.reply_fail(req, Produced::Refused),
        }
    }

    fn role(&self) -> Option<&'static str> {
        Some(match self {
            LogNode::Broker(_) => "broker",
            LogNode::Controller(_) => "controller",
            LogNode::Sink(_) => "sink",
            LogNode::Consumer(_) => "consumer",
            LogNode::Producer(_) => "producer",
        })
    }

    fn message_kind(msg: &Msg) -> &'static str {
        match msg {
            Msg::Heartbeat { .. }
            | Msg::States(_)
            | Msg::AlterIsr { .. }
            | Msg::Metadata
            | Msg::Leaders(_) => "control",
            Msg::Produce { .. } | Msg::ProduceOk { .. } | Msg::ProduceRefused { .. } => "produce",
            Msg::Fetch { .. }
            | Msg::Fetched { .. }
            | Msg::Diverging { .. }
            | Msg::FetchRefused { .. } => "replicate",
            Msg::Poll { .. } | Msg::Records { .. } | Msg::PollRefused { .. } => "poll",
            Msg::FetchPositions(_) | Msg::Positions(_) | Msg::Commit { .. } => "commit",
            Msg::GroupHeartbeat | Msg::Assignment { .. } => "control",
            Msg::Apply { .. } | Msg::Applied { .. } => "apply",
        }
    }
}

/// Roles a scenario fault may name.
pub const ROLES: &[&str] = &["broker", "controller", "sink", "consumer", "producer"];

/// Kinds of message a scenario may name.
pub const MESSAGE_KINDS: &[&str] = &["control", "produce", "replicate", "poll", "commit", "apply"];

/// Where each process sits among the nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Brokers are nodes `0..brokers`.
    pub brokers: usize,
    /// Server nodes: brokers, controller, sink, consumers.
    pub servers: usize,
}

impl Layout {
    /// The controller.
    pub fn controller(self) -> NodeId {
        NodeId(self.brokers as u32)
    }

    /// The sink.
    pub fn sink(self) -> NodeId {
        NodeId(self.brokers as u32 + 1)
    }

    /// The first consumer's node index.
    pub fn first_consumer(self) -> usize {
        self.brokers + 2
    }

    /// How many consumers.
    pub fn consumers(self) -> usize {
        self.servers - self.first_consumer()
    }
}

/// The log bundle.
pub struct Log {
    options: LogOptions,
    layout: Layout,
    producers: usize,
    next_value: u64,
}

impl Log {
    /// A log on `servers` server nodes with `producers` producer processes.
    pub fn new(options: LogOptions, servers: usize, producers: usize) -> Self {
        let layout = Layout {
            brokers: options.brokers,
            servers,
        };
        assert!(
            servers > layout.first_consumer() && producers > 0,
            "a log needs its brokers, a controller, a sink, a consumer and a producer"
        );
        Log {
            options,
            layout,
            producers,
            next_value: 0,
        }
    }
}

impl Protocol for Log {
    type Node = LogNode;
    type Invariants = LogChecks;

    fn server_count(&self) -> usize {
        self.layout.servers
    }

    fn process_count(&self) -> usize {
        self.layout.servers + self.producers
    }

    fn new_process(&self, id: NodeId) -> LogNode {
        let i = id.index();
        let l = self.layout;
        if i < l.brokers {
            LogNode::Broker(Broker::new(&self.options, l, id))
        } else if i == l.brokers {
            LogNode::Controller(Controller::new(&self.options, l))
        } else if i == l.brokers + 1 {
            LogNode::Sink(Sink::new(&self.options))
        } else if i < l.servers {
            LogNode::Consumer(Consumer::new(&self.options, l))
        } else {
            LogNode::Producer(Producer::new(&self.options, l))
        }
    }

    fn next_op(&mut self, client: usize, _rng: &mut SimRng) -> (NodeId, Produce) {
        self.next_value += 1;
        let producer = self.layout.servers + client % self.producers;
        let partition = (self.next_value % u64::from(self.options.partitions)) as Partition;
        let op = Produce {
            partition,
            value: self.next_value,
        };
        (NodeId(producer as u32), op)
    }

    fn invariants(&self) -> LogChecks {
        LogChecks::new(&self.options, self.layout)
    }

    fn op_fields(&self, op: &Produce) -> OpFields {
        OpFields {
            f: "send".into(),
            key: Some(op.partition.to_string()),
            value: op.value.into(),
        }
    }

    /// Jepsen's shape: `[offset, value]` when the offset is known.
    fn result_value(&self, op: &Produce, res: &Produced) -> serde_json::Value {
        match res {
            Produced::At(offset) => serde_json::json!([offset, op.value]),
            _ => op.value.into(),
        }
    }
}

#[cfg(test)]
mod tests;
