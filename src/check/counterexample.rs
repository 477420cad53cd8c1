//! What the checker reports when a history is not linearizable: the
//! partition, the longest linearizable prefix the search reached, the model
//! state after it, and the completed ops that cannot be placed next (the
//! window where every choice fails). Owns its readable rendering and its
//! serde form (for the HTML report). Built after the search from its
//! deepest point, so it costs no more than the search itself.
use super::history::Op;
use super::model::Model;
use super::value::Value;
use serde::Serialize;
use std::fmt;

/// Prefix ops shown in the readable form; the data holds them all.
const PREFIX_SHOWN_MAX: usize = 8;

/// One op as shown in a counterexample.
#[derive(Clone, Debug, Serialize)]
pub struct OpRecord {
    /// Index in the history (invocation order).
    pub index: usize,
    /// The client process.
    pub process: i64,
    /// The function.
    pub f: String,
    /// The key, if any.
    pub key: Option<String>,
    /// The argument.
    pub input: Value,
    /// The result; `None` when unknown.
    pub output: Option<Value>,
    /// Invocation time.
    pub call_time: u64,
    /// Completion time; `None` when unknown.
    pub return_time: Option<u64>,
    /// Line of the invocation.
    pub call_line: usize,
    /// Line of the completion.
    pub return_line: Option<usize>,
    /// The model's description, e.g. `cas(0, 3) -> ok`.
    pub description: String,
}

impl OpRecord {
    fn new<M: Model>(model: &M, op: &Op) -> Self {
        OpRecord {
            index: op.index,
            process: op.process,
            f: op.f.clone(),
            key: op.key.clone(),
            input: op.input.clone(),
            output: op.output.clone(),
            call_time: op.call_time,
            return_time: op.return_time,
            call_line: op.call_line,
            return_line: op.return_line,
            description: model.describe_op(op),
        }
    }
}

impl fmt::Display for OpRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ret = self.return_time.map_or("?".to_string(), |t| t.to_string());
        let line = self.return_line.map_or(String::new(), |l| format!("-{l}"));
        write!(
            f,
            "#{:<5} process {:<3} [{} .. {}]  {}   (line {}{line})",
            self.index, self.process, self.call_time, ret, self.description, self.call_line
        )
    }
}

/// Why an op cannot be placed next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StuckReason {
    /// The model rejects it in the state after the prefix.
    RejectedByModel,
    /// The model accepts it, but no order of the remaining ops works after.
    DeadEnd,
}

/// An op that cannot be placed after the prefix.
#[derive(Clone, Debug, Serialize)]
pub struct StuckOp {
    /// The op.
    pub op: OpRecord,
    /// Why.
    pub reason: StuckReason,
}

/// A minimal explanation of a linearizability violation.
#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    /// The partition's key (`None` for unpartitioned models).
    pub key: Option<String>,
    /// Ops in the partition.
    pub partition_ops: usize,
    /// The longest linearizable prefix found, in linearization order.
    pub prefix: Vec<OpRecord>,
    /// The model state after the prefix.
    pub state_after_prefix: String,
    /// The completed ops that could go next in real time, none of which works.
    pub cannot_place: Vec<StuckOp>,
}

/// Builds the counterexample from the search's deepest point. `part` maps
/// the partition's local op indices to history ops; `prefix` is local.
pub(crate) fn build<M: Model>(
    model: &M,
    key: Option<String>,
    part: &[&Op],
    encoded: &[&(M::Input, Option<M::Output>)],
    prefix: &[usize],
    state: &M::State,
) -> Counterexample {
    let mut placed = vec![false; part.len()];
    for &i in prefix {
        placed[i] = true;
    }
    let first_return = (0..part.len())
        .filter(|&i| !placed[i])
        .filter_map(|i| part[i].return_time)
        .min();
    let mut next = Vec::new();
    let cannot_place = (0..part.len())
        .filter(|&i| !placed[i] && part[i].is_completed())
        .filter(|&i| first_return.is_some_and(|r| part[i].call_time <= r))
        .map(|i| {
            next.clear();
            model.step(state, &encoded[i].0, encoded[i].1.as_ref(), &mut next);
            let reason = if next.is_empty() {
                StuckReason::RejectedByModel
            } else {
                StuckReason::DeadEnd
            };
            StuckOp {
                op: OpRecord::new(model, part[i]),
                reason,
            }
        })
        .collect();
    Counterexample {
        key,
        partition_ops: part.len(),
        prefix: prefix
            .iter()
            .map(|&i| OpRecord::new(model, part[i]))
            .collect(),
        state_after_prefix: model.describe_state(state),
        cannot_place,
    }
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => writeln!(
                f,
                "not linearizable: key {key:?} ({} ops in this partition)",
                self.partition_ops
            )?,
            None => writeln!(f, "not linearizable ({} ops)", self.partition_ops)?,
        }
        let shown = self.prefix.len().min(PREFIX_SHOWN_MAX);
        writeln!(
            f,
            "longest linearizable prefix: {} ops (last {shown} shown, in linearization order)",
            self.prefix.len()
        )?;
        if self.prefix.len() > shown {
            writeln!(f, "  ...")?;
        }
        for op in &self.prefix[self.prefix.len() - shown..] {
            writeln!(f, "  {op}")?;
        }
        writeln!(f, "state after the prefix: {}", self.state_after_prefix)?;
        writeln!(f, "none of these can be linearized next:")?;
        for stuck in &self.cannot_place {
            let why = match stuck.reason {
                StuckReason::RejectedByModel => "the model rejects it in this state",
                StuckReason::DeadEnd => "allowed here, but nothing works after it",
            };
            writeln!(f, "  {}\n      -> {why}", stuck.op)?;
        }
        Ok(())
    }
}
