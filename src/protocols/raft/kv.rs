//! The replicated state machine: a key-value store of strings with `get`,
//! `put`, `append` and `cas`, and the session table that makes a retried
//! command apply once.
//!
//! Invariant: for every client, `sessions[client].seq` only grows, and a
//! command whose sequence number is not above it changes nothing (it is a
//! duplicate of the last applied one, answered from the cache, or older and
//! answered `Stale`). The session table is part of the state, so snapshots
//! carry it.

use super::machine::StateMachine;
use serde::{Deserialize, Serialize};
use std::collections::{btree_map, BTreeMap};
use std::rc::Rc;

/// An immutable shared string: cloning one (into the history, a retry,
/// a log entry, the store of each replica) copies a pointer, not the text.
pub type Text = Rc<str>;

/// A client operation on the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvOp {
    /// Read a key ("" when missing).
    Get {
        /// The key.
        key: Text,
    },
    /// Replace a key's value.
    Put {
        /// The key.
        key: Text,
        /// The new value.
        value: Text,
    },
    /// Append to a key's value.
    Append {
        /// The key.
        key: Text,
        /// What to append.
        value: Text,
    },
    /// Set the key to `new` if it holds `old` (a missing key holds "").
    Cas {
        /// The key.
        key: Text,
        /// The value expected.
        old: Text,
        /// The value to set.
        new: Text,
    },
}

impl KvOp {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            KvOp::Get { key }
            | KvOp::Put { key, .. }
            | KvOp::Append { key, .. }
            | KvOp::Cas { key, .. } => key,
        }
    }
}

/// The result of applying an operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvRes {
    /// The value a `get` read.
    Value(Text),
    /// A `put`, `append` or successful `cas` took effect.
    Done,
    /// A `cas` found another value and changed nothing.
    CasFailed,
    /// An older command of a client that has moved on; not applied.
    Stale,
}

/// A client's last applied command and its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The highest sequence number applied.
    pub seq: u64,
    /// Its result, returned again to a retry.
    pub result: KvRes,
}

/// The store and its session table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kv {
    data: BTreeMap<Text, Text>,
    sessions: BTreeMap<u64, Session>,
}

impl Kv {
    /// Applies command `seq` of `client` once; a retry gets the cached result.
    pub fn apply(&mut self, client: u64, seq: u64, op: &KvOp) -> KvRes {
        let data = &mut self.data;
        apply_once(&mut self.sessions, client, seq, || execute(data, op))
    }

    /// The value of `key` ("" when missing).
    pub fn get(&self, key: &str) -> &str {
        value_of(&self.data, key)
    }
}

impl StateMachine for Kv {
    type Op = KvOp;
    type Res = KvRes;

    #[inline]
    fn apply(&mut self, session: u64, seq: u64, op: &KvOp) -> KvRes {
        Kv::apply(self, session, seq, op)
    }

    #[inline]
    fn answers(res: &KvRes) -> bool {
        *res != KvRes::Stale
    }
}

/// Runs command `seq` of `client` (`run`) once, by the session table
/// `sessions`: a retry of the last applied command gets its cached
/// result, an older command `Stale`, and neither runs. Shared by every
/// store with sessions (Raft's, a sharded store's groups).
pub fn apply_once(
    sessions: &mut BTreeMap<u64, Session>,
    client: u64,
    seq: u64,
    run: impl FnOnce() -> KvRes,
) -> KvRes {
    match sessions.entry(client) {
        btree_map::Entry::Occupied(mut e) => {
            let last = e.get_mut();
            if seq == last.seq {
                return last.result.clone();
            }
            if seq < last.seq {
                return KvRes::Stale;
            }
            let result = run();
            *last = Session {
                seq,
                result: result.clone(),
            };
            result
        }
        btree_map::Entry::Vacant(e) => {
            let result = run();
            e.insert(Session {
                seq,
                result: result.clone(),
            });
            result
        }
    }
}

fn value_of<'a>(data: &'a BTreeMap<Text, Text>, key: &str) -> &'a str {
    data.get(key).map_or("", |v| v)
}

/// Performs `op` on a store's data (a sharded store's shard, too).
pub fn execute(data: &mut BTreeMap<Text, Text>, op: &KvOp) -> KvRes {
    match op {
        KvOp::Get { key } => KvRes::Value(data.get(key).cloned().unwrap_or_default()),
        KvOp::Put { key, value } => {
            data.insert(key.clone(), value.clone());
            KvRes::Done
        }
        KvOp::Append { key, value } => {
            let old = value_of(data, key);
            let mut joined = String::with_capacity(old.len() + value.len());
            joined.push_str(old);
            joined.push_str(value);
            data.insert(key.clone(), joined.into());
            KvRes::Done
        }
        KvOp::Cas { key, old, new } => {
            if value_of(data, key) != &**old {
                return KvRes::CasFailed;
            }
            data.insert(key.clone(), new.clone());
            KvRes::Done
        }
    }
}

/// The key-value workload Raft and Multi-Paxos share: gets, puts,
/// appends and cas over `keys` keys (or gets and puts only), every written
/// value fresh, each cas expecting the last value the workload wrote.
#[derive(Clone, Debug)]
pub struct Workload {
    get_put_only: bool,
    next_value: u64,
    /// The last value the workload wrote per key, which `cas` expects.
    last_written: BTreeMap<usize, Text>,
    /// The key names, `"0"` to `keys - 1`.
    key_names: Vec<Text>,
}

impl Workload {
    /// The workload `options` describe.
    pub fn new(options: &super::WorkloadOptions) -> Self {
        Workload {
            get_put_only: options.get_put_only,
            next_value: 0,
            last_written: BTreeMap::new(),
            key_names: (0..options.keys).map(|k| k.to_string().into()).collect(),
        }
    }

    /// Workload client `client`'s next operation.
    pub fn next_op(&mut self, client: usize, rng: &mut crate::rng::SimRng) -> KvOp {
        let k = rng.index(self.key_names.len());
        let key = Text::clone(&self.key_names[k]);
        let pick = rng.below(20);
        let pick = match (self.get_put_only, pick) {
            (false, pick) => pick,
            (true, 0..10) => 0,
            (true, _) => 8,
        };
        match pick {
            0..=7 => KvOp::Get { key },
            8..=11 => {
                let value = self.fresh_value(client);
                self.last_written.insert(k, value.clone());
                KvOp::Put { key, value }
            }
            12..=16 => KvOp::Append {
                key,
                value: self.fresh_value(client),
            },
            _ => {
                let old = self.last_written.get(&k).cloned().unwrap_or_default();
                let new = self.fresh_value(client);
                self.last_written.insert(k, new.clone());
                KvOp::Cas { key, old, new }
            }
        }
    }

    /// A value never written before: `"<client>.<n> "` (the space keeps
    /// appended values apart).
    fn fresh_value(&mut self, client: usize) -> Text {
        self.next_value += 1;
        let mut digits = itoa::Buffer::new();
        let mut value = String::with_capacity(24);
        value.push_str(digits.format(client));
        value.push('.');
        value.push_str(digits.format(self.next_value));
        value.push(' ');
        value.into()
    }
}

/// How a key-value operation appears in a history: its function, key and
/// input value.
pub fn op_fields(op: &KvOp) -> crate::process::OpFields {
    use serde_json::{json, Value};
    let (f, value) = match op {
        KvOp::Get { .. } => ("get", Value::Null),
        KvOp::Put { value, .. } => ("put", json!(value)),
        KvOp::Append { value, .. } => ("append", json!(value)),
        KvOp::Cas { old, new, .. } => ("cas", json!([old, new])),
    };
    crate::process::OpFields {
        f: f.into(),
        key: Some(op.key().to_string()),
        value,
    }
}

/// A completed operation's value in a history: what a get read, else its
/// input.
pub fn result_value(op: &KvOp, res: &KvRes) -> serde_json::Value {
    match res {
        KvRes::Value(v) => serde_json::json!(v),
        _ => op_fields(op).value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(v: &str) -> KvOp {
        KvOp::Append {
            key: "k".into(),
            value: v.into(),
        }
    }

    #[test]
    fn a_retried_command_applies_once() {
        let mut kv = Kv::default();
        assert_eq!(kv.apply(7, 1, &append("a")), KvRes::Done);
        assert_eq!(kv.apply(7, 1, &append("a")), KvRes::Done);
        assert_eq!(kv.get("k"), "a");
        assert_eq!(kv.apply(7, 2, &append("b")), KvRes::Done);
        assert_eq!(kv.apply(7, 1, &append("a")), KvRes::Stale);
        assert_eq!(kv.get("k"), "ab");
    }

    #[test]
    fn cas_compares_with_missing_as_empty() {
        let mut kv = Kv::default();
        let cas = |old: &str, new: &str| KvOp::Cas {
            key: "k".into(),
            old: old.into(),
            new: new.into(),
        };
        assert_eq!(kv.apply(1, 1, &cas("x", "y")), KvRes::CasFailed);
        assert_eq!(kv.apply(1, 2, &cas("", "y")), KvRes::Done);
        assert_eq!(kv.get("k"), "y");
    }
}
