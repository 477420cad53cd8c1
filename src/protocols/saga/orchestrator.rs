//! The saga orchestrator (node 0): runs each saga's steps in order,
//! compensates the completed ones in reverse order when a step fails for
//! good, and keeps a durable saga log it resumes from after a crash.
//!
//! Invariants kept:
//! * Every state change is in the log, synced, before the next request
//!   goes out; a restart replays the log and re-sends the current request
//!   under the same idempotency key, so nothing is skipped and nothing
//!   takes effect twice.
//! * Requests are retried with exponential backoff and jitter (from the
//!   node's own stream) up to `retry_max`; a step is given up after
//!   `max_attempts` and then compensated too, since it may have taken effect.
//! * Compensations run in reverse step order (unless the deliberate
//!   `compensate-forward` bug is on) and never give up: after
//!   `stuck_after` attempts the saga is reported stuck (a note and a
//!   metric), never as compensated, and retried at `retry_max`.

use super::msg::{Event, Kind, Msg, Note, Reply, SagaId, Step, Stored, Timer};
use super::{SagaBug, SagaEnd, SagaNode, SagaOptions};
use crate::process::{Ctx, Disk, DiskKey, NodeId, RequestId, TimerId};
use crate::time::SimDuration;
use std::collections::{BTreeMap, BTreeSet};

const LOG: &str = "log";

/// Where a saga is.
#[derive(Clone, Debug, PartialEq)]
enum Phase {
    /// Running step `0`.
    Forward(u32),
    /// Compensating these steps, first one next.
    Compensating(Vec<u32>),
    /// Every step done; `true` once every semantic lock is released.
    Completed(bool),
    /// Every completed step compensated.
    Compensated,
}

/// One saga's volatile state, rebuilt from the log after a crash.
#[derive(Debug)]
struct Run {
    req: RequestId,
    plan: Vec<Step>,
    phase: Phase,
    /// Attempts of the current request.
    attempt: u32,
    timer: Option<TimerId>,
    stuck: bool,
    /// Services yet to confirm finalization.
    unfinalized: BTreeSet<NodeId>,
}

/// The orchestrator's state.
#[derive(Debug)]
pub struct Orchestrator {
    options: SagaOptions,
    sagas: BTreeMap<SagaId, Run>,
    /// The next free log index.
    next_log: u64,
}

/// The steps to compensate after step `failed` failed, in the order to run
/// them: the compensable steps before it (and it too when its outcome is
/// unknown), last first.
pub fn compensations(plan: &[Step], failed: u32, unknown: bool, bug: Option<SagaBug>) -> Vec<u32> {
    let last = if unknown { failed + 1 } else { failed };
    let mut steps: Vec<u32> = (0..last)
        .filter(|&i| plan[i as usize].action.compensable())
        .collect();
    if bug != Some(SagaBug::CompensateForward) {
        steps.reverse();
    }
    steps
}

impl Orchestrator {
    /// A fresh orchestrator.
    pub fn new(options: SagaOptions) -> Self {
        Orchestrator {
            options,
            sagas: BTreeMap::new(),
            next_log: 0,
        }
    }

    /// Replays the saga log and resumes every unfinished saga.
    pub fn start(&mut self, ctx: &mut Ctx<'_, SagaNode>, disk: &Disk<Stored>) {
        for (index, record) in disk.scan(LOG) {
            self.next_log = index + 1;
            if let Stored::Log { saga, event } = record {
                self.replay(*saga, event);
            }
        }
        let ids: Vec<SagaId> = self.sagas.keys().copied().collect();
        for saga in ids {
            self.resume(ctx, saga);
        }
    }

    fn replay(&mut self, saga: SagaId, event: &Event) {
        if let Event::Started { req, plan } = event {
            self.sagas
                .insert(saga, new_run(RequestId(*req), plan.clone()));
            return;
        }
        let bug = self.options.bug;
        let Some(run) = self.sagas.get_mut(&saga) else {
            return;
        };
        run.phase = match (&run.phase, event) {
            (_, Event::StepDone(k)) => Phase::Forward(k + 1),
            (_, Event::StepFailed { step, unknown }) => {
                Phase::Compensating(compensations(&run.plan, *step, *unknown, bug))
            }
            (Phase::Compensating(left), Event::CompDone(k)) => {
                assert_eq!(
                    left.first(),
                    Some(k),
                    "saga {saga}: log compensates out of plan"
                );
                Phase::Compensating(left[1..].to_vec())
            }
            (_, Event::Completed) => Phase::Completed(false),
            (_, Event::Finalized) => Phase::Completed(true),
            (_, Event::Compensated) => Phase::Compensated,
            (phase, _) => phase.clone(),
        };
    }

    /// Sends whatever the saga waits for now.
    fn resume(&mut self, ctx: &mut Ctx<'_, SagaNode>, saga: SagaId) {
        let Some(run) = self.sagas.get_mut(&saga) else {
            return;
        };
        run.attempt = 0;
        match run.phase.clone() {
            // A crash between two syncs of one handler (the last step's
            // StepDone and Completed, the last CompDone and Compensated)
            // leaves a saga at its end with the end not logged: finish it.
            Phase::Forward(_) => self.forward(ctx, saga),
            Phase::Compensating(_) => self.next_compensation(ctx, saga),
            Phase::Completed(false) if self.options.semantic_lock => self.finalize(ctx, saga),
            Phase::Completed(_) | Phase::Compensated => {}
        }
    }

    /// A client asks for a saga with this plan.
    pub fn request(&mut self, ctx: &mut Ctx<'_, SagaNode>, req: RequestId, plan: Vec<Step>) {
        let saga = req.0;
        self.log(
            ctx,
            saga,
            Event::Started {
                req: req.0,
                plan: plan.clone(),
            },
        );
        // Noted once durable: a saga whose start record a failed sync lost
        // was never accepted, and nothing owes it an outcome.
        ctx.note(Note::Started {
            saga,
            plan: plan.clone(),
        });
        self.sagas.insert(saga, new_run(req, plan));
        self.send_current(ctx, saga);
    }

    fn log(&mut self, ctx: &mut Ctx<'_, SagaNode>, saga: SagaId, event: Event) {
        ctx.write(
            DiskKey::new(LOG, self.next_log),
            Stored::Log { saga, event },
        );
        ctx.sync();
        self.next_log += 1;
    }

    /// The request the saga waits on: `(step, kind)`, if any.
    fn current(run: &Run) -> Option<(u32, Kind)> {
        match &run.phase {
            Phase::Forward(k) => Some((*k, Kind::Do)),
            Phase::Compensating(left) => left.first().map(|&k| (k, Kind::Undo)),
            Phase::Completed(_) | Phase::Compensated => None,
        }
    }

    fn send_current(&mut self, ctx: &mut Ctx<'_, SagaNode>, saga: SagaId) {
        let Some(run) = self.sagas.get(&saga) else {
            return;
        };
        let Some((step, kind)) = Self::current(run) else {
            return;
        };
        let what = run.plan[step as usize];
        ctx.send(
            what.service,
            Msg::Request {
                saga,
                step,
                kind,
                what,
            },
        );
        let delay = self.backoff(ctx, run.attempt);
        let timer = ctx.set_timer(delay, Timer::Retry(saga));
        if let Some(run) = self.sagas.get_mut(&saga) {
            run.timer = Some(timer);
        }
    }

    /// Exponential backoff with jitter: uniform in [d/2, d] where
    /// d = min(retry_base * 2^attempt, retry_max).
    fn backoff(&self, ctx: &mut Ctx<'_, SagaNode>, attempt: u32) -> SimDuration {
        let base = self.options.retry_base.as_nanos();
        let max = self.options.retry_max.as_nanos();
        let d = base.saturating_mul(1u64 << attempt.min(40)).min(max);
        SimDuration::from_nanos(d / 2 + ctx.rng().between(0, d / 2))
    }

    /// Handles a service's message.
    pub fn message(&mut self, ctx: &mut Ctx<'_, SagaNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Response {
                saga,
                step,
                kind,
                reply,
            } => self.response(ctx, saga, (step, kind), reply),
            Msg::Finalized { saga } => self.finalized(ctx, saga, from),
            Msg::Request { .. } | Msg::Finalize { .. } => {}
        }
    }

    fn response(
        &mut self,
        ctx: &mut Ctx<'_, SagaNode>,
        saga: SagaId,
        at: (u32, Kind),
        reply: Reply,
    ) {
        let Some(run) = self.sagas.get_mut(&saga) else {
            return;
        };
        if Self::current(run) != Some(at) || reply == Reply::Retry {
            return; // stale, duplicate, or "try again": the timer will resend
        }
        if let Some(timer) = run.timer.take() {
            ctx.cancel_timer(timer);
        }
        run.attempt = 0;
        match (at.1, reply) {
            (Kind::Do, Reply::Done) => self.step_done(ctx, saga, at.0),
            (Kind::Do, _) => self.step_failed(ctx, saga, at.0, false),
            (Kind::Undo, _) => self.comp_done(ctx, saga, at.0),
        }
    }

    fn step_done(&mut self, ctx: &mut Ctx<'_, SagaNode>, saga: SagaId, step: u32) {
        self.log(ctx, saga, Event::StepDone(step));
        if let Some(run) = self.sagas.get_mut(&saga) {
            run.phase = Phase::Forward(step + 1);
        }
        self.forward(ctx, saga);
    }

    /// Goes on with a saga moving forward: the next step, or, after the
    /// last, completion.
    fn forward(&mut self, ctx: &mut Ctx<'_, SagaNode>, saga: SagaId) {
        let Some(run) = self.sagas.get_mut(&saga) else {
            return;
        };
        if run.phase != Phase::Forward(run.plan.len() as u32) {
            return self.send_current(ctx, saga);
        }
        run.phase = Phase::Completed(false);
        let req = run.req;
        self.log(ctx, saga, Event::Completed);
        ctx.note(Note::Completed(saga));
        ctx.reply_ok(req, SagaEnd::Completed);
        if self.options.semantic_lock {
            self.finalize(ctx, saga);
        }
    }

    fn step_failed(&mut self, ctx: &mut Ctx<'_, SagaNode>, saga: SagaId, step: u32, unknown: bool) {
        self.log(ctx, saga, Event::StepFailed { step, unknown });
        ctx.note(Note::Compensating(saga));
        let bug = self.options.bug;
        if let Some(run) = self.sagas.get_mut(&saga) {
            run.phase = Phase::Compensating(compensations(&run.plan, step, unknown, bug));
        }
        self.next_compensation(ctx, saga);
    }

    fn comp_done(&mut self, ctx: &mut Ctx<'_, SagaNode>, saga: SagaId, step: u32) {
        self.log(ctx, saga, Event::CompDone(step));
        if let Some(run) = self.sagas.get_mut(&saga) {
            if let Phase::Compensating(left) = &mut run.phase {
                left.remove(0);
            }
        }
        self.next_compensation(ctx, saga);
    }

    fn next_compensation(&mut self, ctx: &mut Ctx<'_, SagaNode>, saga: SagaId) {
        let Some(run) = self.sagas.get_mut(&saga) else {
            return;
        };
        if run.phase != Phase::Compensating(Vec::new()) {
            return self.send_current(ctx, saga);
        }
        run.phase = Phase::Compensated;
        let req = run.req;
        self.log(ctx, saga, Event::Compensated);
        ctx.note(Note::Compensated(saga));
        ctx.reply_fail(req, SagaEnd::Compensated);
    }

    /// Handles a timer.
    pub fn timer(&mut self, ctx: &mut Ctx<'_, SagaNode>, id: TimerId, timer: Timer) {
        match timer {
            Timer::Retry(saga) => self.retry(ctx, saga, id),
            Timer::Finalize(saga) => self.finalize(ctx, saga),
        }
    }

    fn retry(&mut self, ctx: &mut Ctx<'_, SagaNode>, saga: SagaId, id: TimerId) {
        let (max, stuck_after) = (self.options.max_attempts, self.options.stuck_after);
        let Some(run) = self.sagas.get_mut(&saga) else {
            return;
        };
        if run.timer != Some(id) {
            return;
        }
        run.timer = None;
        run.attempt += 1;
        match Self::current(run) {
            Some((step, Kind::Do)) if run.attempt >= max => self.step_failed(ctx, saga, step, true),
            Some((_, Kind::Undo)) if run.attempt >= stuck_after && !run.stuck => {
                run.stuck = true;
                ctx.note(Note::Stuck(saga));
                self.send_current(ctx, saga);
            }
            Some(_) => self.send_current(ctx, saga),
            None => {}
        }
    }

    /// Asks every service that changed a counter to release the saga's semantic lock.
    fn finalize(&mut self, ctx: &mut Ctx<'_, SagaNode>, saga: SagaId) {
        let Some(run) = self.sagas.get_mut(&saga) else {
            return;
        };
        if run.phase != Phase::Completed(false) {
            return;
        }
        if run.unfinalized.is_empty() {
            run.unfinalized = run
                .plan
                .iter()
                .filter(|s| matches!(s.action, super::msg::Action::Adjust { .. }))
                .map(|s| s.service)
                .collect();
        }
        for &service in &run.unfinalized {
            ctx.send(service, Msg::Finalize { saga });
        }
        ctx.set_timer(self.options.retry_max, Timer::Finalize(saga));
    }

    fn finalized(&mut self, ctx: &mut Ctx<'_, SagaNode>, saga: SagaId, from: NodeId) {
        let Some(run) = self.sagas.get_mut(&saga) else {
            return;
        };
        if run.phase != Phase::Completed(false)
            || !run.unfinalized.remove(&from)
            || !run.unfinalized.is_empty()
        {
            return;
        }
        run.phase = Phase::Completed(true);
        self.log(ctx, saga, Event::Finalized);
    }

    /// The bank of the transfer flow.
    pub fn bank(&self) -> super::Bank {
        self.options.bank()
    }

    /// Sagas neither completed nor compensated.
    pub fn unfinished(&self) -> usize {
        self.sagas
            .values()
            .filter(|r| matches!(r.phase, Phase::Forward(_) | Phase::Compensating(_)))
            .count()
    }
}

fn new_run(req: RequestId, plan: Vec<Step>) -> Run {
    Run {
        req,
        plan,
        phase: Phase::Forward(0),
        attempt: 0,
        timer: None,
        stuck: false,
        unfinalized: BTreeSet::new(),
    }
}
