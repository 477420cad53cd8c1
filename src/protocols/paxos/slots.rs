//! Values by slot: a vector indexed by slot. A Multi-Paxos log's slots
//! count up from 0 and fill in nearly in order, so a vector is both
//! smaller and faster than a tree for the tens of thousands of a run (every
//! server keeps its accepted and its chosen values).

use super::Slot;

/// How far past the end a slot may be (a leader fills slots in order: one
/// far beyond is a bug, not a reason to grow the vector by gigabytes).
const AHEAD_MAX: Slot = 1 << 20;

/// A value per slot, for some slots.
#[derive(Clone, Debug)]
pub struct SlotLog<T> {
    values: Vec<Option<T>>,
}

impl<T> Default for SlotLog<T> {
    fn default() -> Self {
        SlotLog { values: Vec::new() }
    }
}

impl<T> SlotLog<T> {
    /// The value of `slot`, if any.
    pub fn get(&self, slot: &Slot) -> Option<&T> {
        usize::try_from(*slot)
            .ok()
            .and_then(|i| self.values.get(i))
            .and_then(Option::as_ref)
    }

    /// Whether `slot` has a value.
    pub fn contains_key(&self, slot: &Slot) -> bool {
        self.get(slot).is_some()
    }

    /// Sets `slot`'s value.
    pub fn insert(&mut self, slot: Slot, value: T) {
        let len = self.values.len() as Slot;
        assert!(
            slot < len + AHEAD_MAX,
            "slot {slot} far past the log's end {len}"
        );
        let at = slot as usize;
        if at >= self.values.len() {
            self.values.resize_with(at + 1, || None);
        }
        self.values[at] = Some(value);
    }

    /// Every (slot, value) from `from` on, in slot order.
    pub fn range_from(&self, from: Slot) -> impl Iterator<Item = (Slot, &T)> + '_ {
        let start = usize::try_from(from).map_or(self.values.len(), |f| f.min(self.values.len()));
        self.values[start..]
            .iter()
            .enumerate()
            .filter_map(move |(i, v)| v.as_ref().map(|v| ((start + i) as Slot, v)))
    }

    /// Every value, in slot order.
    pub fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.values.iter().flatten()
    }
}

impl<T> FromIterator<(Slot, T)> for SlotLog<T> {
    fn from_iter<I: IntoIterator<Item = (Slot, T)>>(iter: I) -> Self {
        let mut log = SlotLog::default();
        for (slot, value) in iter {
            log.insert(slot, value);
        }
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// A slot log agrees with a map from slot to value.
        #[test]
        fn matches_a_map(
            writes in proptest::collection::vec((0u64..200, any::<u8>()), 0..100),
            from in 0u64..250,
        ) {
            let mut log = SlotLog::default();
            let mut model = BTreeMap::new();
            for (slot, v) in writes {
                log.insert(slot, v);
                model.insert(slot, v);
            }
            for slot in 0..210 {
                prop_assert_eq!(log.get(&slot), model.get(&slot));
            }
            let got: Vec<(u64, u8)> = log.range_from(from).map(|(s, v)| (s, *v)).collect();
            let want: Vec<(u64, u8)> = model.range(from..).map(|(s, v)| (*s, *v)).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(log.values().count(), model.len());
        }
    }
}
