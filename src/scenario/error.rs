//! Scenario errors: every mistake names the file, line, column, field and
//! what was expected.

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
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.message)
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
        let field = self.field_at(span.start);
        let message = err.message().trim().to_string();
        self.error(span, field, message)
    }

    /// The dotted key whose value starts at or contains `offset`, from the
    /// nearest `[section]` header and the last `key =` before it on its line.
    fn field_at(&self, offset: usize) -> Option<String> {
        let offset = offset.min(self.text.len());
        let head = self.text.get(..offset)?;
        let line_start = head.rfind('\n').map_or(0, |p| p + 1);
        let before = &head[line_start..];
        let key = last_key(before).or_else(|| {
            let rest = self.text.get(offset..)?;
            let ident: String = rest.chars().take_while(|c| is_key_char(*c)).collect();
            (!ident.is_empty()).then_some(ident)
        })?;
        let section = head[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
        Some(match section {
            Some(s) if !s.is_empty() => format!("{s}.{key}"),
            _ => key,
        })
    }
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
    fn finds_the_field_of_a_value() {
        let text = "name = \"x\"\n[network]\nlatency = { dist = \"uniform\", min = \"oops\" }\n";
        let src = Source { file: "f", text };
        let at = text.find("\"oops\"").unwrap_or(0);
        assert_eq!(src.field_at(at).as_deref(), Some("network.min"));
    }
}
