//! The store's client processes: a workload client, which routes each
//! operation to its shard's owner in the latest configuration it knows
//! and asks the configuration service again when a group says it does not
//! serve the shard; and the controller, which asks the service for the
//! scenario's joins and leaves at their times.

use super::config::{Config, ConfigMachine, ConfigOp, ConfigRes};
use super::group::{shard_of, GroupOp, GroupRes};
use super::{Layout, Msg, Note, SCtx, ShardKvOptions, Timer};
use crate::process::{NodeId, RequestId, TimerId};
use crate::protocols::raft::kv::{KvOp, KvRes};
use crate::protocols::raft::messages::{Answer, Msg as RaftMsg};
use crate::time::{SimDuration, SimTime};
use std::rc::Rc;

/// Asking the configuration service: which server, and the current
/// question's sequence number.
#[derive(Debug)]
struct ServiceLink {
    servers: usize,
    target: usize,
    seq: u64,
}

impl ServiceLink {
    fn new(servers: usize, start: usize) -> Self {
        ServiceLink {
            servers,
            target: start % servers,
            seq: 0,
        }
    }

    /// Sends `op` as a new question (`fresh`) or again.
    fn ask(&mut self, ctx: SCtx, op: ConfigOp, fresh: bool) {
        if fresh {
            self.seq += 1;
        }
        let request = RaftMsg::Request {
            session: u64::from(ctx.me().0),
            seq: self.seq,
            op: Rc::new(op),
        };
        ctx.send(NodeId(self.target as u32), Msg::Config(request));
    }

    /// Follows a "not the leader" answer: to the hinted server, or the next.
    /// Returns whether there is a new server worth asking at once.
    fn redirect(&mut self, hint: Option<NodeId>) -> bool {
        match hint {
            Some(h) if h.index() < self.servers && h.index() != self.target => {
                self.target = h.index();
                true
            }
            _ => {
                self.next();
                false
            }
        }
    }

    fn next(&mut self) {
        self.target = (self.target + 1) % self.servers;
    }
}

/// The operation a client is working on.
#[derive(Debug)]
struct Pending {
    req: RequestId,
    seq: u64,
    op: Rc<GroupOp>,
    shard: usize,
}

/// A workload client.
#[derive(Debug)]
pub struct Client {
    layout: Layout,
    retry: SimDuration,
    /// The latest configuration it knows.
    config: Rc<Config>,
    service: ServiceLink,
    /// Waiting for the service to answer.
    asking: bool,
    session: u64,
    seq: u64,
    pending: Option<Pending>,
    /// Which server of the owner group to try.
    server: usize,
    /// Sends to the owner group since the configuration was last asked.
    tries: usize,
    timer: Option<TimerId>,
}

impl Client {
    /// A client of the store.
    pub fn new(options: &ShardKvOptions, layout: Layout) -> Self {
        Client {
            layout,
            retry: options.client_retry,
            config: Rc::new(Config::initial(options.shards)),
            service: ServiceLink::new(layout.config_servers, 0),
            asking: false,
            session: 0,
            seq: 0,
            pending: None,
            server: 0,
            tries: 0,
            timer: None,
        }
    }

    /// The configuration it routes by.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether an operation waits for its outcome.
    pub fn busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Starts: its session is its process id (clients do not crash).
    pub fn start(&mut self, ctx: SCtx) {
        self.session = u64::from(ctx.me().0);
        self.service = ServiceLink::new(self.layout.config_servers, ctx.me().index());
        self.server = ctx.me().index();
    }

    /// A new workload operation; an older one is abandoned (the workload
    /// timed it out, and its outcome stays unknown).
    pub fn on_request(&mut self, ctx: SCtx, req: RequestId, op: KvOp) {
        self.seq += 1;
        let shard = shard_of(op.key(), self.config.owners.len());
        self.pending = Some(Pending {
            req,
            seq: self.seq,
            op: Rc::new(GroupOp::Client(op)),
            shard,
        });
        self.tries = 0;
        self.transmit(ctx);
    }

    fn arm(&mut self, ctx: SCtx, after: SimDuration) {
        if let Some(old) = self.timer.take() {
            ctx.cancel_timer(old);
        }
        self.timer = Some(ctx.set_timer(after, Timer::Retry));
    }

    /// Sends the pending operation to its shard's owner, or asks the
    /// service when no group owns the shard in the known configuration.
    fn transmit(&mut self, ctx: SCtx) {
        let Some(p) = &self.pending else {
            return;
        };
        let owner = self.config.owners[p.shard];
        if owner == 0 || self.tries >= self.layout.group_size {
            return self.ask_config(ctx);
        }
        let request = RaftMsg::Request {
            session: self.session,
            seq: p.seq,
            op: Rc::clone(&p.op),
        };
        ctx.send(self.layout.member(owner, self.server), Msg::Group(request));
        self.tries += 1;
        self.arm(ctx, self.retry);
    }

    fn ask_config(&mut self, ctx: SCtx) {
        self.asking = true;
        self.tries = 0;
        self.service.ask(ctx, ConfigOp::Query(u64::MAX), true);
        self.arm(ctx, self.retry);
    }

    /// A server answered.
    pub fn on_message(&mut self, ctx: SCtx, from: NodeId, msg: Msg) {
        match msg {
            Msg::Config(RaftMsg::Response { seq, outcome }) if seq == self.service.seq => {
                self.on_config(ctx, outcome)
            }
            Msg::Group(RaftMsg::Response { seq, outcome })
                if self.pending.as_ref().is_some_and(|p| p.seq == seq) =>
            {
                self.on_answer(ctx, from, outcome)
            }
            _ => {}
        }
    }

    fn on_config(&mut self, ctx: SCtx, outcome: Answer<ConfigMachine>) {
        if !self.asking {
            return;
        }
        match outcome {
            Answer::Applied(ConfigRes::Config(config)) => {
                self.asking = false;
                if config.num > self.config.num {
                    self.config = config;
                }
                self.transmit(ctx);
            }
            Answer::Applied(ConfigRes::Done) => {}
            Answer::NotLeader { hint } => {
                if self.service.redirect(hint) {
                    self.service.ask(ctx, ConfigOp::Query(u64::MAX), true);
                    self.arm(ctx, self.retry);
                }
            }
        }
    }

    fn on_answer(&mut self, ctx: SCtx, from: NodeId, outcome: Answer<super::GroupMachine>) {
        match outcome {
            Answer::Applied(GroupRes::Kv(res)) => self.finish(ctx, res),
            Answer::Applied(GroupRes::WrongGroup) => self.ask_config(ctx),
            Answer::Applied(GroupRes::Internal) => {}
            Answer::NotLeader { hint } => {
                // Hints are the group's own server numbers, 0..group_size.
                let offset = from.index().saturating_sub(self.layout.config_servers);
                let here = offset % self.layout.group_size;
                match hint {
                    Some(h) if h.index() != here && h.index() < self.layout.group_size => {
                        self.server = h.index();
                        self.transmit(ctx);
                    }
                    _ => {
                        // No leader known there: the next server (the
                        // timer moves on) after a short pause.
                        let pause = SimDuration::from_nanos(self.retry.as_nanos() / 8);
                        self.arm(ctx, pause);
                    }
                }
            }
        }
    }

    fn finish(&mut self, ctx: SCtx, res: KvRes) {
        let Some(p) = self.pending.take() else {
            return;
        };
        if let Some(t) = self.timer.take() {
            ctx.cancel_timer(t);
        }
        match res {
            KvRes::CasFailed => ctx.reply_fail(p.req, res),
            KvRes::Stale => panic!("the current command of a session was answered as stale"),
            res => ctx.reply_ok(p.req, res),
        }
    }

    /// A resend timer fired: ask the service again, or the owner group's
    /// next server.
    pub fn on_timer(&mut self, ctx: SCtx, id: TimerId, timer: Timer) {
        if timer != Timer::Retry || self.timer != Some(id) {
            return;
        }
        self.timer = None;
        if self.pending.is_none() {
            return;
        }
        if self.asking {
            self.service.next();
            return self.ask_config(ctx);
        }
        self.server += 1;
        self.transmit(ctx);
    }
}

/// The controller: joins the first groups at the start, then makes the
/// scenario's changes, each at its time and after the one before took
/// effect, resending until the service answers.
#[derive(Debug)]
pub struct Controller {
    retry: SimDuration,
    /// When each change is due, and what it asks.
    plan: Vec<(SimTime, ConfigOp)>,
    /// The change being made (`plan.len()`: all made).
    next: usize,
    service: ServiceLink,
    /// Waiting for the service to answer the current change (a duplicate
    /// of an earlier answer must not count for the next change).
    asking: bool,
    timer: Option<TimerId>,
}

impl Controller {
    /// The controller of `options`' changes.
    pub fn new(options: &ShardKvOptions, layout: Layout) -> Self {
        let first = (1..=options.initial_groups as u32).collect();
        let mut plan = vec![(SimTime::ZERO, ConfigOp::Join(first))];
        plan.extend(
            options
                .changes
                .iter()
                .map(|c| (SimTime::ZERO + c.at, c.op())),
        );
        Controller {
            retry: options.client_retry,
            plan,
            next: 0,
            service: ServiceLink::new(layout.config_servers, 0),
            asking: false,
            timer: None,
        }
    }

    /// Changes made so far (the initial join counts).
    pub fn made(&self) -> usize {
        self.next
    }

    /// Changes planned, the initial join included.
    pub fn planned(&self) -> usize {
        self.plan.len()
    }

    /// Starts with the initial join.
    pub fn start(&mut self, ctx: SCtx) {
        self.schedule(ctx);
    }

    fn arm(&mut self, ctx: SCtx, after: SimDuration, timer: Timer) {
        if let Some(old) = self.timer.take() {
            ctx.cancel_timer(old);
        }
        self.timer = Some(ctx.set_timer(after, timer));
    }

    /// Makes the next change now if it is due, or arms a timer for it.
    fn schedule(&mut self, ctx: SCtx) {
        let Some((at, op)) = self.plan.get(self.next).cloned() else {
            if let Some(old) = self.timer.take() {
                ctx.cancel_timer(old);
            }
            return;
        };
        if at > ctx.now() {
            return self.arm(ctx, at.saturating_since(ctx.now()), Timer::Change);
        }
        self.asking = true;
        self.service.ask(ctx, op, true);
        self.arm(ctx, self.retry, Timer::Retry);
    }

    /// The service answered.
    pub fn on_message(&mut self, ctx: SCtx, _from: NodeId, msg: Msg) {
        let Msg::Config(RaftMsg::Response { seq, outcome }) = msg else {
            return;
        };
        if seq != self.service.seq || !self.asking {
            return;
        }
        match outcome {
            Answer::Applied(_) => {
                self.asking = false;
                ctx.note(Note::Changed { index: self.next });
                self.next += 1;
                self.schedule(ctx);
            }
            Answer::NotLeader { hint } => {
                if self.service.redirect(hint) {
                    let op = self.plan[self.next].1.clone();
                    self.service.ask(ctx, op, false);
                    self.arm(ctx, self.retry, Timer::Retry);
                }
            }
        }
    }

    /// A timer fired: a change is due, or a question went unanswered.
    pub fn on_timer(&mut self, ctx: SCtx, id: TimerId, timer: Timer) {
        if self.timer != Some(id) {
            return;
        }
        self.timer = None;
        match timer {
            Timer::Change => self.schedule(ctx),
            Timer::Retry if self.asking => {
                self.service.next();
                if let Some((_, op)) = self.plan.get(self.next).cloned() {
                    self.service.ask(ctx, op, false);
                    self.arm(ctx, self.retry, Timer::Retry);
                }
            }
            _ => {}
        }
    }
}
