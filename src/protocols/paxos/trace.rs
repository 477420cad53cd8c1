//! How Multi-Paxos's messages and timers enter the trace hash: field by
//! field, as Raft's do (hashing them through serde cost a tenth of a
//! long run's time). A store travels rarely (snapshots) and goes through
//! serde.

use super::{Ballot, Cmd, Msg, Timer};
use crate::protocols::raft::kv::Kv;
use crate::trace::{TraceHash, TraceHasher};

impl TraceHash for Ballot {
    fn trace_hash(&self, h: &mut TraceHasher) {
        (self.round, self.node).trace_hash(h);
    }
}

impl TraceHash for Cmd {
    fn trace_hash(&self, h: &mut TraceHasher) {
        match self {
            Cmd::Noop => h.word(0),
            Cmd::Op { session, seq, op } => {
                h.word(1);
                (session, seq, op).trace_hash(h);
            }
        }
    }
}

/// A snapshot's store, through serde.
struct Store<'a>(&'a Kv);

impl TraceHash for Store<'_> {
    fn trace_hash(&self, h: &mut TraceHasher) {
        h.serde(self.0);
    }
}

impl TraceHash for Timer {
    fn trace_hash(&self, h: &mut TraceHasher) {
        h.word(match self {
            Timer::Tick => 0,
            Timer::ClientRetry => 1,
        });
    }
}

impl TraceHash for Msg {
    fn trace_hash(&self, h: &mut TraceHasher) {
        match self {
            Msg::Request { session, seq, op } => {
                h.word(0);
                (session, seq, op).trace_hash(h);
            }
            Msg::Response { seq, outcome } => {
                h.word(1);
                (seq, outcome).trace_hash(h);
            }
            Msg::Probe { ballot } => {
                h.word(2);
                ballot.trace_hash(h);
            }
            Msg::ProbeOk { ballot } => {
                h.word(3);
                ballot.trace_hash(h);
            }
            Msg::Prepare { ballot, from } => {
                h.word(4);
                (ballot, from).trace_hash(h);
            }
            Msg::Promise {
                ballot,
                accepted,
                snapshot,
            } => {
                h.word(5);
                (ballot, accepted).trace_hash(h);
                let snapshot = snapshot.as_ref().map(|(slot, kv)| (*slot, Store(kv)));
                snapshot.trace_hash(h);
            }
            Msg::Accept {
                ballot,
                entries,
                chosen,
            } => {
                h.word(6);
                (ballot, entries, chosen).trace_hash(h);
            }
            Msg::Accepted { ballot, slots } => {
                h.word(7);
                (ballot, slots).trace_hash(h);
            }
            Msg::Nack { promised } => {
                h.word(8);
                promised.trace_hash(h);
            }
            Msg::Heartbeat { ballot, chosen } => {
                h.word(9);
                (ballot, chosen).trace_hash(h);
            }
            Msg::Learn { from } => {
                h.word(10);
                from.trace_hash(h);
            }
            Msg::Snapshot { slot, kv } => {
                h.word(11);
                (slot, Store(kv)).trace_hash(h);
            }
            Msg::Chosen { entries } => {
                h.word(12);
                entries.trace_hash(h);
            }
        }
    }
}
