//! Values by slot, and sets of servers. A Multi-Paxos log's slots count
//! up from 0 and fill in nearly in order, so a deque indexed by slot is
//! both smaller and faster than a tree for the tens of thousands of a run:
//! every server keeps its accepted and its chosen values in a
//! [`SlotLog`] (a snapshot drops its front), a leader its proposals and
//! the clients to answer in a [`Pending`] (each leaves as it is chosen or
//! answered).

use super::Slot;
use crate::process::NodeId;
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

/// Values by slot that arrive in slot order and leave in any order: a
/// leader's proposals until each is chosen, the clients it owes an answer
/// until each slot is applied. Invariant: `values[i]` is slot
/// `start + i`'s, and the front, if any, holds a value (emptied slots
/// there are dropped).
#[derive(Debug)]
pub struct Pending<T> {
    start: Slot,
    values: VecDeque<Option<T>>,
}

impl<T> Pending<T> {
    /// None pending, the first slot to come at or after `start`.
    pub fn starting_at(start: Slot) -> Self {
        Pending {
            start,
            values: VecDeque::new(),
        }
    }

    /// Adds `slot`'s value. Slots come in increasing order: each after
    /// every slot added before (asserted: a leader numbers its slots
    /// upward).
    pub fn push(&mut self, slot: Slot, value: T) {
        let end = self.start + self.values.len() as Slot;
        assert!(
            slot >= end && slot - end < AHEAD_MAX,
            "slot {slot} added out of order (pending up to {end})"
        );
        if self.values.is_empty() {
            self.start = slot;
        } else {
            let gap = (slot - end) as usize;
            self.values
                .extend(std::iter::repeat_with(|| None).take(gap));
        }
        self.values.push_back(Some(value));
    }

    fn index(&self, slot: Slot) -> Option<usize> {
        let at = usize::try_from(slot.checked_sub(self.start)?).ok()?;
        (at < self.values.len()).then_some(at)
    }

    /// `slot`'s value, if it is pending.
    pub fn get(&self, slot: Slot) -> Option<&T> {
        self.values[self.index(slot)?].as_ref()
    }

    /// `slot`'s value, if it is pending, to change.
    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut T> {
        let at = self.index(slot)?;
        self.values[at].as_mut()
    }

    /// Takes `slot`'s value out, if it is pending.
    pub fn remove(&mut self, slot: Slot) -> Option<T> {
        let at = self.index(slot)?;
        let value = self.values[at].take();
        while let Some(None) = self.values.front() {
            self.values.pop_front();
            self.start += 1;
        }
        value
    }
}

/// A set of servers by node id: a bit per id below 128 (no allocation
/// for the clusters scenarios run), a list above, and the count (kept, not
/// counted: without the `popcnt` instruction in the baseline x86-64 target,
/// counting a `u128`'s bits takes dozens of instructions, and the checks
/// ask after every accept).
#[derive(Clone, Debug, Default)]
pub struct NodeSet {
    low: u128,
    high: Vec<NodeId>,
    len: usize,
}

impl NodeSet {
    /// The set of `node` alone.
    pub fn of(node: NodeId) -> Self {
        let mut set = NodeSet::default();
        set.insert(node);
        set
    }

    /// Adds `node` (again: no change).
    pub fn insert(&mut self, node: NodeId) {
        let added = match node.0 {
            n if n < 128 => {
                let before = self.low;
                self.low |= 1 << n;
                self.low != before
            }
            _ if self.high.contains(&node) => false,
            _ => {
                self.high.push(node);
                true
            }
        };
        self.len += usize::from(added);
    }

    /// How many servers are in the set.
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    proptest! {
        /// Pending values agree with a map from slot to value, whatever
        /// order they leave in.
        #[test]
        fn pending_matches_a_map(
            steps in proptest::collection::vec((0u64..4, any::<bool>(), 0u64..40), 0..120),
        ) {
            let mut pending = Pending::starting_at(3);
            let mut model = BTreeMap::new();
            let mut next = 3;
            for (gap, add, pick) in steps {
                if add {
                    next += gap;
                    pending.push(next, next * 10);
                    model.insert(next, next * 10);
                    next += 1;
                } else {
                    let slot = pick + 3;
                    prop_assert_eq!(pending.remove(slot), model.remove(&slot));
                }
                for slot in 0..next + 5 {
                    prop_assert_eq!(pending.get(slot), model.get(&slot));
                }
            }
            if let Some(v) = pending.get_mut(next.saturating_sub(1)) {
                *v += 1;
                prop_assert_eq!(pending.get(next - 1), Some(&(next * 10 - 9)));
            }
        }

        /// A node set counts each node once.
        #[test]
        fn node_set_counts_distinct_nodes(nodes in proptest::collection::vec(0u32..300, 0..60)) {
            let mut set = NodeSet::default();
            for &n in &nodes {
                set.insert(NodeId(n));
            }
            let distinct: BTreeSet<u32> = nodes.into_iter().collect();
            prop_assert_eq!(set.len(), distinct.len());
        }
    }

    /// A slot pushed below one already pending is refused.
    #[test]
    #[should_panic(expected = "out of order")]
    fn pending_refuses_a_slot_out_of_order() {
        let mut pending = Pending::starting_at(0);
        pending.push(5, ());
        pending.push(4, ());
    }

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
