//! An at-least-once message queue (SQS- or RabbitMQ-style). Node 0 is the
//! broker, node 1 the sink (the database consumers apply messages to), and
//! nodes 2 and up are consumers; the `[workload]` clients are producers.
//!
//! A producer's `send` is acknowledged once the broker has stored the
//! message (and synced it, unless `sync = false`). A consumer polls the
//! broker; a delivered message is invisible to others for the visibility
//! timeout, during which the consumer processes it (applies it to the
//! sink) and then acknowledges it, which deletes it. A consumer that
//! crashes, or is too slow, leaves the message to reappear and be
//! delivered again: at-least-once, so a message can be applied twice.
//! Processing can fail (`error_rate`, or always for a poison message,
//! `poison_every`): the consumer gives the message back (a nack) and it is
//! delivered again at once; after `max_deliveries` deliveries a message
//! goes to the dead-letter queue instead. With `idempotent`, the sink records each message's key
//! with its effect, in one durable write, and applies a key once:
//! effectively-once. With `ack = "before"` a consumer acknowledges a
//! message before processing it, and a crash in between loses it.
//!
//! The checks (`checks`) read the producers' history and the sink's
//! record of what was applied, as Jepsen's queue checkers do: an
//! acknowledged message never applied is lost; a value applied that no
//! producer sent is unexpected; one applied twice is a duplicate, a
//! violation when the scenario claims exactly-once.

mod broker;
pub mod checks;
mod consumer;
mod def;
mod options;

pub use broker::Broker;
pub use checks::{QueueChecks, CHECKS};
pub use consumer::{Consumer, Producer, Sink};
pub use def::Def;
pub use options::{AckWhen, QueueOptions};

use crate::process::{Ctx, Disk, NodeId, OpFields, Process, Protocol, RequestId, TimerId};
use crate::rng::SimRng;
use serde::Serialize;

/// The broker.
pub const BROKER: NodeId = NodeId(0);
/// The sink.
pub const SINK: NodeId = NodeId(1);
/// The first consumer.
pub const FIRST_CONSUMER: usize = 2;

/// The broker's id of a stored message (its incarnation in the high bits).
pub type MsgId = u64;

/// A producer's operation: send `value` (unique per send).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Send {
    /// The value, also the message's idempotency key.
    pub value: u64,
}

/// How a send ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Sent {
    /// The broker stored it.
    Stored,
    /// Refused: it did not reach a producer (never stored).
    Refused,
}

/// Messages.
#[derive(Clone, Debug, Serialize)]
pub enum Msg {
    /// Producer → broker: store `value`.
    Put {
        /// The producer's operation.
        op: u64,
        /// The value.
        value: u64,
    },
    /// Broker → producer: stored.
    PutOk {
        /// The operation.
        op: u64,
    },
    /// Consumer → broker: a message, please.
    Receive,
    /// Broker → consumer: none ready.
    Empty,
    /// Broker → consumer: a message, invisible to others for the
    /// visibility timeout.
    Deliver {
        /// The message.
        id: MsgId,
        /// Its value.
        value: u64,
        /// This delivery's receipt, needed to acknowledge it.
        receipt: u64,
    },
    /// Consumer → broker: done with the delivery `receipt` of `id`.
    Ack {
        /// The message.
        id: MsgId,
        /// The receipt.
        receipt: u64,
    },
    /// Consumer → broker: processing the delivery `receipt` of `id`
    /// failed; deliver it again.
    Nack {
        /// The message.
        id: MsgId,
        /// The receipt.
        receipt: u64,
    },
    /// Consumer → sink: apply `value`.
    Apply {
        /// The value.
        value: u64,
    },
    /// Sink → consumer: applied (or already applied, when idempotent).
    Applied {
        /// The value.
        value: u64,
    },
}

/// Timers.
#[derive(Clone, Debug, Serialize)]
pub enum Timer {
    /// Producer: give the send up.
    GiveUp {
        /// The operation.
        op: u64,
    },
    /// Consumer: poll the broker.
    Poll,
    /// Consumer: processing of the delivery is done; apply it.
    Processed,
    /// Consumer: the sink did not answer; drop the delivery.
    ApplyTimeout {
        /// The value.
        value: u64,
    },
    /// Broker (without `sync`): flush what it has written.
    Flush,
    /// Broker: the delivery `receipt` of `id` is visible again unless
    /// acknowledged.
    Visible {
        /// The message.
        id: MsgId,
        /// The receipt.
        receipt: u64,
    },
}

/// What nodes tell the checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// Broker: it delivered `value` (its `delivery`-th delivery, from 1).
    Delivered {
        /// The value.
        value: u64,
        /// Which delivery.
        delivery: u32,
    },
    /// Broker: `value` went to the dead-letter queue.
    DeadLettered {
        /// The value.
        value: u64,
    },
    /// Sink: `value` took effect (durably).
    Applied {
        /// The value.
        value: u64,
    },
    /// Sink: `value` was applied before; not again (idempotent).
    Deduplicated {
        /// The value.
        value: u64,
    },
}

crate::trace_hash_by_serde!(Send, Sent, Msg, Timer);

/// A process of the queue.
#[derive(Debug)]
pub enum QueueNode {
    /// Node 0.
    Broker(Broker),
    /// Node 1.
    Sink(Sink),
    /// Nodes 2 and up.
    Consumer(Consumer),
    /// The clients, after the servers.
    Producer(Producer),
}

/// What each node keeps on disk: the broker a message's value and
/// deliveries by id, the sink each applied key (value, 0).
pub type Stored = (u64, u32);

impl Process for QueueNode {
    type Msg = Msg;
    type Timer = Timer;
    type Op = Send;
    type Res = Sent;
    type Stored = Stored;
    type Note = Note;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<Stored>) {
        match self {
            QueueNode::Broker(b) => b.start(ctx, disk),
            QueueNode::Sink(s) => s.start(disk),
            QueueNode::Consumer(c) => c.start(ctx),
            QueueNode::Producer(p) => p.start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            QueueNode::Broker(b) => b.message(ctx, from, msg),
            QueueNode::Sink(s) => s.message(ctx, from, msg),
            QueueNode::Consumer(c) => c.message(ctx, msg),
            QueueNode::Producer(p) => p.message(ctx, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, timer: Timer) {
        match self {
            QueueNode::Broker(b) => b.timer(ctx, timer),
            QueueNode::Consumer(c) => c.timer(ctx, timer),
            QueueNode::Producer(p) => p.timer(timer),
            QueueNode::Sink(_) => {}
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: Send) {
        match self {
            QueueNode::Producer(p) => p.send(ctx, req, op),
            _ => ctx.reply_fail(req, Sent::Refused),
        }
    }

    fn role(&self) -> Option<&'static str> {
        Some(match self {
            QueueNode::Broker(_) => "broker",
            QueueNode::Sink(_) => "sink",
            QueueNode::Consumer(_) => "consumer",
            QueueNode::Producer(_) => "producer",
        })
    }

    fn message_kind(msg: &Msg) -> &'static str {
        match msg {
            Msg::Put { .. } | Msg::PutOk { .. } => "send",
            Msg::Receive
            | Msg::Empty
            | Msg::Deliver { .. }
            | Msg::Ack { .. }
            | Msg::Nack { .. } => "receive",
            Msg::Apply { .. } | Msg::Applied { .. } => "apply",
        }
    }
}

/// Roles a scenario fault may name.
pub const ROLES: &[&str] = &["broker", "sink", "consumer", "producer"];

/// The queue bundle.
pub struct Queue {
    options: QueueOptions,
    servers: usize,
    producers: usize,
    next_value: u64,
}

impl Queue {
    /// A queue on `servers` server nodes (the broker, the sink and the
    /// consumers) with `producers` producer processes.
    pub fn new(options: QueueOptions, servers: usize, producers: usize) -> Self {
        assert!(
            servers > FIRST_CONSUMER && producers > 0,
            "a queue needs a broker, a sink, a consumer and a producer"
        );
        Queue {
            options,
            servers,
            producers,
            next_value: 0,
        }
    }
}

impl Protocol for Queue {
    type Node = QueueNode;
    type Invariants = QueueChecks;

    fn server_count(&self) -> usize {
        self.servers
    }

    fn process_count(&self) -> usize {
        self.servers + self.producers
    }

    fn new_process(&self, id: NodeId) -> QueueNode {
        match id.index() {
            0 => QueueNode::Broker(Broker::new(&self.options)),
            1 => QueueNode::Sink(Sink::new(&self.options)),
            i if i < self.servers => QueueNode::Consumer(Consumer::new(&self.options)),
            _ => QueueNode::Producer(Producer::new(&self.options)),
        }
    }

    fn next_op(&mut self, client: usize, _rng: &mut SimRng) -> (NodeId, Send) {
        self.next_value += 1;
        let producer = self.servers + client % self.producers;
        (
            NodeId(producer as u32),
            Send {
                value: self.next_value,
            },
        )
    }

    fn invariants(&self) -> QueueChecks {
        QueueChecks::new(&self.options)
    }

    fn op_fields(&self, op: &Send) -> OpFields {
        OpFields {
            f: "send".into(),
            key: None,
            value: op.value.into(),
        }
    }

    fn result_value(&self, op: &Send, _res: &Sent) -> serde_json::Value {
        op.value.into()
    }
}

#[cfg(test)]
mod tests;
