//! A node's durable storage: what survives a crash.
//!
//! Writes go to a pending list (the OS page cache); [`Disk::sync`] makes them
//! durable. A crash discards what was written but not synced. Keys are a
//! static namespace plus an index (`("log", 42)`, `("term", 0)`), ordered, so
//! a node can read back a whole log in order on restart without allocating
//! a string per entry.

use std::collections::VecDeque;

/// A key in a node's durable store: a namespace, a part of it, and an
/// index within that part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DiskKey {
    /// The namespace, e.g. `"log"`.
    pub space: &'static str,
    /// The part of the namespace (a partition of a partitioned log, each
    /// kept apart so that every part's appends land at its end); 0 for a
    /// namespace in one part.
    pub part: u32,
    /// The index within the part, e.g. a log index; 0 for singletons.
    pub index: u64,
}

impl DiskKey {
    /// The key `index` in `space` (its part 0).
    pub const fn new(space: &'static str, index: u64) -> Self {
        DiskKey {
            space,
            part: 0,
            index,
        }
    }
    /// The key `index` in part `part` of `space`.
    pub const fn in_part(space: &'static str, part: u32, index: u64) -> Self {
        DiskKey { space, part, index }
    }
    /// The single key of a namespace that holds one value (index 0).
    pub const fn single(space: &'static str) -> Self {
        DiskKey::new(space, 0)
    }
}

/// A node's durable store. Invariant: `spaces` is exactly what a crash now
/// would leave; `pending` holds unsynced changes in the order they were made.
#[derive(Clone, Debug)]
pub struct Disk<V> {
    /// Durable values by namespace (a handful per protocol, searched in order).
    spaces: Vec<Space<V>>,
    pending: Vec<Change<V>>,
    syncs: u64,
}

/// The durable values of one part of a namespace, sorted by index (unique).
///
/// A sorted deque rather than a tree: protocols write mostly at increasing
/// indices (logs) and delete from the front (compaction), which here are
/// a push and a drain; lookups are binary searches. A write or delete in
/// the middle shifts the shorter side.
#[derive(Clone, Debug)]
struct Space<V> {
    name: &'static str,
    part: u32,
    values: VecDeque<(u64, V)>,
}

impl<V> Space<V> {
    /// Where `index` is (`Ok`) or would go (`Err`).
    fn find(&self, index: u64) -> Result<usize, usize> {
        match self.values.back() {
            Some((last, _)) if *last < index => Err(self.values.len()),
            None => Err(0),
            _ => self.values.binary_search_by_key(&index, |(i, _)| *i),
        }
    }

    fn get(&self, index: u64) -> Option<&V> {
        self.find(index).ok().map(|at| &self.values[at].1)
    }

    fn insert(&mut self, index: u64, value: V) {
        let found = self.find(index);
        match found {
            Ok(at) => self.values[at].1 = value,
            // Logs append: at the end, a push (no shifting, no wrap copy).
            Err(at) if at == self.values.len() => self.values.push_back((index, value)),
            Err(at) => self.values.insert(at, (index, value)),
        }
        if let Err(at) = found {
            self.assert_sorted_around(at);
        }
    }

    /// The invariant: indices strictly increase; checked around a new one.
    fn assert_sorted_around(&self, at: usize) {
        let index = self.values[at].0;
        let before = at.checked_sub(1).map(|b| self.values[b].0);
        let after = self.values.get(at + 1).map(|(i, _)| *i);
        assert!(
            before.is_none_or(|b| b < index) && after.is_none_or(|a| index < a),
            "disk space {:?} part {}: index {index} inserted out of order",
            self.name,
            self.part
        );
    }

    fn remove(&mut self, index: u64) {
        if let Ok(at) = self.find(index) {
            self.values.remove(at);
        }
    }

    /// Removes the indices in `from..=to`.
    fn remove_range(&mut self, from: u64, to: u64) {
        let lo = self.values.partition_point(|(i, _)| *i < from);
        let hi = self.values.partition_point(|(i, _)| *i <= to);
        if lo < hi {
            self.values.drain(lo..hi);
        }
    }
}

/// An unsynced change.
#[derive(Clone, Debug)]
enum Change<V> {
    Write(DiskKey, V),
    Delete(DiskKey),
    /// Every index of the namespace's part 0 in `from..=to`.
    DeleteRange(&'static str, u64, u64),
}

/// Durable storage as a process's [`crate::process::Ctx`] writes to it:
/// the simulator's [`Disk`], or a driver's own store on a real machine.
/// Writes and deletes are lost on a crash until [`Storage::sync`] returns;
/// a sync makes every earlier change durable before the handler goes on.
pub trait Storage<V> {
    /// Writes `value` at `key`.
    fn write(&mut self, key: DiskKey, value: V);
    /// Deletes `key`.
    fn delete(&mut self, key: DiskKey);
    /// Deletes every index of `space` (its part 0) in `from..=to`.
    fn delete_range(&mut self, space: &'static str, from: u64, to: u64);
    /// Makes every change so far durable (an fsync). On failure nothing
    /// since the last good sync is known to be durable (after a failed
    /// fsync the kernel may have dropped the dirty pages: retrying is not
    /// enough, see PostgreSQL's fsyncgate).
    fn sync(&mut self) -> Result<(), SyncFailed>;
}

/// A sync that failed: the writes since the last good sync may be lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the sync failed: the writes since the last good sync may be lost")]
pub struct SyncFailed;

impl<V: Clone> Storage<V> for Disk<V> {
    #[inline]
    fn write(&mut self, key: DiskKey, value: V) {
        Disk::write(self, key, value);
    }
    #[inline]
    fn delete(&mut self, key: DiskKey) {
        Disk::delete(self, key);
    }
    #[inline]
    fn delete_range(&mut self, space: &'static str, from: u64, to: u64) {
        Disk::delete_range(self, space, from, to);
    }
    #[inline]
    fn sync(&mut self) -> Result<(), SyncFailed> {
        Disk::sync(self);
        Ok(())
    }
}

impl<V> Default for Disk<V> {
    fn default() -> Self {
        Disk {
            spaces: Vec::new(),
            pending: Vec::new(),
            syncs: 0,
        }
    }
}

impl<V: Clone> Disk<V> {
    /// Where part `part` of the namespace `name` is: keys of one namespace
    /// almost always share one `&'static str`, so pointers are compared
    /// before text.
    fn position(&self, name: &'static str, part: u32) -> Option<usize> {
        let spaces = &self.spaces;
        spaces
            .iter()
            .position(|s| s.part == part && std::ptr::eq(s.name, name))
            .or_else(|| spaces.iter().position(|s| s.part == part && s.name == name))
    }

    fn space(&self, name: &'static str, part: u32) -> Option<&Space<V>> {
        self.position(name, part).map(|at| &self.spaces[at])
    }

    fn space_mut(&mut self, name: &'static str, part: u32) -> &mut Space<V> {
        let at = match self.position(name, part) {
            Some(at) => at,
            None => {
                self.spaces.push(Space {
                    name,
                    part,
                    values: VecDeque::new(),
                });
                self.spaces.len() - 1
            }
        };
        &mut self.spaces[at]
    }

    /// The durable value at `key`, as a restart would see it.
    pub fn get(&self, key: DiskKey) -> Option<&V> {
        self.space(key.space, key.part)?.get(key.index)
    }

    /// Every durable `(index, value)` in `space` (its part 0), in index
    /// order.
    pub fn scan(&self, space: &'static str) -> impl Iterator<Item = (u64, &V)> + '_ {
        self.scan_part(space, 0)
    }

    /// Every durable `(index, value)` in part `part` of `space`, in index
    /// order.
    pub fn scan_part(
        &self,
        space: &'static str,
        part: u32,
    ) -> impl Iterator<Item = (u64, &V)> + '_ {
        self.space(space, part)
            .into_iter()
            .flat_map(|s| s.values.iter().map(|(i, v)| (*i, v)))
    }

    /// Every durable space: its name, part and values in index order.
    pub(super) fn durable_spaces(
        &self,
    ) -> impl Iterator<Item = (&'static str, u32, impl Iterator<Item = (u64, &V)>)> {
        self.spaces
            .iter()
            .map(|s| (s.name, s.part, s.values.iter().map(|(i, v)| (*i, v))))
    }

    /// Writes `value` at `key`; lost on a crash unless synced.
    pub fn write(&mut self, key: DiskKey, value: V) {
        self.pending.push(Change::Write(key, value));
    }

    /// Deletes `key`; undone by a crash unless synced.
    pub fn delete(&mut self, key: DiskKey) {
        self.pending.push(Change::Delete(key));
    }

    /// Deletes every index of `space` (its part 0) in `from..=to` (durable
    /// or written before this call); undone by a crash unless synced.
    pub fn delete_range(&mut self, space: &'static str, from: u64, to: u64) {
        self.pending.push(Change::DeleteRange(space, from, to));
    }

    /// Makes every pending change durable, in order.
    pub fn sync(&mut self) {
        self.make_durable(usize::MAX);
        self.syncs += 1;
    }

    /// Makes the first `count` pending changes durable, in order, and
    /// keeps the rest pending.
    fn make_durable(&mut self, count: usize) {
        let mut pending = std::mem::take(&mut self.pending);
        let count = count.min(pending.len());
        for change in pending.drain(..count) {
            match change {
                Change::Write(key, value) => {
                    self.space_mut(key.space, key.part).insert(key.index, value)
                }
                Change::Delete(key) => self.space_mut(key.space, key.part).remove(key.index),
                Change::DeleteRange(space, from, to) => {
                    self.space_mut(space, 0).remove_range(from, to)
                }
            }
        }
        self.pending = pending; // what is left; its buffer is reused
    }

    /// Discards unsynced writes, as a crash does.
    pub fn crash(&mut self) {
        self.pending.clear();
    }

    /// A crash that tears the unsynced writes: the first `kept` of them,
    /// in write order, reached the disk; the rest are discarded.
    pub fn crash_keeping(&mut self, kept: usize) {
        self.make_durable(kept);
        self.pending.clear();
    }

    /// Number of changes not yet synced.
    pub fn unsynced(&self) -> usize {
        self.pending.len()
    }

    /// Number of syncs since the run began.
    pub fn syncs(&self) -> u64 {
        self.syncs
    }

    /// Number of durable keys.
    pub fn len(&self) -> usize {
        self.spaces.iter().map(|s| s.values.len()).sum()
    }

    /// True when nothing is durable.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn crash_loses_unsynced_writes_only() {
        let mut disk = Disk::default();
        disk.write(DiskKey::single("term"), 1u64);
        disk.sync();
        disk.write(DiskKey::single("term"), 2);
        disk.write(DiskKey::new("log", 1), 10);
        disk.crash();
        assert_eq!(disk.get(DiskKey::single("term")), Some(&1));
        assert_eq!(disk.scan("log").count(), 0);
    }

    #[test]
    fn delete_range_covers_pending_and_synced() {
        let mut disk = Disk::default();
        for i in 1..=5 {
            disk.write(DiskKey::new("log", i), i);
        }
        disk.sync();
        disk.write(DiskKey::new("log", 6), 6);
        disk.delete_range("log", 3, 6);
        disk.sync();
        let left: Vec<u64> = disk.scan("log").map(|(i, _)| i).collect();
        assert_eq!(left, vec![1, 2]);
    }

    /// One change to a disk, over two namespaces of two parts each and a
    /// few indices (ranges are deleted from part 0).
    #[derive(Clone, Debug)]
    enum Step {
        Write(bool, u32, u64, u8),
        Delete(bool, u32, u64),
        DeleteRange(bool, u64, u64),
        Sync,
        Crash,
    }

    fn space(first: bool) -> &'static str {
        if first {
            "log"
        } else {
            "meta"
        }
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (any::<bool>(), 0u32..2, 0u64..8, any::<u8>())
                .prop_map(|(s, p, i, v)| Step::Write(s, p, i, v)),
            (any::<bool>(), 0u32..2, 0u64..8).prop_map(|(s, p, i)| Step::Delete(s, p, i)),
            (any::<bool>(), 0u64..8, prop_oneof![0u64..8, Just(u64::MAX)])
                .prop_map(|(s, a, b)| Step::DeleteRange(s, a, b)),
            Just(Step::Sync),
            Just(Step::Crash),
        ]
    }

    proptest! {
        /// The disk agrees with a naive model: a map of durable values plus
        /// a list of pending changes replayed in order at each sync.
        #[test]
        fn matches_a_naive_model(steps in proptest::collection::vec(step(), 0..60)) {
            let mut disk = Disk::default();
            let mut durable: BTreeMap<(&'static str, u32, u64), u8> = BTreeMap::new();
            let mut pending: Vec<Step> = Vec::new();
            for step in steps {
                match step {
                    Step::Write(s, p, i, v) => disk.write(DiskKey::in_part(space(s), p, i), v),
                    Step::Delete(s, p, i) => disk.delete(DiskKey::in_part(space(s), p, i)),
                    Step::DeleteRange(s, a, b) => disk.delete_range(space(s), a, b),
                    Step::Sync => disk.sync(),
                    Step::Crash => disk.crash(),
                }
                match step {
                    Step::Sync => {
                        for change in pending.drain(..) {
                            match change {
                                Step::Write(s, p, i, v) => { durable.insert((space(s), p, i), v); }
                                Step::Delete(s, p, i) => { durable.remove(&(space(s), p, i)); }
                                Step::DeleteRange(s, a, b) => {
                                    durable.retain(|(sp, p, i), _| {
                                        *sp != space(s) || *p != 0 || !(a..=b).contains(i)
                                    });
                                }
                                Step::Sync | Step::Crash => {}
                            }
                        }
                    }
                    Step::Crash => pending.clear(),
                    change => pending.push(change),
                }
                prop_assert_eq!(disk.unsynced(), pending.len());
                prop_assert_eq!(disk.len(), durable.len());
                for (first, part) in [(true, 0), (true, 1), (false, 0), (false, 1)] {
                    let got: Vec<(u64, u8)> = disk
                        .scan_part(space(first), part)
                        .map(|(i, v)| (i, *v))
                        .collect();
                    let want: Vec<(u64, u8)> = durable
                        .iter()
                        .filter(|((sp, p, _), _)| *sp == space(first) && *p == part)
                        .map(|((_, _, i), v)| (*i, *v))
                        .collect();
                    prop_assert_eq!(got, want);
                }
            }
        }
    }
}
