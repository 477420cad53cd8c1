//! The end-of-run linearizability check that protocols with a client
//! key-value history share (Raft, the quorum and eventual stores): run the
//! checker under the run's [`CheckBudget`] (deterministic work, never wall
//! time) and turn its answer into one of the three outcomes a check has:
//! held, violated (with the counterexample for the reports) or undecided
//! (with the bound and how far the checker got).
use crate::check::{check_history, History, ModelKind, Verdict};
use crate::process::{CheckBudget, Undecided, Violation};
use crate::time::SimTime;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What became of one linearizability check.
#[derive(Clone, Debug, PartialEq)]
pub enum Judged {
    /// Not run: the scenario does not enable the check.
    Skipped,
    /// Linearizable.
    Held,
    /// Not linearizable.
    Violated(Violation),
    /// The budget ran out first.
    Undecided(Undecided),
}

/// The outcome and the checker's figures, for a protocol's metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    /// The outcome.
    pub judged: Judged,
    /// Search steps the checker took (deterministic).
    pub steps: u64,
    /// Operations checked, and partitions (keys).
    pub ops: usize,
    /// Partitions (keys) in the history.
    pub partitions: usize,
    /// Partitions decided directly because their written values are unique.
    pub partitions_unique: usize,
}

impl Judgement {
    /// A check that was not run.
    pub fn skipped() -> Self {
        Judgement {
            judged: Judged::Skipped,
            steps: 0,
            ops: 0,
            partitions: 0,
            partitions_unique: 0,
        }
    }

    /// `linearizable`, `illegal`, `unknown` or `skipped`.
    pub fn verdict_name(&self) -> &'static str {
        match self.judged {
            Judged::Skipped => "skipped",
            Judged::Held => "linearizable",
            Judged::Violated(_) => "illegal",
            Judged::Undecided(_) => "unknown",
        }
    }

    /// Why it is undecided, if it is.
    pub fn reason(&self) -> Option<&str> {
        match &self.judged {
            Judged::Undecided(u) => Some(&u.reason),
            _ => None,
        }
    }

    /// The metrics `{prefix}` (verdict name), `{prefix}_reason`,
    /// `{prefix}_steps` and `{prefix}_unique_keys`.
    pub fn metrics(&self, prefix: &str) -> BTreeMap<String, Value> {
        BTreeMap::from([
            (prefix.to_string(), json!(self.verdict_name())),
            (format!("{prefix}_reason"), json!(self.reason())),
            (format!("{prefix}_steps"), json!(self.steps)),
            (
                format!("{prefix}_unique_keys"),
                json!(self.partitions_unique),
            ),
        ])
    }

    /// The violation, if the history is not linearizable.
    pub fn violation(&self) -> Option<Violation> {
        match &self.judged {
            Judged::Violated(v) => Some(v.clone()),
            _ => None,
        }
    }

    /// The undecided check, if the budget ran out.
    pub fn undecided(&self) -> Option<Undecided> {
        match &self.judged {
            Judged::Undecided(u) => Some(u.clone()),
            _ => None,
        }
    }
}

/// Checks `history` against the key-value model as check `check` at the
/// end of a run (`at`). A history that does not fit the model is a bug in
/// the protocol's conversion, not a user error: it panics (and the run
/// ends with `engine.panic`).
pub fn judge_kv(check: &str, history: &History, budget: CheckBudget, at: SimTime) -> Judgement {
    let report = match check_history(ModelKind::Kv, history, &budget.options()) {
        Ok(r) => r,
        Err(e) => panic!("the run's own history does not fit the kv model: {e}"),
    };
    let judged = match report.verdict {
        Verdict::Linearizable => Judged::Held,
        Verdict::Illegal(cx) => {
            let message = format!("the client history is not linearizable (kv model):\n{cx}");
            let data = serde_json::to_value(&*cx).unwrap_or(Value::Null);
            Judged::Violated(Violation::new(check, at, message).with_data(data))
        }
        Verdict::Unknown(reason) => Judged::Undecided(Undecided {
            check: check.to_string(),
            reason: format!(
                "{reason} (raise [checks] linearizability_steps or linearizability_memory)"
            ),
            data: serde_json::to_value(&reason).ok(),
        }),
    };
    Judgement {
        judged,
        steps: report.steps,
        ops: report.ops,
        partitions: report.partitions,
        partitions_unique: report.partitions_unique,
    }
}

/// A key-value store's run history as the checker reads it (Raft's and
/// Multi-Paxos's): each operation's function, key and input, and what a
/// get read.
pub fn kv_check_history(
    history: &crate::history::History<
        crate::protocols::raft::kv::KvOp,
        crate::protocols::raft::kv::KvRes,
    >,
) -> History {
    use crate::check::value::Value as CValue;
    use crate::protocols::raft::kv::{KvOp, KvRes};
    let text = |s: &str| CValue::Str(s.to_string());
    history.to_check_history(
        |op| {
            let (f, input) = match op {
                KvOp::Get { .. } => ("get", CValue::Nil),
                KvOp::Put { value, .. } => ("put", text(value)),
                KvOp::Append { value, .. } => ("append", text(value)),
                KvOp::Cas { old, new, .. } => ("cas", CValue::List(vec![text(old), text(new)])),
            };
            (f, Some(op.key().to_string()), input)
        },
        |_, res, input| match res {
            KvRes::Value(v) => text(v),
            _ => input.clone(),
        },
    )
}
