//! A Raft server inside a store process: the configuration service's or a
//! replica group's. The server sees its group as nodes `0..n` and Raft's
//! own message, timer and disk types; this module maps them onto the
//! store's ([`crate::process::Embedding`]): process ids are rotated so the
//! group's first process is 0 (a bijection on all processes, so a client's
//! id maps back to itself when the server answers it), and messages,
//! timers, disk values and notes are wrapped in the store's variants.

use super::config::ConfigMachine;
use super::group::GroupMachine;
use super::{Msg, Note, SCtx, ShardNode, Stored, Timer};
use crate::placement::assign::GroupId;
use crate::process::{Disk, Embedding, NodeId, Process, TimerId};
use crate::protocols::raft::kv::KvRes;
use crate::protocols::raft::messages as rmsg;
use crate::protocols::raft::server::Server;
use crate::protocols::raft::{Replica, ServerOptions, StateMachine};

/// A state machine the store replicates with Raft, and how its Raft
/// traffic is wrapped.
pub trait Replicated: StateMachine {
    /// A Raft message as the store's.
    fn wrap(msg: rmsg::Msg<Self>) -> Msg;
    /// A Raft timer as the store's.
    fn wrap_timer(timer: rmsg::Timer) -> Timer;
    /// A Raft disk value as the store's.
    fn wrap_stored(value: rmsg::Stored<Self>) -> Stored;
    /// The Raft disk value in a store disk value, if it is this machine's.
    fn unwrap_stored(value: &Stored) -> Option<rmsg::Stored<Self>>;
}

impl Replicated for ConfigMachine {
    fn wrap(msg: rmsg::Msg<Self>) -> Msg {
        Msg::Config(msg)
    }
    fn wrap_timer(timer: rmsg::Timer) -> Timer {
        Timer::Config(timer)
    }
    fn wrap_stored(value: rmsg::Stored<Self>) -> Stored {
        Stored::Config(value)
    }
    fn unwrap_stored(value: &Stored) -> Option<rmsg::Stored<Self>> {
        match value {
            Stored::Config(v) => Some(v.clone()),
            Stored::Group(_) => None,
        }
    }
}

impl Replicated for GroupMachine {
    fn wrap(msg: rmsg::Msg<Self>) -> Msg {
        Msg::Group(msg)
    }
    fn wrap_timer(timer: rmsg::Timer) -> Timer {
        Timer::Group(timer)
    }
    fn wrap_stored(value: rmsg::Stored<Self>) -> Stored {
        Stored::Group(value)
    }
    fn unwrap_stored(value: &Stored) -> Option<rmsg::Stored<Self>> {
        match value {
            Stored::Group(v) => Some(v.clone()),
            Stored::Config(_) => None,
        }
    }
}

/// How a group's Raft server sees the processes.
struct View {
    gid: GroupId,
    me: NodeId,
    members: Vec<NodeId>,
    base: u32,
    processes: u32,
}

impl View {
    fn inner(&self, outer: NodeId) -> NodeId {
        NodeId((outer.0 + self.processes - self.base) % self.processes)
    }
}

impl<S: Replicated> Embedding<ShardNode, Replica<S>> for View {
    fn me(&self) -> NodeId {
        self.me
    }
    fn servers(&self) -> &[NodeId] {
        &self.members
    }
    fn outer(&self, inner: NodeId) -> NodeId {
        NodeId((inner.0 + self.base) % self.processes)
    }
    fn msg(&self, msg: rmsg::Msg<S>) -> Msg {
        S::wrap(msg)
    }
    fn timer(&self, timer: rmsg::Timer) -> Timer {
        S::wrap_timer(timer)
    }
    fn stored(&self, value: rmsg::Stored<S>) -> Stored {
        S::wrap_stored(value)
    }
    fn note(&self, note: rmsg::Note) -> Note {
        Note::Raft {
            gid: self.gid,
            note,
        }
    }
    fn res(&self, _res: S::Res) -> KvRes {
        unreachable!("a Raft replica answers its clients by message, never as a workload request")
    }
}

/// One Raft server of group `gid` (0: the configuration service), embedded.
pub struct Member<S: Replicated> {
    replica: Replica<S>,
    view: View,
    /// Own commands proposed since the start: their sequence numbers, so
    /// the Raft checks' digests tell them apart.
    proposed: u64,
}

impl<S: Replicated> Member<S> {
    /// Server `me` (an outer id) of the group whose processes are
    /// `base..base + size`, among `processes` processes, starting from
    /// `initial` when its disk holds no snapshot.
    pub fn new(
        options: ServerOptions,
        gid: GroupId,
        me: NodeId,
        (base, size): (u32, usize),
        processes: usize,
        initial: S,
    ) -> Self {
        let view = View {
            gid,
            me: NodeId(me.0 - base),
            members: (0..size as u32).map(NodeId).collect(),
            base,
            processes: processes as u32,
        };
        let server = Server::new(options, view.me, size).with_state(initial);
        Member {
            replica: Replica(server),
            view,
            proposed: 0,
        }
    }

    /// The Raft server.
    pub fn server(&self) -> &Server<S> {
        &self.replica.0
    }

    /// Whether it leads its group.
    pub fn leads(&self) -> bool {
        self.server().role() == crate::protocols::raft::server::Role::Leader
    }

    /// Recovers from the process's disk.
    pub fn start(&mut self, ctx: SCtx, disk: &Disk<Stored>) {
        let own = disk.project(S::unwrap_stored);
        let replica = &mut self.replica;
        ctx.nested(&self.view, |inner| replica.on_start(inner, &own));
    }

    /// A Raft message from `from` (an outer id).
    pub fn on_message(&mut self, ctx: SCtx, from: NodeId, msg: rmsg::Msg<S>) {
        let from = self.view.inner(from);
        let replica = &mut self.replica;
        ctx.nested(&self.view, |inner| replica.on_message(inner, from, msg));
    }

    /// A Raft timer fired.
    pub fn on_timer(&mut self, ctx: SCtx, id: TimerId, timer: rmsg::Timer) {
        let replica = &mut self.replica;
        ctx.nested(&self.view, |inner| replica.on_timer(inner, id, timer));
    }

    /// Leader only: puts `op` in the group's log, from the server itself
    /// (its result answered to nobody). False when it does not lead.
    pub fn propose(&mut self, ctx: SCtx, op: S::Op) -> bool {
        let me = self.view.me;
        self.proposed += 1;
        let seq = self.proposed;
        let server = &mut self.replica.0;
        let proposed = ctx.nested(
            &self.view,
            |inner: &mut crate::process::Ctx<'_, Replica<S>>| {
                server.propose(inner, me, INTERNAL_SESSION, seq, op)
            },
        );
        self.replica.0.assert_invariants();
        proposed
    }
}

/// The session of a server's own commands (configuration changes,
/// installs, drops): never a client's.
pub const INTERNAL_SESSION: u64 = u64::MAX;
