//! Histories: the operations a set of clients performed, each with its
//! invocation and completion. Owns the format-independent event type, the
//! pairing of invocations with completions (and its errors), and format
//! detection. Invariant of a [`History`]: ops are in invocation order, every
//! op is `:ok` or unknown (`:fail` ops are dropped, they took no effect), and
//! a known return time is never before the call time.
//!
//! Beside it: `error` (the error types), `reader` (a file read a line at
//! a time within a memory budget), and one parser per format (`json`,
//! `edn`, `jepsen_log`), each turning text into [`Event`]s.
mod edn;
mod error;
mod jepsen_log;
mod json;
mod reader;
#[cfg(test)]
mod tests;

use super::value::Value;
use serde::Serialize;
use std::collections::BTreeMap;

pub use error::HistoryError;
pub(crate) use error::RawError;
pub use reader::{parse_file, parse_file_within};

/// The type of a history event, as in Jepsen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// The operation starts.
    Invoke,
    /// The operation completed and took effect.
    Ok,
    /// The operation completed and did not take effect.
    Fail,
    /// The outcome is unknown: it may take effect at any time, or never.
    Info,
}

impl EventType {
    /// Parses `invoke`, `ok`, `fail` or `info`.
    pub fn parse(name: &str) -> Option<EventType> {
        match name {
            "invoke" => Some(EventType::Invoke),
            "ok" => Some(EventType::Ok),
            "fail" => Some(EventType::Fail),
            "info" => Some(EventType::Info),
            _ => None,
        }
    }
}

/// One line of a history: an invocation or a completion.
#[derive(Clone, Debug)]
pub struct Event {
    /// 1-based line in the file.
    pub line: usize,
    /// The client process.
    pub process: i64,
    /// Invocation or which kind of completion.
    pub kind: EventType,
    /// The operation's function (`read`, `write`, `cas`, `get`, ...).
    pub f: String,
    /// The key, for partitioned models.
    pub key: Option<String>,
    /// The value (argument on invoke, result on completion).
    pub value: Value,
    /// Time in nanoseconds, when the format records it.
    pub time_ns: Option<u64>,
}

/// One operation: an invocation paired with its completion.
#[derive(Clone, Debug, Serialize)]
pub struct Op {
    /// Position in invocation order, unique within a history.
    pub index: usize,
    /// The client process that ran it.
    pub process: i64,
    /// The function (`read`, `write`, `cas`, `get`, `put`, `append`).
    pub f: String,
    /// The key, for partitioned models.
    pub key: Option<String>,
    /// The invocation's value (the argument).
    pub input: Value,
    /// The completion's value; `None` when the outcome is unknown.
    pub output: Option<Value>,
    /// Invocation time (ns, or the event's position if the file has no times).
    pub call_time: u64,
    /// Completion time; `None` when the outcome is unknown (+infinity).
    pub return_time: Option<u64>,
    /// Line of the invocation.
    pub call_line: usize,
    /// Line of the completion, if any.
    pub return_line: Option<usize>,
}

impl Op {
    /// Bytes this op holds in memory: its inline size and its strings' and
    /// values' heap data.
    pub fn bytes(&self) -> usize {
        use super::value::string_heap_bytes;
        std::mem::size_of::<Op>()
            + string_heap_bytes(&self.f)
            + self.key.as_deref().map_or(0, string_heap_bytes)
            + self.input.heap_bytes()
            + self.output.as_ref().map_or(0, Value::heap_bytes)
    }

    /// Whether the op completed with `:ok` (so the search must place it).
    pub fn is_completed(&self) -> bool {
        self.return_time.is_some()
    }

    /// A readable one-line description, e.g. `cas(0, 3) -> ok`.
    pub fn describe(&self) -> String {
        let input = match &self.input {
            Value::Nil => String::new(),
            Value::List(items) => items
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        let output = match &self.output {
            None => "?".to_string(),
            Some(v) if is_read(&self.f) => v.to_string(),
            Some(_) => "ok".to_string(),
        };
        let args = match (&self.key, input.is_empty()) {
            (Some(k), true) => format!("{k:?}"),
            (Some(k), false) => format!("{k:?}, {input}"),
            (None, _) => input,
        };
        format!("{}({args}) -> {output}", self.f)
    }
}

fn is_read(f: &str) -> bool {
    f == "read" || f == "get"
}

/// A paired history, ready to check.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The ops, in invocation order.
    pub ops: Vec<Op>,
    /// How many `:fail` ops were dropped.
    pub failed: usize,
    /// The `:fail` ops themselves, in invocation order: a linearizability
    /// check leaves them out, a transaction check needs them (a value an
    /// aborted transaction wrote must never be read).
    pub aborted: Vec<Op>,
}

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// faultline's JSON lines (docs/histories.md).
    Json,
    /// Jepsen EDN operations: one map per line or one vector of maps.
    Edn,
    /// Jepsen's `jepsen.util` log lines (the etcd histories).
    JepsenLog,
}

/// Guesses the format from the first non-blank line; `Ok(None)` when the
/// text is blank (an empty history).
pub fn detect_format(text: &str, file: &str) -> Result<Option<Format>, HistoryError> {
    let Some((idx, line)) = text.lines().enumerate().find(|(_, l)| !l.trim().is_empty()) else {
        return Ok(None);
    };
    let trimmed = line.trim_start();
    if trimmed.contains("jepsen.util") {
        return Ok(Some(Format::JepsenLog));
    }
    // Only EDN has `;` comments, lists and tagged forms (`#jepsen.history.Op{`).
    if trimmed.starts_with(['[', '(', ';', '#']) {
        return Ok(Some(Format::Edn));
    }
    if let Some(rest) = trimmed.strip_prefix('{') {
        let next = rest.trim_start().chars().next();
        return Ok(Some(if next == Some(':') {
            Format::Edn
        } else {
            Format::Json
        }));
    }
    Err(HistoryError::UnknownFormat {
        file: file.to_string(),
        line: idx + 1,
    })
}

/// Parses history text in the given format (`None` = detect), naming `file`
/// in errors.
pub fn parse_str(text: &str, format: Option<Format>, file: &str) -> Result<History, HistoryError> {
    let format = match format {
        Some(f) => f,
        None => match detect_format(text, file)? {
            Some(f) => f,
            None => return Ok(History::default()),
        },
    };
    let events = match format {
        Format::Json => json::parse(text),
        Format::Edn => edn::parse_history(text),
        Format::JepsenLog => jepsen_log::parse(text),
    };
    events.and_then(pair).map_err(|e| e.with_file(file))
}

/// Pairs invocations with completions. Times come from the events when every
/// event has one, else from the event's position.
fn pair(events: Vec<Event>) -> Result<History, RawError> {
    let mut pairer = Pairer::default();
    for event in events {
        pairer.push(event)?;
    }
    pairer.finish()
}

/// Pairs events into ops as they arrive. Whether times come from the events
/// (when every event has one) or from positions is known only at the end,
/// so each op keeps both until then.
#[derive(Default)]
struct Pairer {
    history: History,
    open: BTreeMap<i64, usize>,
    failed: Vec<usize>,
    /// Per op: the positions of its invoke and completion events.
    positions: Vec<(u64, Option<u64>)>,
    /// Events seen so far.
    seen: u64,
    /// Whether an event without a time was seen.
    untimed: bool,
    /// Heap bytes of the ops' strings and values so far.
    heap_bytes: usize,
}

impl Pairer {
    fn push(&mut self, event: Event) -> Result<(), RawError> {
        let pos = self.seen;
        self.seen += 1;
        self.untimed |= event.time_ns.is_none();
        let time = event.time_ns.unwrap_or(pos);
        if event.kind == EventType::Invoke {
            invoke(&mut self.history, &mut self.open, event, time)?;
            self.positions.push((pos, None));
            let op = &self.history.ops[self.history.ops.len() - 1];
            self.heap_bytes += op.bytes() - std::mem::size_of::<Op>();
        } else {
            let idx = complete(
                &mut self.history,
                &mut self.open,
                &mut self.failed,
                event,
                time,
            )?;
            self.positions[idx].1 = Some(pos);
            let output = self.history.ops[idx].output.as_ref();
            self.heap_bytes += output.map_or(0, Value::heap_bytes);
        }
        Ok(())
    }

    /// Bytes held at the peak of the next push: the vectors at capacity
    /// (and, when the next op does not fit, the larger copy they move to
    /// beside the old one) and the ops' heap data.
    fn bytes(&self) -> usize {
        fn vector<T>(v: &Vec<T>) -> usize {
            let grown = if v.len() == v.capacity() {
                (v.capacity() * 2).max(4)
            } else {
                0
            };
            (v.capacity() + grown) * std::mem::size_of::<T>()
        }
        vector(&self.history.ops) + vector(&self.positions) + self.open.len() * 64 + self.heap_bytes
    }

    fn finish(mut self) -> Result<History, RawError> {
        if self.untimed {
            for (op, &(call, ret)) in self.history.ops.iter_mut().zip(&self.positions) {
                op.call_time = call;
                op.return_time = op.return_time.and(ret);
            }
        }
        // The first op (by completion line) that completes before its call.
        let backwards = self
            .history
            .ops
            .iter()
            .filter(|op| op.return_time.is_some_and(|r| r < op.call_time))
            .min_by_key(|op| op.return_line);
        if let Some(op) = backwards {
            return Err(RawError::invalid(
                op.return_line.unwrap_or(op.call_line),
                format!(
                    "completion time {} is before its invocation time {} (line {})",
                    op.return_time.unwrap_or(0),
                    op.call_time,
                    op.call_line
                ),
            ));
        }
        drop(self.positions);
        let mut history = self.history;
        history.failed = self.failed.len();
        let mut dropped = vec![false; history.ops.len()];
        for idx in self.failed {
            dropped[idx] = true;
        }
        history.aborted = history
            .ops
            .iter()
            .zip(&dropped)
            .filter(|(_, &d)| d)
            .map(|(op, _)| op.clone())
            .collect();
        // In place: a second vector of ops would double the peak.
        let mut keep = dropped.iter().map(|d| !d);
        history.ops.retain(|_| keep.next().unwrap_or(true));
        for (i, op) in history.ops.iter_mut().enumerate() {
            op.index = i;
        }
        Ok(history)
    }
}

fn invoke(
    history: &mut History,
    open: &mut BTreeMap<i64, usize>,
    event: Event,
    time: u64,
) -> Result<(), RawError> {
    if let Some(&prev) = open.get(&event.process) {
        let line = history.ops[prev].call_line;
        return Err(RawError::invalid(
            event.line,
            format!("process {} invokes a new operation while its operation from line {line} is still open", event.process),
        ));
    }
    open.insert(event.process, history.ops.len());
    history.ops.push(Op {
        index: history.ops.len(),
        process: event.process,
        f: event.f,
        key: event.key,
        input: event.value,
        output: None,
        call_time: time,
        return_time: None,
        call_line: event.line,
        return_line: None,
    });
    Ok(())
}

/// Records a completion; returns the index of the op it completes.
fn complete(
    history: &mut History,
    open: &mut BTreeMap<i64, usize>,
    failed: &mut Vec<usize>,
    event: Event,
    time: u64,
) -> Result<usize, RawError> {
    let Some(idx) = open.remove(&event.process) else {
        return Err(RawError::invalid(
            event.line,
            format!(
                "completion for process {} without a matching invoke",
                event.process
            ),
        ));
    };
    let op = &mut history.ops[idx];
    check_matches(op, &event)?;
    op.return_line = Some(event.line);
    match event.kind {
        EventType::Ok => {
            op.output = Some(event.value);
            op.return_time = Some(time);
        }
        EventType::Fail => failed.push(idx),
        EventType::Info | EventType::Invoke => {}
    }
    Ok(idx)
}

fn check_matches(op: &Op, event: &Event) -> Result<(), RawError> {
    if op.f != event.f {
        return Err(RawError::invalid(
            event.line,
            format!(
                "completion :{} does not match the :{} invoked at line {}",
                event.f, op.f, op.call_line
            ),
        ));
    }
    if op.key != event.key && event.key.is_some() {
        return Err(RawError::invalid(
            event.line,
            format!(
                "completion key {:?} does not match key {:?} invoked at line {}",
                event.key, op.key, op.call_line
            ),
        ));
    }
    Ok(())
}
