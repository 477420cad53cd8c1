//! Histories: the operations a set of clients performed, each with its
//! invocation and completion. Owns the format-independent event type, the
//! pairing of invocations with completions (and its errors), and format
//! detection. Invariant of a [`History`]: ops are in invocation order, every
//! op is `:ok` or unknown (`:fail` ops are dropped, they took no effect), and
//! a known return time is never before the call time.
mod edn;
mod jepsen_log;
mod json;

use super::value::Value;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;

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

/// What went wrong reading a history. Every variant names the file.
#[derive(Debug, Error)]
pub enum HistoryError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text does not follow the format's syntax.
    #[error("{file}:{line}:{column}: expected {expected}, found {found}")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        expected: String,
        /// What it found instead.
        found: String,
    },
    /// The events do not form a well-formed history.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// `--format auto` could not recognise the format.
    #[error("{file}:{line}: cannot detect the history format (expected a JSON object, an EDN map or vector, or a jepsen.util log line); pass --format")]
    UnknownFormat {
        /// The file.
        file: String,
        /// The first non-blank line.
        line: usize,
    },
}

/// A syntax error before the file name is known.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub expected: String,
    pub found: String,
}

/// A parse failure inside a format module, before the file name is attached.
#[derive(Debug)]
pub(crate) enum RawError {
    Syntax(SyntaxError),
    Invalid { line: usize, message: String },
}

impl RawError {
    pub(crate) fn syntax(
        line: usize,
        column: usize,
        expected: &str,
        found: impl Into<String>,
    ) -> Self {
        RawError::Syntax(SyntaxError {
            line,
            column,
            expected: expected.to_string(),
            found: found.into(),
        })
    }

    pub(crate) fn invalid(line: usize, message: impl Into<String>) -> Self {
        RawError::Invalid {
            line,
            message: message.into(),
        }
    }

    fn with_file(self, file: &str) -> HistoryError {
        let file = file.to_string();
        match self {
            RawError::Syntax(SyntaxError {
                line,
                column,
                expected,
                found,
            }) => HistoryError::Syntax {
                file,
                line,
                column,
                expected,
                found,
            },
            RawError::Invalid { line, message } => HistoryError::Invalid {
                file,
                line,
                message,
            },
        }
    }
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
    if trimmed.starts_with('[') {
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

/// Reads and parses a history file (`format` `None` = detect).
pub fn parse_file(path: &Path, format: Option<Format>) -> Result<History, HistoryError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| HistoryError::Io {
        file: file.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| not_utf8(&file, &e))?;
    parse_str(&text, format, &file)
}

fn not_utf8(file: &str, err: &std::string::FromUtf8Error) -> HistoryError {
    let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
    let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = valid.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    HistoryError::Syntax {
        file: file.to_string(),
        line,
        column,
        expected: "UTF-8 text".to_string(),
        found: "invalid UTF-8 bytes".to_string(),
    }
}

/// Pairs invocations with completions. Times come from the events when every
/// event has one, else from the event's position.
fn pair(events: Vec<Event>) -> Result<History, RawError> {
    let use_times = !events.is_empty() && events.iter().all(|e| e.time_ns.is_some());
    let mut history = History::default();
    let mut open: BTreeMap<i64, usize> = BTreeMap::new();
    let mut failed = Vec::new();
    for (pos, event) in events.into_iter().enumerate() {
        let time = match event.time_ns {
            Some(t) if use_times => t,
            _ => pos as u64,
        };
        if event.kind == EventType::Invoke {
            invoke(&mut history, &mut open, event, time)?;
        } else {
            complete(&mut history, &mut open, &mut failed, event, time)?;
        }
    }
    history.failed = failed.len();
    let mut dropped = vec![false; history.ops.len()];
    for idx in failed {
        dropped[idx] = true;
    }
    let ops = std::mem::take(&mut history.ops);
    history.ops = ops
        .into_iter()
        .zip(dropped)
        .filter(|(_, d)| !d)
        .map(|(op, _)| op)
        .collect();
    for (i, op) in history.ops.iter_mut().enumerate() {
        op.index = i;
    }
    Ok(history)
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

fn complete(
    history: &mut History,
    open: &mut BTreeMap<i64, usize>,
    failed: &mut Vec<usize>,
    event: Event,
    time: u64,
) -> Result<(), RawError> {
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
    check_matches(op, &event, time)?;
    op.return_line = Some(event.line);
    match event.kind {
        EventType::Ok => {
            op.output = Some(event.value);
            op.return_time = Some(time);
        }
        EventType::Fail => failed.push(idx),
        EventType::Info | EventType::Invoke => {}
    }
    Ok(())
}

fn check_matches(op: &Op, event: &Event, time: u64) -> Result<(), RawError> {
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
    if time < op.call_time {
        return Err(RawError::invalid(
            event.line,
            format!(
                "completion time {time} is before its invocation time {} (line {})",
                op.call_time, op.call_line
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<History, HistoryError> {
        parse_str(text, None, "t")
    }

    #[test]
    fn jepsen_log_pairs_and_drops_failures() {
        let log = "INFO  jepsen.util - 1\t:invoke\t:cas\t[0 3]\n\
                   INFO  jepsen.core - something else entirely\n\
                   INFO  jepsen.util - 2\t:invoke\t:write\t4\n\
                   INFO  jepsen.util - 1\t:fail\t:cas\t[0 3]\n\
                   INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n\
                   INFO  jepsen.util - 3\t:invoke\t:read\tnil\n\
                   INFO  jepsen.util - 3\t:ok\t:read\t4\n";
        let h = parse(log).map_err(|e| e.to_string());
        let Ok(h) = h else { panic!("{h:?}") };
        assert_eq!(h.failed, 1);
        assert_eq!(h.ops.len(), 2);
        assert_eq!(
            (h.ops[0].f.as_str(), h.ops[0].output.clone()),
            ("write", None)
        );
        assert_eq!(h.ops[0].return_time, None, ":info is unknown");
        assert_eq!(h.ops[1].output, Some(Value::Int(4)));
        assert_eq!((h.ops[1].call_line, h.ops[1].return_line), (6, Some(7)));
        assert_eq!(
            h.ops.iter().map(|o| o.index).collect::<Vec<_>>(),
            vec![0, 1]
        );
    }

    #[test]
    fn an_invoke_never_completed_is_unknown() {
        let h = parse("{:process 0, :type :invoke, :f :write, :value 1}\n");
        let Ok(h) = h else { panic!("{h:?}") };
        assert_eq!(h.ops.len(), 1);
        assert!(!h.ops[0].is_completed());
    }

    #[test]
    fn edn_vector_with_times_keys_and_nemesis() {
        let text = "[{:process 0 :type :invoke :f :put :key \"k\" :value \"a\\\"b\" :time 5}\n\
                    {:process :nemesis :type :info :f :start :value nil}\n\
                    {:process 0 :type :ok :f :put :key \"k\" :value \"a\\\"b\" :time 9}] ; done";
        let h = parse(text);
        let Ok(h) = h else { panic!("{h:?}") };
        assert_eq!(h.ops.len(), 1);
        let op = &h.ops[0];
        assert_eq!((op.call_time, op.return_time), (5, Some(9)));
        assert_eq!(op.key.as_deref(), Some("k"));
        assert_eq!(op.input, Value::Str("a\"b".into()));
    }

    #[test]
    fn json_times_are_used_only_when_every_event_has_one() {
        let text = "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time_ns\": 100}\n\
                    {\"process\": 0, \"type\": \"ok\", \"f\": \"read\", \"value\": null}\n";
        let h = parse(text);
        let Ok(h) = h else { panic!("{h:?}") };
        assert_eq!((h.ops[0].call_time, h.ops[0].return_time), (0, Some(1)));
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err =
            parse("{:process 0, :type :invoke, :f :read}\n{:process 0, :type #ok}").map(|_| ());
        let Err(HistoryError::Syntax { line, column, .. }) = err else {
            panic!("{err:?}")
        };
        assert_eq!((line, column), (2, 20));
        let err = parse_str(
            "INFO  jepsen.util - 1\t:invoke\t:write\t[1 2",
            Some(Format::JepsenLog),
            "t",
        )
        .map(|_| ());
        let Err(HistoryError::Syntax {
            line: 1, expected, ..
        }) = err
        else {
            panic!("{err:?}")
        };
        assert!(expected.contains("`]`"), "{expected}");
    }

    #[test]
    fn blank_input_is_an_empty_history() {
        let h = parse("\n  \n");
        assert!(matches!(h, Ok(History { ref ops, failed: 0 }) if ops.is_empty()));
    }
}
