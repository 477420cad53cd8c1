//! The replicas a balancer chooses among, and how that choice stays
//! current: the balancer itself, passive outlier ejection and active
//! health checks (probing rounds), and the registry's list with service
//! discovery. A client holds one when it balances itself; a proxy holds
//! the one every client's attempts go through.

use super::balancer::Balancer;
use super::health::{Change, Health};
use super::options::ServiceOptions;
use super::{Msg, Note, ServiceNode, Timer};
use crate::process::{Ctx, NodeId};
use crate::time::{SimDuration, SimTime};

type RCtx<'a, 'b> = &'a mut Ctx<'b, ServiceNode>;

/// A balancer over replicas `0..replicas` with its views of their health
/// and membership.
#[derive(Debug)]
pub struct Rotation {
    replicas: usize,
    balancer: Balancer,
    health: Health,
    /// With discovery: the registry and how often to ask it.
    registry: Option<(NodeId, SimDuration)>,
    /// The replicas the registry last listed (`None`: no answer yet, so
    /// every replica is a candidate).
    listed: Option<Vec<bool>>,
    /// The current probing round, and the replicas yet to answer it.
    probe_seq: u64,
    probe_pending: Vec<bool>,
}

impl Rotation {
    /// The rotation `options` describe over `replicas` replicas (the
    /// registry, with discovery, is node `replicas`).
    pub fn new(options: &ServiceOptions, replicas: usize) -> Self {
        Rotation {
            replicas,
            balancer: Balancer::new(options.balance, replicas, options.ewma_decay),
            health: Health::new(options.outlier, options.health.clone(), replicas),
            registry: options
                .discovery
                .as_ref()
                .map(|d| (NodeId(replicas as u32), d.refresh)),
            listed: None,
            probe_seq: 0,
            probe_pending: vec![false; replicas],
        }
    }

    /// At the holder's start: the first ask of the registry, and the first
    /// probing round at a random point of the interval (holders probe out
    /// of step with each other).
    pub fn start(&mut self, ctx: RCtx) {
        self.refresh(ctx);
        if let Some(h) = self.health.checks() {
            let first = ctx.rng().between(0, h.interval.as_nanos());
            ctx.set_timer(SimDuration::from_nanos(first), Timer::Probe);
        }
    }

    /// Asks the registry for the live replicas, and arms the next ask.
    pub fn refresh(&mut self, ctx: RCtx) {
        if let Some((registry, every)) = self.registry {
            ctx.send(registry, Msg::Query);
            ctx.set_timer(every, Timer::Refresh);
        }
    }

    /// The registry's answer: balance over the replicas it lists.
    pub fn members(&mut self, live: &[u32]) {
        let mut listed = vec![false; self.replicas];
        for &r in live {
            if let Some(slot) = listed.get_mut(r as usize) {
                *slot = true;
            }
        }
        self.listed = Some(listed);
    }

    /// Probes every replica, and arms the next round.
    pub fn probe(&mut self, ctx: RCtx) {
        let Some(h) = self.health.checks() else {
            return;
        };
        let (interval, timeout) = (h.interval, h.timeout);
        // Probes of the last round still unanswered failed (a timeout
        // longer than the interval has not fired yet).
        self.probe_timeout(ctx, self.probe_seq);
        self.probe_seq += 1;
        let seq = self.probe_seq;
        for (r, pending) in self.probe_pending.iter_mut().enumerate() {
            *pending = true;
            ctx.send(NodeId(r as u32), Msg::Probe { seq });
        }
        ctx.set_timer(timeout, Timer::ProbeTimeout { seq });
        ctx.set_timer(interval, Timer::Probe);
    }

    /// Replica `from` answered probing round `seq`.
    pub fn probe_reply(&mut self, ctx: RCtx, from: NodeId, seq: u64) {
        let r = from.index();
        if seq == self.probe_seq && self.probe_pending.get(r) == Some(&true) {
            self.probe_pending[r] = false;
            let change = self.health.probed(r, true);
            note_health(ctx, r, change);
        }
    }

    /// Probes of round `seq` still unanswered have failed.
    pub fn probe_timeout(&mut self, ctx: RCtx, seq: u64) {
        if seq != self.probe_seq {
            return;
        }
        for r in 0..self.replicas {
            if std::mem::take(&mut self.probe_pending[r]) {
                let change = self.health.probed(r, false);
                note_health(ctx, r, change);
            }
        }
    }

    /// One of the rotation's timers fired.
    pub fn timer(&mut self, ctx: RCtx, timer: Timer) {
        match timer {
            Timer::Probe => self.probe(ctx),
            Timer::Refresh => self.refresh(ctx),
            Timer::ProbeTimeout { seq } => self.probe_timeout(ctx, seq),
            _ => {}
        }
    }

    /// The replica for an attempt at `now`, never one of `barred` (an
    /// open breaker per endpoint; empty: none), counted outstanding until
    /// [`Rotation::ended`]. Panics if every replica is barred.
    pub fn pick(&mut self, ctx: RCtx, now: SimTime, barred: &[bool]) -> usize {
        // Rotation changes only with health, discovery or barring; without
        // them the balancer's view stays as it is.
        if self.health.active() || self.listed.is_some() || !barred.is_empty() {
            for r in 0..self.replicas {
                let unlisted = self.listed.as_ref().is_some_and(|l| !l[r]);
                let out = unlisted || self.health.out(r, now);
                self.balancer.set_out(r, out);
                self.balancer
                    .set_barred(r, barred.get(r).copied().unwrap_or(false));
            }
        }
        self.balancer.pick(ctx.rng(), now)
    }

    /// An attempt at `replica` ended at `now`, `latency` after it was
    /// sent, failed or not: the balancer and the health view learn of it.
    pub fn ended(
        &mut self,
        ctx: RCtx,
        replica: usize,
        failed: bool,
        latency: SimDuration,
        now: SimTime,
    ) {
        self.balancer.done(replica, latency, now);
        let change = self.health.attempt_ended(replica, failed, latency, now);
        note_health(ctx, replica, change);
    }
}

fn note_health(ctx: RCtx, replica: usize, change: Option<Change>) {
    if let Some(change) = change {
        ctx.note(Note::Health {
            replica: replica as u32,
            change,
        });
    }
}
