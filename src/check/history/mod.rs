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
use crate::clip::clip_long_values;
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
    #[error("{file}:{line}:{column}: expected {expected}, found {}", clip_long_values(.found))]
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
    #[error("{file}:{line}: {}", clip_long_values(.message))]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Holding the history would pass the memory budget: reading stopped.
    #[error("{file}:{line}: reading stopped: holding the history read so far needs more than the memory budget of {budget_bytes} bytes")]
    TooLarge {
        /// The file.
        file: String,
        /// The line reading stopped at (0: before reading).
        line: usize,
        /// The budget in bytes.
        budget_bytes: usize,
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

/// Reads and parses a history file (`format` `None` = detect). Line-based
/// formats (JSON lines, Jepsen logs) are read a line at a time and paired
/// as they come, so reading holds little beyond the history itself; an
/// EDN file (whose maps may span lines) is read whole.
pub fn parse_file(path: &Path, format: Option<Format>) -> Result<History, HistoryError> {
    parse_file_within(path, format, usize::MAX)
}

/// [`parse_file`], stopping with [`HistoryError::TooLarge`] as soon as the
/// history read so far would hold more than `bytes_max` bytes (an EDN
/// file, read whole, is judged by its size before reading).
pub fn parse_file_within(
    path: &Path,
    format: Option<Format>,
    bytes_max: usize,
) -> Result<History, HistoryError> {
    let file = path.display().to_string();
    let opened = std::fs::File::open(path).map_err(|source| HistoryError::Io {
        file: file.clone(),
        source,
    })?;
    let too_large = |line| HistoryError::TooLarge {
        file: file.clone(),
        line,
        budget_bytes: bytes_max,
    };
    let file_bytes = opened.metadata().map_or(0, |m| m.len() as usize);
    let mut lines = LineReader::new(std::io::BufReader::new(opened), &file);
    while lines.next()?.is_some_and(|text| text.trim().is_empty()) {}
    if lines.at_end {
        return Ok(History::default());
    }
    let format = match format {
        Some(f) => f,
        None => match detect_format(&lines.text, &file) {
            Ok(Some(f)) => f,
            Ok(None) => unreachable!("the line is not blank"),
            Err(HistoryError::UnknownFormat { file, .. }) => {
                let line = lines.number;
                return Err(HistoryError::UnknownFormat { file, line });
            }
            Err(e) => return Err(e),
        },
    };
    let parse_line: fn(&str, usize) -> Result<Option<Event>, RawError> = match format {
        Format::Json => json::parse_line,
        Format::JepsenLog => jepsen_log::parse_log_line,
        Format::Edn => {
            // The text, its events and the history: about three times the file.
            if file_bytes.saturating_mul(EDN_BYTES_PER_FILE_BYTE) > bytes_max {
                return Err(too_large(0));
            }
            let text = lines.read_rest()?;
            return parse_str(&text, Some(Format::Edn), &file);
        }
    };
    lines.forget_consumed();
    let mut pairer = Pairer::default();
    loop {
        if let Some(event) =
            parse_line(&lines.text, lines.number).map_err(|e| e.with_file(&file))?
        {
            pairer.push(event).map_err(|e| e.with_file(&file))?;
            if pairer.bytes() > bytes_max {
                return Err(too_large(lines.number));
            }
        }
        if lines.next()?.is_none() {
            break;
        }
    }
    pairer.finish().map_err(|e| e.with_file(&file))
}

/// Memory an EDN file needs per byte of file while it is parsed whole.
const EDN_BYTES_PER_FILE_BYTE: usize = 3;

/// A file read a line at a time, keeping every byte read until the format
/// is known (an EDN file is then parsed whole).
struct LineReader<'a, R> {
    reader: R,
    file: &'a str,
    /// The current line's text, without its end.
    text: String,
    /// Its 1-based number.
    number: usize,
    /// Whether the file has no more lines.
    at_end: bool,
    /// Every byte read so far, while `keep` holds.
    consumed: Vec<u8>,
    keep: bool,
    bytes: Vec<u8>,
}

impl<'a, R: std::io::BufRead> LineReader<'a, R> {
    fn new(reader: R, file: &'a str) -> Self {
        LineReader {
            reader,
            file,
            text: String::new(),
            number: 0,
            at_end: false,
            consumed: Vec::new(),
            keep: true,
            bytes: Vec::new(),
        }
    }

    fn io(&self, source: std::io::Error) -> HistoryError {
        HistoryError::Io {
            file: self.file.to_string(),
            source,
        }
    }

    /// Moves to the next line; `None` at the end of the file.
    fn next(&mut self) -> Result<Option<&str>, HistoryError> {
        self.bytes.clear();
        let read = self
            .reader
            .read_until(b'\n', &mut self.bytes)
            .map_err(|e| self.io(e))?;
        if read == 0 {
            self.at_end = true;
            return Ok(None);
        }
        if self.keep {
            self.consumed.extend_from_slice(&self.bytes);
        }
        self.number += 1;
        let raw = self.bytes.strip_suffix(b"\n").unwrap_or(&self.bytes);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        match std::str::from_utf8(raw) {
            Ok(t) => {
                self.text.clear();
                self.text.push_str(t);
                Ok(Some(&self.text))
            }
            Err(e) => Err(HistoryError::Syntax {
                file: self.file.to_string(),
                line: self.number,
                column: e.valid_up_to() + 1,
                expected: "UTF-8 text".to_string(),
                found: "invalid UTF-8 bytes".to_string(),
            }),
        }
    }

    /// Stops keeping the bytes read.
    fn forget_consumed(&mut self) {
        self.keep = false;
        self.consumed = Vec::new();
    }

    /// The whole file as text: what was read and the rest.
    fn read_rest(mut self) -> Result<String, HistoryError> {
        let mut bytes = std::mem::take(&mut self.consumed);
        self.reader
            .read_to_end(&mut bytes)
            .map_err(|e| self.io(e))?;
        String::from_utf8(bytes).map_err(|e| not_utf8(self.file, &e))
    }
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
