//! How Raft's messages, timers, operations and results enter the trace
//! hash, written out (the canonical encoding of [`crate::trace`]: an enum's
//! variant index, then its fields in order). Hand-written rather than
//! through serde for speed, since every message is hashed; a log entry is
//! its term and its command's fingerprint, so an AppendEntries does not
//! hash the commands it carries again. A snapshot, rare, goes through its
//! serde encoding. The generic types hash a machine's commands and results
//! through their own [`TraceHash`].

use super::kv::{KvOp, KvRes};
use super::log::{Command, Entry, Snapshot};
use super::machine::StateMachine;
use super::messages::{Answer, Msg, Timer};
use crate::trace::{TraceHash, TraceHasher};

impl TraceHash for KvOp {
    fn trace_hash(&self, h: &mut TraceHasher) {
        match self {
            KvOp::Get { key } => {
                h.word(0);
                key.trace_hash(h);
            }
            KvOp::Put { key, value } => {
                h.word(1);
                key.trace_hash(h);
                value.trace_hash(h);
            }
            KvOp::Append { key, value } => {
                h.word(2);
                key.trace_hash(h);
                value.trace_hash(h);
            }
            KvOp::Cas { key, old, new } => {
                h.word(3);
                key.trace_hash(h);
                old.trace_hash(h);
                new.trace_hash(h);
            }
        }
    }
}

impl TraceHash for KvRes {
    fn trace_hash(&self, h: &mut TraceHasher) {
        match self {
            KvRes::Value(value) => {
                h.word(0);
                value.trace_hash(h);
            }
            KvRes::Done => h.word(1),
            KvRes::CasFailed => h.word(2),
            KvRes::Stale => h.word(3),
        }
    }
}

impl<S: StateMachine> TraceHash for Command<S> {
    fn trace_hash(&self, h: &mut TraceHasher) {
        match self {
            Command::Noop => h.word(0),
            Command::Client {
                from,
                session,
                seq,
                op,
            } => {
                h.word(1);
                (from, session, seq).trace_hash(h);
                op.trace_hash(h);
            }
        }
    }
}

impl<S: StateMachine> TraceHash for Entry<S> {
    fn trace_hash(&self, h: &mut TraceHasher) {
        h.word(self.term);
        h.word(self.fingerprint());
    }
}

impl<S: StateMachine> TraceHash for Snapshot<S> {
    fn trace_hash(&self, h: &mut TraceHasher) {
        h.serde(self);
    }
}

impl<S: StateMachine> TraceHash for Answer<S> {
    fn trace_hash(&self, h: &mut TraceHasher) {
        match self {
            Answer::Applied(res) => {
                h.word(0);
                res.trace_hash(h);
            }
            Answer::NotLeader { hint } => {
                h.word(1);
                hint.trace_hash(h);
            }
        }
    }
}

impl TraceHash for Timer {
    fn trace_hash(&self, h: &mut TraceHasher) {
        h.word(match self {
            Timer::Election => 0,
            Timer::Heartbeat => 1,
            Timer::Quorum => 2,
            Timer::ClientRetry => 3,
        });
    }
}

impl<S: StateMachine> TraceHash for Msg<S> {
    fn trace_hash(&self, h: &mut TraceHasher) {
        match self {
            Msg::Vote {
                term,
                last_index,
                last_term,
                pre_vote,
            } => {
                h.word(0);
                (term, last_index, last_term, pre_vote).trace_hash(h);
            }
            Msg::VoteReply {
                term,
                granted,
                pre_vote,
            } => {
                h.word(1);
                (term, granted, pre_vote).trace_hash(h);
            }
            Msg::Append {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
            } => {
                h.word(2);
                (term, prev_index, prev_term, entries, commit).trace_hash(h);
            }
            Msg::AppendReply {
                term,
                success,
                match_index,
                conflict_term,
            } => {
                h.word(3);
                (term, success, match_index, conflict_term).trace_hash(h);
            }
            Msg::InstallSnapshot { term, snapshot } => {
                h.word(4);
                (term, snapshot).trace_hash(h);
            }
            Msg::SnapshotReply { term, last_index } => {
                h.word(5);
                (term, last_index).trace_hash(h);
            }
            Msg::Request { session, seq, op } => {
                h.word(6);
                (session, seq, op).trace_hash(h);
            }
            Msg::Response { seq, outcome } => {
                h.word(7);
                (seq, outcome).trace_hash(h);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::NodeId;
    use crate::protocols::raft::kv::Kv;
    use std::rc::Rc;

    fn both(value: &(impl TraceHash + serde::Serialize)) -> (u64, u64) {
        let (mut by_impl, mut by_serde) = (TraceHasher::default(), TraceHasher::default());
        by_impl.value(value);
        by_serde.serde(value);
        (by_impl.finish(), by_serde.finish())
    }

    /// The hand-written impls write what serde's derive wrote before them,
    /// so every Raft run keeps its trace hash (kept true for every type
    /// that still derives `Serialize`).
    #[test]
    fn hand_written_impls_match_the_serde_encoding() {
        let op = KvOp::Cas {
            key: "k".into(),
            old: "a".into(),
            new: "b".into(),
        };
        let (a, b) = both(&op);
        assert_eq!(a, b);
        let (a, b) = both(&KvRes::Value("v".into()));
        assert_eq!(a, b);
        let (a, b) = both(&Answer::<Kv>::NotLeader {
            hint: Some(NodeId(2)),
        });
        assert_eq!(a, b);
        let (a, b) = both(&Timer::ClientRetry);
        assert_eq!(a, b);
        let msgs: [Msg; 3] = [
            Msg::Request {
                session: 1,
                seq: 2,
                op: Rc::new(op),
            },
            Msg::AppendReply {
                term: 3,
                success: false,
                match_index: 4,
                conflict_term: Some(2),
            },
            Msg::Response {
                seq: 9,
                outcome: Answer::Applied(KvRes::Done),
            },
        ];
        for msg in &msgs {
            let (a, b) = both(msg);
            assert_eq!(a, b, "{msg:?}");
        }
    }

    /// A key-value snapshot serializes as it did before the server was
    /// generic: its state under the name `kv`.
    #[test]
    fn a_kv_snapshot_keeps_its_wire_names() {
        let snapshot: Snapshot = Snapshot {
            last_index: 1,
            last_term: 1,
            state: Kv::default(),
        };
        let json = serde_json::to_string(&snapshot).expect("serializes");
        assert_eq!(
            json,
            r#"{"last_index":1,"last_term":1,"kv":{"data":{},"sessions":{}}}"#
        );
    }

    /// Messages serialize for a real network, commands and all, and an
    /// entry read back has the fingerprint it was sent with.
    #[test]
    fn an_append_round_trips_through_json_with_its_commands() {
        let cmd: Command = Command::Client {
            from: 7,
            session: 3,
            seq: 1,
            op: KvOp::Put {
                key: "x".into(),
                value: "hello".into(),
            },
        };
        let msg = Msg::Append {
            term: 2,
            prev_index: 0,
            prev_term: 0,
            entries: vec![Entry::new(2, cmd), Entry::new(2, Command::Noop)],
            commit: 0,
        };
        let json = serde_json::to_string(&msg).expect("serializes");
        assert!(json.contains("hello"), "the command is on the wire: {json}");
        assert!(!json.contains("fingerprint"), "{json}");
        let back: Msg = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, msg);
        let (mut sent, mut read) = (TraceHasher::default(), TraceHasher::default());
        sent.value(&msg);
        read.value(&back);
        assert_eq!(sent.finish(), read.finish());
    }
}
