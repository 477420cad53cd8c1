//! faultline's own history format: JSON lines, one Jepsen-shaped event per
//! line (specified in docs/histories.md). Owns the mapping of each JSON
//! object to an [`Event`], with the line and column of every error.
use super::{Event, EventType, RawError};
use crate::check::value::Value;
use serde_json::{Map, Value as Json};

/// Parses every non-blank line as one event object.
pub(crate) fn parse(text: &str) -> Result<Vec<Event>, RawError> {
    let mut events = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        events.extend(parse_line(raw, idx + 1)?);
    }
    Ok(events)
}

/// Parses one line (1-based `line`): an event, or `None` when blank.
pub(crate) fn parse_line(raw: &str, line: usize) -> Result<Option<Event>, RawError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let json: Json = serde_json::from_str(raw).map_err(|e| {
        RawError::syntax(
            line,
            e.column().max(1),
            "a JSON object on one line",
            e.to_string(),
        )
    })?;
    let Json::Object(obj) = json else {
        return Err(RawError::syntax(line, 1, "a JSON object", json_kind(&json)));
    };
    event(&obj, line).map(Some)
}

fn event(obj: &Map<String, Json>, line: usize) -> Result<Event, RawError> {
    let process = match obj.get("process") {
        Some(Json::Number(n)) => n.as_i64(),
        _ => None,
    };
    let process = process
        .ok_or_else(|| field_error(line, "\"process\" to be an integer", obj.get("process")))?;
    let kind = obj
        .get("type")
        .and_then(Json::as_str)
        .and_then(EventType::parse);
    let kind = kind.ok_or_else(|| {
        field_error(
            line,
            "\"type\" to be \"invoke\", \"ok\", \"fail\" or \"info\"",
            obj.get("type"),
        )
    })?;
    let f = obj
        .get("f")
        .and_then(Json::as_str)
        .filter(|f| !f.is_empty());
    let f = f.ok_or_else(|| {
        field_error(
            line,
            "\"f\" to be a function name such as \"read\"",
            obj.get("f"),
        )
    })?;
    let key = match obj.get("key") {
        None | Some(Json::Null) => None,
        Some(Json::String(k)) => Some(k.clone()),
        Some(Json::Number(n)) => Some(n.to_string()),
        other => return Err(field_error(line, "\"key\" to be a string", other)),
    };
    let time_ns = match obj.get("time_ns") {
        None => None,
        Some(Json::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        other => {
            return Err(field_error(
                line,
                "\"time_ns\" to be a non-negative integer",
                other,
            ))
        }
    };
    let value = match obj.get("value") {
        None => Value::Nil,
        Some(v) => to_value(v, 0).ok_or_else(|| {
            field_error(
                line,
                "\"value\" to be null, a boolean, an integer, a string or an array of those",
                Some(v),
            )
        })?,
    };
    Ok(Event {
        line,
        process,
        kind,
        f: f.to_string(),
        key,
        value,
        time_ns,
    })
}

fn to_value(json: &Json, depth: usize) -> Option<Value> {
    match json {
        Json::Null => Some(Value::Nil),
        Json::Bool(b) => Some(Value::Bool(*b)),
        Json::Number(n) => n.as_i64().map(Value::Int),
        Json::String(s) => Some(Value::Str(s.clone())),
        Json::Array(items) if depth < 16 => items
            .iter()
            .map(|v| to_value(v, depth + 1))
            .collect::<Option<Vec<_>>>()
            .map(Value::List),
        _ => None,
    }
}

fn field_error(line: usize, expected: &str, found: Option<&Json>) -> RawError {
    let found = match found {
        None => "it missing".to_string(),
        Some(v) => {
            let text = v.to_string();
            let short: String = text.chars().take(40).collect();
            format!("{} `{short}`", json_kind(v))
        }
    };
    RawError::invalid(line, format!("expected {expected}, found {found}"))
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}
