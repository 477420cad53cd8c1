//! Log replication (§5.3) and commitment (§5.4.2): the leader's
//! AppendEntries with its flow control (one batch in flight per follower
//! unless `pipeline`), the follower's consistency check and fast back-off
//! hint, and the commit index.

use super::{RCtx, Role, Server};
use crate::process::NodeId;
use crate::protocols::raft::log::Entry;
use crate::protocols::raft::machine::{Host, StateMachine};
use crate::protocols::raft::messages::{Msg, Note};

impl<S: StateMachine> Server<S> {
    pub(super) fn leader_append<P: Host<S>>(&mut self, ctx: RCtx<P>, entry: Entry<S>) {
        self.persist_entries(ctx, None, std::iter::once(entry));
        self.match_index[self.me.index()] = self.log.last_index();
        self.next_index[self.me.index()] = self.log.last_index() + 1;
        self.advance_commit(ctx);
        self.replicate(ctx);
    }

    pub(super) fn broadcast_append<P: Host<S>>(&mut self, ctx: RCtx<P>) {
        for peer in ctx.peers() {
            self.send_append(ctx, peer);
        }
    }

    /// Sends new entries to every follower not waiting to acknowledge
    /// earlier ones (to every follower with `pipeline`).
    fn replicate<P: Host<S>>(&mut self, ctx: RCtx<P>) {
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
    pub(super) fn heartbeat<P: Host<S>>(&mut self, ctx: RCtx<P>) {
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
    fn send_heartbeat<P: Host<S>>(&mut self, ctx: RCtx<P>, peer: NodeId) {
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
    fn send_append<P: Host<S>>(&mut self, ctx: RCtx<P>, peer: NodeId) {
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

    pub(super) fn on_append<P: Host<S>>(
        &mut self,
        ctx: RCtx<P>,
        from: NodeId,
        term: u64,
        prev: (u64, u64),
        entries: Vec<Entry<S>>,
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
        if ctx.buggify("raft.drop-append-reply") {
            return; // processed, never answered: as if the reply were lost
        }
        let reply = self.append_reply(true, last_new, None);
        ctx.send(from, reply);
    }

    /// The fast back-off hint (§5.3): where the leader should try next.
    fn conflict_reply(&self, prev_index: u64) -> Msg<S> {
        if prev_index > self.log.last_index() {
            return self.append_reply(false, self.log.last_index() + 1, None);
        }
        let conflict_term = self.log.term_at(prev_index);
        let first = self.log.first_index_of_term(prev_index);
        self.append_reply(false, first, conflict_term)
    }

    fn append_reply(&self, success: bool, match_index: u64, conflict_term: Option<u64>) -> Msg<S> {
        Msg::AppendReply {
            term: self.term,
            success,
            match_index,
            conflict_term,
        }
    }

    /// Appends the entries after `prev_index` that the log lacks, truncating
    /// at the first conflict (same index, different term) and never otherwise.
    fn merge_entries<P: Host<S>>(&mut self, ctx: RCtx<P>, prev_index: u64, entries: Vec<Entry<S>>) {
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

    pub(super) fn on_append_reply<P: Host<S>>(
        &mut self,
        ctx: RCtx<P>,
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
    pub(super) fn acknowledged<P: Host<S>>(&mut self, ctx: RCtx<P>, peer: NodeId) {
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
    pub(super) fn advance_commit<P: Host<S>>(&mut self, ctx: RCtx<P>) {
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

    fn set_commit<P: Host<S>>(&mut self, ctx: RCtx<P>, index: u64) {
        if index <= self.commit {
            return;
        }
        assert!(index <= self.log.last_index(), "commit beyond the log");
        self.commit = index;
        ctx.note(Note::Committed { index });
        self.apply(ctx);
    }
}
