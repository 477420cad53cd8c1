//! A Raft server (Ongaro & Ousterhout §5, with PreVote and CheckQuorum from
//! the thesis §9.6, and snapshots from §7): the state machine of one node.
//!
//! Invariants kept here:
//! * `currentTerm`, `votedFor` and every log change are written *and synced*
//!   before the node answers a message or acts on them, so a restart sees
//!   what the rest of the cluster was told (`persist_*`).
//! * `applied <= commit <= log.last_index()` on every node; the log holds
//!   every entry after the snapshot, and the snapshot covers `1..=snapshot_index`.
//! * A leader only appends to its log; it commits by counting replicas only
//!   entries of its own term (§5.4.2).
//! * Notes are emitted after the state they describe is durable; they are
//!   observations only and never feed back into the node.
//!
//! This file holds the state and its invariants, recovery from the disk and
//! what is written to it, and the event entry points. The handlers sit
//! beside it by paper section, each file adding to `impl Server`:
//! `election` (§5.1 terms, §5.2 elections, §5.4.1 the vote restriction;
//! PreVote and CheckQuorum, thesis §9.6), `replication` (§5.3 AppendEntries
//! and its flow control, §5.4.2 commitment), `snapshot` (§7 log compaction
//! and InstallSnapshot) and `apply` (client requests, §8, and applying
//! committed entries to the state machine).
//!
//! The server is generic over the [`StateMachine`] it replicates (the
//! key-value store [`Kv`] by default, what Raft's own runs use) and over
//! the process it runs inside: its handlers take the context of any
//! [`Host`], a process whose messages, timers, disk values and notes are
//! Raft's ([`RaftNode`](super::RaftNode), or the [`Replica`](super::Replica)
//! that a protocol embedding Raft groups runs). Both are monomorphized: one
//! copy of the code per machine and host, no dynamic dispatch.

mod apply;
mod election;
mod replication;
mod snapshot;

use super::kv::Kv;
use super::log::{Entry, Log, Snapshot};
use super::machine::{Host, StateMachine};
use super::messages::{Msg, Note, Stored, Timer};
use super::ServerOptions;
use crate::process::{Ctx, Disk, DiskKey, NodeId, TimerId};
use crate::time::SimTime;
use std::collections::BTreeSet;

/// The context of a server's handler, inside host process `P`.
type RCtx<'a, 'b, P> = &'a mut Ctx<'b, P>;

const TERM: DiskKey = DiskKey::single("term");
const VOTE: DiskKey = DiskKey::single("vote");
const SNAPSHOT: DiskKey = DiskKey::single("snapshot");
const LOG: &str = "log";

/// A server's role (§5.1, plus the PreVote phase of the thesis §9.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Probing with PreVote whether an election could succeed.
    PreCandidate,
    /// Asking for votes in its term.
    Candidate,
    /// Leads its term.
    Leader,
}

impl Role {
    /// The name a scenario fault targets the role by (one of
    /// [`ROLES`](super::ROLES); a PreCandidate counts as a candidate).
    pub fn name(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Candidate | Role::PreCandidate => "candidate",
        }
    }
}

/// One Raft server, replicating state machine `S`.
pub struct Server<S: StateMachine = Kv> {
    opts: ServerOptions,
    me: NodeId,
    n: usize,
    /// `currentTerm` (durable).
    term: u64,
    /// `votedFor` in `term` (durable).
    voted_for: Option<NodeId>,
    /// The log (durable).
    log: Log<S>,
    role: Role,
    /// The leader of `term`, once heard from.
    leader: Option<NodeId>,
    /// When a leader of `term` was last heard (for PreVote and the lease of CheckQuorum).
    leader_seen: Option<SimTime>,
    /// Highest index known committed. Invariant: `applied <= commit <= log.last_index()`.
    commit: u64,
    /// Highest index applied to `state`.
    applied: u64,
    /// The state machine, with entries `1..=applied` applied.
    state: S,
    /// The latest snapshot, to send to followers that lag behind it.
    snapshot: Option<Box<Snapshot<S>>>,
    /// Votes (or PreVotes) granted to this node in its current attempt.
    votes: BTreeSet<NodeId>,
    election_timer: Option<TimerId>,
    /// When the election timeout expires (on this node's clock). Hearing
    /// a leader only moves the deadline; the pending timer re-arms itself
    /// for the rest when it fires early, so a heartbeat costs no timer event.
    election_deadline: SimTime,
    /// Leader only: the live heartbeat and CheckQuorum timers.
    leader_timers: Option<(TimerId, Option<TimerId>)>,
    /// Leader only: the next index to send to each server.
    next_index: Vec<u64>,
    /// Leader only: the highest index known replicated on each server.
    match_index: Vec<u64>,
    /// Leader only, without `pipeline`: when the AppendEntries (with
    /// entries) or InstallSnapshot each server has not yet acknowledged
    /// was sent. While one is in flight, new entries wait; a heartbeat
    /// interval without an answer counts it as lost.
    in_flight: Vec<Option<SimTime>>,
    /// Leader only (CheckQuorum): servers heard from since the last check.
    heard: Vec<bool>,
}

impl<S: StateMachine> Server<S> {
    /// A fresh server `me` of `n`; state comes from the disk in `start`.
    pub fn new(opts: ServerOptions, me: NodeId, n: usize) -> Self {
        Server {
            opts,
            me,
            n,
            term: 0,
            voted_for: None,
            log: Log::default(),
            role: Role::Follower,
            leader: None,
            leader_seen: None,
            commit: 0,
            applied: 0,
            state: S::default(),
            snapshot: None,
            votes: BTreeSet::new(),
            election_timer: None,
            election_deadline: SimTime::ZERO,
            leader_timers: None,
            next_index: vec![1; n],
            match_index: vec![0; n],
            in_flight: vec![None; n],
            heard: vec![false; n],
        }
    }

    /// The same, starting from `state` instead of `S::default()` when its
    /// disk holds no snapshot (a machine that needs its size or identity,
    /// such as a replica group's). Call it before `start`.
    pub fn with_state(mut self, state: S) -> Self {
        assert!(
            self.applied == 0 && self.log.last_index() == 0,
            "the initial state is set before the server starts"
        );
        self.state = state;
        self
    }

    /// The current term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The log.
    pub fn log(&self) -> &Log<S> {
        &self.log
    }

    /// The commit index.
    pub fn commit_index(&self) -> u64 {
        self.commit
    }

    /// The node this server believes leads its term.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// The state machine, with every entry through [`Server::applied_index`] applied.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The index of the last entry applied to the state machine.
    pub fn applied_index(&self) -> u64 {
        self.applied
    }

    /// This server's id.
    pub fn me(&self) -> NodeId {
        self.me
    }

    /// The number of servers in its group.
    pub fn group_size(&self) -> usize {
        self.n
    }

    /// `votedFor`.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }

    fn majority(&self) -> usize {
        self.n / 2 + 1
    }

    // ----- start and persistence -----------------------------------------------------

    /// Recovers from the disk only, then waits for a leader.
    pub fn start<P: Host<S>>(&mut self, ctx: RCtx<P>, disk: &Disk<Stored<S>>) {
        if let Some(Stored::Term(t)) = disk.get(TERM) {
            self.term = *t;
        }
        if let Some(Stored::Vote(v)) = disk.get(VOTE) {
            self.voted_for = *v;
        }
        if let Some(Stored::Snapshot(s)) = disk.get(SNAPSHOT) {
            self.log = Log::after(s.last_index, s.last_term);
            self.state = s.state.clone();
            self.commit = s.last_index;
            self.applied = s.last_index;
            self.snapshot = Some(s.clone());
        }
        for (index, value) in disk.scan(LOG) {
            if let Stored::Entry(e) = value {
                if index > self.log.last_index() {
                    assert_eq!(
                        index,
                        self.log.last_index() + 1,
                        "a hole in the durable log"
                    );
                    self.log.push(e.clone());
                }
            }
        }
        self.arm_election(ctx);
    }

    fn persist_term_and_vote<P: Host<S>>(&self, ctx: RCtx<P>) {
        ctx.write(TERM, Stored::Term(self.term));
        ctx.write(VOTE, Stored::Vote(self.voted_for));
        ctx.sync();
    }

    /// Truncates the log from `from` (if given) and appends `entries`,
    /// durably, then tells the checks.
    fn persist_entries<P: Host<S>, I>(&mut self, ctx: RCtx<P>, truncate: Option<u64>, entries: I)
    where
        I: IntoIterator<Item = Entry<S>>,
        I::IntoIter: ExactSizeIterator,
    {
        let entries = entries.into_iter();
        if let Some(from) = truncate {
            self.log.truncate_from(from);
            ctx.delete_range(LOG, from, u64::MAX);
        }
        let first = self.log.last_index() + 1;
        let mut seen = Vec::with_capacity(entries.len());
        for (i, e) in entries.enumerate() {
            ctx.write(
                DiskKey::new(LOG, first + i as u64),
                Stored::Entry(e.clone()),
            );
            seen.push((e.term, e.cmd.digest()));
            self.log.push(e);
        }
        ctx.sync();
        ctx.note(Note::Logged {
            first,
            entries: seen,
        });
    }

    // ----- invariants ----------------------------------------------------------------

    /// Asserts the invariants of the module doc that one node can check of
    /// itself, after every handler: `applied <= commit <= last_index`, the
    /// snapshot boundary applied, no entry from a term this node has not
    /// reached, and a leader's state present exactly while it leads. O(n) in
    /// the cluster size; on in release builds (see `reports/BENCHMARKS.md`
    /// for what it costs).
    #[inline]
    pub fn assert_invariants(&self) {
        let me = self.me;
        let last = self.log.last_index();
        assert!(
            self.applied <= self.commit && self.commit <= last,
            "{me}: applied {} <= commit {} <= last index {last} does not hold",
            self.applied,
            self.commit
        );
        assert!(
            self.log.snapshot_index() <= self.applied,
            "{me}: the log is compacted to {}, beyond what was applied ({})",
            self.log.snapshot_index(),
            self.applied
        );
        assert!(
            self.log.last_term() <= self.term,
            "{me}: the log holds an entry of term {} in term {}",
            self.log.last_term(),
            self.term
        );
        let leading = self.role == Role::Leader;
        assert_eq!(
            leading,
            self.leader_timers.is_some(),
            "{me}: leader timers exist exactly while it leads"
        );
        if leading {
            assert_eq!(
                self.leader,
                Some(me),
                "{me}: a leader that does not know it leads"
            );
            assert_eq!(
                self.voted_for,
                Some(me),
                "{me}: a leader that did not vote for itself"
            );
            assert!(
                self.match_index
                    .iter()
                    .zip(&self.next_index)
                    .all(|(m, n)| m < n && *n <= last + 1),
                "{me}: match_index < next_index <= last index + 1 does not hold"
            );
        }
    }

    // ----- events --------------------------------------------------------------------

    /// A timer fired.
    pub fn on_timer<P: Host<S>>(&mut self, ctx: RCtx<P>, id: TimerId, timer: Timer) {
        let leading = self.role == Role::Leader;
        match (timer, self.leader_timers) {
            (Timer::Election, _) if self.election_timer == Some(id) => self.on_election_timer(ctx),
            (Timer::Heartbeat, Some((hb, q))) if leading && hb == id => {
                self.heartbeat(ctx);
                let hb = ctx.set_timer(self.opts.heartbeat, Timer::Heartbeat);
                self.leader_timers = Some((hb, q));
            }
            (Timer::Quorum, Some((_, Some(q)))) if leading && q == id => self.check_quorum(ctx),
            _ => {}
        }
    }

    /// A message arrived.
    pub fn on_message<P: Host<S>>(&mut self, ctx: RCtx<P>, from: NodeId, msg: Msg<S>) {
        match msg {
            Msg::Vote {
                term,
                last_index,
                last_term,
                pre_vote: true,
            } => self.on_pre_vote(ctx, from, term, last_index, last_term),
            Msg::Vote {
                term,
                last_index,
                last_term,
                pre_vote: false,
            } => self.on_vote(ctx, from, term, last_index, last_term),
            Msg::VoteReply {
                term,
                granted,
                pre_vote,
            } => self.on_vote_reply(ctx, from, term, granted, pre_vote),
            Msg::Append {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
            } => self.on_append(ctx, from, term, (prev_index, prev_term), entries, commit),
            Msg::AppendReply {
                term,
                success,
                match_index,
                conflict_term,
            } => self.on_append_reply(ctx, from, term, success, match_index, conflict_term),
            Msg::InstallSnapshot { term, snapshot } => {
                self.on_install_snapshot(ctx, from, term, *snapshot)
            }
            Msg::SnapshotReply { term, last_index } => {
                self.on_snapshot_reply(ctx, from, term, last_index)
            }
            Msg::Request { session, seq, op } => self.on_request(ctx, from, session, seq, op),
            Msg::Response { .. } => {}
        }
    }
}
