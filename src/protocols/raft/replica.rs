//! A Raft server as a process of its own, with no clients: what a protocol
//! that embeds Raft groups (a sharded store, one group per replica set)
//! runs through a nested context, one [`Replica`] per member of a group.
//!
//! It keeps the server's invariants as [`RaftNode`](super::RaftNode) does:
//! [`Server::assert_invariants`] after every event.

use super::machine::StateMachine;
use super::messages::{Msg, Note, Stored, Timer};
use super::server::Server;
use crate::process::{Ctx, Disk, NodeId, Process, TimerId};

/// A Raft server as a process of its own, with no clients: what a protocol
/// that embeds Raft groups runs through a nested context. Commands reach it
/// as [`Msg::Request`] messages (answered with [`Msg::Response`]), or
/// through [`Server::propose`] on the server it wraps; workload requests
/// ([`Process::on_request`]) are ignored.
pub struct Replica<S: StateMachine>(pub Server<S>);

impl<S: StateMachine> Process for Replica<S> {
    type Msg = Msg<S>;
    type Timer = Timer;
    type Op = S::Op;
    type Res = S::Res;
    type Stored = Stored<S>;
    type Note = Note;

    fn message_kind(msg: &Msg<S>) -> &'static str {
        msg.kind().name()
    }

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<Stored<S>>) {
        self.0.start(ctx, disk);
        self.0.assert_invariants();
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg<S>) {
        self.0.on_message(ctx, from, msg);
        self.0.assert_invariants();
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, id: TimerId, timer: Timer) {
        self.0.on_timer(ctx, id, timer);
        self.0.assert_invariants();
    }

    fn role(&self) -> Option<&'static str> {
        Some(self.0.role().name())
    }
}
