//! A node's durable storage: what survives a crash.
//!
//! Writes go to a pending list (the OS page cache); [`Disk::sync`] makes them
//! durable. A crash discards what was written but not synced. Keys are a
//! static namespace plus an index (`("log", 42)`, `("term", 0)`), ordered, so
//! a node can read back a whole log in order on restart without allocating
//! a string per entry.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A key in a node's durable store: a namespace and an index within it.
/// Ordered by namespace, then index.
#[derive(Clone, Copy, Debug)]
pub struct DiskKey {
    /// The namespace, e.g. `"log"`.
    pub space: &'static str,
    /// The index within the namespace, e.g. a log index; 0 for singletons.
    pub index: u64,
}

impl PartialEq for DiskKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DiskKey {}

impl PartialOrd for DiskKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DiskKey {
    /// Namespace, then index. Keys of one namespace almost always share the
    /// same `&'static str`, so equal pointers skip the string comparison
    /// (this is on the path of every durable write).
    fn cmp(&self, other: &Self) -> Ordering {
        let same_space = std::ptr::eq(self.space, other.space);
        if !same_space {
            let by_space = self.space.cmp(other.space);
            if by_space != Ordering::Equal {
                return by_space;
            }
        }
        self.index.cmp(&other.index)
    }
}

impl DiskKey {
    /// The key `index` in `space`.
    pub const fn new(space: &'static str, index: u64) -> Self {
        DiskKey { space, index }
    }
    /// The single key of a namespace that holds one value (index 0).
    pub const fn single(space: &'static str) -> Self {
        DiskKey { space, index: 0 }
    }
}

/// A node's durable store. Invariant: `synced` is exactly what a crash now
/// would leave; `pending` holds unsynced writes in the order they were made.
#[derive(Clone, Debug)]
pub struct Disk<V> {
    synced: BTreeMap<DiskKey, V>,
    pending: Vec<(DiskKey, Option<V>)>,
    syncs: u64,
}

impl<V> Default for Disk<V> {
    fn default() -> Self {
        Disk {
            synced: BTreeMap::new(),
            pending: Vec::new(),
            syncs: 0,
        }
    }
}

impl<V: Clone> Disk<V> {
    /// The durable value at `key`, as a restart would see it.
    pub fn get(&self, key: DiskKey) -> Option<&V> {
        self.synced.get(&key)
    }

    /// Every durable `(index, value)` in `space`, in index order.
    pub fn scan(&self, space: &'static str) -> impl Iterator<Item = (u64, &V)> + '_ {
        let lo = DiskKey::new(space, 0);
        let hi = DiskKey::new(space, u64::MAX);
        self.synced.range(lo..=hi).map(|(k, v)| (k.index, v))
    }

    /// Writes `value` at `key`; lost on a crash unless synced.
    pub fn write(&mut self, key: DiskKey, value: V) {
        self.pending.push((key, Some(value)));
    }

    /// Deletes `key`; undone by a crash unless synced.
    pub fn delete(&mut self, key: DiskKey) {
        self.pending.push((key, None));
    }

    /// Deletes every index of `space` in `from..=to`; undone by a crash unless synced.
    pub fn delete_range(&mut self, space: &'static str, from: u64, to: u64) {
        let keys: Vec<DiskKey> = self
            .synced
            .range(DiskKey::new(space, from)..=DiskKey::new(space, to))
            .map(|(k, _)| *k)
            .chain(
                self.pending
                    .iter()
                    .map(|(k, _)| *k)
                    .filter(|k| k.space == space && (from..=to).contains(&k.index)),
            )
            .collect();
        for key in keys {
            self.delete(key);
        }
    }

    /// Makes every pending write durable, in order.
    pub fn sync(&mut self) {
        for (key, value) in self.pending.drain(..) {
            match value {
                Some(v) => self.synced.insert(key, v),
                None => self.synced.remove(&key),
            };
        }
        self.syncs += 1;
    }

    /// Discards unsynced writes, as a crash does.
    pub fn crash(&mut self) {
        self.pending.clear();
    }

    /// Number of writes not yet synced.
    pub fn unsynced(&self) -> usize {
        self.pending.len()
    }

    /// Number of syncs since the run began.
    pub fn syncs(&self) -> u64 {
        self.syncs
    }

    /// Number of durable keys.
    pub fn len(&self) -> usize {
        self.synced.len()
    }

    /// True when nothing is durable.
    pub fn is_empty(&self) -> bool {
        self.synced.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
