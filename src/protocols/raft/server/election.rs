//! Terms and elections (§5.1, §5.2), the vote restriction (§5.4.1), and
//! PreVote and CheckQuorum (thesis §9.6, with the disruption rule of §4.2.3):
//! the election timer, the role changes, RequestVote and its replies.

use super::{RCtx, Role, Server};
use crate::process::NodeId;
use crate::protocols::raft::log::{Command, Entry};
use crate::protocols::raft::machine::{Host, StateMachine};
use crate::protocols::raft::messages::{Msg, Note, Timer};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeSet;

impl<S: StateMachine> Server<S> {
    /// Restarts the randomized election timeout (§5.2).
    pub(super) fn arm_election<P: Host<S>>(&mut self, ctx: RCtx<P>) {
        let lo = self.opts.election_min.as_nanos();
        let hi = self.opts.election_max.as_nanos().max(lo);
        let after = match ctx.buggify("raft.short-election-timeout") {
            true => SimDuration::from_nanos(lo),
            false => SimDuration::from_nanos(ctx.rng().between(lo, hi)),
        };
        self.election_deadline = ctx.now() + after;
        if self.election_timer.is_none() {
            self.election_timer = Some(ctx.set_timer(after, Timer::Election));
        }
    }

    /// The election timer fired: time out if the deadline has passed, else
    /// wait for the rest of it.
    pub(super) fn on_election_timer<P: Host<S>>(&mut self, ctx: RCtx<P>) {
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
    pub(super) fn become_follower<P: Host<S>>(&mut self, ctx: RCtx<P>, term: u64) {
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

    fn on_election_timeout<P: Host<S>>(&mut self, ctx: RCtx<P>) {
        if self.role == Role::Leader {
            return;
        }
        if self.opts.pre_vote {
            self.start_pre_vote(ctx);
        } else {
            self.start_election(ctx);
        }
    }

    fn start_pre_vote<P: Host<S>>(&mut self, ctx: RCtx<P>) {
        self.role = Role::PreCandidate;
        self.leader = None;
        self.votes = BTreeSet::from([self.me]);
        self.arm_election(ctx);
        if self.votes.len() >= self.majority() {
            return self.start_election(ctx);
        }
        self.ask_votes(ctx, self.term + 1, true);
    }

    fn start_election<P: Host<S>>(&mut self, ctx: RCtx<P>) {
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

    fn ask_votes<P: Host<S>>(&mut self, ctx: RCtx<P>, term: u64, pre_vote: bool) {
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

    fn become_leader<P: Host<S>>(&mut self, ctx: RCtx<P>) {
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
        // Without the no-op, entries of earlier terms commit only once an
        // entry of this term does (§5.4.2): the rule the no-op usually hides.
        if self.opts.leader_noop && !ctx.buggify("raft.skip-leader-noop") {
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

    pub(super) fn on_pre_vote<P: Host<S>>(
        &mut self,
        ctx: RCtx<P>,
        from: NodeId,
        term: u64,
        last_index: u64,
        last_term: u64,
    ) {
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

    pub(super) fn on_vote<P: Host<S>>(
        &mut self,
        ctx: RCtx<P>,
        from: NodeId,
        term: u64,
        last_index: u64,
        last_term: u64,
    ) {
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

    pub(super) fn on_vote_reply<P: Host<S>>(
        &mut self,
        ctx: RCtx<P>,
        from: NodeId,
        term: u64,
        granted: bool,
        pre: bool,
    ) {
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

    /// Accepts a message from the leader of `term`: adopt the term, follow.
    pub(super) fn accept_leader<P: Host<S>>(&mut self, ctx: RCtx<P>, from: NodeId, term: u64) {
        self.become_follower(ctx, term);
        self.leader = Some(from);
        self.leader_seen = Some(ctx.now());
        self.arm_election(ctx);
    }

    pub(super) fn check_quorum<P: Host<S>>(&mut self, ctx: RCtx<P>) {
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
}
