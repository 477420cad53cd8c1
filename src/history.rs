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

impl<O, R> History<O, R> {
    /// The history as the linearizability checker reads it: failed
    /// operations left out (they did not take effect), unknown ones open
    /// forever. `fields` gives an operation's function, key and argument;
    /// `output` its checker-side result from the protocol's result (given
    /// the argument, for writes that answer with what they wrote).
    pub fn to_check_history(
        &self,
        fields: impl Fn(&O) -> (&'static str, Option<String>, crate::check::value::Value),
        output: impl Fn(&O, &R, &crate::check::value::Value) -> crate::check::value::Value,
    ) -> crate::check::History {
        let mut out = crate::check::History::default();
        for o in &self.ops {
            let (f, key, input) = fields(&o.op);
            let (result, return_time) = match &o.outcome {
                Outcome::Fail(_) => {
                    out.failed += 1;
                    continue;
                }
                Outcome::Unknown => (None, None),
                Outcome::Ok(r) => (
                    Some(output(&o.op, r, &input)),
                    o.completed.map(SimTime::as_nanos),
                ),
            };
            let index = out.ops.len();
            out.ops.push(crate::check::Op {
                index,
                process: o.process as i64,
                f: f.to_string(),
                key,
                input,
                output: result,
                call_time: o.invoked.as_nanos(),
                return_time,
                call_line: index + 1,
                return_line: return_time.map(|_| index + 1),
            });
        }
        out
    }
}
