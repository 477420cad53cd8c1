//! A hand-written reader for the EDN subset Jepsen histories use: maps,
//! vectors, lists, keywords, strings, integers, `nil`, `true` and `false`.
//! Owns the EDN history format (one map per line, or one vector of maps) and
//! the value syntax shared with the Jepsen log format. Nesting is bounded so
//! hostile input cannot overflow the stack.
use super::{Event, EventType, RawError};
use crate::check::value::Value;

/// Deepest nesting accepted; Jepsen ops nest two or three levels.
const DEPTH_MAX: usize = 64;

/// A parsed EDN form: a plain value or a map.
#[derive(Debug)]
pub(crate) enum Edn {
    Val(Value),
    Map(Vec<(Edn, Edn)>),
}

/// A cursor over EDN text that tracks line and column.
pub(crate) struct Reader<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
    column: usize,
}

impl<'a> Reader<'a> {
    /// A reader whose first byte is at `line`, `column` (1-based).
    pub(crate) fn new(text: &'a str, line: usize, column: usize) -> Self {
        Reader {
            text: text.as_bytes(),
            pos: 0,
            line,
            column,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
            self.column = 1;
        } else if b & 0xC0 != 0x80 {
            self.column += 1;
        }
        Some(b)
    }

    /// Current line.
    pub(crate) fn line(&self) -> usize {
        self.line
    }

    fn error(&self, expected: &str) -> RawError {
        let found = match self.peek() {
            None => "end of input".to_string(),
            Some(_) => {
                let rest = String::from_utf8_lossy(&self.text[self.pos..]);
                let token: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .take(20)
                    .collect();
                format!("`{token}`")
            }
        };
        RawError::syntax(self.line, self.column, expected, found)
    }

    /// Skips whitespace, commas and `;` comments; true if input remains.
    pub(crate) fn skip_space(&mut self) -> bool {
        while let Some(b) = self.peek() {
            if b == b';' {
                while self.peek().is_some_and(|b| b != b'\n') {
                    self.bump();
                }
            } else if b.is_ascii_whitespace() || b == b',' {
                self.bump();
            } else {
                return true;
            }
        }
        false
    }

    /// Reads one form.
    pub(crate) fn form(&mut self, depth: usize) -> Result<Edn, RawError> {
        if depth > DEPTH_MAX {
            return Err(self.error("at most 64 levels of nesting"));
        }
        if !self.skip_space() {
            return Err(self.error("an EDN value"));
        }
        match self.peek() {
            Some(b'{') => self.map(depth),
            Some(b'[') => self.seq(b']', depth),
            Some(b'(') => self.seq(b')', depth),
            Some(b'"') => self.string().map(|s| Edn::Val(Value::Str(s))),
            Some(b':') => self.keyword().map(|k| Edn::Val(Value::Keyword(k))),
            _ => self.atom().map(Edn::Val),
        }
    }

    /// Reads one form that must be a plain value (not a map).
    pub(crate) fn value(&mut self, depth: usize) -> Result<Value, RawError> {
        let (line, column) = (self.line, self.column);
        match self.form(depth)? {
            Edn::Val(v) => Ok(v),
            Edn::Map(_) => Err(RawError::syntax(
                line,
                column,
                "a value (maps are not supported here)",
                "a map",
            )),
        }
    }

    fn map(&mut self, depth: usize) -> Result<Edn, RawError> {
        self.bump();
        let mut entries = Vec::new();
        loop {
            if !self.skip_space() {
                return Err(self.error("`}` closing the map"));
            }
            if self.peek() == Some(b'}') {
                self.bump();
                return Ok(Edn::Map(entries));
            }
            let key = self.form(depth + 1)?;
            if !self.skip_space() || self.peek() == Some(b'}') {
                return Err(self.error("a value for the map key"));
            }
            let value = self.form(depth + 1)?;
            entries.push((key, value));
        }
    }

    fn seq(&mut self, close: u8, depth: usize) -> Result<Edn, RawError> {
        self.bump();
        let mut items = Vec::new();
        loop {
            if !self.skip_space() {
                return Err(self.error(if close == b']' {
                    "`]` closing the vector"
                } else {
                    "`)` closing the list"
                }));
            }
            if self.peek() == Some(close) {
                self.bump();
                return Ok(Edn::Val(Value::List(items)));
            }
            items.push(self.value(depth + 1)?);
        }
    }

    fn string(&mut self) -> Result<String, RawError> {
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.bump() {
                None => return Err(self.error("`\"` closing the string")),
                Some(b'"') => break,
                Some(b'\\') => out.push(self.escape()?),
                Some(b) => out.push(b),
            }
        }
        // Only whole ASCII bytes were replaced, so UTF-8 stays valid.
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn escape(&mut self) -> Result<u8, RawError> {
        match self.bump() {
            Some(b'n') => Ok(b'\n'),
            Some(b't') => Ok(b'\t'),
            Some(b'r') => Ok(b'\r'),
            Some(b'"') => Ok(b'"'),
            Some(b'\\') => Ok(b'\\'),
            _ => Err(self.error("a string escape (\\n, \\t, \\r, \\\" or \\\\)")),
        }
    }

    fn token(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_token_byte) {
            self.bump();
        }
        String::from_utf8_lossy(&self.text[start..self.pos]).into_owned()
    }

    fn keyword(&mut self) -> Result<String, RawError> {
        self.bump();
        let name = self.token();
        if name.is_empty() {
            return Err(self.error("a keyword name after `:`"));
        }
        Ok(name)
    }

    fn atom(&mut self) -> Result<Value, RawError> {
        let (line, column) = (self.line, self.column);
        let token = self.token();
        let value = match token.as_str() {
            "nil" => Some(Value::Nil),
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            t => parse_int(t).map(Value::Int),
        };
        match value {
            Some(v) => Ok(v),
            None if token.is_empty() => Err(self.error("an EDN value")),
            None => Err(RawError::syntax(
                line,
                column,
                "nil, true, false, an integer, a string, a keyword, a vector or a map",
                format!("`{token}`"),
            )),
        }
    }
}

fn is_token_byte(b: u8) -> bool {
    !(b.is_ascii_whitespace()
        || matches!(
            b,
            b',' | b'{' | b'}' | b'[' | b']' | b'(' | b')' | b'"' | b';'
        ))
}

fn parse_int(token: &str) -> Option<i64> {
    let digits = match token.strip_suffix('N') {
        Some(d) => d,
        None => token,
    };
    digits.parse::<i64>().ok()
}

/// Parses an EDN history: a sequence of op maps, or one vector of them.
pub(crate) fn parse_history(text: &str) -> Result<Vec<Event>, RawError> {
    let mut reader = Reader::new(text, 1, 1);
    let mut events = Vec::new();
    if !reader.skip_space() {
        return Ok(events);
    }
    let wrapped = reader.peek() == Some(b'[');
    if wrapped {
        reader.bump();
    }
    loop {
        if !reader.skip_space() {
            if wrapped {
                return Err(reader.error("`]` closing the vector of operations"));
            }
            return Ok(events);
        }
        if wrapped && reader.peek() == Some(b']') {
            reader.bump();
            if reader.skip_space() {
                return Err(reader.error("end of input after the vector of operations"));
            }
            return Ok(events);
        }
        if reader.peek() != Some(b'{') {
            return Err(reader.error("`{` starting an operation map"));
        }
        let line = reader.line();
        let Edn::Map(entries) = reader.form(0)? else {
            return Err(reader.error("an operation map"));
        };
        if let Some(event) = event_from_map(entries, line)? {
            events.push(event);
        }
    }
}

/// Turns one op map into an event; `None` for nemesis ops.
fn event_from_map(entries: Vec<(Edn, Edn)>, line: usize) -> Result<Option<Event>, RawError> {
    let mut fields = OpFields::default();
    for (key, value) in entries {
        let (Edn::Val(Value::Keyword(name)), Edn::Val(value)) = (key, value) else {
            return Err(RawError::invalid(
                line,
                "expected keyword keys with plain values in the operation map",
            ));
        };
        fields.set(&name, value, line)?;
    }
    fields.into_event(line)
}

#[derive(Default)]
struct OpFields {
    process: Option<Value>,
    kind: Option<Value>,
    f: Option<Value>,
    key: Option<Value>,
    value: Option<Value>,
    time: Option<Value>,
}

impl OpFields {
    fn set(&mut self, name: &str, value: Value, line: usize) -> Result<(), RawError> {
        let slot = match name {
            "process" => &mut self.process,
            "type" => &mut self.kind,
            "f" => &mut self.f,
            "key" => &mut self.key,
            "value" => &mut self.value,
            "time" => &mut self.time,
            _ => return Ok(()),
        };
        if slot.is_some() {
            return Err(RawError::invalid(line, format!("duplicate key :{name}")));
        }
        *slot = Some(value);
        Ok(())
    }

    fn into_event(self, line: usize) -> Result<Option<Event>, RawError> {
        let process = match self.process {
            Some(Value::Int(p)) => p,
            Some(Value::Keyword(k)) if k == "nemesis" => return Ok(None),
            Some(other) => {
                return Err(RawError::invalid(
                    line,
                    format!(
                        "expected :process to be an integer, found {}",
                        other.kind_name()
                    ),
                ))
            }
            None => return Err(RawError::invalid(line, "expected a :process key")),
        };
        let kind = match self.kind {
            Some(Value::Keyword(k)) => EventType::parse(&k).ok_or_else(|| {
                RawError::invalid(
                    line,
                    format!("expected :type to be :invoke, :ok, :fail or :info, found :{k}"),
                )
            })?,
            _ => {
                return Err(RawError::invalid(
                    line,
                    "expected a :type key (:invoke, :ok, :fail or :info)",
                ))
            }
        };
        let f = match self.f {
            Some(Value::Keyword(k)) | Some(Value::Str(k)) => k,
            _ => {
                return Err(RawError::invalid(
                    line,
                    "expected an :f key naming the function, e.g. :read",
                ))
            }
        };
        let key = self.key.map(|k| match k {
            Value::Str(s) | Value::Keyword(s) => s,
            other => other.to_string(),
        });
        let time_ns = match self.time {
            None => None,
            Some(Value::Int(t)) if t >= 0 => Some(t as u64),
            Some(_) => {
                return Err(RawError::invalid(
                    line,
                    "expected :time to be a non-negative integer (nanoseconds)",
                ))
            }
        };
        let value = match self.value {
            Some(v) => v,
            None => Value::Nil,
        };
        Ok(Some(Event {
            line,
            process,
            kind,
            f,
            key,
            value,
            time_ns,
        }))
    }
}
