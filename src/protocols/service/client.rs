//! A client process: it makes requests (open-loop arrivals from its share
//! of `[service] rate`, and the closed-loop calls the engine's workload
//! hands it) and carries each through its resilience stack: the circuit
//! breaker may fail it fast, the balancer picks a replica for every
//! attempt, an attempt is given up after `attempt_timeout` (never past the
//! request's deadline), and a failed attempt is retried after the retry
//! policy's delay while the retry budget allows and the deadline is ahead.
//!
//! Invariant: a request has at most one attempt outstanding, and the
//! balancer counts exactly the outstanding attempts.

use super::balancer::Balancer;
use super::health::Health;
use super::load::Load;
use super::options::ServiceOptions;
use super::policy::{Breaker, RetryBudget, RetryPolicy};
use super::{CallId, Msg, Note, Outcome, ServiceNode, Status, Timer};
use crate::process::{Ctx, NodeId, RequestId, TimerId};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

type CCtx<'a, 'b> = &'a mut Ctx<'b, ServiceNode>;

/// A request in progress.
#[derive(Debug)]
struct Request {
    /// The workload's request, for a closed-loop call.
    engine: Option<RequestId>,
    arrived: SimTime,
    deadline: SimTime,
    /// Attempts sent so far.
    attempts: u32,
    /// The outstanding attempt.
    outstanding: Option<Outstanding>,
    /// The delay before the previous retry (decorrelated jitter grows it).
    last_delay: SimDuration,
}

/// An attempt waiting for its answer.
#[derive(Clone, Copy, Debug)]
struct Outstanding {
    replica: usize,
    timeout: TimerId,
    sent: SimTime,
}

/// A client process.
#[derive(Debug)]
pub struct Client {
    deadline: SimDuration,
    attempt_timeout: SimDuration,
    retry: RetryPolicy,
    budget: Option<RetryBudget>,
    /// No breaker, one for the whole service, or one per replica.
    breakers: Vec<Breaker>,
    per_endpoint: bool,
    /// How many replicas there are.
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
    load: Load,
    session: u64,
    next: u64,
    requests: BTreeMap<CallId, Request>,
}

impl Client {
    /// A client of `servers` replicas with its open-loop `load`.
    pub fn new(options: &ServiceOptions, servers: usize, load: Load) -> Self {
        Client {
            deadline: options.deadline,
            attempt_timeout: options.attempt_timeout(),
            retry: options.retry.clone(),
            budget: options.budget.clone().map(RetryBudget::new),
            breakers: match &options.breaker {
                None => Vec::new(),
                Some(b) if b.per_endpoint => vec![Breaker::new(b.clone()); servers],
                Some(b) => vec![Breaker::new(b.clone())],
            },
            per_endpoint: options.breaker.as_ref().is_some_and(|b| b.per_endpoint),
            replicas: servers,
            balancer: Balancer::new(options.balance, servers, options.ewma_decay),
            health: Health::new(options.outlier, options.health.clone(), servers),
            registry: options
                .discovery
                .as_ref()
                .map(|d| (NodeId(servers as u32), d.refresh)),
            listed: None,
            probe_seq: 0,
            probe_pending: vec![false; servers],
            load,
            session: 0,
            next: 0,
            requests: BTreeMap::new(),
        }
    }

    pub(super) fn start(&mut self, ctx: CCtx) {
        self.session = ctx.rng().below(1 << 31);
        self.schedule_arrival(ctx);
        self.refresh(ctx);
        if let Some(h) = self.health.checks() {
            // Clients probe out of step with each other.
            let first = ctx.rng().between(0, h.interval.as_nanos());
            ctx.set_timer(SimDuration::from_nanos(first), Timer::Probe);
        }
    }

    /// Asks the registry for the live replicas, and arms the next ask.
    fn refresh(&mut self, ctx: CCtx) {
        if let Some((registry, every)) = self.registry {
            ctx.send(registry, Msg::Query);
            ctx.set_timer(every, Timer::Refresh);
        }
    }

    /// The registry's answer: balance over the replicas it lists.
    pub(super) fn members(&mut self, live: &[u32]) {
        let mut listed = vec![false; self.replicas];
        for &r in live {
            if let Some(slot) = listed.get_mut(r as usize) {
                *slot = true;
            }
        }
        self.listed = Some(listed);
    }

    /// Probes every replica, and arms the next round.
    fn probe(&mut self, ctx: CCtx) {
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

    pub(super) fn probe_reply(&mut self, ctx: CCtx, from: NodeId, seq: u64) {
        let r = from.index();
        if seq == self.probe_seq && self.probe_pending.get(r) == Some(&true) {
            self.probe_pending[r] = false;
            let change = self.health.probed(r, true);
            note_health(ctx, r, change);
        }
    }

    fn probe_timeout(&mut self, ctx: CCtx, seq: u64) {
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

    fn schedule_arrival(&mut self, ctx: CCtx) {
        let now = ctx.now();
        if let Some(at) = self.load.next_arrival(now, ctx.rng()) {
            ctx.set_timer(at.saturating_since(now), Timer::Arrival);
        }
    }

    /// A new request: an open-loop arrival, or the workload's call `engine`.
    pub(super) fn call(&mut self, ctx: CCtx, engine: Option<RequestId>) {
        let id = (self.session << 32) | (self.next & 0xffff_ffff);
        self.next += 1;
        if let Some(b) = &mut self.budget {
            b.deposit();
        }
        let now = ctx.now();
        let request = Request {
            engine,
            arrived: now,
            deadline: now + self.deadline,
            attempts: 0,
            outstanding: None,
            last_delay: SimDuration::ZERO,
        };
        self.requests.insert(id, request);
        self.send_attempt(ctx, id);
    }

    pub(super) fn timer(&mut self, ctx: CCtx, timer: Timer) {
        match timer {
            Timer::Arrival => {
                self.call(ctx, None);
                self.schedule_arrival(ctx);
            }
            Timer::AttemptTimeout { id, attempt } => {
                if self.is_outstanding(id, attempt, None) {
                    self.attempt_ended(ctx, id, true);
                    self.retry_or_finish(ctx, id);
                }
            }
            Timer::Retry { id } => {
                if self
                    .requests
                    .get(&id)
                    .is_some_and(|r| r.outstanding.is_none())
                {
                    self.send_attempt(ctx, id);
                }
            }
            Timer::Probe => self.probe(ctx),
            Timer::Refresh => self.refresh(ctx),
            Timer::ProbeTimeout { seq } => self.probe_timeout(ctx, seq),
            Timer::Served(_) | Timer::Heartbeat | Timer::Sample => {}
        }
    }

    pub(super) fn reply(
        &mut self,
        ctx: CCtx,
        from: NodeId,
        id: CallId,
        attempt: u32,
        status: Status,
    ) {
        if !self.is_outstanding(id, attempt, Some(from.index())) {
            return; // an answer to an attempt already given up
        }
        let ok = status == Status::Ok;
        if let Some(ended) = self.attempt_ended(ctx, id, !ok) {
            ctx.cancel_timer(ended.timeout);
        }
        if ok {
            self.finish(ctx, id, Outcome::Ok);
        } else {
            self.retry_or_finish(ctx, id);
        }
    }

    /// Whether `attempt` of `id` is the outstanding one (at `replica`, if given).
    fn is_outstanding(&self, id: CallId, attempt: u32, replica: Option<usize>) -> bool {
        self.requests.get(&id).is_some_and(|r| {
            r.attempts == attempt + 1
                && r.outstanding
                    .is_some_and(|o| replica.is_none_or(|want| want == o.replica))
        })
    }

    fn send_attempt(&mut self, ctx: CCtx, id: CallId) {
        let now = ctx.now();
        // Per endpoint: which replicas' breakers are open (empty otherwise,
        // so the common path allocates nothing).
        let open: Vec<bool> = if self.per_endpoint {
            self.breakers
                .iter_mut()
                .map(|b| !b.available(now))
                .collect()
        } else {
            Vec::new()
        };
        let fast_fail = if self.per_endpoint {
            open.iter().all(|&o| o)
        } else {
            self.breakers.first_mut().is_some_and(|b| !b.available(now))
        };
        if fast_fail {
            return self.finish(ctx, id, Outcome::BreakerOpen);
        }
        let Some(request) = self.requests.get_mut(&id) else {
            return;
        };
        assert!(
            request.outstanding.is_none(),
            "two attempts of one request outstanding"
        );
        // Rotation changes only with health, discovery or per-endpoint
        // breakers; without them the balancer's view stays as it is.
        if self.health.active() || self.listed.is_some() || self.per_endpoint {
            for r in 0..self.replicas {
                let unlisted = self.listed.as_ref().is_some_and(|l| !l[r]);
                let out = unlisted || self.health.out(r, now);
                self.balancer.set_out(r, out);
                self.balancer.set_barred(r, self.per_endpoint && open[r]);
            }
        }
        let replica = self.balancer.pick(ctx.rng(), now);
        let index = if self.per_endpoint { replica } else { 0 };
        if let Some(b) = self.breakers.get_mut(index) {
            let allowed = b.allow(now);
            assert!(allowed, "an attempt through an open breaker");
        }
        // How long the client waits for this attempt: what the server is
        // told, so it knows when no one waits for the answer any more.
        let wait = self
            .attempt_timeout
            .min(request.deadline.saturating_since(now));
        let attempt = request.attempts;
        request.attempts += 1;
        let timeout = ctx.set_timer(wait, Timer::AttemptTimeout { id, attempt });
        request.outstanding = Some(Outstanding {
            replica,
            timeout,
            sent: now,
        });
        ctx.note(Note::Attempt {
            retry: attempt > 0,
            replica: replica as u32,
        });
        let msg = Msg::Request {
            id,
            attempt,
            budget: wait,
        };
        ctx.send(NodeId(replica as u32), msg);
    }

    /// The outstanding attempt of `id` ended, failed or not: the balancer,
    /// the health view and the breaker learn of it. Returns what was
    /// outstanding.
    fn attempt_ended(&mut self, ctx: CCtx, id: CallId, failed: bool) -> Option<Outstanding> {
        let request = self.requests.get_mut(&id)?;
        let ended = request.outstanding.take()?;
        let now = ctx.now();
        let latency = now.saturating_since(ended.sent);
        self.balancer.done(ended.replica, latency, now);
        let change = self
            .health
            .attempt_ended(ended.replica, failed, latency, now);
        note_health(ctx, ended.replica, change);
        let index = if self.per_endpoint { ended.replica } else { 0 };
        if let Some(breaker) = self.breakers.get_mut(index) {
            if let Some(state) = breaker.record(ctx.now(), failed) {
                let endpoint = index as u32;
                ctx.note(Note::Breaker { endpoint, state });
            }
        }
        Some(ended)
    }

    /// After a failed attempt: the next one (now or after a backoff), or
    /// the end of the request.
    fn retry_or_finish(&mut self, ctx: CCtx, id: CallId) {
        let now = ctx.now();
        let Some(request) = self.requests.get_mut(&id) else {
            return;
        };
        if now >= request.deadline {
            return self.finish(ctx, id, Outcome::TimedOut);
        }
        let Some(delay) = self
            .retry
            .delay(request.attempts, request.last_delay, ctx.rng())
        else {
            return self.finish(ctx, id, Outcome::Exhausted);
        };
        if now + delay >= request.deadline {
            return self.finish(ctx, id, Outcome::TimedOut);
        }
        if let Some(b) = &mut self.budget {
            if !b.withdraw() {
                return self.finish(ctx, id, Outcome::BudgetDenied);
            }
        }
        request.last_delay = delay;
        if delay == SimDuration::ZERO {
            self.send_attempt(ctx, id);
        } else {
            ctx.set_timer(delay, Timer::Retry { id });
        }
    }

    fn finish(&mut self, ctx: CCtx, id: CallId, outcome: Outcome) {
        let Some(request) = self.requests.remove(&id) else {
            return;
        };
        assert!(
            request.outstanding.is_none(),
            "a request ended with an attempt outstanding"
        );
        ctx.note(Note::Finished {
            outcome,
            latency: ctx.now().saturating_since(request.arrived),
            attempts: request.attempts,
        });
        if let Some(req) = request.engine {
            match outcome {
                Outcome::Ok => ctx.reply_ok(req, outcome),
                _ => ctx.reply_fail(req, outcome),
            }
        }
    }

    /// Requests in progress.
    pub fn in_progress(&self) -> usize {
        self.requests.len()
    }
}

fn note_health(ctx: CCtx, replica: usize, change: Option<super::health::Change>) {
    if let Some(change) = change {
        ctx.note(Note::Health {
            replica: replica as u32,
            change,
        });
    }
}
