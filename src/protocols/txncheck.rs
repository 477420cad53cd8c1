//! The end-of-run isolation check of the transaction protocols (2PC,
//! sagas): their checks record each transaction as Jepsen's rw-register
//! workload sees one (reads of a key's version, writes of fresh versions)
//! from the nodes' notes, and at the end the transaction checker
//! (`check::txn`, after Elle) names the anomalies and the models they rule
//! out. Budgets are the run's deterministic ones (steps and bytes, never
//! wall time), so the verdict depends on the scenario and seed alone.
use crate::check::txn::parse::{Mop, Status, Txn};
use crate::check::txn::{
    check_transactions, Consistency, TxnBudget, TxnReport, TxnVerdict, Workload,
};
use crate::process::{CheckBudget, Undecided, Violation};
use crate::time::SimTime;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Transactions as the run goes, by the protocol's own id. Reads and
/// writes are kept apart and a transaction's reads come first when it is
/// judged: a protocol may note a transaction's writes when it begins and
/// its reads as they happen, and in rw-register only a transaction's first
/// micro-op on a key reads another's state.
#[derive(Debug, Default)]
pub struct TxnRecorder {
    txns: BTreeMap<u64, Txn>,
    writes: BTreeMap<u64, Vec<Mop>>,
}

impl TxnRecorder {
    /// Transaction `id` began at `at` (its invocation); false if it had
    /// begun before (a retried request), which keeps its first start.
    pub fn begin(&mut self, id: u64, at: SimTime) -> bool {
        if self.txns.contains_key(&id) {
            return false;
        }
        self.txns.insert(
            id,
            Txn {
                process: id as i64,
                status: Status::Unknown,
                mops: Vec::new(),
                call_time: at.as_nanos(),
                return_time: None,
                line: 0,
            },
        );
        true
    }

    /// Transaction `id` read `version` (`None`: the initial one) of `key`.
    pub fn read(&mut self, id: u64, key: impl std::fmt::Display, version: Option<u64>) {
        if let Some(t) = self.txns.get_mut(&id) {
            t.mops.push(Mop::ReadRegister {
                key: key.to_string(),
                value: Some(version.map(|v| v as i64)),
            });
        }
    }

    /// Transaction `id` wrote version `version` of `key`.
    pub fn write(&mut self, id: u64, key: impl std::fmt::Display, version: u64) {
        if self.txns.contains_key(&id) {
            self.writes.entry(id).or_default().push(Mop::Write {
                key: key.to_string(),
                value: version as i64,
            });
        }
    }

    /// Transaction `id` committed at `at` (its completion) or aborted.
    pub fn end(&mut self, id: u64, at: SimTime, committed: bool) {
        if let Some(t) = self.txns.get_mut(&id) {
            if committed {
                t.status = Status::Committed;
                t.return_time = Some(at.as_nanos());
            } else {
                t.status = Status::Aborted;
            }
        }
    }

    /// Transactions recorded.
    pub fn len(&self) -> usize {
        self.txns.len()
    }

    /// Whether none were recorded.
    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    /// Checks the transactions against `consistency` as check `check`, at
    /// the end of a run (`at`), within `budget`.
    pub fn judge(
        &self,
        check: &str,
        consistency: Consistency,
        budget: CheckBudget,
        at: SimTime,
    ) -> TxnJudgement {
        // In invocation order, as a history file would list them; the
        // index is the `T<n>` reports name.
        let mut txns: Vec<Txn> = self
            .txns
            .iter()
            .map(|(id, t)| {
                let mut t = t.clone();
                t.mops
                    .extend(self.writes.get(id).into_iter().flatten().cloned());
                t
            })
            .collect();
        txns.sort_by_key(|t| (t.call_time, t.process));
        for (i, t) in txns.iter_mut().enumerate() {
            t.line = i + 1;
        }
        let budget = TxnBudget {
            steps_max: budget.steps,
            graph_bytes_max: budget.memory_bytes as u64,
            deadline: None,
        };
        let report = match check_transactions(&txns, Workload::RwRegister, consistency, &budget) {
            Ok(report) => report,
            Err(e) => panic!("the run's own transactions do not fit rw-register: {e}"),
        };
        TxnJudgement::new(check, report, at)
    }
}

/// What became of the isolation check, with the checker's report.
#[derive(Clone, Debug)]
pub struct TxnJudgement {
    /// The checker's report (anomalies, models ruled out, steps).
    pub report: TxnReport,
    /// The violation, when the model asked about is ruled out.
    pub violation: Option<Violation>,
    /// Why it is undecided, when a budget ran out first.
    pub undecided: Option<Undecided>,
}

impl TxnJudgement {
    fn new(check: &str, report: TxnReport, at: SimTime) -> Self {
        let data = serde_json::to_value(&report).unwrap_or(Value::Null);
        let (violation, undecided) = match report.verdict {
            TxnVerdict::Held => (None, None),
            TxnVerdict::Violated => {
                let mut message = format!(
                    "the transactions are not {}: {}",
                    report.consistency.name(),
                    describe(&report)
                );
                message.push_str(&format!(
                    " (models ruled out: {})",
                    report
                        .ruled_out
                        .iter()
                        .map(|m| m.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                let kind = report
                    .anomalies
                    .iter()
                    .find(|a| crate::check::txn::weakest_ruled_out(&a.class) <= report.consistency)
                    .map_or("anomaly".to_string(), |a| a.class.clone());
                let v = Violation::new(check, at, message)
                    .with_kind(&kind)
                    .with_data(data);
                (Some(v), None)
            }
            TxnVerdict::Undecided => {
                let reason = format!(
                    "the transaction check stopped after {} steps ({:?}); raise [checks] linearizability_steps or linearizability_memory",
                    report.steps, report.budget
                );
                let u = Undecided {
                    check: check.to_string(),
                    reason,
                    data: Some(data),
                };
                (None, Some(u))
            }
        };
        TxnJudgement {
            report,
            violation,
            undecided,
        }
    }

    /// How many anomalies of `class` were found (cycles: the examples
    /// kept, at most `check::txn::cycles::EXAMPLES_MAX`).
    pub fn count(&self, class: &str) -> usize {
        self.report
            .anomalies
            .iter()
            .filter(|a| a.class == class)
            .count()
    }

    /// The metrics `{prefix}` (held, violated, undecided),
    /// `{prefix}_anomalies` (count per class), `{prefix}_ruled_out` (the
    /// models the anomalies rule out) and `{prefix}_steps`.
    pub fn metrics(&self, prefix: &str) -> BTreeMap<String, Value> {
        let mut classes: BTreeMap<&str, u64> = BTreeMap::new();
        for a in &self.report.anomalies {
            *classes.entry(a.class.as_str()).or_default() += 1;
        }
        let verdict = serde_json::to_value(self.report.verdict).unwrap_or(Value::Null);
        BTreeMap::from([
            (prefix.to_string(), verdict),
            (format!("{prefix}_anomalies"), json!(classes)),
            (format!("{prefix}_ruled_out"), json!(self.report.ruled_out)),
            (format!("{prefix}_steps"), json!(self.report.steps)),
        ])
    }
}

/// The first anomaly the model forbids, with its explanation, in words.
fn describe(report: &TxnReport) -> String {
    let Some(a) = report
        .anomalies
        .iter()
        .find(|a| crate::check::txn::weakest_ruled_out(&a.class) <= report.consistency)
    else {
        return "no anomaly".to_string();
    };
    // The checker names transactions T<index>; `process` holds the id.
    let txns: Vec<String> = a
        .txns
        .iter()
        .map(|t| format!("T{} (txn {})", t.index, t.process))
        .collect();
    format!(
        "{} among {}: {}",
        a.class,
        txns.join(", "),
        a.explanation.join("; ")
    )
}
