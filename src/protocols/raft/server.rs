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

use super::kv::{Kv, KvOp, KvRes};
use super::log::{Command, Entry, Log, Snapshot};
use super::messages::{Answer, Msg, Note, Stored, Timer};
use super::{RaftNode, ServerOptions};
use crate::process::{Ctx, Disk, DiskKey, NodeId, TimerId};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeSet;
use std::rc::Rc;

type RCtx<'a, 'b> = &'a mut Ctx<'b, RaftNode>;

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

/// One Raft server.
pub struct Server {
    opts: ServerOptions,
    me: NodeId,
    n: usize,
    /// `currentTerm` (durable).
    term: u64,
    /// `votedFor` in `term` (durable).
    voted_for: Option<NodeId>,
    /// The log (durable).
    log: Log,
    role: Role,
    /// The leader of `term`, once heard from.
    leader: Option<NodeId>,
    /// When a leader of `term` was last heard (for PreVote and the lease of CheckQuorum).
    leader_seen: Option<SimTime>,
    /// Highest index known committed. Invariant: `applied <= commit <= log.last_index()`.
    commit: u64,
    /// Highest index applied to `kv`.
    applied: u64,
    kv: Kv,
    /// The latest snapshot, to send to followers that lag behind it.
    snapshot: Option<Box<Snapshot>>,
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

impl Server {
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
            kv: Kv::default(),
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

    /// The current term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The log.
    pub fn log(&self) -> &Log {
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

    /// The state machine.
    pub fn kv(&self) -> &Kv {
        &self.kv
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
    pub fn start(&mut self, ctx: RCtx, disk: &Disk<Stored>) {
        if let Some(Stored::Term(t)) = disk.get(TERM) {
            self.term = *t;
        }
        if let Some(Stored::Vote(v)) = disk.get(VOTE) {
            self.voted_for = *v;
        }
        if let Some(Stored::Snapshot(s)) = disk.get(SNAPSHOT) {
            self.log = Log::after(s.last_index, s.last_term);
            self.kv = s.kv.clone();
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

    fn persist_term_and_vote(&self, ctx: RCtx) {
        ctx.write(TERM, Stored::Term(self.term));
        ctx.write(VOTE, Stored::Vote(self.voted_for));
        ctx.sync();
    }

    /// Truncates the log from `from` (if given) and appends `entries`,
    /// durably, then tells the checks.
    fn persist_entries<I>(&mut self, ctx: RCtx, truncate: Option<u64>, entries: I)
    where
        I: IntoIterator<Item = Entry>,
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

    // ----- roles and timers ----------------------------------------------------------

    /// Restarts the randomized election timeout (§5.2).
    fn arm_election(&mut self, ctx: RCtx) {
        let lo = self.opts.election_min.as_nanos();
        let hi = self.opts.election_max.as_nanos().max(lo);
        let after = SimDuration::from_nanos(ctx.rng().between(lo, hi));
        self.election_deadline = ctx.now() + after;
        if self.election_timer.is_none() {
            self.election_timer = Some(ctx.set_timer(after, Timer::Election));
        }
    }

    /// The election timer fired: time out if the deadline has passed, else
    /// wait for the rest of it.
    fn on_election_timer(&mut self, ctx: RCtx) {
        self.election_timer = None;
        let now = ctx.now();
        if now < self.election_deadline {
            let rest = self.election_deadline.saturating_since(now);
            self.election_timer = Some(ctx.set_timer(rest, Timer::Election));
            return;
        }
        self.on_election_timeout(ctx);
    }

    /// Adopts `term` (a higher one, §5.1) or steps down within the current one.
    fn become_follower(&mut self, ctx: RCtx, term: u64) {
        if self.role == Role::Leader {
            ctx.note(Note::SteppedDown { term: self.term });
            if let Some((hb, q)) = self.leader_timers.take() {
                ctx.cancel_timer(hb);
                q.into_iter().for_each(|q| ctx.cancel_timer(q));
            }
        }
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.leader = None;
            self.leader_seen = None;
            self.persist_term_and_vote(ctx);
            ctx.note(Note::Term { term });
        }
        if self.role != Role::Follower {
            self.role = Role::Follower;
            self.arm_election(ctx);
        }
    }

    fn on_election_timeout(&mut self, ctx: RCtx) {
        if self.role == Role::Leader {
            return;
        }
        if self.opts.pre_vote {
            self.start_pre_vote(ctx);
        } else {
            self.start_election(ctx);
        }
    }

    fn start_pre_vote(&mut self, ctx: RCtx) {
        self.role = Role::PreCandidate;
        self.leader = None;
        self.votes = BTreeSet::from([self.me]);
        self.arm_election(ctx);
        if self.votes.len() >= self.majority() {
            return self.start_election(ctx);
        }
        self.ask_votes(ctx, self.term + 1, true);
    }

    fn start_election(&mut self, ctx: RCtx) {
        self.term += 1;
        self.voted_for = Some(self.me);
        self.role = Role::Candidate;
        self.leader = None;
        self.leader_seen = None;
        self.persist_term_and_vote(ctx);
        ctx.note(Note::Term { term: self.term });
        self.votes = BTreeSet::from([self.me]);
        self.arm_election(ctx);
        if self.votes.len() >= self.majority() {
            return self.become_leader(ctx);
        }
        self.ask_votes(ctx, self.term, false);
    }

    fn ask_votes(&mut self, ctx: RCtx, term: u64, pre_vote: bool) {
        let msg = Msg::Vote {
            term,
            last_index: self.log.last_index(),
            last_term: self.log.last_term(),
            pre_vote,
        };
        for peer in ctx.peers() {
            ctx.send(peer, msg.clone());
        }
    }

    fn become_leader(&mut self, ctx: RCtx) {
        self.role = Role::Leader;
        self.leader = Some(self.me);
        if let Some(id) = self.election_timer.take() {
            ctx.cancel_timer(id);
        }
        ctx.note(Note::Leader { term: self.term });
        let next = self.log.last_index() + 1;
        self.next_index = vec![next; self.n];
        self.match_index = vec![0; self.n];
        self.in_flight = vec![None; self.n];
        self.heard = vec![false; self.n];
        if self.opts.leader_noop {
            let noop = Entry::new(self.term, Command::Noop);
            self.leader_append(ctx, noop);
        } else {
            self.match_index[self.me.index()] = self.log.last_index();
            self.broadcast_append(ctx);
        }
        let heartbeat = ctx.set_timer(self.opts.heartbeat, Timer::Heartbeat);
        let quorum = self
            .opts
            .check_quorum
            .then(|| ctx.set_timer(self.opts.election_max, Timer::Quorum));
        self.leader_timers = Some((heartbeat, quorum));
    }

    /// Whether a leader of the current term was heard within the minimum
    /// election timeout (or this node leads): votes for others then would
    /// only disrupt a working cluster (thesis §4.2.3 and §9.6).
    fn leader_is_fresh(&self, now: SimTime) -> bool {
        self.role == Role::Leader
            || self
                .leader_seen
                .is_some_and(|t| now.saturating_since(t) < self.opts.election_min)
    }

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
    pub fn on_timer(&mut self, ctx: RCtx, id: TimerId, timer: Timer) {
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
    pub fn on_message(&mut self, ctx: RCtx, from: NodeId, msg: Msg) {
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

    // ----- elections (§5.2, §5.4.1, thesis §9.6) -------------------------------------

    fn on_pre_vote(&mut self, ctx: RCtx, from: NodeId, term: u64, last_index: u64, last_term: u64) {
        let granted = term > self.term
            && self.log.is_up_to_date(last_index, last_term)
            && !self.leader_is_fresh(ctx.now());
        let reply_term = if granted { term } else { self.term };
        let reply = Msg::VoteReply {
            term: reply_term,
            granted,
            pre_vote: true,
        };
        ctx.send(from, reply);
    }

    fn on_vote(&mut self, ctx: RCtx, from: NodeId, term: u64, last_index: u64, last_term: u64) {
        if term > self.term && self.opts.check_quorum && self.leader_is_fresh(ctx.now()) {
            return; // a leader is alive: ignore the disruption (thesis §4.2.3)
        }
        if term > self.term {
            self.become_follower(ctx, term);
        }
        let free = self.voted_for.is_none() || self.voted_for == Some(from);
        let granted = term == self.term && free && self.log.is_up_to_date(last_index, last_term);
        if granted {
            self.voted_for = Some(from);
            self.persist_term_and_vote(ctx);
            self.arm_election(ctx);
        }
        let reply = Msg::VoteReply {
            term: self.term,
            granted,
            pre_vote: false,
        };
        ctx.send(from, reply);
    }

    fn on_vote_reply(&mut self, ctx: RCtx, from: NodeId, term: u64, granted: bool, pre: bool) {
        if term > self.term && !(pre && granted) {
            return self.become_follower(ctx, term);
        }
        if !granted {
            return;
        }
        let counts = if pre {
            self.role == Role::PreCandidate && term == self.term + 1
        } else {
            self.role == Role::Candidate && term == self.term
        };
        if !counts {
            return; // stale: an older attempt or term
        }
        self.votes.insert(from);
        if self.votes.len() < self.majority() {
            return;
        }
        if pre {
            self.start_election(ctx);
        } else {
            self.become_leader(ctx);
        }
    }

    // ----- replication (§5.3) --------------------------------------------------------

    fn leader_append(&mut self, ctx: RCtx, entry: Entry) {
        self.persist_entries(ctx, None, std::iter::once(entry));
        self.match_index[self.me.index()] = self.log.last_index();
        self.next_index[self.me.index()] = self.log.last_index() + 1;
        self.advance_commit(ctx);
        self.replicate(ctx);
    }

    fn broadcast_append(&mut self, ctx: RCtx) {
        for peer in ctx.peers() {
            self.send_append(ctx, peer);
        }
    }

    /// Sends new entries to every follower not waiting to acknowledge
    /// earlier ones (to every follower with `pipeline`).
    fn replicate(&mut self, ctx: RCtx) {
        for peer in ctx.peers() {
            if self.opts.pipeline || self.in_flight[peer.index()].is_none() {
                self.send_append(ctx, peer);
            }
        }
    }

    /// The heartbeat (§5.2), also the retransmission of lost AppendEntries:
    /// a follower with nothing in flight gets what it lacks (often nothing);
    /// one whose AppendEntries went unanswered for a heartbeat interval is
    /// presumed to have lost it and is sent everything from its match
    /// index on; one with an AppendEntries on its way gets an empty one
    /// that checks against its match index, so it cannot overtake the
    /// entries and be rejected.
    fn heartbeat(&mut self, ctx: RCtx) {
        if self.opts.pipeline {
            return self.broadcast_append(ctx);
        }
        let now = ctx.now();
        for peer in ctx.peers() {
            let p = peer.index();
            match self.in_flight[p] {
                None => self.send_append(ctx, peer),
                Some(sent) if now.saturating_since(sent) >= self.opts.heartbeat => {
                    self.next_index[p] = self.match_index[p] + 1;
                    self.in_flight[p] = None;
                    self.send_append(ctx, peer);
                }
                Some(_) => self.send_heartbeat(ctx, peer),
            }
        }
    }

    /// An AppendEntries without entries whose consistency check is at the
    /// follower's match index (or the snapshot boundary, if compacted).
    fn send_heartbeat(&mut self, ctx: RCtx, peer: NodeId) {
        let matched = self.match_index[peer.index()];
        let (prev_index, prev_term) = match self.log.term_at(matched) {
            Some(term) => (matched, term),
            None => (self.log.snapshot_index(), self.log.snapshot_term()),
        };
        let msg = Msg::Append {
            term: self.term,
            prev_index,
            prev_term,
            entries: Vec::new(),
            commit: self.commit,
        };
        ctx.send(peer, msg);
    }

    /// Sends `peer` what it lacks from `next_index` on (or the snapshot, if
    /// that was compacted) and advances `next_index` past it, assuming it
    /// will arrive; without `pipeline` it is then in flight. A failed reply,
    /// or a heartbeat interval without one, moves `next_index` back.
    fn send_append(&mut self, ctx: RCtx, peer: NodeId) {
        let next = self.next_index[peer.index()];
        if next <= self.log.snapshot_index() {
            return self.send_snapshot(ctx, peer);
        }
        let prev_index = next - 1;
        let Some(prev_term) = self.log.term_at(prev_index) else {
            panic!("leader lacks the term at {prev_index} (next_index {next})");
        };
        let entries = self.log.slice(next, self.opts.batch_max);
        self.next_index[peer.index()] = next + entries.len() as u64;
        if !entries.is_empty() && !self.opts.pipeline {
            self.in_flight[peer.index()] = Some(ctx.now());
        }
        let msg = Msg::Append {
            term: self.term,
            prev_index,
            prev_term,
            entries,
            commit: self.commit,
        };
        ctx.send(peer, msg);
    }

    fn send_snapshot(&mut self, ctx: RCtx, peer: NodeId) {
        let Some(snapshot) = self.snapshot.clone() else {
            panic!("the log is compacted but there is no snapshot");
        };
        if !self.opts.pipeline {
            self.in_flight[peer.index()] = Some(ctx.now());
        }
        let msg = Msg::InstallSnapshot {
            term: self.term,
            snapshot,
        };
        ctx.send(peer, msg);
    }

    /// Accepts a message from the leader of `term`: adopt the term, follow.
    fn accept_leader(&mut self, ctx: RCtx, from: NodeId, term: u64) {
        self.become_follower(ctx, term);
        self.leader = Some(from);
        self.leader_seen = Some(ctx.now());
        self.arm_election(ctx);
    }

    fn on_append(
        &mut self,
        ctx: RCtx,
        from: NodeId,
        term: u64,
        prev: (u64, u64),
        entries: Vec<Entry>,
        leader_commit: u64,
    ) {
        if term < self.term {
            let reply = self.append_reply(false, 0, None);
            return ctx.send(from, reply);
        }
        self.accept_leader(ctx, from, term);
        let (mut prev_index, mut prev_term) = prev;
        let mut entries = entries;
        let base = self.log.snapshot_index();
        if prev_index < base {
            // Entries up to the snapshot are committed, so they match.
            let skip = ((base - prev_index) as usize).min(entries.len());
            entries.drain(..skip);
            (prev_index, prev_term) = (base, self.log.snapshot_term());
            if skip < (base - prev.0) as usize {
                let reply = self.append_reply(true, base, None);
                return ctx.send(from, reply);
            }
        }
        if self.log.term_at(prev_index) != Some(prev_term) {
            let reply = self.conflict_reply(prev_index);
            return ctx.send(from, reply);
        }
        let last_new = prev_index + entries.len() as u64;
        self.merge_entries(ctx, prev_index, entries);
        if leader_commit > self.commit {
            self.set_commit(ctx, leader_commit.min(last_new));
        }
        let reply = self.append_reply(true, last_new, None);
        ctx.send(from, reply);
    }

    /// The fast back-off hint (§5.3): where the leader should try next.
    fn conflict_reply(&self, prev_index: u64) -> Msg {
        if prev_index > self.log.last_index() {
            return self.append_reply(false, self.log.last_index() + 1, None);
        }
        let conflict_term = self.log.term_at(prev_index);
        let first = self.log.first_index_of_term(prev_index);
        self.append_reply(false, first, conflict_term)
    }

    fn append_reply(&self, success: bool, match_index: u64, conflict_term: Option<u64>) -> Msg {
        Msg::AppendReply {
            term: self.term,
            success,
            match_index,
            conflict_term,
        }
    }

    /// Appends the entries after `prev_index` that the log lacks, truncating
    /// at the first conflict (same index, different term) and never otherwise.
    fn merge_entries(&mut self, ctx: RCtx, prev_index: u64, entries: Vec<Entry>) {
        let mut skip = 0;
        let mut truncate = None;
        for (i, e) in entries.iter().enumerate() {
            let index = prev_index + 1 + i as u64;
            match self.log.term_at(index) {
                Some(t) if t == e.term => skip = i + 1,
                Some(_) => {
                    truncate = Some(index);
                    break;
                }
                None => break,
            }
        }
        if skip == entries.len() {
            return;
        }
        self.persist_entries(ctx, truncate, entries.into_iter().skip(skip));
    }

    fn on_append_reply(
        &mut self,
        ctx: RCtx,
        from: NodeId,
        term: u64,
        success: bool,
        match_index: u64,
        conflict_term: Option<u64>,
    ) {
        if term > self.term {
            return self.become_follower(ctx, term);
        }
        if term < self.term || self.role != Role::Leader {
            return; // a stale reply from an older term
        }
        let peer = from.index();
        self.heard[peer] = true;
        if success {
            self.match_index[peer] = self.match_index[peer].max(match_index);
            self.next_index[peer] = self.next_index[peer].max(self.match_index[peer] + 1);
            self.advance_commit(ctx);
            return self.acknowledged(ctx, from);
        }
        let next = match conflict_term.and_then(|t| self.log.last_index_of_term(t)) {
            Some(last) => last + 1,
            None => match_index,
        };
        let next = next.clamp(self.match_index[peer] + 1, self.log.last_index() + 1);
        self.next_index[peer] = next;
        self.in_flight[peer] = None;
        self.send_append(ctx, from);
    }

    /// `peer`'s match index moved: once it covers everything sent, nothing
    /// is in flight and what accumulated meanwhile goes out.
    fn acknowledged(&mut self, ctx: RCtx, peer: NodeId) {
        let p = peer.index();
        if self.opts.pipeline || self.role != Role::Leader {
            return;
        }
        if self.match_index[p] + 1 >= self.next_index[p] {
            self.in_flight[p] = None;
        }
        if self.in_flight[p].is_none() && self.next_index[p] <= self.log.last_index() {
            self.send_append(ctx, peer);
        }
    }

    /// §5.4.2: a leader commits by counting replicas only an entry of its
    /// own term; earlier entries are committed with it, indirectly.
    fn advance_commit(&mut self, ctx: RCtx) {
        // The highest index a majority holds (quadratic in the cluster
        // size, which is small, and allocation-free).
        let held_by_majority = |&m: &u64| {
            self.match_index.iter().filter(|&&other| other >= m).count() >= self.majority()
        };
        let n = self
            .match_index
            .iter()
            .copied()
            .filter(held_by_majority)
            .max()
            .unwrap_or(0);
        if n > self.commit && self.log.term_at(n) == Some(self.term) {
            self.set_commit(ctx, n);
        }
    }

    fn set_commit(&mut self, ctx: RCtx, index: u64) {
        if index <= self.commit {
            return;
        }
        assert!(index <= self.log.last_index(), "commit beyond the log");
        self.commit = index;
        ctx.note(Note::Committed { index });
        self.apply(ctx);
    }

    fn check_quorum(&mut self, ctx: RCtx) {
        self.heard[self.me.index()] = true;
        let heard = self.heard.iter().filter(|&&h| h).count();
        self.heard = vec![false; self.n];
        if heard < self.majority() {
            self.leader = None;
            return self.become_follower(ctx, self.term);
        }
        let quorum = ctx.set_timer(self.opts.election_max, Timer::Quorum);
        if let Some((_, q)) = self.leader_timers.as_mut() {
            *q = Some(quorum);
        }
    }

    // ----- the state machine and clients ---------------------------------------------

    fn apply(&mut self, ctx: RCtx) {
        let first = self.applied + 1;
        let mut applied = Vec::with_capacity(self.commit.saturating_sub(self.applied) as usize);
        while self.applied < self.commit {
            self.applied += 1;
            let index = self.applied;
            let Some(entry) = self.log.entry(index) else {
                panic!("applying index {index}, which the log does not hold");
            };
            let digest = entry.cmd.digest();
            applied.push((entry.term, digest));
            if let Command::Client {
                from,
                session,
                seq,
                op,
            } = &*entry.cmd
            {
                let result = self.kv.apply(*session, *seq, op);
                if self.role == Role::Leader && result != KvRes::Stale {
                    ctx.note(Note::Acknowledged {
                        index,
                        term: entry.term,
                        digest,
                    });
                    let answer = Msg::Response {
                        seq: *seq,
                        outcome: Answer::Applied(result),
                    };
                    ctx.send(NodeId(*from), answer);
                }
            }
        }
        if !applied.is_empty() {
            ctx.note(Note::Applied {
                first,
                entries: applied,
            });
        }
        self.maybe_snapshot(ctx);
    }

    fn on_request(&mut self, ctx: RCtx, from: NodeId, session: u64, seq: u64, op: Rc<KvOp>) {
        if self.role != Role::Leader {
            let answer = Msg::Response {
                seq,
                outcome: Answer::NotLeader { hint: self.leader },
            };
            return ctx.send(from, answer);
        }
        let cmd = Command::Client {
            from: from.0,
            session,
            seq,
            op: Rc::unwrap_or_clone(op),
        };
        let entry = Entry::new(self.term, cmd);
        self.leader_append(ctx, entry);
    }

    // ----- snapshots (§7) ------------------------------------------------------------

    fn maybe_snapshot(&mut self, ctx: RCtx) {
        let every = self.opts.snapshot_every;
        let covered = self.snapshot.as_ref().map_or(0, |s| s.last_index);
        if every == 0 || self.applied - covered.max(self.log.snapshot_index()) < every {
            return;
        }
        let index = self.applied;
        let Some(term) = self.log.term_at(index) else {
            panic!("snapshot at {index}, which the log does not hold");
        };
        let snapshot = Box::new(Snapshot {
            last_index: index,
            last_term: term,
            kv: self.kv.clone(),
        });
        let compact = self.compaction_point(index);
        ctx.write(SNAPSHOT, Stored::Snapshot(snapshot.clone()));
        ctx.delete_range(LOG, 0, compact);
        ctx.sync();
        self.log.compact_to(compact);
        self.snapshot = Some(snapshot);
        ctx.note(Note::SnapshotTaken { index });
    }

    /// How far the log may be compacted after a snapshot through `index`.
    /// A leader keeps the entries its followers still lack, up to
    /// `snapshot_every` of them, so a follower a few round trips behind is
    /// sent entries rather than the whole snapshot; one further behind gets
    /// the snapshot (§7).
    fn compaction_point(&self, index: u64) -> u64 {
        let floor = self.log.snapshot_index();
        if self.role != Role::Leader {
            return index;
        }
        let slowest = (0..self.n)
            .filter(|&p| p != self.me.index())
            .map(|p| self.match_index[p])
            .min()
            .unwrap_or(index);
        let window = index.saturating_sub(self.opts.snapshot_every);
        slowest.min(index).max(window).max(floor)
    }

    fn on_install_snapshot(&mut self, ctx: RCtx, from: NodeId, term: u64, snapshot: Snapshot) {
        if term < self.term {
            let reply = Msg::SnapshotReply {
                term: self.term,
                last_index: 0,
            };
            return ctx.send(from, reply);
        }
        self.accept_leader(ctx, from, term);
        let index = snapshot.last_index;
        if index > self.commit {
            self.install(ctx, snapshot);
        }
        let reply = Msg::SnapshotReply {
            term: self.term,
            last_index: self.commit.max(index),
        };
        ctx.send(from, reply);
    }

    /// Replaces the state with `snapshot`, keeping the log after it only if
    /// the log holds the snapshot's last entry (§7).
    fn install(&mut self, ctx: RCtx, snapshot: Snapshot) {
        let (index, term) = (snapshot.last_index, snapshot.last_term);
        if self.log.term_at(index) == Some(term) {
            self.log.compact_to(index);
            ctx.delete_range(LOG, 0, index);
        } else {
            self.log = Log::after(index, term);
            ctx.delete_range(LOG, 0, u64::MAX);
        }
        self.kv = snapshot.kv.clone();
        self.commit = index;
        self.applied = index;
        let snapshot = Box::new(snapshot);
        ctx.write(SNAPSHOT, Stored::Snapshot(snapshot.clone()));
        ctx.sync();
        self.snapshot = Some(snapshot);
        ctx.note(Note::SnapshotInstalled { index, term });
        ctx.note(Note::Committed { index });
    }

    fn on_snapshot_reply(&mut self, ctx: RCtx, from: NodeId, term: u64, last_index: u64) {
        if term > self.term {
            return self.become_follower(ctx, term);
        }
        if term < self.term || self.role != Role::Leader {
            return;
        }
        let peer = from.index();
        self.heard[peer] = true;
        self.match_index[peer] = self.match_index[peer].max(last_index);
        self.next_index[peer] = self.match_index[peer] + 1;
        self.advance_commit(ctx);
        self.acknowledged(ctx, from);
    }
}
