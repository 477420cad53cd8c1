//! The `Process` trait: the API a protocol implements, and the only world a
//! protocol node sees.
//!
//! A process is a sans-IO state machine. The engine hands it one event at a
//! time (start, message, timer, client request) together with a [`Ctx`];
//! the process answers by recording effects on the context (send, set or
//! cancel a timer, write and sync durable state, reply to a client, note an
//! observation for the checkers). It never sees the engine, the network, the
//! true time or another node's state, so its behaviour is a pure function of
//! the events it was given and the draws of its own random stream.
//!
//! # Lifecycle
//! * [`Process::on_start`] runs at time 0 and again after every restart, on a
//!   *fresh* value built by [`Protocol::new_process`]: all volatile state of
//!   the crashed incarnation is gone. It receives the node's [`Disk`] with
//!   exactly what was synced before the crash.
//! * Timers belong to an incarnation: a crash cancels them all.
//! * A paused node keeps its state; its messages and timers wait (or its
//!   messages are dropped, as the scenario says) until it resumes.
//!
//! # Example: the smallest useful process
//! ```
//! use faultline::process::{Ctx, Disk, NodeId, Process, RequestId, TimerId};
//! use faultline::trace::{TraceHash, TraceHasher};
//!
//! /// Answers every client request with the number of pings it has heard.
//! #[derive(Default)]
//! struct Counter { pings: u64 }
//!
//! #[derive(Clone, Debug)]
//! enum Msg { Ping }
//!
//! // What the run's trace hash folds in of a message (one variant: nothing).
//! impl TraceHash for Msg {
//!     fn trace_hash(&self, _h: &mut TraceHasher) {}
//! }
//!
//! impl Process for Counter {
//!     type Msg = Msg;
//!     type Timer = ();
//!     type Op = ();
//!     type Res = u64;
//!     type Stored = u64;
//!     type Note = ();
//!
//!     fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, _disk: &Disk<u64>) {
//!         ctx.broadcast(Msg::Ping);
//!     }
//!     fn on_message(&mut self, _ctx: &mut Ctx<'_, Self>, _from: NodeId, _msg: Msg) {
//!         self.pings += 1;
//!     }
//!     fn on_timer(&mut self, _ctx: &mut Ctx<'_, Self>, _id: TimerId, _timer: ()) {}
//!     fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, _op: ()) {
//!         ctx.reply_ok(req, self.pings);
//!     }
//! }
//! ```

mod ctx;
mod disk;
mod ids;
mod nested;
mod protocol;

pub use ctx::{Ctx, Effect, Harness};
pub use disk::{Disk, DiskKey, Storage, SyncFailed};
pub use ids::{NodeId, RequestId, TimerId};
pub use nested::Embedding;
pub use protocol::{
    CheckBudget, CheckInfo, CheckKind, EndState, Interval, Invariants, Lifecycle, OpFields, OpOf,
    Protocol, ResOf, Undecided, Violation,
};

use crate::trace::TraceHash;
use std::fmt::Debug;

/// A simulated node: a deterministic, sans-IO state machine.
///
/// Messages, timers, operations and results implement [`TraceHash`], so the
/// engine can fold them into the run's trace hash in a canonical encoding
/// (see [`crate::trace`]); how they are serialized, if at all, is the
/// protocol's own business.
pub trait Process: Sized {
    /// Messages exchanged between processes over the simulated network.
    type Msg: Clone + Debug + TraceHash;
    /// What a timer carries back to [`Process::on_timer`] when it fires.
    type Timer: Clone + Debug + TraceHash;
    /// A client operation, handed to [`Process::on_request`].
    type Op: Clone + Debug + TraceHash;
    /// The result of a client operation, given to [`Ctx::reply_ok`].
    type Res: Clone + Debug + TraceHash;
    /// A value kept in the node's durable store ([`Disk`]).
    type Stored: Clone + Debug;
    /// An observation for the protocol's invariant checkers ([`Ctx::note`]).
    /// Ghost state: it informs the checks and never changes the run.
    type Note: Debug;

    /// Called at time 0 and after every restart, on a fresh value, with what
    /// the node had synced to its disk before it crashed.
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<Self::Stored>);

    /// A message from `from` arrived.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Self::Msg);

    /// A timer set with [`Ctx::set_timer`] fired (it was not cancelled).
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, id: TimerId, timer: Self::Timer);

    /// A client asks this process to perform `op`. Answer now or later with
    /// [`Ctx::reply_ok`] / [`Ctx::reply_fail`]; the workload times out
    /// requests that are never answered. The default refuses every request.
    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: Self::Op) {
        let _ = (ctx, req, op);
    }

    /// The role this process plays now, if the protocol has roles (e.g.
    /// `"leader"`); scenario faults may target a node by role.
    fn role(&self) -> Option<&'static str> {
        None
    }

    /// The kind of `msg` (e.g. `"append"`), for faults that target kinds
    /// of messages (`[network.slow] kinds`); one of the names the
    /// protocol's registry entry lists in `message_kinds`. The default,
    /// for a protocol that names none, is [`DEFAULT_MESSAGE_KIND`].
    fn message_kind(msg: &Self::Msg) -> &'static str {
        let _ = msg;
        DEFAULT_MESSAGE_KIND
    }
}

/// The kind of every message of a protocol that names no kinds.
pub const DEFAULT_MESSAGE_KIND: &str = "message";
