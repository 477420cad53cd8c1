//! Reading list-append transactions out of a paired history: each op of
//! `f` `txn` holds a vector of micro-ops, `[:append k v]` and `[:r k
//! list]` (Jepsen's list-append workload). Owns the shape rules and their
//! errors; the inference works on [`Txn`]s only.
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
/// invocation order, then the aborted ones.
pub fn transactions(history: &History) -> Result<Vec<Txn>, ModelError> {
    let live = history.ops.iter().map(|op| {
        let status = if op.output.is_some() {
            Status::Committed
        } else {
            Status::Unknown
        };
        txn(op, status)
    });
    let aborted = history.aborted.iter().map(|op| txn(op, Status::Aborted));
    live.chain(aborted).collect()
}

fn txn(op: &Op, status: Status) -> Result<Txn, ModelError> {
    let error = |message: String| ModelError {
        line: op.call_line,
        message,
    };
    if op.f != "txn" {
        return Err(error(format!(
            "the list-append model has only :txn operations, found :{}",
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
        .map(|m| mop(m, status == Status::Committed))
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

fn mop(value: &Value, reads_known: bool) -> Result<Mop, String> {
    let shape =
        || format!("expected a micro-op [:append key value] or [:r key list], found {value}");
    let Value::List(parts) = value else {
        return Err(shape());
    };
    let [Value::Keyword(f), key, arg] = &parts[..] else {
        return Err(shape());
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
    match f.as_str() {
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
