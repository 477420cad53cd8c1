//! Reading transactions out of a paired history: each op of `f` `txn`
//! holds a vector of micro-ops, `[:append k v]` and `[:r k list]` in
//! Jepsen's list-append workload, `[:w k v]` and `[:r k v]` in its
//! rw-register workload. Owns the shape rules and their errors; the
//! inference works on [`Txn`]s only.
use crate::check::history::{History, Op};
use crate::check::value::Value;
use crate::check::ModelError;

/// What became of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// It committed (`:ok`): its reads are known.
    Committed,
    /// Unknown (`:info`, or never completed): it may have committed.
    Unknown,
    /// It aborted (`:fail`): nothing it wrote may be seen.
    Aborted,
}

/// The workload a history was recorded with: it decides the micro-ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Appends to lists and reads of whole lists.
    ListAppend,
    /// Writes of unique values to registers and reads of one value.
    RwRegister,
}

impl Workload {
    /// The name `--model` takes.
    pub fn name(self) -> &'static str {
        match self {
            Workload::ListAppend => "list-append",
            Workload::RwRegister => "rw-register",
        }
    }
}

/// One micro-op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mop {
    /// Appends `value` to the list at `key`.
    Append {
        /// The key (as written in the history).
        key: String,
        /// The element appended.
        value: i64,
    },
    /// Reads the list at `key`; `None` when the result is unknown.
    Read {
        /// The key.
        key: String,
        /// The list read (nil read as empty), if known.
        list: Option<Vec<i64>>,
    },
    /// Writes `value` to the register at `key` (rw-register).
    Write {
        /// The key.
        key: String,
        /// The value written, unique per key in the history.
        value: i64,
    },
    /// Reads the register at `key` (rw-register): `None` when the result
    /// is unknown, `Some(None)` for nil (the initial state).
    ReadRegister {
        /// The key.
        key: String,
        /// The value read, if known.
        value: Option<Option<i64>>,
    },
}

impl Mop {
    /// The key it touches.
    pub fn key(&self) -> &str {
        match self {
            Mop::Append { key, .. }
            | Mop::Read { key, .. }
            | Mop::Write { key, .. }
            | Mop::ReadRegister { key, .. } => key,
        }
    }

    /// The value it writes (appends or writes), if it writes.
    pub fn written(&self) -> Option<i64> {
        match self {
            Mop::Append { value, .. } | Mop::Write { value, .. } => Some(*value),
            Mop::Read { .. } | Mop::ReadRegister { .. } => None,
        }
    }
}

/// One transaction of the history.
#[derive(Clone, Debug)]
pub struct Txn {
    /// The process that ran it.
    pub process: i64,
    /// What became of it.
    pub status: Status,
    /// Its micro-ops in order (reads known only when committed).
    pub mops: Vec<Mop>,
    /// Invocation time.
    pub call_time: u64,
    /// Completion time, for committed transactions.
    pub return_time: Option<u64>,
    /// Line of the invocation.
    pub line: usize,
}

/// The transactions of `history`: committed and unknown ones in
/// invocation order, then the aborted ones. Takes the history so that each
/// op's values are freed as soon as its transaction is read: the reads'
/// lists are most of a list-append history, and are held once, not twice.
pub fn transactions(history: History, workload: Workload) -> Result<Vec<Txn>, ModelError> {
    let live = history.ops.into_iter().map(|op| {
        let status = if op.output.is_some() {
            Status::Committed
        } else {
            Status::Unknown
        };
        txn(&op, status, workload)
    });
    let aborted = history
        .aborted
        .into_iter()
        .map(|op| txn(&op, Status::Aborted, workload));
    live.chain(aborted).collect()
}

fn txn(op: &Op, status: Status, workload: Workload) -> Result<Txn, ModelError> {
    let error = |message: String| ModelError {
        line: op.call_line,
        message,
    };
    if op.f != "txn" {
        return Err(error(format!(
            "the {} model has only :txn operations, found :{}",
            workload.name(),
            op.f
        )));
    }
    // A committed transaction's completion holds what its reads returned.
    let value = match (status, &op.output) {
        (Status::Committed, Some(out)) => out,
        _ => &op.input,
    };
    let Value::List(items) = value else {
        return Err(error(format!(
            "expected a :txn value to be a vector of micro-ops, found {}",
            value.kind_name()
        )));
    };
    let mops = items
        .iter()
        .map(|m| match workload {
            Workload::ListAppend => list_mop(m, status == Status::Committed),
            Workload::RwRegister => register_mop(m, status == Status::Committed),
        })
        .collect::<Result<_, _>>()
        .map_err(error)?;
    Ok(Txn {
        process: op.process,
        status,
        mops,
        call_time: op.call_time,
        return_time: op.return_time.filter(|_| status == Status::Committed),
        line: op.call_line,
    })
}

/// The function, key and argument of a micro-op `[:f key arg]`.
fn mop_parts<'a>(value: &'a Value, shape: &str) -> Result<(&'a str, String, &'a Value), String> {
    let expected = || format!("expected a micro-op {shape}, found {value}");
    let Value::List(parts) = value else {
        return Err(expected());
    };
    let [Value::Keyword(f), key, arg] = &parts[..] else {
        return Err(expected());
    };
    let key = match key {
        Value::Str(s) | Value::Keyword(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        _ => {
            return Err(format!(
                "expected a key (integer, string or keyword) in {value}"
            ))
        }
    };
    Ok((f, key, arg))
}

fn list_mop(value: &Value, reads_known: bool) -> Result<Mop, String> {
    let (f, key, arg) = mop_parts(value, "[:append key value] or [:r key list]")?;
    match f {
        "append" => match arg {
            Value::Int(v) => Ok(Mop::Append { key, value: *v }),
            _ => Err(format!("expected an integer to append in {value}")),
        },
        "r" => {
            let list = match arg {
                _ if !reads_known => None,
                Value::Nil => Some(Vec::new()),
                Value::List(items) => Some(
                    items
                        .iter()
                        .map(|i| match i {
                            Value::Int(n) => Ok(*n),
                            _ => Err(format!("expected a list of integers read in {value}")),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                _ => return Err(format!("expected a list (or nil) read in {value}")),
            };
            Ok(Mop::Read { key, list })
        }
        other => Err(format!(
            "expected :append or :r as a micro-op, found :{other} in {value}"
        )),
    }
}

fn register_mop(value: &Value, reads_known: bool) -> Result<Mop, String> {
    let (f, key, arg) = mop_parts(value, "[:w key value] or [:r key value]")?;
    match (f, arg) {
        ("w", Value::Int(v)) => Ok(Mop::Write { key, value: *v }),
        ("w", _) => Err(format!("expected an integer to write in {value}")),
        ("r", _) if !reads_known => Ok(Mop::ReadRegister { key, value: None }),
        ("r", Value::Nil) => Ok(Mop::ReadRegister {
            key,
            value: Some(None),
        }),
        ("r", Value::Int(v)) => Ok(Mop::ReadRegister {
            key,
            value: Some(Some(*v)),
        }),
        ("r", _) => Err(format!("expected an integer (or nil) read in {value}")),
        (other, _) => Err(format!(
            "expected :w or :r as a micro-op, found :{other} in {value}"
        )),
    }
}
