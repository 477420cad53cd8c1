//! Log compaction (§7): taking a snapshot and compacting the log behind
//! it, and InstallSnapshot for a follower the leader's log no longer
//! reaches.

use super::{RCtx, Role, Server, LOG, SNAPSHOT};
use crate::process::NodeId;
use crate::protocols::raft::log::{Log, Snapshot};
use crate::protocols::raft::machine::{Host, StateMachine};
use crate::protocols::raft::messages::{Msg, Note, Stored};

impl<S: StateMachine> Server<S> {
    pub(super) fn send_snapshot<P: Host<S>>(&mut self, ctx: RCtx<P>, peer: NodeId) {
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

    pub(super) fn maybe_snapshot<P: Host<S>>(&mut self, ctx: RCtx<P>) {
        let every = self.opts.snapshot_every;
        let covered = self.snapshot.as_ref().map_or(0, |s| s.last_index);
        let since = self.applied - covered.max(self.log.snapshot_index());
        if every == 0 || since == 0 {
            return;
        }
        if since < every && !ctx.buggify("raft.snapshot-early") {
            return;
        }
        let index = self.applied;
        let Some(term) = self.log.term_at(index) else {
            panic!("snapshot at {index}, which the log does not hold");
        };
        let snapshot = Box::new(Snapshot {
            last_index: index,
            last_term: term,
            state: self.state.clone(),
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

    pub(super) fn on_install_snapshot<P: Host<S>>(
        &mut self,
        ctx: RCtx<P>,
        from: NodeId,
        term: u64,
        snapshot: Snapshot<S>,
    ) {
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
    fn install<P: Host<S>>(&mut self, ctx: RCtx<P>, snapshot: Snapshot<S>) {
        let (index, term) = (snapshot.last_index, snapshot.last_term);
        if self.log.term_at(index) == Some(term) {
            self.log.compact_to(index);
            ctx.delete_range(LOG, 0, index);
        } else {
            self.log = Log::after(index, term);
            ctx.delete_range(LOG, 0, u64::MAX);
        }
        self.state = snapshot.state.clone();
        self.commit = index;
        self.applied = index;
        let snapshot = Box::new(snapshot);
        ctx.write(SNAPSHOT, Stored::Snapshot(snapshot.clone()));
        ctx.sync();
        self.snapshot = Some(snapshot);
        ctx.note(Note::SnapshotInstalled { index, term });
        ctx.note(Note::Committed { index });
    }

    pub(super) fn on_snapshot_reply<P: Host<S>>(
        &mut self,
        ctx: RCtx<P>,
        from: NodeId,
        term: u64,
        last_index: u64,
    ) {
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
