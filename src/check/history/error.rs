//! What can go wrong reading a history: [`HistoryError`], which names the
//! file, and the format parsers' errors before the file name is known.

use crate::clip::clip_long_values;
use thiserror::Error;

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

    pub(super) fn with_file(self, file: &str) -> HistoryError {
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
