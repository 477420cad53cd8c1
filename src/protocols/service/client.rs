//! A client process: it makes requests (open-loop arrivals from its share
//! of `[service] rate`, and the closed-loop calls the engine's workload
//! hands it) and carries each through its resilience stack: the circuit
//! breaker may fail it fast, its balancer picks a replica for every
//! attempt (or, with `[service.proxy]`, every attempt goes to the proxy,
//! which balances), an attempt is given up after `attempt_timeout` (never
//! past the request's deadline), and a failed attempt is retried after the
//! retry policy's delay while the retry budget allows and the deadline is
//! ahead.
//!
//! Invariant: a request has at most one attempt outstanding, and the
//! balancer counts exactly the outstanding attempts.

use super::load::Load;
use super::options::ServiceOptions;
use super::policy::{Breaker, RetryBudget, RetryPolicy};
use super::rotation::Rotation;
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
    /// The node it went to: a replica, or the proxy.
    replica: usize,
    timeout: TimerId,
    sent: SimTime,
}

/// Where a client sends its attempts.
#[derive(Debug)]
enum Route {
    /// To the replica its own rotation picks.
    Balanced(Box<Rotation>),
    /// To the proxy, which picks.
    Proxy(NodeId),
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
    /// Where attempts go.
    route: Route,
    load: Load,
    session: u64,
    next: u64,
    requests: BTreeMap<CallId, Request>,
}

impl Client {
    /// A client of `servers` replicas with its open-loop `load`; with
    /// `[service.proxy]`, of the proxy at node `proxy`.
    pub fn new(
        options: &ServiceOptions,
        servers: usize,
        proxy: Option<NodeId>,
        load: Load,
    ) -> Self {
        let per_endpoint =
            proxy.is_none() && options.breaker.as_ref().is_some_and(|b| b.per_endpoint);
        Client {
            deadline: options.deadline,
            attempt_timeout: options.attempt_timeout(),
            retry: options.retry.clone(),
            budget: options.budget.clone().map(RetryBudget::new),
            breakers: match &options.breaker {
                None => Vec::new(),
                Some(b) if per_endpoint => vec![Breaker::new(b.clone()); servers],
                Some(b) => vec![Breaker::new(b.clone())],
            },
            per_endpoint,
            route: match proxy {
                Some(node) => Route::Proxy(node),
                None => Route::Balanced(Box::new(Rotation::new(options, servers))),
            },
            load,
            session: 0,
            next: 0,
            requests: BTreeMap::new(),
        }
    }

    pub(super) fn start(&mut self, ctx: CCtx) {
        self.session = ctx.rng().below(1 << 31);
        self.schedule_arrival(ctx);
        if let Route::Balanced(rotation) = &mut self.route {
            rotation.start(ctx);
        }
    }

    /// This client's own rotation, unless a proxy balances for it.
    pub(super) fn rotation(&mut self) -> Option<&mut Rotation> {
        match &mut self.route {
            Route::Balanced(rotation) => Some(rotation),
            Route::Proxy(_) => None,
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
            Timer::Probe | Timer::Refresh | Timer::ProbeTimeout { .. } => {
                if let Some(rotation) = self.rotation() {
                    rotation.timer(ctx, timer);
                }
            }
            Timer::Served(_) | Timer::Heartbeat | Timer::Sample | Timer::Forwarded { .. } => {}
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
        let replica = match &mut self.route {
            Route::Balanced(rotation) => rotation.pick(ctx, now, &open),
            Route::Proxy(node) => node.index(),
        };
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
        if let Route::Balanced(rotation) = &mut self.route {
            rotation.ended(ctx, ended.replica, failed, latency, now);
        }
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
