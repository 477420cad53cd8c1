//! Reading a history file: line-based formats a line at a time, paired as
//! they come and stopped as soon as the history would pass its memory
//! budget; an EDN file whole, judged by its size first.

use super::{detect_format, jepsen_log, json, parse_str, Event, Format, History, Pairer};
use super::{HistoryError, RawError};
use std::path::Path;

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
