//! Scenario errors: every mistake names the file, line, column, field and
//! what was expected.

use crate::clip::clip_long_values;
use std::fmt;
use std::ops::Range;

/// A mistake in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file, as the user named it.
    pub file: String,
    /// 1-based line; 0 when the error is about the file as a whole.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The field at fault, e.g. `faults[2].node`, when known.
    pub field: Option<String>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: ", self.file)?;
        } else {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        }
        if let Some(field) = &self.field {
            write!(f, "field `{}`: ", clip_long_values(field))?;
        }
        write!(f, "{}", clip_long_values(&self.message))
    }
}

/// Locates byte offsets of one source text as lines and columns.
pub struct Source<'a> {
    /// The file name for messages.
    pub file: &'a str,
    /// The text.
    pub text: &'a str,
}

impl Source<'_> {
    /// 1-based line and column of byte `offset`.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text.as_bytes()[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        (line, column)
    }

    /// An error at `span` about `field`.
    pub fn error(
        &self,
        span: Range<usize>,
        field: Option<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, column) = self.position(span.start);
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            field,
            message: message.into(),
        }
    }

    /// The error toml reported, with the field guessed from the text at its span.
    pub fn toml_error(&self, err: &toml::de::Error) -> ScenarioError {
        let span = err.span().unwrap_or(0..0);
        let message = plain_types(err.message().trim());
        if message == "duplicate key" {
            return self.duplicate(span);
        }
        let Some(key) = missing_field(&message) else {
            let field = self.field_at(span.start);
            return self.error(span, field, message);
        };
        if span.is_empty() {
            // toml gives an empty span for a key missing at the top level:
            // the file as a whole lacks it, so no line is named.
            return ScenarioError {
                file: self.file.to_string(),
                line: 0,
                column: 0,
                field: Some(key.to_string()),
                message,
            };
        }
        let field = self.missing_field_path(&span, key);
        self.error(span, Some(field), message)
    }

    /// toml's "duplicate key" at `span`, told as what it is: a `[table]`
    /// header written twice (naming the line of the first), or a key set
    /// twice in one table.
    fn duplicate(&self, span: Range<usize>) -> ScenarioError {
        let line_start = self.line_start(span.start);
        let line = self.text[line_start..].lines().next().unwrap_or("");
        if let Some((name, false)) = header(line) {
            let first = self.text[..line_start]
                .lines()
                .position(|l| header(l).is_some_and(|(n, array)| !array && n == name));
            let first = first.map_or(String::new(), |i| format!(" (first at line {})", i + 1));
            let message = format!(
                "the table [{name}] appears twice{first}: write its keys under one [{name}] header"
            );
            return self.error(span, Some(name), message);
        }
        let field = self.field_at(span.start);
        let key = field
            .as_deref()
            .and_then(|f| f.rsplit('.').next())
            .unwrap_or("this key");
        let message = format!("duplicate key: `{key}` is set twice in the same table: keep one");
        self.error(span, field, message)
    }

    /// The full path of a required `key` missing from the table at `span`:
    /// a `[section]` whose header starts the span, or an inline table
    /// (`latency = { ... }`) that starts it.
    fn missing_field_path(&self, span: &Range<usize>, key: &str) -> String {
        let line_start = self.line_start(span.start);
        let line = self.text[line_start..].lines().next().unwrap_or("");
        let table = if header(line).is_some() {
            self.section_at(line_start + line.len())
        } else {
            self.field_at(span.start)
        };
        match table {
            Some(t) => format!("{t}.{key}"),
            None => key.to_string(),
        }
    }

    fn line_start(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text.as_bytes()[..offset]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
    }

    /// The dotted key whose value starts at or contains `offset`, from the
    /// nearest `[section]` header and the last `key =` before it on its line.
    fn field_at(&self, offset: usize) -> Option<String> {
        let offset = offset.min(self.text.len());
        let head = self.text.get(..offset)?;
        let line_start = self.line_start(offset);
        let before = &head[line_start..];
        let key = last_key(before).or_else(|| {
            let rest = self.text.get(offset..)?;
            let ident: String = rest.chars().take_while(|c| is_key_char(*c)).collect();
            (!ident.is_empty()).then_some(ident)
        })?;
        Some(match self.section_at(line_start) {
            Some(s) => format!("{s}.{key}"),
            None => key,
        })
    }

    /// The table that governs the text before `end`, named as the validator
    /// names it: `network`, or `faults[2]` for the third `[[faults]]`.
    fn section_at(&self, end: usize) -> Option<String> {
        let head = self.text.get(..end)?;
        let mut lines = head.lines().rev().filter_map(header);
        let (name, is_array) = lines.next()?;
        if !is_array {
            return (!name.is_empty()).then_some(name);
        }
        let earlier = lines.filter(|(n, a)| *a && *n == name).count();
        Some(format!("{name}[{earlier}]"))
    }
}

/// The key of a "missing field `key`" message.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().filter(|k| !k.is_empty())
}

/// The name of a `[table]` or `[[array]]` header line, and whether it is an
/// array; `None` for any other line (including rows of a multi-line array).
fn header(line: &str) -> Option<(String, bool)> {
    let line = line.trim();
    let line = match line.find('#') {
        Some(hash) if !line[..hash].contains('"') => line[..hash].trim_end(),
        _ => line,
    };
    let (inner, is_array) = match line.strip_prefix("[[") {
        Some(rest) => (rest.strip_suffix("]]")?, true),
        None => (line.strip_prefix('[')?.strip_suffix(']')?, false),
    };
    let name_char = |c: char| is_key_char(c) || matches!(c, '.' | ' ' | '"' | '\'');
    if inner.trim().is_empty() || !inner.chars().all(name_char) {
        return None;
    }
    let name: String = inner
        .chars()
        .filter(|c| !matches!(c, ' ' | '"' | '\''))
        .collect();
    Some((name, is_array))
}

/// serde names Rust types (`expected i64`); users wrote TOML values.
fn plain_types(message: &str) -> String {
    let mut text = message.to_string();
    for (rust, plain) in [
        ("i64", "an integer"),
        ("u64", "a non-negative integer"),
        ("u32", "a non-negative integer"),
        ("usize", "a non-negative integer"),
        ("f64", "a number"),
        ("a boolean", "true or false"),
    ] {
        text = text.replace(&format!("expected {rust}"), &format!("expected {plain}"));
    }
    text
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The last `key =` in `text` (an inline table's inner key wins).
fn last_key(text: &str) -> Option<String> {
    let eq = text.rfind('=')?;
    let key: String = text[..eq]
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| is_key_char(*c))
        .collect();
    let key: String = key.chars().rev().collect();
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let src = Source {
            file: "f",
            text: "a = 1\nbb = 2\n",
        };
        assert_eq!(src.position(0), (1, 1));
        assert_eq!(src.position(6), (2, 1));
        assert_eq!(src.position(11), (2, 6));
    }

    #[test]
    fn names_array_tables_by_index() {
        let text = "name = \"x\"\n[[faults]]\nat = \"1s\"\n[[faults]]\nnod = 1\n";
        let src = Source { file: "f", text };
        let at = text.find("nod").unwrap_or(0);
        assert_eq!(src.field_at(at).as_deref(), Some("faults[1].nod"));
    }

    #[test]
    fn rows_of_a_multiline_array_are_not_headers() {
        assert_eq!(header("[[faults]] # x"), Some(("faults".to_string(), true)));
        assert_eq!(header("[ network ]"), Some(("network".to_string(), false)));
        assert_eq!(header("[0, 1],"), None);
        assert_eq!(header("[0, 1]"), None);
    }

    #[test]
    fn finds_the_field_of_a_value() {
        let text = "name = \"x\"\n[network]\nlatency = { dist = \"uniform\", min = \"oops\" }\n";
        let src = Source { file: "f", text };
        let at = text.find("\"oops\"").unwrap_or(0);
        assert_eq!(src.field_at(at).as_deref(), Some("network.min"));
    }
}
