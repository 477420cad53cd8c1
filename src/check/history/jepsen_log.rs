//! Jepsen's log lines, as in the etcd histories collected by Porcupine:
//! `INFO  jepsen.util - 2<TAB>:invoke<TAB>:write<TAB>4`. Owns that format.
//! Lines without `jepsen.util - ` are other loggers' output and are skipped;
//! a `jepsen.util` line that does not parse is an error.
use super::edn::Reader;
use super::{Event, EventType, RawError};

const MARKER: &str = "jepsen.util - ";

/// Parses the op lines of a Jepsen log.
pub(crate) fn parse(text: &str) -> Result<Vec<Event>, RawError> {
    let mut events = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        events.extend(parse_log_line(raw, idx + 1)?);
    }
    Ok(events)
}

/// Parses one log line (1-based `line`): an op event, or `None` for other
/// loggers' lines and nemesis lines.
pub(crate) fn parse_log_line(raw: &str, line: usize) -> Result<Option<Event>, RawError> {
    let Some(at) = raw.find(MARKER) else {
        return Ok(None);
    };
    let start = at + MARKER.len();
    parse_line(&raw[start..], line, start + 1)
}

/// Parses `<process> :<type> :<f> <value>`; `None` for nemesis lines.
fn parse_line(rest: &str, line: usize, column: usize) -> Result<Option<Event>, RawError> {
    let mut fields = Fields { rest, column };
    let (process_text, process_col) = fields.next_token();
    if process_text == ":nemesis" {
        return Ok(None);
    }
    let process = process_text.parse::<i64>().map_err(|_| {
        RawError::syntax(
            line,
            process_col,
            "a process number",
            format!("`{process_text}`"),
        )
    })?;
    let (type_text, type_col) = fields.next_token();
    let kind = type_text
        .strip_prefix(':')
        .and_then(EventType::parse)
        .ok_or_else(|| {
            RawError::syntax(
                line,
                type_col,
                ":invoke, :ok, :fail or :info",
                format!("`{type_text}`"),
            )
        })?;
    let (f_text, f_col) = fields.next_token();
    let f = f_text
        .strip_prefix(':')
        .filter(|f| !f.is_empty())
        .ok_or_else(|| {
            RawError::syntax(
                line,
                f_col,
                "a function keyword such as :read",
                format!("`{f_text}`"),
            )
        })?;
    let mut reader = Reader::new(fields.rest, line, fields.column);
    let value = reader.value(0)?;
    if reader.skip_space() {
        return Err(RawError::syntax(
            line,
            fields.column,
            "one value after the function",
            "more text",
        ));
    }
    Ok(Some(Event {
        line,
        process,
        kind,
        f: f.to_string(),
        key: None,
        value,
        time_ns: None,
    }))
}

/// Splits whitespace-separated tokens while tracking columns.
struct Fields<'a> {
    rest: &'a str,
    column: usize,
}

impl<'a> Fields<'a> {
    /// The next token and its 1-based column.
    fn next_token(&mut self) -> (&'a str, usize) {
        let trimmed = self.rest.trim_start();
        self.column += self.rest.len() - trimmed.len();
        let end = trimmed
            .find(char::is_whitespace)
            .map_or(trimmed.len(), |e| e);
        let (token, rest) = trimmed.split_at(end);
        let start = self.column;
        self.column += token.chars().count();
        self.rest = rest;
        (token, start)
    }
}
