//! Client requests (§8) and the state machine: a leader appends a request
//! to its log (others answer with a hint of the leader); committed entries
//! are applied to the key-value store in log order, and the leader answers
//! the client.

use super::{RCtx, Role, Server};
use crate::process::NodeId;
use crate::protocols::raft::kv::{KvOp, KvRes};
use crate::protocols::raft::log::{Command, Entry};
use crate::protocols::raft::messages::{Answer, Msg, Note};
use std::rc::Rc;

impl Server {
    pub(super) fn apply(&mut self, ctx: RCtx) {
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

    pub(super) fn on_request(
        &mut self,
        ctx: RCtx,
        from: NodeId,
        session: u64,
        seq: u64,
        op: Rc<KvOp>,
    ) {
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
}
