//! The client history of a run: every operation with its invocation and
//! completion times and its outcome, as the linearizability checker and the
//! end-of-run checks read it.

use crate::process::NodeId;
use crate::time::SimTime;

/// How an operation ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome<R> {
    /// Still open, or timed out: it may or may not have taken effect.
    Unknown,
    /// It took effect, with this result.
    Ok(R),
    /// It definitely did not take effect.
    Fail(R),
}

/// One client operation.
#[derive(Clone, Debug)]
pub struct Operation<O, R> {
    /// The logical client process (Jepsen's `:process`): a client that timed
    /// out continues as a new process, since its old operation may still act.
    pub process: u64,
    /// The workload client slot that issued it.
    pub client: usize,
    /// The process the request went to.
    pub target: NodeId,
    /// The operation.
    pub op: O,
    /// When it was invoked.
    pub invoked: SimTime,
    /// When it completed or timed out; `None` while open.
    pub completed: Option<SimTime>,
    /// Its outcome.
    pub outcome: Outcome<R>,
}

/// Every operation of a run, in invocation order.
#[derive(Clone, Debug)]
pub struct History<O, R> {
    /// The operations.
    pub ops: Vec<Operation<O, R>>,
}

impl<O, R> Default for History<O, R> {
    fn default() -> Self {
        History { ops: Vec::new() }
    }
}

impl<O, R> History<O, R> {
    /// Operations that completed with `Ok`.
    pub fn acknowledged(&self) -> impl Iterator<Item = (&Operation<O, R>, &R)> {
        self.ops.iter().filter_map(|o| match &o.outcome {
            Outcome::Ok(r) => Some((o, r)),
            _ => None,
        })
    }
}
