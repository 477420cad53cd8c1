//! A sharded key-value store whose shards move while clients run (the
//! shape of the MIT 6.5840 sharded key-value lab): a configuration service
//! and replica groups, each a Raft group running this crate's Raft server
//! with its own state machine, embedded through nested contexts
//! ([`crate::process::Embedding`]).
//!
//! * The **configuration service** ([`config`]) keeps the numbered
//!   configurations: which group owns each of the shards. Joins and
//!   leaves, sent by the **controller** process as the scenario's
//!   `[shardkv] changes` say, make new ones
//!   (`placement::assign::rebalance`: balanced, moving only what must).
//! * Each **replica group** ([`group`], [`server`]) polls the service for
//!   the configuration after its own and moves to it through its log, one
//!   at a time. A shard it loses is frozen and handed to the new owner
//!   with the group's session table; the new owner pulls it and serves it
//!   once installed; the old owner drops it when the new owner says it has
//!   it.
//! * **Clients** ([`client`]) route each key to its shard's owner in the
//!   latest configuration they know, and ask the service again when a
//!   group answers that it does not serve the shard.
//!
//! Processes: configuration servers `0..config_servers`, then group 1's
//! servers, group 2's, ...; then the controller; then the workload's
//! clients ([`Layout`]).
//!
//! Checks ([`checks`]): Raft's safety in every group, configuration
//! agreement, linearizability per key across migrations, no
//! acknowledged write lost, no shard served by two groups at once (nor by
//! a group that does not own it in its configuration), and, after the
//! liveness phase, every shard served by its owner and every operation
//! answered.

pub mod checks;
pub mod client;
pub mod config;
mod def;
pub mod group;
mod member;
pub mod server;

use crate::placement::assign::GroupId;
use crate::process::{Ctx, Disk, NodeId, OpFields, Process, Protocol, RequestId, TimerId};
use crate::protocols::raft::kv::{self, KvOp, KvRes};
use crate::protocols::raft::{self, messages as rmsg};
use crate::rng::SimRng;
use checks::ShardChecks;
use client::{Client, Controller};
use config::{Config, ConfigMachine};
use group::{Applied, GroupMachine, Sessions, ShardData, ShardState};
use serde::Serialize;
use serde_json::Value;
use server::{ConfigServer, GroupServer};
use std::rc::Rc;

pub use checks::CHECKS;
pub use def::{Change, Def, ShardKvOptions};

/// Roles a scenario fault may target: the configuration service's leader,
/// a replica group's leader, and the other Raft roles.
pub const ROLES: &[&str] = &["config-leader", "group-leader", "follower", "candidate"];

/// Tags a scenario fault may target: `sending`, the leader of a group
/// handing a shard off, and `receiving`, the leader of a group pulling
/// one (a migration interrupted by a crash of either side).
pub const TAGS: &[&str] = &["sending", "receiving"];

/// Message kinds, for the `messages_by_type` metric.
pub const MESSAGE_KINDS: &[&str] = &[
    "config-raft",
    "group-raft",
    "pull",
    "shard",
    "have-you",
    "have",
];

/// Where every process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Servers of the configuration service.
    pub config_servers: usize,
    /// Replica groups (ids `1..=groups`).
    pub groups: usize,
    /// Servers per replica group.
    pub group_size: usize,
    /// Workload clients.
    pub clients: usize,
}

impl Layout {
    /// Server processes: the service's and every group's.
    pub fn servers(&self) -> usize {
        self.config_servers + self.groups * self.group_size
    }

    /// Every process: servers, the controller, the clients.
    pub fn processes(&self) -> usize {
        self.servers() + 1 + self.clients
    }

    /// The controller process.
    pub fn controller(&self) -> NodeId {
        NodeId(self.servers() as u32)
    }

    /// Workload client `c`'s process.
    pub fn client(&self, c: usize) -> NodeId {
        NodeId((self.servers() + 1 + c) as u32)
    }

    /// The first process of group `gid`.
    pub fn group_base(&self, gid: GroupId) -> u32 {
        assert!(gid >= 1 && gid as usize <= self.groups, "no group {gid}");
        (self.config_servers + (gid as usize - 1) * self.group_size) as u32
    }

    /// Server `i` of group `gid`.
    pub fn member(&self, gid: GroupId, i: usize) -> NodeId {
        NodeId(self.group_base(gid) + (i % self.group_size) as u32)
    }

    /// The group a server process belongs to (0: the configuration service).
    pub fn group_of(&self, id: NodeId) -> Option<GroupId> {
        let i = id.index();
        if i < self.config_servers {
            Some(0)
        } else if i < self.servers() {
            Some(((i - self.config_servers) / self.group_size + 1) as GroupId)
        } else {
            None
        }
    }
}

/// Messages between the store's processes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Msg {
    /// Within the configuration service, or between it and whoever asks it.
    Config(rmsg::Msg<ConfigMachine>),
    /// Within a replica group, or between it and a client.
    Group(rmsg::Msg<GroupMachine>),
    /// A new owner asks the previous one for a shard it handed off in
    /// configuration `num`.
    Pull {
        /// The configuration.
        num: u64,
        /// The shard.
        shard: u32,
    },
    /// The shard, as frozen when its previous owner moved to `num`.
    Shard {
        /// The configuration.
        num: u64,
        /// The shard.
        shard: u32,
        /// Its data.
        data: Rc<ShardData>,
        /// The previous owner's session table.
        sessions: Rc<Sessions>,
    },
    /// The previous owner asks the new one whether it installed the shard
    /// of configuration `num`.
    HaveYou {
        /// The configuration.
        num: u64,
        /// The shard.
        shard: u32,
    },
    /// Yes: the previous owner may drop it.
    Have {
        /// The configuration.
        num: u64,
        /// The shard.
        shard: u32,
    },
}

impl Msg {
    /// The message's kind, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Msg::Config(_) => "config-raft",
            Msg::Group(_) => "group-raft",
            Msg::Pull { .. } => "pull",
            Msg::Shard { .. } => "shard",
            Msg::HaveYou { .. } => "have-you",
            Msg::Have { .. } => "have",
        }
    }
}

/// Timers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Timer {
    /// A configuration server's Raft timer.
    Config(rmsg::Timer),
    /// A group server's Raft timer.
    Group(rmsg::Timer),
    /// A group server's tick: poll for the next configuration, push
    /// migrations on.
    Poll,
    /// A client's or the controller's resend.
    Retry,
    /// The controller's next scheduled change is due.
    Change,
}

crate::trace_hash_by_serde!(Msg, Timer);

/// What servers keep on disk: their Raft state.
#[derive(Clone, Debug)]
pub enum Stored {
    /// A configuration server's.
    Config(rmsg::Stored<ConfigMachine>),
    /// A group server's.
    Group(rmsg::Stored<GroupMachine>),
}

/// What the checks hear.
#[derive(Clone, Debug)]
pub enum Note {
    /// A Raft server's own note (group 0: the configuration service).
    Raft {
        /// The group.
        gid: GroupId,
        /// The note.
        note: rmsg::Note,
    },
    /// A configuration server applied the making of this configuration.
    Config(Rc<Config>),
    /// A group server applied this.
    Group {
        /// The group.
        gid: GroupId,
        /// What it applied.
        applied: Applied,
    },
    /// The controller's change `index` (0: the initial join) took effect.
    Changed {
        /// Which change.
        index: usize,
    },
}

/// A process of the store.
pub enum ShardNode {
    /// A configuration server.
    Config(Box<ConfigServer>),
    /// A replica group's server.
    Group(Box<GroupServer>),
    /// The controller.
    Controller(Controller),
    /// A workload client.
    Client(Client),
}

impl ShardNode {
    /// The group server, if this is one.
    pub fn group(&self) -> Option<&GroupServer> {
        match self {
            ShardNode::Group(g) => Some(g),
            _ => None,
        }
    }

    /// The client, if this is one.
    pub fn client(&self) -> Option<&Client> {
        match self {
            ShardNode::Client(c) => Some(c),
            _ => None,
        }
    }

    /// The controller, if this is it.
    pub fn controller(&self) -> Option<&Controller> {
        match self {
            ShardNode::Controller(c) => Some(c),
            _ => None,
        }
    }
}

type SCtx<'a, 'b> = &'a mut Ctx<'b, ShardNode>;

impl Process for ShardNode {
    type Msg = Msg;
    type Timer = Timer;
    type Op = KvOp;
    type Res = KvRes;
    type Stored = Stored;
    type Note = Note;

    fn message_kind(msg: &Msg) -> &'static str {
        msg.kind()
    }

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<Stored>) {
        match self {
            ShardNode::Config(s) => s.start(ctx, disk),
            ShardNode::Group(s) => s.start(ctx, disk),
            ShardNode::Controller(c) => c.start(ctx),
            ShardNode::Client(c) => c.start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            ShardNode::Config(s) => s.on_message(ctx, from, msg),
            ShardNode::Group(s) => s.on_message(ctx, from, msg),
            ShardNode::Controller(c) => c.on_message(ctx, from, msg),
            ShardNode::Client(c) => c.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, id: TimerId, timer: Timer) {
        match self {
            ShardNode::Config(s) => s.on_timer(ctx, id, timer),
            ShardNode::Group(s) => s.on_timer(ctx, id, timer),
            ShardNode::Controller(c) => c.on_timer(ctx, id, timer),
            ShardNode::Client(c) => c.on_timer(ctx, id, timer),
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: KvOp) {
        match self {
            ShardNode::Client(c) => c.on_request(ctx, req, op),
            // Only client processes take workload operations.
            _ => ctx.reply_fail(req, KvRes::Stale),
        }
    }

    fn role(&self) -> Option<&'static str> {
        let (role, leader) = match self {
            ShardNode::Config(s) => (s.role(), "config-leader"),
            ShardNode::Group(s) => (s.role(), "group-leader"),
            _ => return None,
        };
        Some(match role {
            raft::server::Role::Leader => leader,
            raft::server::Role::Follower => "follower",
            raft::server::Role::Candidate | raft::server::Role::PreCandidate => "candidate",
        })
    }
}

/// The sharded store: its layout, options, workload and checks.
pub struct ShardKv {
    options: ShardKvOptions,
    layout: Layout,
    workload: kv::Workload,
    liveness_start: crate::time::SimTime,
}

impl ShardKv {
    /// The store `options` describe with `clients` workload clients; the
    /// liveness phase begins at `liveness_start`.
    pub fn new(
        options: ShardKvOptions,
        clients: usize,
        liveness_start: crate::time::SimTime,
    ) -> Self {
        let layout = options.layout(clients);
        ShardKv {
            workload: kv::Workload::new(&options.workload()),
            options,
            layout,
            liveness_start,
        }
    }

    /// Where every process is.
    pub fn layout(&self) -> Layout {
        self.layout
    }
}

impl Protocol for ShardKv {
    type Node = ShardNode;
    type Invariants = ShardChecks;

    fn server_count(&self) -> usize {
        self.layout.servers()
    }

    fn process_count(&self) -> usize {
        self.layout.processes()
    }

    fn new_process(&self, id: NodeId) -> ShardNode {
        let layout = self.layout;
        match layout.group_of(id) {
            Some(0) => ShardNode::Config(Box::new(ConfigServer::new(&self.options, layout, id))),
            Some(gid) => {
                ShardNode::Group(Box::new(GroupServer::new(&self.options, layout, gid, id)))
            }
            None if id == layout.controller() => {
                ShardNode::Controller(Controller::new(&self.options, layout))
            }
            None => ShardNode::Client(Client::new(&self.options, layout)),
        }
    }

    fn next_op(&mut self, client: usize, rng: &mut SimRng) -> (NodeId, KvOp) {
        (
            self.layout.client(client),
            self.workload.next_op(client, rng),
        )
    }

    /// `sending`: a live group leader with a shard it is handing off;
    /// `receiving`: a live group leader with a shard it is pulling.
    fn tagged(&self, tag: &str, servers: &[Option<&ShardNode>]) -> Vec<NodeId> {
        let wanted = |s: &ShardState| match tag {
            "sending" => matches!(s, ShardState::HandingOff { .. }),
            "receiving" => matches!(s, ShardState::Pulling { .. }),
            _ => false,
        };
        servers
            .iter()
            .enumerate()
            .filter_map(|(i, node)| {
                let g = node.and_then(ShardNode::group)?;
                let leads = g.role() == raft::server::Role::Leader;
                (leads && g.state().shards().iter().any(wanted)).then_some(NodeId(i as u32))
            })
            .collect()
    }

    fn invariants(&self) -> ShardChecks {
        ShardChecks::new(&self.options, self.layout, self.liveness_start)
    }

    fn op_fields(&self, op: &KvOp) -> OpFields {
        kv::op_fields(op)
    }

    fn result_value(&self, op: &KvOp, res: &KvRes) -> Value {
        kv::result_value(op, res)
    }
}

#[cfg(test)]
mod tests;
