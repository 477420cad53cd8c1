//! The two contracts that let Raft be embedded: [`StateMachine`], what a
//! Raft server replicates (the key-value store [`Kv`](super::kv::Kv) in
//! Raft's own runs), and [`Host`], a process a server can run inside (one
//! whose messages, timers, disk values and notes are Raft's).
//!
//! Invariant a machine keeps: `apply` is deterministic, a function of the
//! state and its arguments only, so every replica that applies the same
//! log reaches the same state (snapshots carry that state whole).

use super::messages::{Msg, Note, Stored, Timer};
use crate::process::Process;
use crate::trace::TraceHash;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// A state machine Raft replicates: commands applied once per client session, in log order.
pub trait StateMachine:
    Clone + Debug + Default + PartialEq + Eq + Serialize + DeserializeOwned + 'static
{
    /// A command.
    type Op: Clone + Debug + PartialEq + Eq + Serialize + DeserializeOwned + TraceHash + 'static;
    /// Its result.
    type Res: Clone + Debug + PartialEq + Eq + Serialize + DeserializeOwned + TraceHash + 'static;

    /// Applies command `seq` of `session` (deduplicating retries as the machine sees fit).
    fn apply(&mut self, session: u64, seq: u64, op: &Self::Op) -> Self::Res;

    /// Whether the leader answers the client with this result (false for
    /// `KvRes::Stale`, an older command not applied).
    fn answers(res: &Self::Res) -> bool;
}

/// A process a Raft server can run inside: its messages, timers, disk values and notes are Raft's.
pub trait Host<S: StateMachine>:
    Process<Msg = Msg<S>, Timer = Timer, Stored = Stored<S>, Note = Note>
{
}

impl<S: StateMachine, P: Process<Msg = Msg<S>, Timer = Timer, Stored = Stored<S>, Note = Note>>
    Host<S> for P
{
}
