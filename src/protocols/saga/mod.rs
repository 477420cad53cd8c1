//! Sagas, orchestrated: long transactions as a sequence of local steps at
//! service nodes, each with a compensation, instead of one atomic commit.
//!
//! Two flows share the machinery. `order` is the e-commerce order saga on
//! six nodes: the orchestrator (0) and the services users (1), inventory
//! (2), payment (3), orders (4) and notifications (5): validate user →
//! reserve inventory → charge payment → create order → send confirmation,
//! compensated by cancel order → refund → cancel reservation. `transfer`
//! moves money between two shards of the 2PC bank (withdraw → deposit),
//! so the same workload runs under 2PC and under a saga (ACID vs BASE).
//!
//! The modules: [`msg`] (the vocabulary), [`orchestrator`] (saga log,
//! retries, compensation order), [`service`] (idempotent steps, tombstones,
//! semantic locks) and [`checks`]. Options weaken the world (payment
//! declines, transient failures, a service unavailable for a window), add
//! the semantic-lock countermeasure to isolation anomalies, or plant the
//! deliberate bug `compensate-forward` for mutation tests.

pub mod checks;
mod def;
pub mod msg;
pub mod orchestrator;
pub mod service;

pub use checks::{SagaChecks, CHECKS};
pub use def::Def;
pub use orchestrator::Orchestrator;
pub use service::Service;

use super::twopc::bank::Bank;
use super::twopc::msg::Transfer;
use crate::process::{Ctx, Disk, NodeId, OpFields, Process, Protocol, RequestId, TimerId};
use crate::rng::SimRng;
use crate::time::SimDuration;
use msg::{Action, Msg, Note, Step, Stored, Timer};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Which saga the workload runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    /// The order saga on six nodes.
    Order,
    /// Bank transfers between shards (nodes 1..).
    Transfer,
}

/// A deliberate bug, for showing that the checks catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SagaBug {
    /// Compensate completed steps first to last instead of last to first.
    CompensateForward,
}

/// Options of the `[saga]` scenario section.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SagaOptions {
    /// The saga the workload runs.
    pub flow: Flow,
    /// First retry delay (doubled each attempt, with jitter).
    pub retry_base: SimDuration,
    /// Longest retry delay.
    pub retry_max: SimDuration,
    /// A step is given up (and compensated) after this many attempts.
    pub max_attempts: u32,
    /// A compensation is reported stuck after this many attempts (and retried on).
    pub stuck_after: u32,
    /// Counters with another saga's pending change refuse (retry) until it ends.
    pub semantic_lock: bool,
    /// The charge step is declined with this probability.
    pub payment_failure_probability: f64,
    /// Any service answers "try again" with this probability.
    pub transient_failure_probability: f64,
    /// This service node answers "try again" from `unavailable_from` to `unavailable_until`.
    pub unavailable_service: Option<u32>,
    /// Start of the unavailability window (the service's clock).
    pub unavailable_from: SimDuration,
    /// End of the unavailability window.
    pub unavailable_until: SimDuration,
    /// Order flow: items in stock.
    pub items: u64,
    /// Order flow: opening stock of each item.
    pub stock_per_item: u64,
    /// Order flow: users.
    pub users: u64,
    /// Order flow: opening balance of each user.
    pub balance_per_user: u64,
    /// Transfer flow: accounts per shard.
    pub accounts_per_shard: u64,
    /// Transfer flow: opening balance of each account.
    pub initial_balance: u64,
    /// Transfer flow: a transfer moves 1 to this much.
    pub amount_max: u64,
    /// A deliberate bug (mutation testing only).
    pub bug: Option<SagaBug>,
}

impl Default for SagaOptions {
    fn default() -> Self {
        let bank = Bank::default();
        SagaOptions {
            flow: Flow::Order,
            retry_base: SimDuration::from_millis(50),
            retry_max: SimDuration::from_secs(1),
            max_attempts: 6,
            stuck_after: 6,
            semantic_lock: false,
            payment_failure_probability: 0.0,
            transient_failure_probability: 0.0,
            unavailable_service: None,
            unavailable_from: SimDuration::ZERO,
            unavailable_until: SimDuration::ZERO,
            items: 3,
            stock_per_item: 500,
            users: 5,
            balance_per_user: 10_000,
            accounts_per_shard: bank.accounts_per_shard,
            initial_balance: bank.initial_balance,
            amount_max: bank.amount_max,
            bug: None,
        }
    }
}

impl SagaOptions {
    /// The bank of the transfer flow.
    pub fn bank(&self) -> Bank {
        Bank {
            accounts_per_shard: self.accounts_per_shard,
            initial_balance: self.initial_balance,
            amount_max: self.amount_max,
        }
    }
}

/// Order flow nodes.
const USERS: NodeId = NodeId(1);
const INVENTORY: NodeId = NodeId(2);
const PAYMENT: NodeId = NodeId(3);
const ORDERS: NodeId = NodeId(4);
const NOTIFICATIONS: NodeId = NodeId(5);
/// Nodes the order flow needs.
pub const ORDER_NODES: usize = 6;

/// The counters a service holds when the run starts: every key of `keys`
/// at `value` (a range, so that holding a million accounts costs nothing
/// until one is written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opening {
    /// The keys.
    pub keys: std::ops::Range<u64>,
    /// Their opening value.
    pub value: i64,
}

impl Opening {
    /// The opening value of `key` (0 outside the range).
    pub fn of(&self, key: u64) -> i64 {
        if self.keys.contains(&key) {
            self.value
        } else {
            0
        }
    }

    /// The sum of every opening counter.
    pub fn total(&self) -> i64 {
        (self.keys.end - self.keys.start) as i64 * self.value
    }
}

/// The counters `node` holds when the run starts.
pub fn opening_counters(options: &SagaOptions, node: NodeId, servers: usize) -> Opening {
    let (keys, value) = match (options.flow, node) {
        (Flow::Order, INVENTORY) => (0..options.items, options.stock_per_item),
        (Flow::Order, PAYMENT) => (0..options.users, options.balance_per_user),
        (Flow::Order, _) => (0..0, 0),
        (Flow::Transfer, n) if n.0 >= 1 && (n.0 as usize) < servers => {
            (options.bank().accounts_of(n), options.initial_balance)
        }
        (Flow::Transfer, _) => (0..0, 0),
    };
    Opening {
        keys,
        value: value as i64,
    }
}

/// A client operation: one saga.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SagaOp {
    /// Order `qty` of `item` for `user` at `price` in all.
    Order {
        /// The buyer.
        user: u64,
        /// The item.
        item: u64,
        /// How many.
        qty: u64,
        /// The total price.
        price: u64,
    },
    /// Move money between shards.
    Transfer(Transfer),
}

/// How a saga ended, as its client hears it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SagaEnd {
    /// Every step took effect.
    Completed,
    /// It failed and every completed step was compensated.
    Compensated,
}

/// The steps of the saga for `op`.
pub fn plan(op: SagaOp, bank: Bank) -> Vec<Step> {
    let step = |name, service, action| Step {
        name,
        service,
        action,
    };
    match op {
        SagaOp::Order {
            user,
            item,
            qty,
            price,
        } => vec![
            step("validate", USERS, Action::Check),
            step(
                "reserve",
                INVENTORY,
                Action::Adjust {
                    key: item,
                    delta: -(qty as i64),
                },
            ),
            step(
                "charge",
                PAYMENT,
                Action::Adjust {
                    key: user,
                    delta: -(price as i64),
                },
            ),
            step("create-order", ORDERS, Action::Record),
            step("confirm", NOTIFICATIONS, Action::Notify),
        ],
        SagaOp::Transfer(t) => vec![
            step(
                "withdraw",
                bank.owner(t.from),
                Action::Adjust {
                    key: t.from,
                    delta: -(t.amount as i64),
                },
            ),
            step(
                "deposit",
                bank.owner(t.to),
                Action::Adjust {
                    key: t.to,
                    delta: t.amount as i64,
                },
            ),
        ],
    }
}

/// A saga node: the orchestrator (node 0) or a service.
#[derive(Debug)]
pub enum SagaNode {
    /// Node 0.
    Orchestrator(Orchestrator),
    /// Nodes 1..
    Service(Service),
}

crate::trace_hash_by_serde!(SagaOp, SagaEnd);

impl Process for SagaNode {
    type Msg = Msg;
    type Timer = Timer;
    type Op = SagaOp;
    type Res = SagaEnd;
    type Stored = Stored;
    type Note = Note;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<Stored>) {
        match self {
            SagaNode::Orchestrator(o) => o.start(ctx, disk),
            SagaNode::Service(s) => s.start(disk),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            SagaNode::Orchestrator(o) => o.message(ctx, from, msg),
            SagaNode::Service(s) => s.message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, id: TimerId, timer: Timer) {
        if let SagaNode::Orchestrator(o) = self {
            o.timer(ctx, id, timer);
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: SagaOp) {
        match self {
            SagaNode::Orchestrator(o) => {
                let plan = plan(op, o.bank());
                o.request(ctx, req, plan)
            }
            SagaNode::Service(_) => ctx.reply_fail(req, SagaEnd::Compensated),
        }
    }

    fn role(&self) -> Option<&'static str> {
        Some(match self {
            SagaNode::Orchestrator(_) => "orchestrator",
            SagaNode::Service(_) => "service",
        })
    }
}

/// Roles a scenario fault may name.
pub const ROLES: &[&str] = &["orchestrator", "service"];

/// The saga bundle: nodes, the workload (every saga goes to the
/// orchestrator) and the checks.
pub struct Saga {
    options: SagaOptions,
    servers: usize,
}

impl Saga {
    /// Sagas over `servers` nodes (6 for the order flow, 3 or more for transfers).
    pub fn new(options: SagaOptions, servers: usize) -> Self {
        let needed = match options.flow {
            Flow::Order => servers == ORDER_NODES,
            Flow::Transfer => servers >= 3,
        };
        assert!(
            needed,
            "{servers} nodes do not fit the {:?} flow",
            options.flow
        );
        Saga { options, servers }
    }

    fn next_order(&self, rng: &mut SimRng) -> SagaOp {
        let qty = rng.between(1, 3);
        SagaOp::Order {
            user: rng.below(self.options.users),
            item: rng.below(self.options.items),
            qty,
            price: qty * 10,
        }
    }
}

impl Protocol for Saga {
    type Node = SagaNode;
    type Invariants = SagaChecks;

    fn server_count(&self) -> usize {
        self.servers
    }

    fn new_process(&self, id: NodeId) -> SagaNode {
        match id.0 {
            0 => SagaNode::Orchestrator(Orchestrator::new(self.options.clone())),
            _ => {
                let counters = opening_counters(&self.options, id, self.servers);
                SagaNode::Service(Service::new(self.options.clone(), counters))
            }
        }
    }

    fn next_op(&mut self, _client: usize, rng: &mut SimRng) -> (NodeId, SagaOp) {
        let op = match self.options.flow {
            Flow::Order => self.next_order(rng),
            Flow::Transfer => {
                SagaOp::Transfer(self.options.bank().next_transfer(self.servers - 1, rng))
            }
        };
        (NodeId(0), op)
    }

    fn invariants(&self) -> SagaChecks {
        SagaChecks::new(&self.options, self.servers)
    }

    fn op_fields(&self, op: &SagaOp) -> OpFields {
        let (f, value) = match op {
            SagaOp::Order {
                user,
                item,
                qty,
                price,
            } => ("order", json!([user, item, qty, price])),
            SagaOp::Transfer(t) => ("transfer", json!([t.from, t.to, t.amount])),
        };
        OpFields {
            f: f.into(),
            key: None,
            value,
        }
    }

    fn result_value(&self, _op: &SagaOp, res: &SagaEnd) -> serde_json::Value {
        serde_json::to_value(res).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests;
