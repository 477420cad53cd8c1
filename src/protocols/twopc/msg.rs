//! The vocabulary of two-phase commit: transactions, messages, timers,
//! durable records and the notes the checks read. No behaviour lives here.

use crate::process::NodeId;
use serde::Serialize;

/// A transaction id: the id of the client request that started it, so ids
/// are unique across coordinator crashes without any durable counter.
pub type TxnId = u64;

/// The fate of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// Every participant voted yes and the coordinator logged COMMIT.
    Commit,
    /// Anything else (presumed abort: no record means abort).
    Abort,
}

/// The client operation: move `amount` from account `from` to account `to`;
/// an amount of 0 is an audit, which only reads both accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Transfer {
    /// The debited account.
    pub from: u64,
    /// The credited account.
    pub to: u64,
    /// The amount moved (at least 1).
    pub amount: u64,
}

/// One participant's part of a transaction: a change to one of its accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Write {
    /// The account, owned by the participant the write is sent to.
    pub account: u64,
    /// The change of its balance.
    pub delta: i64,
}

/// Messages between the coordinator and the participants.
#[derive(Clone, Debug, Serialize)]
pub enum Msg {
    /// Coordinator → participant: lock, log and vote on `writes`.
    Prepare {
        /// The transaction.
        txn: TxnId,
        /// This participant's writes.
        writes: Vec<Write>,
        /// Every participant of the transaction (for cooperative termination).
        participants: Vec<NodeId>,
    },
    /// Participant → coordinator: the vote.
    Vote {
        /// The transaction.
        txn: TxnId,
        /// Yes: PREPARED is durable and the locks are held.
        yes: bool,
    },
    /// The outcome, from the coordinator or (cooperative termination) a peer.
    Decision {
        /// The transaction.
        txn: TxnId,
        /// Its outcome.
        outcome: Outcome,
    },
    /// Participant → coordinator: the outcome is durable here.
    Ack {
        /// The transaction.
        txn: TxnId,
    },
    /// An in-doubt participant asks the coordinator or a peer for the outcome.
    Inquire {
        /// The transaction.
        txn: TxnId,
    },
}

/// Timers of both roles.
#[derive(Clone, Debug, Serialize)]
pub enum Timer {
    /// Coordinator: the votes of `txn` did not all arrive in time.
    VoteTimeout(TxnId),
    /// Coordinator: resend COMMIT to participants that have not acknowledged.
    Retransmit,
    /// Participant: `txn` waited too long for its locks; abort it alone.
    LockWait(TxnId),
    /// Participant: ask about every in-doubt transaction.
    Inquire,
}

crate::trace_hash_by_serde!(Outcome, Transfer, Msg, Timer);

/// Durable records.
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    /// Coordinator: `txn` committed; kept until every participant acknowledged.
    Commit {
        /// Who must acknowledge.
        participants: Vec<NodeId>,
    },
    /// Participant: voted yes; the locks and pending writes of `txn`.
    Prepared {
        /// The pending writes (their accounts are the locks).
        writes: Vec<Write>,
        /// Every participant (for cooperative termination after a restart).
        participants: Vec<NodeId>,
    },
    /// Participant: the outcome of `txn` here.
    Outcome(Outcome),
    /// Participant: the balance of an account, as of the last commit, and
    /// that commit's transaction (the account's version, as a database
    /// keeps a row version).
    Balance(i64, TxnId),
}

/// Observations for the checks (ghost state: they never change the run).
#[derive(Clone, Debug)]
pub enum Note {
    /// Coordinator: a transaction began, with these participants.
    Begin {
        /// The transaction.
        txn: TxnId,
        /// Its participants.
        participants: Vec<NodeId>,
        /// What it does.
        transfer: Transfer,
    },
    /// Participant: voted (yes after PREPARED was synced).
    Voted {
        /// The transaction.
        txn: TxnId,
        /// The vote.
        yes: bool,
        /// With a yes: each account of the transaction here and the
        /// version it read (the last commit to write it; `None` for the
        /// opening balance).
        read: Vec<(u64, Option<TxnId>)>,
    },
    /// Coordinator: decided (a COMMIT is logged and synced before this).
    Decided {
        /// The transaction.
        txn: TxnId,
        /// The decision.
        outcome: Outcome,
    },
    /// Participant: the outcome took effect here (durably).
    Applied {
        /// The transaction.
        txn: TxnId,
        /// The outcome.
        outcome: Outcome,
        /// For a commit: each written account's new balance.
        balances: Vec<(u64, i64)>,
    },
}
