//! A hand-written reader for EDN as Jepsen and Knossos write histories:
//! maps, vectors, lists, sets, keywords, strings, integers, `nil`, `true`
//! and `false` as values; floats, ratios, symbols and characters read but
//! kept opaque; tagged forms (`#jepsen.history.Op{...}`, `#inst "..."`)
//! read as the form they tag; `#_` discards the next form. Owns the EDN
//! history format (op maps one after another, or inside one vector or
//! list) and the value syntax shared with the Jepsen log format. Nesting is
//! bounded so hostile input cannot overflow the stack.
use super::{Event, EventType, RawError};
use crate::check::value::Value;

/// Deepest nesting accepted; Jepsen ops nest two or three levels.
const DEPTH_MAX: usize = 64;

/// A parsed EDN form.
#[derive(Debug)]
pub(crate) enum Edn {
    /// nil, a boolean, an integer, a string or a keyword.
    Val(Value),
    /// A vector, list or set.
    Seq(Vec<Edn>),
    /// A map, its entries in file order.
    Map(Vec<(Edn, Edn)>),
    /// A form read but not kept (a float, ratio, symbol or character): what
    /// kind it was, for errors.
    Opaque(&'static str),
}

impl Edn {
    /// The form as a plain value, or the kind of form that is not one.
    fn into_value(self) -> Result<Value, &'static str> {
        match self {
            Edn::Val(v) => Ok(v),
            Edn::Seq(items) => items
                .into_iter()
                .map(Edn::into_value)
                .collect::<Result<_, _>>()
                .map(Value::List),
            Edn::Map(_) => Err("a map"),
            Edn::Opaque(kind) => Err(kind),
        }
    }
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
        // `#_` discards the form after it (a loop, so a long run of them
        // cannot deepen the stack).
        while self.skip_space() && self.text[self.pos..].starts_with(b"#_") {
            self.bump();
            self.bump();
            self.form(depth + 1)?;
        }
        if !self.skip_space() {
            return Err(self.error("an EDN value"));
        }
        match self.peek() {
            Some(b'{') => self.map(depth),
            Some(b'[') => self.seq(b']', depth),
            Some(b'(') => self.seq(b')', depth),
            Some(b'#') => self.dispatch(depth),
            Some(b'"') => self.string().map(|s| Edn::Val(Value::Str(s))),
            Some(b':') => self.keyword().map(|k| Edn::Val(Value::Keyword(k))),
            Some(b'\\') => {
                self.bump();
                // `\a`, `\newline`, `\u00e9`, and `\(` or `\ ` (one byte).
                if !self.peek().is_some_and(is_token_byte) {
                    self.bump();
                }
                self.token();
                Ok(Edn::Opaque("a character"))
            }
            _ => self.atom(),
        }
    }

    /// Reads what follows `#`: a set, or a tagged form (read as the form
    /// it tags).
    fn dispatch(&mut self, depth: usize) -> Result<Edn, RawError> {
        self.bump();
        match self.peek() {
            Some(b'{') => self.seq(b'}', depth),
            _ => {
                if self.token().is_empty() {
                    return Err(self.error("a tag or `{` after `#`"));
                }
                self.form(depth + 1)
            }
        }
    }

    /// Reads one form that must be a plain value (not a map).
    pub(crate) fn value(&mut self, depth: usize) -> Result<Value, RawError> {
        let (line, column) = (self.line, self.column);
        self.form(depth)?.into_value().map_err(|kind| {
            RawError::syntax(
                line,
                column,
                "a value: nil, true, false, an integer, a string, a keyword or a vector of them",
                format!("{kind} inside it"),
            )
        })
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
                return Err(self.error(match close {
                    b']' => "`]` closing the vector",
                    b')' => "`)` closing the list",
                    _ => "`}` closing the set",
                }));
            }
            if self.peek() == Some(close) {
                self.bump();
                return Ok(Edn::Seq(items));
            }
            items.push(self.form(depth + 1)?);
        }
    }

    fn string(&mut self) -> Result<String, RawError> {
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.bump() {
                None => return Err(self.error("`\"` closing the string")),
                Some(b'"') => break,
                Some(b'\\') => self.escape(&mut out)?,
                Some(b) => out.push(b),
            }
        }
        // Only whole ASCII bytes were replaced, so UTF-8 stays valid.
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Reads the escape after a `\\` in a string onto `out`.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), RawError> {
        let byte = match self.bump() {
            Some(b'n') => b'\n',
            Some(b't') => b'\t',
            Some(b'r') => b'\r',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0C,
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'u') => {
                let mut code = 0u32;
                for _ in 0..4 {
                    let digit = self.peek().and_then(|b| (b as char).to_digit(16));
                    let Some(digit) = digit else {
                        return Err(self.error("four hex digits after \\u"));
                    };
                    self.bump();
                    code = code * 16 + digit;
                }
                let Some(c) = char::from_u32(code) else {
                    return Err(
                        self.error("a \\u escape of a character, not of half a surrogate pair")
                    );
                };
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                return Ok(());
            }
            _ => {
                return Err(
                    self.error("a string escape (\\n, \\t, \\r, \\b, \\f, \\uXXXX, \\\" or \\\\)")
                )
            }
        };
        out.push(byte);
        Ok(())
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

    /// Reads nil, a boolean, an integer, or a token kept opaque (another
    /// number or a symbol).
    fn atom(&mut self) -> Result<Edn, RawError> {
        let token = self.token();
        let value = match token.as_str() {
            "" => return Err(self.error("an EDN value")),
            "nil" => Value::Nil,
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            t => match parse_int(t) {
                Some(n) => Value::Int(n),
                None if starts_like_number(t) => {
                    return Ok(Edn::Opaque("a number that is not a 64-bit integer"))
                }
                None => return Ok(Edn::Opaque("a symbol")),
            },
        };
        Ok(Edn::Val(value))
    }
}

/// Whether an EDN token is a number (`1.5`, `-2/3`, `7M`), not a symbol.
fn starts_like_number(token: &str) -> bool {
    let digits = token.strip_prefix(['+', '-']).unwrap_or(token);
    digits.starts_with(|c: char| c.is_ascii_digit())
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

/// Parses an EDN history: op maps one after another, or inside one
/// vector or list (Knossos writes both). An op may be a tagged record
/// (`#jepsen.history.Op{...}`).
pub(crate) fn parse_history(text: &str) -> Result<Vec<Event>, RawError> {
    let mut reader = Reader::new(text, 1, 1);
    let mut events = Vec::new();
    if !reader.skip_space() {
        return Ok(events);
    }
    let close = match reader.peek() {
        Some(b'[') => Some((b']', "`]` closing the vector of operations")),
        Some(b'(') => Some((b')', "`)` closing the list of operations")),
        _ => None,
    };
    if close.is_some() {
        reader.bump();
    }
    loop {
        if !reader.skip_space() {
            return match close {
                Some((_, expected)) => Err(reader.error(expected)),
                None => Ok(events),
            };
        }
        if let Some((end, _)) = close {
            if reader.peek() == Some(end) {
                reader.bump();
                if reader.skip_space() {
                    return Err(reader.error("end of input after the operations"));
                }
                return Ok(events);
            }
        }
        if !matches!(reader.peek(), Some(b'{' | b'#')) {
            return Err(reader.error("`{` starting an operation map"));
        }
        let line = reader.line();
        let Edn::Map(entries) = reader.form(0)? else {
            return Err(RawError::invalid(line, "expected an operation map"));
        };
        if let Some(event) = event_from_map(entries, line)? {
            events.push(event);
        }
    }
}

/// Turns one op map into an event; `None` for nemesis ops. Keys other
/// than the ones an op needs are ignored, whatever their values (Jepsen
/// writes `:error` maps, `:index`, node names).
fn event_from_map(entries: Vec<(Edn, Edn)>, line: usize) -> Result<Option<Event>, RawError> {
    let mut fields = OpFields::default();
    for (key, value) in entries {
        let Edn::Val(Value::Keyword(name)) = key else {
            return Err(RawError::invalid(
                line,
                "expected keyword keys (`:process`, `:type`, ...) in the operation map",
            ));
        };
        if !OpFields::KEYS.contains(&name.as_str()) {
            continue;
        }
        let value = value.into_value().map_err(|kind| {
            RawError::invalid(
                line,
                format!(
                    "expected :{name} to be nil, a boolean, an integer, a string, a keyword or a vector of them, found {kind}"
                ),
            )
        })?;
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
    /// The keys an op's event is made of.
    const KEYS: [&'static str; 6] = ["process", "type", "f", "key", "value", "time"];

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
