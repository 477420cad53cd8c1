//! Client requests (§8) and the state machine: a leader appends a request
//! (or a command an embedding process proposes) to its log, others answer
//! a request with a hint of the leader; committed entries are applied to
//! the state machine in log order, and the leader answers the client.

use super::{RCtx, Role, Server};
use crate::process::NodeId;
use crate::protocols::raft::log::{Command, Entry};
use crate::protocols::raft::machine::{Host, StateMachine};
use crate::protocols::raft::messages::{Answer, Msg, Note};
use std::rc::Rc;

impl<S: StateMachine> Server<S> {
    pub(super) fn apply<P: Host<S>>(&mut self, ctx: RCtx<P>) {
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
                let result = self.state.apply(*session, *seq, op);
                if self.role == Role::Leader && S::answers(&result) {
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

    pub(super) fn on_request<P: Host<S>>(
        &mut self,
        ctx: RCtx<P>,
        from: NodeId,
        session: u64,
        seq: u64,
        op: Rc<S::Op>,
    ) {
        if self.role != Role::Leader {
            let answer = Msg::Response {
                seq,
                outcome: Answer::NotLeader { hint: self.leader },
            };
            return ctx.send(from, answer);
        }
        self.append_command(ctx, from, session, seq, Rc::unwrap_or_clone(op));
    }

    /// Leader only: appends `op` to the log as a command of `session`/`seq`
    /// from `from` (the leader answers `from` when it applies it, if
    /// [`StateMachine::answers`] the result). Returns false, doing nothing,
    /// when this server does not lead.
    pub fn propose<P: Host<S>>(
        &mut self,
        ctx: RCtx<P>,
        from: NodeId,
        session: u64,
        seq: u64,
        op: S::Op,
    ) -> bool {
        if self.role != Role::Leader {
            return false;
        }
        self.append_command(ctx, from, session, seq, op);
        true
    }

    /// Appends a client's command to the leader's log and replicates it.
    fn append_command<P: Host<S>>(
        &mut self,
        ctx: RCtx<P>,
        from: NodeId,
        session: u64,
        seq: u64,
        op: S::Op,
    ) {
        let cmd = Command::Client {
            from: from.0,
            session,
            seq,
            op,
        };
        let entry = Entry::new(self.term, cmd);
        self.leader_append(ctx, entry);
    }
}
