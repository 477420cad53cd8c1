//! The vocabulary of sagas: steps and their actions, messages, timers,
//! durable records and the notes the checks read. No behaviour lives here.

use crate::process::NodeId;
use serde::Serialize;

/// A saga id: the id of the client request that started it (unique across
/// orchestrator crashes without a durable counter).
pub type SagaId = u64;

/// A forward step or its compensation. `(saga, step, kind)` is the
/// idempotency key a service deduplicates by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Kind {
    /// The step itself.
    Do,
    /// Its compensation.
    Undo,
}

/// What a step does at its service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Action {
    /// A read-only validation (e.g. of the user); nothing to compensate.
    Check,
    /// Changes a counter (stock, a balance) by `delta`, refused if it would
    /// go below zero; compensated by the opposite change.
    Adjust {
        /// The counter (item, user or account).
        key: u64,
        /// The change.
        delta: i64,
    },
    /// Creates a record (an order); compensated by cancelling it.
    Record,
    /// Sends a message (a confirmation); cannot be taken back.
    Notify,
}

impl Action {
    /// Whether the step has a compensation.
    pub fn compensable(self) -> bool {
        matches!(self, Action::Adjust { .. } | Action::Record)
    }
}

/// One step of a saga's plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Its name, e.g. `"reserve"`.
    pub name: &'static str,
    /// The service node that performs it.
    pub service: NodeId,
    /// What it does there.
    pub action: Action,
}

/// A service's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Reply {
    /// It took effect (or, for a compensation, the step is undone or was
    /// never done and never will be).
    Done,
    /// It definitely did not take effect and never will (declined).
    Failed,
    /// Not now (unavailable, or a semantic lock is held): try again.
    Retry,
}

/// Messages between the orchestrator and the services.
#[derive(Clone, Debug, Serialize)]
pub enum Msg {
    /// Orchestrator → service: do or undo a step.
    Request {
        /// The saga.
        saga: SagaId,
        /// The step's index in the plan.
        step: u32,
        /// Do or undo.
        kind: Kind,
        /// The step.
        what: Step,
    },
    /// Service → orchestrator: the answer, repeated for a duplicate request.
    Response {
        /// The saga.
        saga: SagaId,
        /// The step.
        step: u32,
        /// Do or undo.
        kind: Kind,
        /// The answer.
        reply: Reply,
    },
    /// Orchestrator → service: the saga completed; release its semantic locks.
    Finalize {
        /// The saga.
        saga: SagaId,
    },
    /// Service → orchestrator: the locks are released.
    Finalized {
        /// The saga.
        saga: SagaId,
    },
}

/// The orchestrator's timers.
#[derive(Clone, Debug, Serialize)]
pub enum Timer {
    /// No answer (or a retry answer) for the saga's current request.
    Retry(SagaId),
    /// Resend the saga's finalize messages.
    Finalize(SagaId),
}

crate::trace_hash_by_serde!(Msg, Timer);

/// What the orchestrator's saga log records.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The saga began, answering request `req`, with this plan.
    Started {
        /// The client request.
        req: u64,
        /// The steps.
        plan: Vec<Step>,
    },
    /// Step `0` took effect.
    StepDone(u32),
    /// Step failed definitively (`unknown`: retries ran out, so it may
    /// have taken effect and is compensated too).
    StepFailed {
        /// The step.
        step: u32,
        /// Whether its outcome is unknown.
        unknown: bool,
    },
    /// The compensation of the step took effect.
    CompDone(u32),
    /// Every step took effect.
    Completed,
    /// Every compensation took effect.
    Compensated,
    /// Every service released the saga's semantic locks.
    Finalized,
}

/// Durable records of both roles.
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    /// Orchestrator: one saga log entry.
    Log {
        /// The saga.
        saga: SagaId,
        /// What happened.
        event: Event,
    },
    /// Service: the answer to an idempotency key, and whether it had an effect.
    Idem {
        /// The saga.
        saga: SagaId,
        /// The step.
        step: u32,
        /// Do or undo.
        kind: Kind,
        /// The answer given.
        reply: Reply,
        /// Whether it changed the service's state.
        effect: bool,
    },
    /// Service: a counter's value.
    Counter(i64),
    /// Service: a saga's semantic lock on a counter.
    Pending(u64),
    /// Service: a live record (an order).
    Record,
}

/// Observations for the checks (ghost state).
#[derive(Clone, Debug)]
pub enum Note {
    /// Orchestrator: a saga began.
    Started {
        /// The saga.
        saga: SagaId,
        /// Its plan.
        plan: Vec<Step>,
    },
    /// Orchestrator: a step failed for good; compensation begins.
    Compensating(SagaId),
    /// Orchestrator: every step took effect.
    Completed(SagaId),
    /// Orchestrator: every compensation took effect.
    Compensated(SagaId),
    /// Orchestrator: a compensation keeps failing (reported, still retried).
    Stuck(SagaId),
    /// Service: a step read counter `key` (to decide whether it may apply).
    Read {
        /// The reading saga.
        saga: SagaId,
        /// The counter.
        key: u64,
    },
    /// Service: a step took effect (counter `key` changed by `delta`).
    Effect {
        /// The saga.
        saga: SagaId,
        /// The step.
        step: u32,
        /// The counter changed, if any.
        key: Option<u64>,
        /// The change.
        delta: i64,
    },
    /// Service: a compensation undid a step's effect.
    Undone {
        /// The saga.
        saga: SagaId,
        /// The step.
        step: u32,
    },
    /// Service: a compensation for a step that never took effect; the step
    /// is now refused if it arrives late.
    Tombstone {
        /// The saga.
        saga: SagaId,
        /// The step.
        step: u32,
    },
}
