//! The 2PC coordinator (node 0): starts a transaction per client transfer,
//! collects votes, decides, and makes the decision reach every participant.
//!
//! Invariants kept:
//! * COMMIT only when every participant voted yes (unless the deliberate
//!   `commit-on-first-yes` bug is switched on), and only after the COMMIT
//!   record is synced; it is sent and the client answered after that.
//! * Presumed abort: ABORT is never logged. A transaction without a COMMIT
//!   record is aborted, so a question about an unknown transaction is
//!   answered ABORT — also after a crash, which loses undecided ones.
//! * A COMMIT record stays until every participant acknowledged; until then
//!   COMMIT is resent every `retry_interval`, after restarts too.

use super::msg::{Msg, Note, Outcome, Stored, Timer, Transfer, TxnId, Write};
use super::{TwoPcNode, TwoPcOptions};
use crate::process::{Ctx, Disk, DiskKey, NodeId, RequestId, TimerId};
use std::collections::{BTreeMap, BTreeSet};

/// Durable namespace of COMMIT records, by transaction.
const COMMIT: &str = "commit";

/// A transaction collecting votes. Invariant: `yes` ⊆ `participants`.
#[derive(Debug)]
struct Voting {
    participants: Vec<NodeId>,
    yes: BTreeSet<NodeId>,
    req: RequestId,
    timer: TimerId,
}

/// The coordinator's state.
#[derive(Debug)]
pub struct Coordinator {
    options: TwoPcOptions,
    /// Transactions still collecting votes (volatile: lost on a crash,
    /// which presumed abort turns into aborts).
    voting: BTreeMap<TxnId, Voting>,
    /// Committed transactions and the participants yet to acknowledge.
    /// Invariant: each has a synced COMMIT record.
    unacked: BTreeMap<TxnId, BTreeSet<NodeId>>,
}

impl Coordinator {
    /// A fresh coordinator.
    pub fn new(options: TwoPcOptions) -> Self {
        Coordinator {
            options,
            voting: BTreeMap::new(),
            unacked: BTreeMap::new(),
        }
    }

    /// Recovers the COMMIT records and resumes sending them.
    pub fn start(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, disk: &Disk<Stored>) {
        for (txn, record) in disk.scan(COMMIT) {
            if let Stored::Commit { participants } = record {
                self.unacked
                    .insert(txn, participants.iter().copied().collect());
            }
        }
        ctx.set_timer(self.options.retry_interval, Timer::Retransmit);
    }

    /// A client asks for `transfer`: send PREPARE to both shards.
    pub fn request(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, req: RequestId, t: Transfer) {
        let txn = req.0;
        let bank = self.options.bank();
        let (from, to) = (bank.owner(t.from), bank.owner(t.to));
        assert_ne!(from, to, "a transfer within one shard");
        let participants = vec![from, to];
        ctx.note(Note::Begin {
            txn,
            participants: participants.clone(),
            transfer: t,
        });
        let writes = [
            (from, t.from, -(t.amount as i64)),
            (to, t.to, t.amount as i64),
        ];
        for (node, account, delta) in writes {
            let writes = vec![Write { account, delta }];
            let participants = participants.clone();
            ctx.send(
                node,
                Msg::Prepare {
                    txn,
                    writes,
                    participants,
                },
            );
        }
        let timer = ctx.set_timer(self.options.vote_timeout, Timer::VoteTimeout(txn));
        let yes = BTreeSet::new();
        self.voting.insert(
            txn,
            Voting {
                participants,
                yes,
                req,
                timer,
            },
        );
    }

    /// Handles a participant's message.
    pub fn message(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Vote { txn, yes } => self.vote(ctx, from, txn, yes),
            Msg::Ack { txn } => self.ack(ctx, from, txn),
            Msg::Inquire { txn } => self.inquire(ctx, from, txn),
            Msg::Prepare { .. } | Msg::Decision { .. } => {}
        }
    }

    /// Handles a timer.
    pub fn timer(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, timer: Timer) {
        match timer {
            Timer::VoteTimeout(txn) => {
                if self.voting.contains_key(&txn) {
                    self.abort(ctx, txn);
                }
            }
            Timer::Retransmit => {
                for (&txn, waiting) in &self.unacked {
                    for &p in waiting {
                        ctx.send(
                            p,
                            Msg::Decision {
                                txn,
                                outcome: Outcome::Commit,
                            },
                        );
                    }
                }
                ctx.set_timer(self.options.retry_interval, Timer::Retransmit);
            }
            Timer::LockWait(_) | Timer::Inquire => {}
        }
    }

    fn vote(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, from: NodeId, txn: TxnId, yes: bool) {
        let Some(voting) = self.voting.get_mut(&txn) else {
            return self.answer_late_vote(ctx, from, txn, yes);
        };
        if !voting.participants.contains(&from) {
            return;
        }
        if !yes {
            return self.abort(ctx, txn);
        }
        voting.yes.insert(from);
        let needed = match self.options.bug {
            Some(super::Bug::CommitOnFirstYes) => 1,
            _ => voting.participants.len(),
        };
        if voting.yes.len() >= needed {
            self.commit(ctx, txn);
        }
    }

    /// A vote for a transaction no longer voting: repeat its outcome.
    fn answer_late_vote(
        &mut self,
        ctx: &mut Ctx<'_, TwoPcNode>,
        from: NodeId,
        txn: TxnId,
        yes: bool,
    ) {
        if self.unacked.get(&txn).is_some_and(|w| w.contains(&from)) {
            ctx.send(
                from,
                Msg::Decision {
                    txn,
                    outcome: Outcome::Commit,
                },
            );
        } else if yes && !self.unacked.contains_key(&txn) {
            ctx.send(
                from,
                Msg::Decision {
                    txn,
                    outcome: Outcome::Abort,
                },
            );
        }
    }

    fn commit(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, txn: TxnId) {
        let Some(voting) = self.voting.remove(&txn) else {
            return;
        };
        ctx.cancel_timer(voting.timer);
        let participants = voting.participants;
        ctx.write(
            DiskKey::new(COMMIT, txn),
            Stored::Commit {
                participants: participants.clone(),
            },
        );
        ctx.sync();
        ctx.note(Note::Decided {
            txn,
            outcome: Outcome::Commit,
        });
        for &p in &participants {
            ctx.send(
                p,
                Msg::Decision {
                    txn,
                    outcome: Outcome::Commit,
                },
            );
        }
        self.unacked.insert(txn, participants.into_iter().collect());
        ctx.reply_ok(voting.req, Outcome::Commit);
    }

    /// Presumed abort: nothing is logged; participants that miss the ABORT
    /// learn it by asking.
    fn abort(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, txn: TxnId) {
        let Some(voting) = self.voting.remove(&txn) else {
            return;
        };
        ctx.cancel_timer(voting.timer);
        ctx.note(Note::Decided {
            txn,
            outcome: Outcome::Abort,
        });
        for &p in &voting.participants {
            ctx.send(
                p,
                Msg::Decision {
                    txn,
                    outcome: Outcome::Abort,
                },
            );
        }
        ctx.reply_fail(voting.req, Outcome::Abort);
    }

    fn ack(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, from: NodeId, txn: TxnId) {
        let Some(waiting) = self.unacked.get_mut(&txn) else {
            return;
        };
        waiting.remove(&from);
        if waiting.is_empty() {
            self.unacked.remove(&txn);
            // Not synced: if a crash undoes the delete, COMMIT is resent and
            // acknowledged again, which is harmless.
            ctx.delete(DiskKey::new(COMMIT, txn));
        }
    }

    fn inquire(&mut self, ctx: &mut Ctx<'_, TwoPcNode>, from: NodeId, txn: TxnId) {
        if self.voting.contains_key(&txn) {
            return; // not decided yet: the decision will be sent
        }
        let outcome = if self.unacked.contains_key(&txn) {
            Outcome::Commit
        } else {
            Outcome::Abort
        };
        ctx.send(from, Msg::Decision { txn, outcome });
    }

    /// Transactions awaiting acknowledgements (for tests and end checks).
    pub fn unacked(&self) -> usize {
        self.unacked.len()
    }
}
