//! Values by slot: a deque indexed by slot from a compaction point. A
//! Multi-Paxos log's slots count up from 0 and fill in nearly in order,
//! so a deque is both smaller and faster than a tree for the tens of
//! thousands of a run (every server keeps its accepted and its chosen
//! values), and a snapshot drops its front.

use super::Slot;
use std::collections::VecDeque;

/// How far past the end a slot may be (a leader fills slots in order: one
/// far beyond is a bug, not a reason to grow the vector by gigabytes).
const AHEAD_MAX: Slot = 1 << 20;

/// A value per slot, for some slots at or after `start` (those before
/// were dropped). Invariant: `values[i]` is slot `start + i`'s.
#[derive(Clone, Debug)]
pub struct SlotLog<T> {
    start: Slot,
    values: VecDeque<Option<T>>,
}

impl<T> Default for SlotLog<T> {
    fn default() -> Self {
        SlotLog {
            start: 0,
            values: VecDeque::new(),
        }
    }
}

impl<T> SlotLog<T> {
    /// The value of `slot`, if any (none before the start).
    pub fn get(&self, slot: &Slot) -> Option<&T> {
        let at = slot.checked_sub(self.start)?;
        usize::try_from(at)
            .ok()
            .and_then(|i| self.values.get(i))
            .and_then(Option::as_ref)
    }

    /// Whether `slot` has a value.
    pub fn contains_key(&self, slot: &Slot) -> bool {
        self.get(slot).is_some()
    }

    /// Sets `slot`'s value; a slot before the start is dropped at once
    /// (it was compacted).
    pub fn insert(&mut self, slot: Slot, value: T) {
        let Some(at) = slot.checked_sub(self.start) else {
            return;
        };
        let len = self.values.len() as Slot;
        assert!(
            at < len + AHEAD_MAX,
            "slot {slot} far past the log's end {}",
            self.start + len
        );
        let at = at as usize;
        if at == self.values.len() {
            // The common case: the next slot, appended.
            return self.values.push_back(Some(value));
        }
        if at > self.values.len() {
            self.values.resize_with(at + 1, || None);
        }
        self.values[at] = Some(value);
    }

    /// Drops every slot before `slot`.
    pub fn drop_before(&mut self, slot: Slot) {
        let Some(count) = slot.checked_sub(self.start) else {
            return;
        };
        let count = usize::try_from(count).map_or(self.values.len(), |c| c.min(self.values.len()));
        self.values.drain(..count);
        self.start = slot;
    }

    /// Every (slot, value) from `from` on, in slot order.
    pub fn range_from(&self, from: Slot) -> impl Iterator<Item = (Slot, &T)> + '_ {
        let skip = from.saturating_sub(self.start);
        let skip = usize::try_from(skip).map_or(self.values.len(), |s| s.min(self.values.len()));
        let start = self.start;
        self.values
            .iter()
            .enumerate()
            .skip(skip)
            .filter_map(move |(i, v)| v.as_ref().map(|v| (start + i as Slot, v)))
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
            cut in prop_oneof![Just(0u64), 0u64..220],
            later in proptest::collection::vec((0u64..260, any::<u8>()), 0..20),
            from in 0u64..250,
        ) {
            let mut log = SlotLog::default();
            let mut model = BTreeMap::new();
            for (slot, v) in writes {
                log.insert(slot, v);
                model.insert(slot, v);
            }
            log.drop_before(cut);
            model.retain(|s, _| *s >= cut);
            for (slot, v) in later {
                log.insert(slot, v);
                if slot >= cut {
                    model.insert(slot, v);
                }
            }
            for slot in 0..270 {
                prop_assert_eq!(log.get(&slot), model.get(&slot));
            }
            let got: Vec<(u64, u8)> = log.range_from(from).map(|(s, v)| (s, *v)).collect();
            let want: Vec<(u64, u8)> = model.range(from..).map(|(s, v)| (*s, *v)).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(log.values().count(), model.len());
        }
    }
}
