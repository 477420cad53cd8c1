//! What Raft processes exchange (messages), wake up on (timers), keep on
//! disk (stored values) and tell the checks (notes). Plain data only; the
//! types that carry commands, results or state are generic over the
//! [`StateMachine`] (the key-value store [`Kv`] by default).

use super::kv::Kv;
use super::log::{Entry, Snapshot};
use super::machine::StateMachine;
use crate::process::NodeId;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// A message between servers, or between a client and a server. It
/// serializes whole, commands included (see [`Entry`]); its trace hash is
/// written out in `raft/trace.rs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub enum Msg<S: StateMachine = Kv> {
    /// RequestVote (§5.2), or a PreVote probe (thesis §9.6) when `pre_vote`.
    Vote {
        /// The candidate's term (for a PreVote: the term it would start).
        term: u64,
        /// The index of the candidate's last entry.
        last_index: u64,
        /// The term of the candidate's last entry.
        last_term: u64,
        /// True for a PreVote, which changes no state at the voter.
        pre_vote: bool,
    },
    /// The answer to a `Vote`.
    VoteReply {
        /// The voter's term (for a granted PreVote: the probed term).
        term: u64,
        /// Whether the vote (or PreVote) was granted.
        granted: bool,
        /// Answers a PreVote.
        pre_vote: bool,
    },
    /// AppendEntries (§5.3); a heartbeat when `entries` is empty.
    Append {
        /// The leader's term.
        term: u64,
        /// The index just before `entries`.
        prev_index: u64,
        /// The term at `prev_index`.
        prev_term: u64,
        /// New entries, from `prev_index + 1` on.
        entries: Vec<Entry<S>>,
        /// The leader's commit index.
        commit: u64,
    },
    /// The answer to an `Append`.
    AppendReply {
        /// The follower's term.
        term: u64,
        /// Whether the follower's log now matches the leader's through `match_index`.
        success: bool,
        /// On success: the last index known to match; on failure: the
        /// index the leader should try next (the fast back-off hint).
        match_index: u64,
        /// On failure: the term of the follower's conflicting entry, if any.
        conflict_term: Option<u64>,
    },
    /// InstallSnapshot (§7), whole in one message.
    InstallSnapshot {
        /// The leader's term.
        term: u64,
        /// The snapshot.
        snapshot: Box<Snapshot<S>>,
    },
    /// The answer to an `InstallSnapshot`.
    SnapshotReply {
        /// The follower's term.
        term: u64,
        /// The last index the follower now holds through the snapshot.
        last_index: u64,
    },
    /// A client's command.
    Request {
        /// The client's session id.
        session: u64,
        /// Its sequence number.
        seq: u64,
        /// The operation (shared with the client's retries).
        op: Rc<S::Op>,
    },
    /// A server's answer to a client.
    Response {
        /// The sequence number answered.
        seq: u64,
        /// The outcome.
        outcome: Answer<S>,
    },
}

impl<S: StateMachine> Msg<S> {
    /// A short name of the message's type, for metrics.
    pub fn kind(&self) -> MsgKind {
        match self {
            Msg::Vote { pre_vote: true, .. } => MsgKind::PreVote,
            Msg::Vote { .. } => MsgKind::Vote,
            Msg::VoteReply { .. } => MsgKind::VoteReply,
            Msg::Append { entries, .. } if entries.is_empty() => MsgKind::Heartbeat,
            Msg::Append { .. } => MsgKind::Append,
            Msg::AppendReply { .. } => MsgKind::AppendReply,
            Msg::InstallSnapshot { .. } => MsgKind::InstallSnapshot,
            Msg::SnapshotReply { .. } => MsgKind::SnapshotReply,
            Msg::Request { .. } => MsgKind::Request,
            Msg::Response { .. } => MsgKind::Response,
        }
    }
}

/// Message types, for the `messages_by_type` metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MsgKind {
    /// `Vote` with `pre_vote`.
    PreVote,
    /// `Vote`.
    Vote,
    /// `VoteReply`.
    VoteReply,
    /// `Append` without entries.
    Heartbeat,
    /// `Append` with entries.
    Append,
    /// `AppendReply`.
    AppendReply,
    /// `InstallSnapshot`.
    InstallSnapshot,
    /// `SnapshotReply`.
    SnapshotReply,
    /// `Request`.
    Request,
    /// `Response`.
    Response,
}

impl MsgKind {
    /// Every kind, in metric order.
    pub const ALL: [MsgKind; 10] = [
        MsgKind::PreVote,
        MsgKind::Vote,
        MsgKind::VoteReply,
        MsgKind::Heartbeat,
        MsgKind::Append,
        MsgKind::AppendReply,
        MsgKind::InstallSnapshot,
        MsgKind::SnapshotReply,
        MsgKind::Request,
        MsgKind::Response,
    ];

    /// Every kind's name, in metric order (what `[network.slow] kinds`
    /// may name).
    pub const NAMES: [&'static str; 10] = [
        "pre_vote",
        "vote",
        "vote_reply",
        "heartbeat",
        "append",
        "append_reply",
        "install_snapshot",
        "snapshot_reply",
        "request",
        "response",
    ];

    /// The metric name.
    pub fn name(self) -> &'static str {
        match self {
            MsgKind::PreVote => Self::NAMES[0],
            MsgKind::Vote => Self::NAMES[1],
            MsgKind::VoteReply => Self::NAMES[2],
            MsgKind::Heartbeat => Self::NAMES[3],
            MsgKind::Append => Self::NAMES[4],
            MsgKind::AppendReply => Self::NAMES[5],
            MsgKind::InstallSnapshot => Self::NAMES[6],
            MsgKind::SnapshotReply => Self::NAMES[7],
            MsgKind::Request => Self::NAMES[8],
            MsgKind::Response => Self::NAMES[9],
        }
    }
}

/// A server's answer to a client request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub enum Answer<S: StateMachine = Kv> {
    /// The command was applied with this result.
    Applied(S::Res),
    /// This server is not the leader; try `hint` if known.
    NotLeader {
        /// The leader this server last heard from in its current term.
        hint: Option<NodeId>,
    },
}

/// A timer of a Raft process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Timer {
    /// A follower or candidate heard no leader for an election timeout.
    Election,
    /// The leader's heartbeat interval passed.
    Heartbeat,
    /// CheckQuorum: one election timeout passed for the leader.
    Quorum,
    /// A client's retry deadline may have passed: its pending command got
    /// no answer in time, or its back-off ended.
    ClientRetry,
}

/// A value in a node's durable store.
#[derive(Clone, Debug)]
pub enum Stored<S: StateMachine = Kv> {
    /// `currentTerm`.
    Term(u64),
    /// `votedFor` in the current term.
    Vote(Option<NodeId>),
    /// A log entry (key: its index).
    Entry(Entry<S>),
    /// The latest snapshot.
    Snapshot(Box<Snapshot<S>>),
    /// A client's session counter (clients only).
    Session(u64),
}

/// A ghost observation for the checks; it never changes the run.
#[derive(Clone, Debug)]
pub enum Note {
    /// The node's durable log now holds these entries from `first` on,
    /// and nothing after them (earlier entries unchanged).
    Logged {
        /// The index of the first entry given.
        first: u64,
        /// `(term, command digest)` of each entry.
        entries: Vec<(u64, u64)>,
    },
    /// The node installed a snapshot through `index` (of `term`).
    SnapshotInstalled {
        /// The last index covered.
        index: u64,
        /// Its term.
        term: u64,
    },
    /// The node took a snapshot of its own state through `index`.
    SnapshotTaken {
        /// The last index covered.
        index: u64,
    },
    /// The node became leader of `term`.
    Leader {
        /// The term.
        term: u64,
    },
    /// The node stopped being leader of `term`.
    SteppedDown {
        /// The term.
        term: u64,
    },
    /// The node's term is now `term` (it persisted it).
    Term {
        /// The term.
        term: u64,
    },
    /// The node knows entries up to `index` are committed.
    Committed {
        /// The new commit index.
        index: u64,
    },
    /// The node applied the entries from `first` on to its state machine,
    /// in order (one note per batch).
    Applied {
        /// The index of the first.
        first: u64,
        /// (term, command digest) of each.
        entries: Vec<(u64, u64)>,
    },
    /// The leader told a client that the command at `index` took effect.
    Acknowledged {
        /// The entry's index.
        index: u64,
        /// Its term.
        term: u64,
        /// Its command digest.
        digest: u64,
    },
}
