//! A 2PC participant (nodes 1..): owns one shard of accounts, locks them
//! for a transaction from PREPARE to the decision, and votes.
//!
//! Invariants kept:
//! * It votes yes only after PREPARED (the locks and pending writes) is
//!   synced, and from then on never decides alone: it stays in doubt,
//!   holding the locks, and asks the coordinator (and with `cooperative`
//!   its peers) until it learns the outcome.
//! * Before voting it may abort alone (waiting too long for locks, not
//!   enough money, or a no vote); that abort is synced before it is told,
//!   so a duplicate PREPARE after a crash is answered no again.
//! * An outcome is synced (with the new balances) before it is
//!   acknowledged; a known outcome is never changed, so duplicates are
//!   harmless. A restart rebuilds everything from the log alone.
//! * `locks` holds exactly the accounts of the `prepared` transactions
//!   (audits included: a read-only part locks its account too, so a
//!   transaction never reads a version a prepared one is about to replace).
//! * `versions` holds, per account, the transaction whose commit last
//!   wrote it; it is synced with the balance.

use super::msg::{Msg, Note, Outcome, Stored, Timer, TxnId, Write};
use super::{Bug, TwoPcNode, TwoPcOptions};
use crate::process::{Ctx, Disk, DiskKey, NodeId, TimerId};
use crate::time::SimDuration;
use std::collections::BTreeMap;

const PREPARED: &str = "prepared";
const OUTCOME: &str = "outcome";
const BALANCE: &str = "balance";
/// The coordinator's id.
const COORDINATOR: NodeId = NodeId(0);

/// A transaction's part here: its writes and the other participants.
#[derive(Clone, Debug)]
struct Part {
    writes: Vec<Write>,
    participants: Vec<NodeId>,
}

impl Part {
    /// An audit's part: it reads its accounts and changes none.
    fn read_only(&self) -> bool {
        self.writes.iter().all(|w| w.delta == 0)
    }
}

/// A participant's state.
#[derive(Debug)]
pub struct Participant {
    options: TwoPcOptions,
    /// Every account of this shard and its committed balance.
    balances: BTreeMap<u64, i64>,
    /// The commit that last wrote each account (absent: the opening balance).
    versions: BTreeMap<u64, TxnId>,
    /// Account → the prepared transaction holding its lock.
    locks: BTreeMap<u64, TxnId>,
    /// Voted yes, outcome unknown: in doubt.
    prepared: BTreeMap<TxnId, Part>,
    /// Asked to prepare, waiting for locks, not voted; with its give-up timer.
    waiting: Vec<(TxnId, Part, TimerId)>,
    /// Every outcome known here.
    decided: BTreeMap<TxnId, Outcome>,
    /// Whether the inquiry timer is set.
    inquiring: bool,
}

impl Participant {
    /// A fresh participant.
    pub fn new(options: TwoPcOptions) -> Self {
        Participant {
            options,
            balances: BTreeMap::new(),
            versions: BTreeMap::new(),
            locks: BTreeMap::new(),
            prepared: BTreeMap::new(),
            waiting: Vec::new(),
            decided: BTreeMap::new(),
            inquiring: false,
        }
    }

    /// Rebuilds the shard from the log: balances written so far (every
    /// other account holds its opening balance, so a start costs what was
    /// written, not the size of the shard), outcomes, and the in-doubt
    /// transactions with their locks.
    pub fn start(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, disk: &Disk<Stored>) {
        for (account, record) in disk.scan(BALANCE) {
            if let Stored::Balance(b, version) = record {
                self.balances.insert(account, *b);
                self.versions.insert(account, *version);
            }
        }
        for (txn, record) in disk.scan(OUTCOME) {
            if let Stored::Outcome(o) = record {
                self.decided.insert(txn, *o);
            }
        }
        let in_doubt: Vec<(TxnId, Part)> = disk
            .scan(PREPARED)
            .filter(|(txn, _)| !self.decided.contains_key(txn))
            .filter_map(|(txn, r)| match r {
                Stored::Prepared {
                    writes,
                    participants,
                } => Some((
                    txn,
                    Part {
                        writes: writes.clone(),
                        participants: participants.clone(),
                    },
                )),
                _ => None,
            })
            .collect();
        for (txn, part) in in_doubt {
            if self.holds_locks(&part) {
                self.lock(txn, &part);
            }
            self.prepared.insert(txn, part);
        }
        self.arm_inquiry(ctx);
    }

    /// Handles a message from the coordinator or a peer.
    pub fn message(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Prepare {
                txn,
                writes,
                participants,
            } => self.prepare(
                ctx,
                txn,
                Part {
                    writes,
                    participants,
                },
            ),
            Msg::Decision { txn, outcome } => self.decision(ctx, from, txn, outcome),
            Msg::Inquire { txn } => self.peer_inquiry(ctx, from, txn),
            Msg::Vote { .. } | Msg::Ack { .. } => {}
        }
    }

    /// Handles a timer.
    pub fn timer(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, timer: Timer) {
        match timer {
            Timer::LockWait(txn) => {
                if let Some(i) = self.waiting.iter().position(|w| w.0 == txn) {
                    self.waiting.remove(i);
                    self.abort_alone(ctx, txn);
                }
            }
            Timer::Inquire => {
                self.inquiring = false;
                self.inquire(ctx);
                self.arm_inquiry(ctx);
            }
            Timer::VoteTimeout(_) | Timer::Retransmit => {}
        }
    }

    fn prepare(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, txn: TxnId, part: Part) {
        if let Some(&outcome) = self.decided.get(&txn) {
            if outcome == Outcome::Abort {
                ctx.send(COORDINATOR, Msg::Vote { txn, yes: false });
            }
            return;
        }
        if self.prepared.contains_key(&txn) {
            return ctx.send(COORDINATOR, Msg::Vote { txn, yes: true });
        }
        if self.waiting.iter().any(|w| w.0 == txn) {
            return;
        }
        if self.votes_no(ctx) || !self.affordable(&part) {
            return self.abort_alone(ctx, txn);
        }
        if self.lockable(&part) || !self.holds_locks(&part) {
            return self.vote_yes(ctx, txn, part);
        }
        let timer = ctx.set_timer(self.options.lock_wait, Timer::LockWait(txn));
        self.waiting.push((txn, part, timer));
    }

    fn votes_no(&self, ctx: &mut Ctx<'_, TwoPcNode>) -> bool {
        self.options.no_voter == Some(ctx.me().0)
            || ctx.rng().chance(self.options.vote_no_probability)
    }

    /// No write may take an account below zero.
    fn affordable(&self, part: &Part) -> bool {
        part.writes
            .iter()
            .all(|w| self.balance(w.account) + w.delta >= 0)
    }

    /// The committed balance of `account` (of this shard): its opening
    /// balance until a commit writes it.
    pub fn balance(&self, account: u64) -> i64 {
        self.balances
            .get(&account)
            .copied()
            .unwrap_or(self.options.initial_balance as i64)
    }

    fn lockable(&self, part: &Part) -> bool {
        part.writes
            .iter()
            .all(|w| !self.locks.contains_key(&w.account))
    }

    /// Whether `part` keeps its locks from its yes vote to the decision:
    /// always, but for the planted bugs.
    fn holds_locks(&self, part: &Part) -> bool {
        match self.options.bug {
            Some(Bug::ReleaseLocksAtPrepare) => false,
            Some(Bug::DirtyAudits) => !part.read_only(),
            Some(Bug::CommitOnFirstYes) | None => true,
        }
    }

    /// The version of `account` a transaction reads when it votes: the
    /// last commit's; with the `dirty-audits` bug an audit reads the
    /// pending write of the prepared transaction holding the lock.
    fn version_read(&self, account: u64, part: &Part) -> Option<TxnId> {
        let committed = self.versions.get(&account).copied();
        if self.options.bug != Some(Bug::DirtyAudits) || !part.read_only() {
            return committed;
        }
        let pending = self.locks.get(&account).copied().filter(|holder| {
            self.prepared.get(holder).is_some_and(|p| {
                p.writes
                    .iter()
                    .any(|w| w.account == account && w.delta != 0)
            })
        });
        pending.or(committed)
    }

    fn lock(&mut self, txn: TxnId, part: &Part) {
        for w in &part.writes {
            let previous = self.locks.insert(w.account, txn);
            assert!(previous.is_none(), "account {} locked twice", w.account);
        }
    }

    fn vote_yes(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, txn: TxnId, part: Part) {
        // With a planted bug a part votes without its locks: as if it took
        // them and released them with the vote.
        if self.holds_locks(&part) {
            self.lock(txn, &part);
        }
        let read = part
            .writes
            .iter()
            .map(|w| (w.account, self.version_read(w.account, &part)))
            .collect();
        ctx.write(
            DiskKey::new(PREPARED, txn),
            Stored::Prepared {
                writes: part.writes.clone(),
                participants: part.participants.clone(),
            },
        );
        ctx.sync();
        self.prepared.insert(txn, part);
        ctx.note(Note::Voted {
            txn,
            yes: true,
            read,
        });
        ctx.send(COORDINATOR, Msg::Vote { txn, yes: true });
        self.arm_inquiry(ctx);
    }

    /// Aborts a transaction this node has not voted yes on, and says no.
    fn abort_alone(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, txn: TxnId) {
        assert!(
            !self.prepared.contains_key(&txn),
            "aborting alone after voting yes"
        );
        self.record(ctx, txn, Outcome::Abort, Vec::new());
        ctx.note(Note::Voted {
            txn,
            yes: false,
            read: Vec::new(),
        });
        ctx.note(Note::Applied {
            txn,
            outcome: Outcome::Abort,
            balances: Vec::new(),
        });
        ctx.send(COORDINATOR, Msg::Vote { txn, yes: false });
    }

    /// Makes an outcome durable, with the balances it changed.
    fn record(
        &mut self,
        ctx: &mut Ctx<'_, TwoPcNode>,
        txn: TxnId,
        outcome: Outcome,
        balances: Vec<(u64, i64)>,
    ) {
        for &(account, balance) in &balances {
            ctx.write(
                DiskKey::new(BALANCE, account),
                Stored::Balance(balance, txn),
            );
        }
        ctx.write(DiskKey::new(OUTCOME, txn), Stored::Outcome(outcome));
        ctx.sync();
        self.decided.insert(txn, outcome);
    }

    fn decision(
        &mut self,
        ctx: &mut Ctx<'_, TwoPcNode>,
        from: NodeId,
        txn: TxnId,
        outcome: Outcome,
    ) {
        if let Some(part) = self.prepared.remove(&txn) {
            self.apply(ctx, txn, outcome, &part);
        } else if outcome == Outcome::Abort {
            self.abort_waiting(ctx, txn);
        }
        if from == COORDINATOR && self.decided.contains_key(&txn) {
            ctx.send(COORDINATOR, Msg::Ack { txn });
        }
    }

    /// An ABORT for a transaction not voted on yet: give up waiting.
    fn abort_waiting(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, txn: TxnId) {
        if let Some(i) = self.waiting.iter().position(|w| w.0 == txn) {
            let (_, _, timer) = self.waiting.remove(i);
            ctx.cancel_timer(timer);
            self.abort_alone(ctx, txn);
        }
    }

    fn apply(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, txn: TxnId, outcome: Outcome, part: &Part) {
        let mut balances = Vec::new();
        let held = self.holds_locks(part);
        for w in &part.writes {
            if held {
                let removed = self.locks.remove(&w.account);
                assert_eq!(removed, Some(txn), "lock of account {} lost", w.account);
            }
            if outcome == Outcome::Commit && w.delta != 0 {
                let balance = self.balance(w.account) + w.delta;
                self.balances.insert(w.account, balance);
                self.versions.insert(w.account, txn);
                balances.push((w.account, balance));
            }
        }
        self.record(ctx, txn, outcome, balances.clone());
        ctx.note(Note::Applied {
            txn,
            outcome,
            balances,
        });
        self.grant_waiting(ctx);
    }

    /// Locks were released: prepare the waiting transactions that now can.
    fn grant_waiting(&mut self, ctx: &mut Ctx<'_, TwoPcNode>) {
        let mut i = 0;
        while i < self.waiting.len() {
            if !self.lockable(&self.waiting[i].1) {
                i += 1;
                continue;
            }
            let (txn, part, timer) = self.waiting.remove(i);
            ctx.cancel_timer(timer);
            if self.affordable(&part) {
                self.vote_yes(ctx, txn, part);
            } else {
                self.abort_alone(ctx, txn);
            }
        }
    }

    /// Cooperative termination, the answering side: tell what we know; a
    /// node that has not voted can abort alone and say so.
    fn peer_inquiry(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, from: NodeId, txn: TxnId) {
        if self.prepared.contains_key(&txn) {
            return; // in doubt too
        }
        if !self.decided.contains_key(&txn) {
            if let Some(i) = self.waiting.iter().position(|w| w.0 == txn) {
                let (_, _, timer) = self.waiting.remove(i);
                ctx.cancel_timer(timer);
            }
            self.abort_alone(ctx, txn);
        }
        if let Some(&outcome) = self.decided.get(&txn) {
            ctx.send(from, Msg::Decision { txn, outcome });
        }
    }

    /// Asks about every in-doubt transaction.
    fn inquire(&mut self, ctx: &mut Ctx<'_, TwoPcNode>) {
        let me = ctx.me();
        for (&txn, part) in &self.prepared {
            ctx.send(COORDINATOR, Msg::Inquire { txn });
            if self.options.cooperative {
                for &peer in part.participants.iter().filter(|&&p| p != me) {
                    ctx.send(peer, Msg::Inquire { txn });
                }
            }
        }
    }

    fn arm_inquiry(&mut self, ctx: &mut Ctx<'_, TwoPcNode>) {
        if self.inquiring || self.prepared.is_empty() {
            return;
        }
        let base = self.options.retry_interval.as_nanos();
        let jitter = ctx.rng().between(0, base / 2);
        ctx.set_timer(SimDuration::from_nanos(base + jitter), Timer::Inquire);
        self.inquiring = true;
    }

    /// The committed balances of the accounts commits have written (the
    /// others hold their opening balance).
    pub fn balances(&self) -> &BTreeMap<u64, i64> {
        &self.balances
    }

    /// The sum of every account of this shard.
    pub fn total(&self, accounts: u64) -> i64 {
        let untouched = accounts as i64 - self.balances.len() as i64;
        self.balances.values().sum::<i64>() + untouched * self.options.initial_balance as i64
    }

    /// The transactions this node is in doubt about.
    pub fn in_doubt(&self) -> impl Iterator<Item = TxnId> + '_ {
        self.prepared.keys().copied()
    }
}
