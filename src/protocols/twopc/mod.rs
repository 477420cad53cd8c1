//! Two-phase commit with presumed abort: a coordinator (node 0) and
//! participants (nodes 1..), each owning a shard of bank accounts; the
//! workload transfers money between accounts of two different shards.
//!
//! The modules: [`msg`] (the vocabulary), [`bank`] (accounts, shards and
//! the transfer workload, shared with the transfer saga), [`coordinator`],
//! [`participant`] and [`checks`]. Durable logs are synced before acting
//! on them (PREPARED before a yes vote, COMMIT before it is sent), so any
//! node recovers from its log alone after a crash at any point.
//!
//! The workload's `audit_probability` mixes in audits: read-only
//! transactions that read two accounts of different shards under the same
//! locks (a transfer of 0). Every transaction is recorded as rw-register
//! reads and writes of account versions, and `twopc.serializable` checks
//! the whole run for isolation anomalies (strict two-phase locking must be
//! strictly serializable).
//!
//! Options that weaken it on purpose, for scenarios and mutation tests:
//! `vote_no_probability` and `no_voter` (votes no, so transactions abort),
//! and the bugs `commit-on-first-yes` (commits on a partial set of votes,
//! which `twopc.unanimous-commit` and `twopc.atomicity` must catch),
//! `release-locks-at-prepare` (a participant unlocks when it votes, not at
//! the decision: lost updates) and `dirty-audits` (audits take no locks and
//! read the pending writes of prepared transactions: aborted reads), which
//! `twopc.serializable` must catch.

pub mod bank;
pub mod checks;
pub mod coordinator;
mod def;
pub mod msg;
pub mod participant;

pub use checks::{TwoPcChecks, CHECKS};
pub use coordinator::Coordinator;
pub use def::Def;

use crate::process::{Ctx, Disk, NodeId, OpFields, Process, Protocol, RequestId, TimerId};
use crate::rng::SimRng;
use crate::time::SimDuration;
use bank::Bank;
use msg::{Msg, Note, Outcome, Stored, Timer, Transfer};
use participant::Participant;
use serde::Deserialize;
use serde_json::json;

/// A deliberate bug, for showing that the checks catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// The coordinator commits as soon as one participant voted yes.
    CommitOnFirstYes,
    /// A participant releases its locks when it votes yes instead of when
    /// it learns the decision, so two transactions read the same version.
    ReleaseLocksAtPrepare,
    /// Audits take no locks and read uncommitted (prepared) writes.
    DirtyAudits,
}

/// Options of the `[twopc]` scenario section.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwoPcOptions {
    /// The coordinator aborts a transaction whose votes are not all in by then.
    pub vote_timeout: SimDuration,
    /// A participant waiting this long for locks aborts alone (votes no).
    pub lock_wait: SimDuration,
    /// How often COMMIT is resent and in-doubt participants ask.
    pub retry_interval: SimDuration,
    /// In-doubt participants also ask their peers (cooperative termination).
    pub cooperative: bool,
    /// Each participant votes no with this probability.
    pub vote_no_probability: f64,
    /// This participant (node index) always votes no.
    pub no_voter: Option<u32>,
    /// Each transaction of the workload is an audit (reads two accounts,
    /// writes none) with this probability.
    pub audit_probability: f64,
    /// Accounts per participant.
    pub accounts_per_shard: u64,
    /// Opening balance of each account.
    pub initial_balance: u64,
    /// A transfer moves 1 to this much.
    pub amount_max: u64,
    /// A deliberate bug (mutation testing only).
    pub bug: Option<Bug>,
}

impl Default for TwoPcOptions {
    fn default() -> Self {
        let bank = Bank::default();
        TwoPcOptions {
            vote_timeout: SimDuration::from_millis(500),
            lock_wait: SimDuration::from_millis(200),
            retry_interval: SimDuration::from_millis(100),
            cooperative: true,
            vote_no_probability: 0.0,
            no_voter: None,
            audit_probability: 0.0,
            accounts_per_shard: bank.accounts_per_shard,
            initial_balance: bank.initial_balance,
            amount_max: bank.amount_max,
            bug: None,
        }
    }
}

impl TwoPcOptions {
    /// The bank these options describe.
    pub fn bank(&self) -> Bank {
        Bank {
            accounts_per_shard: self.accounts_per_shard,
            initial_balance: self.initial_balance,
            amount_max: self.amount_max,
        }
    }
}

/// A 2PC node: the coordinator (node 0) or a participant.
#[derive(Debug)]
pub enum TwoPcNode {
    /// Node 0.
    Coordinator(Coordinator),
    /// Nodes 1.., one shard each.
    Participant(Participant),
}

impl Process for TwoPcNode {
    type Msg = Msg;
    type Timer = Timer;
    type Op = Transfer;
    type Res = Outcome;
    type Stored = Stored;
    type Note = Note;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<Stored>) {
        match self {
            TwoPcNode::Coordinator(c) => c.start(ctx, disk),
            TwoPcNode::Participant(p) => p.start(ctx, disk),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            TwoPcNode::Coordinator(c) => c.message(ctx, from, msg),
            TwoPcNode::Participant(p) => p.message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, timer: Timer) {
        match self {
            TwoPcNode::Coordinator(c) => c.timer(ctx, timer),
            TwoPcNode::Participant(p) => p.timer(ctx, timer),
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: Transfer) {
        match self {
            TwoPcNode::Coordinator(c) => c.request(ctx, req, op),
            TwoPcNode::Participant(_) => ctx.reply_fail(req, Outcome::Abort),
        }
    }

    fn role(&self) -> Option<&'static str> {
        Some(match self {
            TwoPcNode::Coordinator(_) => "coordinator",
            TwoPcNode::Participant(_) => "participant",
        })
    }
}

/// Roles a scenario fault may name.
pub const ROLES: &[&str] = &["coordinator", "participant"];

/// The 2PC bundle: nodes, the transfer workload (every transfer goes to
/// the coordinator) and the checks.
pub struct TwoPc {
    options: TwoPcOptions,
    servers: usize,
}

impl TwoPc {
    /// 2PC over `servers` nodes: the coordinator and `servers - 1` shards.
    pub fn new(options: TwoPcOptions, servers: usize) -> Self {
        assert!(servers >= 3, "2PC needs a coordinator and two shards");
        TwoPc { options, servers }
    }
}

impl Protocol for TwoPc {
    type Node = TwoPcNode;
    type Invariants = TwoPcChecks;

    fn server_count(&self) -> usize {
        self.servers
    }

    fn new_process(&self, id: NodeId) -> TwoPcNode {
        match id.0 {
            0 => TwoPcNode::Coordinator(Coordinator::new(self.options.clone())),
            _ => TwoPcNode::Participant(Participant::new(self.options.clone())),
        }
    }

    fn next_op(&mut self, _client: usize, rng: &mut SimRng) -> (NodeId, Transfer) {
        let mut transfer = self.options.bank().next_transfer(self.servers - 1, rng);
        // Drawn only when audits are on, so other scenarios' streams stay.
        let p = self.options.audit_probability;
        if p > 0.0 && rng.chance(p) {
            transfer.amount = 0;
        }
        (NodeId(0), transfer)
    }

    fn invariants(&self) -> TwoPcChecks {
        TwoPcChecks::new(&self.options, self.servers - 1)
    }

    fn op_fields(&self, op: &Transfer) -> OpFields {
        OpFields {
            f: "transfer".into(),
            key: None,
            value: json!([op.from, op.to, op.amount]),
        }
    }

    fn result_value(&self, _op: &Transfer, res: &Outcome) -> serde_json::Value {
        serde_json::to_value(res).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests;
