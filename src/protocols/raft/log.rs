//! A node's Raft log: entries after the compaction point, and that point's
//! index and term (called the snapshot boundary: the node's latest
//! snapshot covers at least `1..=snapshot_index`, and may cover more when a
//! leader keeps entries its followers still need).
//!
//! Invariants: entry `i` of `entries` has log index `snapshot_index + 1 + i`;
//! terms never decrease along the log; the indices `1..=snapshot_index` are
//! all committed.

use super::kv::Kv;
use super::machine::StateMachine;
use crate::trace::TraceHasher;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// What an entry asks the state machine to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub enum Command<S: StateMachine = Kv> {
    /// A leader's first entry of its term (§8: it lets the leader commit,
    /// and so learn the commit index, early in its term).
    Noop,
    /// A client's operation, with its session.
    Client {
        /// The client process that sent it (for the reply).
        from: u32,
        /// The client's session id.
        session: u64,
        /// The client's sequence number for this command.
        seq: u64,
        /// The operation.
        op: S::Op,
    },
}

impl<S: StateMachine> Command<S> {
    /// A small digest that tells different commands apart, for the ghost
    /// checks (a session's command is fixed by `session` and `seq`).
    pub fn digest(&self) -> u64 {
        match self {
            Command::Noop => 0,
            Command::Client { session, seq, .. } => {
                session.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seq.wrapping_add(1)
            }
        }
    }
}

/// One log entry. The command is shared (`Rc`): the log, the disk and every
/// AppendEntries that carries the entry hold the same one, so replicating
/// an entry copies no strings. It serializes as its term and command (what
/// a real network would carry); in the trace hash it is its term and the
/// command's fingerprint, computed once here, so an AppendEntries does not
/// hash the commands it carries again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "EntryOnTheWire<S>", bound = "")]
pub struct Entry<S: StateMachine = Kv> {
    /// The term of the leader that created it.
    pub term: u64,
    /// The command.
    pub cmd: Rc<Command<S>>,
    /// The command's fingerprint in the trace hash.
    #[serde(skip_serializing)]
    fingerprint: u64,
}

/// An entry as it is serialized: its fingerprint is computed again when it
/// is read.
#[derive(Deserialize)]
#[serde(bound = "")]
struct EntryOnTheWire<S: StateMachine> {
    term: u64,
    cmd: Command<S>,
}

impl<S: StateMachine> From<EntryOnTheWire<S>> for Entry<S> {
    fn from(wire: EntryOnTheWire<S>) -> Self {
        Entry::new(wire.term, wire.cmd)
    }
}

impl<S: StateMachine> Entry<S> {
    /// An entry of `term` carrying `cmd`.
    pub fn new(term: u64, cmd: Command<S>) -> Self {
        let mut hasher = TraceHasher::default();
        hasher.value(&cmd);
        Entry {
            term,
            cmd: Rc::new(cmd),
            fingerprint: hasher.finish(),
        }
    }

    /// The command's fingerprint: what the trace hash holds of it.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

/// A snapshot of the state machine after applying `1..=last_index`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Snapshot<S: StateMachine = Kv> {
    /// The last index it covers.
    pub last_index: u64,
    /// The term of that entry.
    pub last_term: u64,
    /// The state machine (for [`Kv`]: store and sessions) after it. Named
    /// `kv` on the wire, as before the server was generic, so a Kv
    /// snapshot serializes as it always did.
    #[serde(rename = "kv")]
    pub state: S,
}

/// The log of one node.
#[derive(Clone, Debug, Default)]
pub struct Log<S: StateMachine = Kv> {
    snapshot_index: u64,
    snapshot_term: u64,
    entries: Vec<Entry<S>>,
}

impl<S: StateMachine> Log<S> {
    /// An empty log that starts after a snapshot at `index`/`term`.
    pub fn after(index: u64, term: u64) -> Self {
        Log {
            snapshot_index: index,
            snapshot_term: term,
            entries: Vec::new(),
        }
    }

    /// The last index the snapshot covers (0: none).
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_index
    }

    /// The term of the last entry the snapshot covers.
    pub fn snapshot_term(&self) -> u64 {
        self.snapshot_term
    }

    /// The index of the last entry (or of the snapshot).
    pub fn last_index(&self) -> u64 {
        self.snapshot_index + self.entries.len() as u64
    }

    /// The term of the last entry (or of the snapshot).
    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// The term at `index`, if the log (or its snapshot boundary) knows it.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.entry(index).map(|e| e.term)
    }

    /// The entry at `index`, if held (not compacted, not beyond the end).
    pub fn entry(&self, index: u64) -> Option<&Entry<S>> {
        if index <= self.snapshot_index {
            return None;
        }
        self.entries.get((index - self.snapshot_index - 1) as usize)
    }

    /// Up to `max` entries from `from` on (which must be after the snapshot).
    pub fn slice(&self, from: u64, max: usize) -> Vec<Entry<S>> {
        assert!(from > self.snapshot_index, "slice from a compacted index");
        let start = (from - self.snapshot_index - 1) as usize;
        let end = (start + max).min(self.entries.len());
        self.entries
            .get(start..end)
            .map_or(Vec::new(), <[Entry<S>]>::to_vec)
    }

    /// Appends one entry at `last_index() + 1`.
    // Hot (every entry a node logs). Once the log became generic LLVM
    // stopped inlining it into the handlers, which cost 0.4% more
    // instructions on a 60 s Raft run (callgrind); inlined, the run is back
    // within 0.2% of the non-generic server.
    #[inline(always)]
    pub fn push(&mut self, entry: Entry<S>) {
        assert!(
            entry.term >= self.last_term(),
            "log terms must not decrease"
        );
        self.entries.push(entry);
    }

    /// Drops every entry at `from` and after (`from` must be after the snapshot).
    pub fn truncate_from(&mut self, from: u64) {
        assert!(from > self.snapshot_index, "truncating into the snapshot");
        self.entries
            .truncate((from - self.snapshot_index - 1) as usize);
    }

    /// Forgets entries up to `index` (held and committed), which a snapshot now covers.
    pub fn compact_to(&mut self, index: u64) {
        let Some(term) = self.term_at(index) else {
            panic!("compacting to index {index}, which the log does not hold");
        };
        let drop = (index - self.snapshot_index) as usize;
        self.entries.drain(..drop);
        self.snapshot_index = index;
        self.snapshot_term = term;
    }

    /// The first index of the term at `index`'s term, scanning back no
    /// further than the snapshot (for the conflict hint of §5.3's fast back-off).
    pub fn first_index_of_term(&self, index: u64) -> u64 {
        let Some(term) = self.term_at(index) else {
            return index;
        };
        let mut first = index;
        while first > self.snapshot_index + 1 && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// The last index holding an entry of `term`, if any is held.
    pub fn last_index_of_term(&self, term: u64) -> Option<u64> {
        (self.snapshot_index + 1..=self.last_index())
            .rev()
            .find(|&i| self.term_at(i) == Some(term))
    }

    /// Whether a log ending at (`index`, `term`) is at least as up to date as
    /// this one (§5.4.1: later last term wins, then the longer log).
    pub fn is_up_to_date(&self, index: u64, term: u64) -> bool {
        term > self.last_term() || (term == self.last_term() && index >= self.last_index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(term: u64) -> Entry {
        Entry::new(term, Command::Noop)
    }

    #[test]
    fn indices_survive_compaction() {
        let mut log = Log::default();
        for t in [1, 1, 2, 2, 3] {
            log.push(entry(t));
        }
        log.compact_to(3);
        assert_eq!(log.last_index(), 5);
        assert_eq!(log.term_at(3), Some(2));
        assert_eq!(log.term_at(2), None);
        assert_eq!(log.first_index_of_term(4), 4);
        assert_eq!(log.slice(4, 10).len(), 2);
        log.truncate_from(5);
        assert_eq!(log.last_index(), 4);
        assert_eq!(log.last_term(), 2);
    }

    #[test]
    fn up_to_date_compares_last_term_then_length() {
        let mut log = Log::default();
        log.push(entry(1));
        log.push(entry(2));
        assert!(log.is_up_to_date(1, 3));
        assert!(log.is_up_to_date(2, 2));
        assert!(!log.is_up_to_date(5, 1));
        assert!(!log.is_up_to_date(1, 2));
    }
}
