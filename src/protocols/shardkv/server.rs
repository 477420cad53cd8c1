//! The store's servers: a configuration server (a Raft server of the
//! service, telling the checks of each configuration it applies) and a
//! replica group's server, which on top of its Raft server drives the
//! group through configurations while it leads: it polls the service for
//! the next configuration, pulls the shards it gains from their previous
//! owners, and tells the previous owners when it has them so they drop
//! them. Everything it decides goes through the group's log; what it
//! keeps outside it (hints, turn counters) is soft state a restart loses
//! harmlessly.

use super::config::{ConfigMachine, ConfigOp, ConfigRes};
use super::group::{GroupMachine, GroupOp, ShardState};
use super::member::Member;
use super::{Layout, Msg, Note, SCtx, ShardKvOptions, Stored, Timer};
use crate::placement::assign::GroupId;
use crate::process::{Disk, NodeId, TimerId};
use crate::protocols::raft::messages::{Answer, Msg as RaftMsg};
use crate::protocols::raft::server::Role;
use crate::time::SimDuration;
use std::rc::Rc;

/// A server of the configuration service.
pub struct ConfigServer {
    member: Member<ConfigMachine>,
    /// Configurations told to the checks so far.
    noted: usize,
}

impl ConfigServer {
    /// Configuration server `me`.
    pub fn new(options: &ShardKvOptions, layout: Layout, me: NodeId) -> Self {
        let member = Member::new(
            options.raft_server(),
            0,
            me,
            (0, layout.config_servers),
            layout.processes(),
            ConfigMachine::new(options.shards),
        );
        ConfigServer { member, noted: 0 }
    }

    /// Its Raft role.
    pub fn role(&self) -> Role {
        self.member.server().role()
    }

    /// The configurations it has applied.
    pub fn state(&self) -> &ConfigMachine {
        self.member.server().state()
    }

    /// Recovers from the disk.
    pub fn start(&mut self, ctx: SCtx, disk: &Disk<Stored>) {
        self.member.start(ctx, disk);
        self.tell(ctx);
    }

    /// A message arrived.
    pub fn on_message(&mut self, ctx: SCtx, from: NodeId, msg: Msg) {
        if let Msg::Config(msg) = msg {
            self.member.on_message(ctx, from, msg);
            self.tell(ctx);
        }
    }

    /// A timer fired.
    pub fn on_timer(&mut self, ctx: SCtx, id: TimerId, timer: Timer) {
        if let Timer::Config(timer) = timer {
            self.member.on_timer(ctx, id, timer);
            self.tell(ctx);
        }
    }

    /// Tells the checks of every configuration applied since the last time.
    fn tell(&mut self, ctx: SCtx) {
        let configs = self.member.server().state().configs();
        for config in &configs[self.noted.min(configs.len())..] {
            ctx.note(Note::Config(Rc::clone(config)));
        }
        self.noted = configs.len();
    }
}

/// A replica group's server.
pub struct GroupServer {
    gid: GroupId,
    layout: Layout,
    poll: SimDuration,
    member: Member<GroupMachine>,
    /// The configuration server to ask next (the leader, once known).
    config_target: usize,
    /// Queries to the service so far (their sequence numbers).
    queries: u64,
    /// Whether the last query is still unanswered.
    query_open: bool,
    /// Which server of another group to ask next.
    turn: usize,
    poll_timer: Option<TimerId>,
}

impl GroupServer {
    /// Server `me` of group `gid`.
    pub fn new(options: &ShardKvOptions, layout: Layout, gid: GroupId, me: NodeId) -> Self {
        let member = Member::new(
            options.raft_server(),
            gid,
            me,
            (layout.group_base(gid), layout.group_size),
            layout.processes(),
            GroupMachine::new(gid, options.shards),
        );
        GroupServer {
            gid,
            layout,
            poll: options.poll,
            member,
            config_target: me.index() % layout.config_servers,
            queries: 0,
            query_open: false,
            turn: me.index(),
            poll_timer: None,
        }
    }

    /// Its group.
    pub fn gid(&self) -> GroupId {
        self.gid
    }

    /// Its Raft role.
    pub fn role(&self) -> Role {
        self.member.server().role()
    }

    /// The group's state as this server has applied it.
    pub fn state(&self) -> &GroupMachine {
        self.member.server().state()
    }

    /// Recovers from the disk and starts polling.
    pub fn start(&mut self, ctx: SCtx, disk: &Disk<Stored>) {
        self.member.start(ctx, disk);
        self.poll_timer = Some(ctx.set_timer(self.poll, Timer::Poll));
        self.tell(ctx);
    }

    /// A message arrived.
    pub fn on_message(&mut self, ctx: SCtx, from: NodeId, msg: Msg) {
        match msg {
            Msg::Group(msg) => self.member.on_message(ctx, from, msg),
            Msg::Config(RaftMsg::Response { seq, outcome }) => self.on_config(ctx, seq, outcome),
            Msg::Config(_) => {}
            Msg::Pull { num, shard } => self.on_pull(ctx, from, num, shard),
            Msg::Shard {
                num,
                shard,
                data,
                sessions,
            } => {
                if self.pulling(num, shard) {
                    let op = GroupOp::Install {
                        num,
                        shard,
                        data,
                        sessions,
                    };
                    self.member.propose(ctx, op);
                }
            }
            Msg::HaveYou { num, shard } => {
                let state = self.state();
                let at = state.shards().get(shard as usize);
                let installed = state.config().num > num
                    || (state.config().num == num && at == Some(&ShardState::Serving));
                if installed {
                    ctx.send(from, Msg::Have { num, shard });
                }
            }
            Msg::Have { num, shard } => {
                let state = self.state();
                let handing_off = matches!(
                    state.shards().get(shard as usize),
                    Some(ShardState::HandingOff { .. })
                );
                if self.member.leads() && state.config().num == num && handing_off {
                    self.member.propose(ctx, GroupOp::Drop { num, shard });
                }
            }
        }
        self.tell(ctx);
    }

    /// A timer fired.
    pub fn on_timer(&mut self, ctx: SCtx, id: TimerId, timer: Timer) {
        match timer {
            Timer::Group(timer) => self.member.on_timer(ctx, id, timer),
            Timer::Poll if self.poll_timer == Some(id) => {
                self.poll_timer = Some(ctx.set_timer(self.poll, Timer::Poll));
                if self.member.leads() {
                    self.push_on(ctx);
                }
            }
            _ => {}
        }
        self.tell(ctx);
    }

    /// Whether this server leads and its group is pulling `shard` in
    /// configuration `num`.
    fn pulling(&self, num: u64, shard: u32) -> bool {
        let state = self.state();
        let pulling = matches!(
            state.shards().get(shard as usize),
            Some(ShardState::Pulling { .. })
        );
        self.member.leads() && state.config().num == num && pulling
    }

    /// The leader's tick: ask for the next configuration when no migration
    /// is going on; otherwise ask each previous owner for the shards being
    /// pulled, and each new owner whether it has the shards handed off.
    fn push_on(&mut self, ctx: SCtx) {
        self.turn += 1;
        let state = self.member.server().state();
        let num = state.config().num;
        if !state.migrating() {
            if self.query_open {
                self.config_target = (self.config_target + 1) % self.layout.config_servers;
            }
            self.queries += 1;
            self.query_open = true;
            let request = RaftMsg::Request {
                session: u64::from(ctx.me().0),
                seq: self.queries,
                op: Rc::new(ConfigOp::Query(num + 1)),
            };
            ctx.send(NodeId(self.config_target as u32), Msg::Config(request));
            return;
        }
        let mut sends = Vec::new();
        for (shard, s) in state.shards().iter().enumerate() {
            let shard = shard as u32;
            match *s {
                ShardState::Pulling { from } => {
                    sends.push((
                        self.layout.member(from, self.turn),
                        Msg::Pull { num, shard },
                    ));
                }
                ShardState::HandingOff { to } if to != 0 => {
                    sends.push((
                        self.layout.member(to, self.turn),
                        Msg::HaveYou { num, shard },
                    ));
                }
                _ => {}
            }
        }
        for (to, msg) in sends {
            ctx.send(to, msg);
        }
    }

    /// The configuration service answered a query.
    fn on_config(&mut self, ctx: SCtx, seq: u64, outcome: Answer<ConfigMachine>) {
        if seq != self.queries {
            return;
        }
        match outcome {
            Answer::Applied(ConfigRes::Config(next)) => {
                self.query_open = false;
                let state = self.state();
                let due = next.num == state.config().num + 1 && !state.migrating();
                if due && self.member.leads() {
                    self.member.propose(ctx, GroupOp::Reconfigure(next));
                }
            }
            Answer::Applied(ConfigRes::Done) => {}
            Answer::NotLeader { hint } => {
                self.query_open = false;
                self.config_target = match hint {
                    Some(h) if h.index() < self.layout.config_servers => h.index(),
                    _ => (self.config_target + 1) % self.layout.config_servers,
                };
            }
        }
    }

    /// Another group asks for a shard this group handed off in `num`: any
    /// server that has applied the hand-off answers (the shard is frozen
    /// from then on, the same on every replica).
    fn on_pull(&mut self, ctx: SCtx, from: NodeId, num: u64, shard: u32) {
        let state = self.state();
        let handing_off = matches!(
            state.shards().get(shard as usize),
            Some(ShardState::HandingOff { .. })
        );
        if state.config().num != num || !handing_off {
            return;
        }
        let msg = Msg::Shard {
            num,
            shard,
            data: Rc::new(state.data(shard as usize).clone()),
            sessions: Rc::new(state.sessions().clone()),
        };
        ctx.send(from, msg);
    }

    /// Tells the checks what the group's log applied here.
    fn tell(&mut self, ctx: SCtx) {
        for applied in self.state().take_observed() {
            ctx.note(Note::Group {
                gid: self.gid,
                applied,
            });
        }
    }
}
