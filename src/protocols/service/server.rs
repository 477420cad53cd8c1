//! A server replica: `concurrency` workers and a bounded queue. A request
//! that finds the queue full is rejected at once; one that waited past
//! `shed_after` is shed when its turn comes; one whose propagated deadline
//! passed is skipped with `drop_expired` and otherwise served anyway, its
//! work wasted. Service time is drawn per request, stretched by the load
//! the server holds (`slowdown`) and by gray failures (`[[service.slow]]`).
//!
//! Invariant: `busy <= concurrency` and the queue holds at most `queue`
//! jobs; a job is queued only while every worker is busy.

use super::options::{Discipline, ServerOptions, ServiceOptions, SlowWindow};
use super::{Job, Msg, Note, ServiceNode, Status, Timer};
use crate::net::Latency;
use crate::process::{Ctx, NodeId};
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

type SCtx<'a, 'b> = &'a mut Ctx<'b, ServiceNode>;

/// A server replica.
#[derive(Debug)]
pub struct Server {
    options: ServerOptions,
    service_time: Latency,
    /// This server's gray failures.
    slow: Vec<SlowWindow>,
    busy: u32,
    queue: VecDeque<Job>,
    /// With discovery: the registry and how often to renew there.
    registry: Option<(NodeId, SimDuration)>,
    /// How often it reports the most it held, and that most so far.
    window: SimDuration,
    peak: u32,
}

impl Server {
    /// A fresh replica `me` (at start and after a restart: the queue is lost).
    /// With discovery, the registry is node `replicas`.
    pub fn new(options: &ServiceOptions, me: NodeId, replicas: usize) -> Self {
        let registry = options
            .discovery
            .as_ref()
            .map(|d| (NodeId(replicas as u32), d.heartbeat));
        Server {
            registry,
            window: options.window,
            peak: 0,
            service_time: options.server.service_time.latency(),
            options: options.server.clone(),
            slow: options
                .slow
                .iter()
                .filter(|w| w.node == me.0)
                .cloned()
                .collect(),
            busy: 0,
            queue: VecDeque::new(),
        }
    }

    /// Registers with the registry at once (at start and after a restart).
    pub(super) fn boot(&mut self, ctx: SCtx) {
        self.heartbeat(ctx);
        ctx.set_timer(self.window, Timer::Sample);
    }

    /// Tells the checks the most it held since the last sample.
    pub(super) fn sample(&mut self, ctx: SCtx) {
        ctx.note(Note::Held { peak: self.peak });
        self.peak = self.held() as u32;
        ctx.set_timer(self.window, Timer::Sample);
    }

    /// Renews the registration, and arms the next renewal.
    pub(super) fn heartbeat(&mut self, ctx: SCtx) {
        if let Some((registry, every)) = self.registry {
            ctx.send(registry, Msg::Register);
            ctx.set_timer(every, Timer::Heartbeat);
        }
    }

    /// Requests held: being served and waiting.
    pub fn held(&self) -> usize {
        self.busy as usize + self.queue.len()
    }

    pub(super) fn request(
        &mut self,
        ctx: SCtx,
        from: NodeId,
        id: u64,
        attempt: u32,
        budget: SimDuration,
    ) {
        let now = ctx.now();
        let job = Job {
            from,
            id,
            attempt,
            arrived: now,
            deadline: now + budget,
        };
        if self.busy < self.options.concurrency {
            self.start(ctx, job);
        } else if self.queue.len() >= self.options.queue as usize {
            refuse(ctx, job, Status::Rejected);
        } else {
            self.queue.push_back(job);
        }
        self.peak = self.peak.max(self.held() as u32);
    }

    pub(super) fn served(&mut self, ctx: SCtx, job: Job) {
        assert!(
            self.busy > 0,
            "a job finished on a server with no job in service"
        );
        self.busy -= 1;
        let wasted = ctx.now() > job.deadline;
        ctx.note(Note::Served { wasted });
        let status = if ctx.rng().chance(self.options.error_rate) {
            Status::Error
        } else {
            Status::Ok
        };
        reply(ctx, &job, status);
        self.next(ctx);
    }

    /// Starts queued jobs while workers are free.
    fn next(&mut self, ctx: SCtx) {
        while self.busy < self.options.concurrency {
            let job = match self.options.discipline {
                Discipline::Fifo => self.queue.pop_front(),
                Discipline::Lifo => self.queue.pop_back(),
            };
            let Some(job) = job else { return };
            self.start(ctx, job);
        }
    }

    /// Serves `job` now (a worker is free), unless admission control or an
    /// expired deadline turns it away.
    fn start(&mut self, ctx: SCtx, job: Job) {
        let now = ctx.now();
        if self.options.drop_expired && now >= job.deadline {
            ctx.note(Note::Dropped);
            return;
        }
        if self
            .options
            .shed_after
            .is_some_and(|limit| now.saturating_since(job.arrived) > limit)
        {
            return refuse(ctx, job, Status::Shed);
        }
        self.busy += 1;
        assert!(
            self.busy <= self.options.concurrency,
            "more jobs in service than workers"
        );
        let base = self.service_time.sample(ctx.rng());
        let factor = self.factor(now);
        let time = SimDuration::from_nanos((base.as_nanos() as f64 * factor).min(1e15) as u64);
        ctx.set_timer(time, Timer::Served(job));
    }

    /// How much slower than its distribution a request is served now.
    fn factor(&self, now: SimTime) -> f64 {
        let t = now.saturating_since(SimTime::ZERO);
        let gray: f64 = self
            .slow
            .iter()
            .filter(|w| t >= w.at && t < w.at + w.length)
            .map(|w| w.factor)
            .product();
        // The other requests held: a request alone is served at its drawn time.
        let others = self.held().saturating_sub(1);
        let load = others as f64 / f64::from(self.options.concurrency);
        gray * (1.0 + self.options.slowdown * load)
    }
}

fn refuse(ctx: SCtx, job: Job, status: Status) {
    ctx.note(Note::Refused { status });
    reply(ctx, &job, status);
}

fn reply(ctx: SCtx, job: &Job, status: Status) {
    let msg = Msg::Reply {
        id: job.id,
        attempt: job.attempt,
        status,
    };
    ctx.send(job.from, msg);
}
