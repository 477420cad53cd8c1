//! What the checker reports when a history is not linearizable: the
//! partition, the longest linearizable prefix the search reached, the model
//! state after it, and the completed ops that cannot be placed next (the
//! window where every choice fails). Owns its readable rendering and its
//! serde form (for the HTML report). Built after the search from its
//! deepest point, so it costs no more than the search itself.
use super::history::{History, Op};
use super::model::{Model, Partition};
use super::unique::Why;
use super::value::Value;
use serde::Serialize;
use std::fmt;

/// Prefix ops shown in the readable form.
const PREFIX_SHOWN_MAX: usize = 8;
/// Prefix ops kept in the data (the last ones): a long history's prefix can
/// hold most of it, and the reports must stay small.
const PREFIX_KEPT_MAX: usize = 32;

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
    /// Ops in the longest linearizable prefix found.
    pub prefix_len: usize,
    /// Its last ops (at most 32), in linearization order.
    pub prefix: Vec<OpRecord>,
    /// The model state after the prefix.
    pub state_after_prefix: String,
    /// The completed ops that could go next in real time, none of which works.
    pub cannot_place: Vec<StuckOp>,
    /// Why, in words, when the checker proved it directly from the values
    /// (histories with unique writes): the ops that contradict each other.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
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
        prefix_len: prefix.len(),
        prefix: prefix[prefix.len().saturating_sub(PREFIX_KEPT_MAX)..]
            .iter()
            .map(|&i| OpRecord::new(model, part[i]))
            .collect(),
        state_after_prefix: model.describe_state(state),
        cannot_place,
        explanation: None,
    }
}

/// A counterexample without a searched prefix: the ops of a proof that
/// the partition is illegal, listed as the ones that cannot be placed.
pub(crate) fn from_ops<M: Model>(model: &M, key: Option<String>, part: &[&Op]) -> Counterexample {
    Counterexample {
        key,
        partition_ops: part.len(),
        prefix_len: 0,
        prefix: Vec::new(),
        state_after_prefix: model.describe_state(&model.init()),
        cannot_place: part
            .iter()
            .filter(|op| op.is_completed())
            .map(|op| StuckOp {
                op: OpRecord::new(model, op),
                reason: StuckReason::DeadEnd,
            })
            .collect(),
        explanation: None,
    }
}

/// The direct procedure's proof in words; ops are named by history index
/// and description.
pub(crate) fn explain_conflict<M: Model>(
    model: &M,
    partition: &Partition,
    history: &History,
    why: &Why,
) -> String {
    let op = |local: usize| {
        let op = &history.ops[partition.ops[local]];
        format!("#{} {}", op.index, model.describe_op(op))
    };
    match why {
        Why::Unreachable { reader } => format!(
            "{} saw a value that no sequence of the writes to it produces",
            op(*reader)
        ),
        Why::TwoSuccessors { first, second } => format!(
            "{} and {} both change the same value directly (as a compare-and-set or append seen by a later read), but only one op can follow a value directly",
            op(*first),
            op(*second)
        ),
        Why::TwoPredecessors { op: m, by_a, by_b } => format!(
            "{} and {} disagree on which value {} was applied to",
            op(*by_a),
            op(*by_b),
            op(*m)
        ),
        Why::Loop { ops } => {
            let names: Vec<String> = ops.iter().map(|&o| op(o)).collect();
            format!(
                "each of these ops must directly follow the one before it, round a loop: {}",
                names.join(", ")
            )
        }
        Why::OutOfOrder { earlier, later } => format!(
            "by the values read, {} must be linearized after {}, but it finished before that op began",
            op(*later),
            op(*earlier)
        ),
        Why::RealTime { a, b, c, d } => {
            let first = match a {
                Some(a) => format!("{} finished before {} began", op(*a), op(*b)),
                None => format!(
                    "the initial value comes before everything, so before {}",
                    op(*b)
                ),
            };
            let owner = match a {
                Some(a) => op(*a),
                None => "the initial value".to_string(),
            };
            format!(
                "{first}, and {} finished before {} began; but {owner} and {} belong to one run of values (a value, the ops that saw it, and what was applied directly on top), {} and {} to another, and each run would have to be linearized before the other (a stale or future read)",
                op(*c),
                op(*d),
                op(*d),
                op(*b),
                op(*c)
            )
        }
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
            self.prefix_len
        )?;
        if self.prefix_len > shown {
            writeln!(f, "  ...")?;
        }
        for op in &self.prefix[self.prefix.len() - shown..] {
            writeln!(f, "  {op}")?;
        }
        if let Some(why) = &self.explanation {
            writeln!(f, "why: {why}")?;
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
