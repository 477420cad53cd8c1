//! The first value seen at each offset of one partition: a vector indexed
//! by offset while the offsets seen are dense from 0 (a log's are), a map
//! for any far beyond. A run's checker records hundreds of thousands of
//! offsets; a vector slot is 16 bytes and no search, a tree entry several
//! times that.

use std::collections::BTreeMap;

/// An offset extends the vector only while at least half its slots would
/// hold a value (plus this slack): sparse offsets (a history from a file
/// may have any) cannot make it large.
const SLACK: u64 = 64;

/// The values of one partition's offsets. Invariant: every offset in
/// `sparse` is at least `dense.len()`; `filled` counts `dense`'s values.
#[derive(Clone, Debug, Default)]
pub struct Column {
    dense: Vec<Option<i64>>,
    filled: u64,
    sparse: BTreeMap<u64, i64>,
}

impl Column {
    /// The value first seen at `offset`; `value` becomes it if none was.
    pub fn first_or_insert(&mut self, offset: u64, value: i64) -> i64 {
        let len = self.dense.len() as u64;
        if offset >= len && offset < 2 * (self.filled + 1) + SLACK {
            self.extend_to(offset + 1);
        }
        match self.dense.get_mut(offset as usize) {
            Some(slot) => {
                if slot.is_none() {
                    self.filled += 1;
                }
                *slot.get_or_insert(value)
            }
            None => *self.sparse.entry(offset).or_insert(value),
        }
    }

    /// Grows the vector to `len` slots, moving in the sparse offsets it
    /// now covers.
    fn extend_to(&mut self, len: u64) {
        self.dense.resize(len as usize, None);
        let beyond = self.sparse.split_off(&len);
        for (offset, value) in std::mem::replace(&mut self.sparse, beyond) {
            self.dense[offset as usize] = Some(value);
            self.filled += 1;
        }
        assert!(
            self.sparse.keys().next().is_none_or(|&o| o >= len),
            "a sparse offset below the dense part's end"
        );
    }

    /// The value first seen at `offset`, if any.
    pub fn get(&self, offset: u64) -> Option<i64> {
        match self.dense.get(offset as usize) {
            Some(slot) => *slot,
            None => self.sparse.get(&offset).copied(),
        }
    }

    /// Every offset with a value in `from..to`, in order.
    pub fn offsets_in(&self, from: u64, to: u64) -> impl Iterator<Item = u64> + '_ {
        let len = self.dense.len() as u64;
        let dense = from.min(len)..to.clamp(from.min(len), len);
        let dense = dense.filter(|&o| self.dense[o as usize].is_some());
        let sparse = (from.max(len) < to).then(|| self.sparse.range(from.max(len)..to));
        dense.chain(sparse.into_iter().flatten().map(|(&o, _)| o))
    }

    /// Every (offset, value), in offset order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, i64)> + '_ {
        let dense = self
            .dense
            .iter()
            .enumerate()
            .filter_map(|(o, v)| v.map(|v| (o as u64, v)));
        dense.chain(self.sparse.iter().map(|(&o, &v)| (o, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A column agrees with a map from offset to first value, for
        /// offsets dense, sparse and far apart.
        #[test]
        fn matches_a_map(
            writes in proptest::collection::vec(
                (prop_oneof![0u64..300, 0u64..5, 1_000u64..1_000_000, Just(u64::MAX)], -3i64..3),
                0..200,
            ),
            ranges in proptest::collection::vec((0u64..400, 0u64..400), 0..8),
        ) {
            let mut column = Column::default();
            let mut model: BTreeMap<u64, i64> = BTreeMap::new();
            for (offset, value) in writes {
                let first = *model.entry(offset).or_insert(value);
                prop_assert_eq!(column.first_or_insert(offset, value), first);
            }
            let all: Vec<(u64, i64)> = model.iter().map(|(&o, &v)| (o, v)).collect();
            prop_assert_eq!(column.iter().collect::<Vec<_>>(), all);
            for (&o, &v) in &model {
                prop_assert_eq!(column.get(o), Some(v));
            }
            prop_assert_eq!(column.get(299), model.get(&299).copied());
            for (from, to) in ranges {
                let want: Vec<u64> = model.range(from..to.max(from)).map(|(&o, _)| o).collect();
                prop_assert_eq!(column.offsets_in(from, to).collect::<Vec<_>>(), want);
            }
            prop_assert!(column.dense.len() as u64 <= 2 * (column.filled + 1) + SLACK);
        }
    }
}
