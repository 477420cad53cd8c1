//! The client history of a run: every operation with its invocation and
//! completion times and its outcome, as the linearizability checker and the
//! end-of-run checks read it.
//!
//! One history, three views, each with one job:
//! - [`History`] is the run's own, typed by the protocol's operations and
//!   results (`History<P::Op, P::Res>`): what end-of-run checks read;
//! - [`Record`] is one of its operations with the protocol's types erased
//!   (function, key, JSON argument and result): what `history.jsonl`, the
//!   reports, `stats` and `cap` read, built once at the end of a run;
//! - [`crate::check::History`] is the checker's input (invocations paired
//!   with completions, failed operations dropped), built from a run by
//!   [`History::to_check_history`] or read from a history file.

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

/// How a client operation ended, as the history file and the reports show
/// it (Jepsen's `:type` of the completion).
#[derive(Clone, Debug, PartialEq)]
pub enum RecordOutcome {
    /// It took effect; the value it carries in the history file.
    Ok(serde_json::Value),
    /// It definitely did not take effect; the value it carries.
    Fail(serde_json::Value),
    /// It timed out: it may or may not have taken effect.
    Info,
    /// Still open when the run ended.
    Open,
}

/// One client operation of a run, protocol-independent: what
/// `history.jsonl` holds and the reports draw. Built once at the end of a
/// run from the engine's typed history.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The logical client process (Jepsen's `:process`).
    pub process: u64,
    /// The workload client slot that issued it.
    pub client: usize,
    /// The function, e.g. `"get"`, `"put"`, `"broadcast"`.
    pub f: String,
    /// The key, for partitioned models.
    pub key: Option<String>,
    /// The argument, as the history file writes it.
    pub input: serde_json::Value,
    /// When it was invoked.
    pub invoked_ns: u64,
    /// When it completed or timed out (`None`: open at the end).
    pub completed_ns: Option<u64>,
    /// How it ended.
    pub outcome: RecordOutcome,
}

impl Record {
    /// Its latency, if it completed (ok or fail).
    pub fn latency_ns(&self) -> Option<u64> {
        match self.outcome {
            RecordOutcome::Ok(_) | RecordOutcome::Fail(_) => {
                self.completed_ns.map(|c| c.saturating_sub(self.invoked_ns))
            }
            RecordOutcome::Info | RecordOutcome::Open => None,
        }
    }

    /// `ok`, `fail`, `info` or `open`.
    pub fn outcome_name(&self) -> &'static str {
        match self.outcome {
            RecordOutcome::Ok(_) => "ok",
            RecordOutcome::Fail(_) => "fail",
            RecordOutcome::Info => "info",
            RecordOutcome::Open => "open",
        }
    }

    fn line(&self, kind: &str, value: &serde_json::Value, time_ns: u64) -> serde_json::Value {
        let mut line = serde_json::json!({
            "process": self.process,
            "type": kind,
            "f": self.f,
            "value": value,
            "time_ns": time_ns,
            "client": self.client,
        });
        if let Some(key) = &self.key {
            line["key"] = serde_json::json!(key);
        }
        line
    }
}

/// Writes `records` as the Jepsen-shaped JSON lines of `history.jsonl`
/// (docs/histories.md): an invoke line per operation and a completion line
/// (`ok`, `fail` or `info`) for each that ended, in time order (an
/// operation's invoke first on ties). Streams: one line in memory at a time
/// besides the sort order.
pub fn write_jsonl(records: &[Record], out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut order: Vec<(u64, usize)> = Vec::with_capacity(records.len() * 2);
    for (i, r) in records.iter().enumerate() {
        order.push((r.invoked_ns, 2 * i));
        if r.completed_ns.is_some() && r.outcome != RecordOutcome::Open {
            order.push((r.completed_ns.unwrap_or(r.invoked_ns), 2 * i + 1));
        }
    }
    order.sort_unstable();
    for (time, slot) in order {
        let r = &records[slot / 2];
        let line = if slot % 2 == 0 {
            r.line("invoke", &r.input, time)
        } else {
            match &r.outcome {
                RecordOutcome::Ok(v) => r.line("ok", v, time),
                RecordOutcome::Fail(v) => r.line("fail", v, time),
                RecordOutcome::Info | RecordOutcome::Open => r.line("info", &r.input, time),
            }
        };
        writeln!(out, "{line}")?;
    }
    Ok(())
}
