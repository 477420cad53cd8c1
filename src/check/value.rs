//! Values carried by history operations: the small common subset of JSON and
//! EDN that histories use (nil, booleans, integers, strings, keywords, lists).
//! Owns their readable rendering and their JSON serialization.
use serde::ser::{Serialize, SerializeSeq, Serializer};
use std::fmt;

/// A value read from a history file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// `nil` / `null`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A string.
    Str(String),
    /// An EDN keyword, without its leading colon (e.g. `timed-out`).
    Keyword(String),
    /// A vector or list.
    List(Vec<Value>),
}

/// What one heap allocation costs beyond its bytes (allocator headers and
/// rounding up to a size class), for memory estimates.
pub const ALLOCATION_OVERHEAD_BYTES: usize = 16;

/// Heap bytes of a string, with its allocation's overhead.
pub fn string_heap_bytes(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        s.len() + ALLOCATION_OVERHEAD_BYTES
    }
}

impl Value {
    /// Heap bytes this value owns beyond its inline size (for memory budgets).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Str(s) | Value::Keyword(s) => string_heap_bytes(s),
            Value::List(items) => {
                items.len() * std::mem::size_of::<Value>()
                    + ALLOCATION_OVERHEAD_BYTES
                    + items.iter().map(Value::heap_bytes).sum::<usize>()
            }
            Value::Nil | Value::Bool(_) | Value::Int(_) => 0,
        }
    }

    /// The integer this value holds, `Some(None)` for nil, `None` otherwise.
    pub fn as_opt_int(&self) -> Option<Option<i64>> {
        match self {
            Value::Nil => Some(None),
            Value::Int(n) => Some(Some(*n)),
            _ => None,
        }
    }

    /// The string this value holds, `Some("")` for nil, `None` otherwise.
    pub fn as_str_or_empty(&self) -> Option<&str> {
        match self {
            Value::Nil => Some(""),
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Str(_) => "a string",
            Value::Keyword(_) => "a keyword",
            Value::List(_) => "a list",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Keyword(k) => write!(f, ":{k}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Nil => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(n) => s.serialize_i64(*n),
            Value::Str(v) => s.serialize_str(v),
            Value::Keyword(k) => s.serialize_str(&format!(":{k}")),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}
