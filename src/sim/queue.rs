//! The event queue: a min-heap on (time, insertion sequence). Equal times
//! break by insertion order, so the order of events never depends on
//! anything but the order the run scheduled them in.

use crate::time::SimTime;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Bits of a heap entry's second word that hold the slab slot; the rest
/// hold the insertion sequence number.
const SLOT_BITS: u32 = 24;

/// A heap entry: the event's time, and its insertion sequence number and
/// slab slot packed in one word (sequence in the high 40 bits, so the
/// pair orders by (time, sequence)). 16 bytes, compared as one `u128`,
/// so sifting through the heap moves and compares little; the event itself
/// moves once into the slab and once out.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key(u128);

impl Key {
    fn new(time: SimTime, seq: u64, slot: u32) -> Self {
        assert!(
            seq < 1 << (64 - SLOT_BITS),
            "more than 2^40 events scheduled in one run"
        );
        assert!(
            slot < 1 << SLOT_BITS,
            "more than 2^24 events pending at once"
        );
        let low = (seq << SLOT_BITS) | u64::from(slot);
        Key((u128::from(time.as_nanos()) << 64) | u128::from(low))
    }

    fn time(self) -> SimTime {
        SimTime::from_nanos((self.0 >> 64) as u64)
    }

    fn slot(self) -> usize {
        (self.0 as u64 & ((1 << SLOT_BITS) - 1)) as usize
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    /// Reversed: the heap's maximum is the earliest (time, seq).
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.cmp(&self.0)
    }
}

/// Pending events in the order they will happen. Invariant: every key in
/// `heap` names a `Some` slot of `slab`, and `free` lists exactly the
/// `None` slots.
pub struct EventQueue<E> {
    heap: BinaryHeap<Key>,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedules `event` at `time`.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(event);
                slot
            }
            None => {
                let slot = u32::try_from(self.slab.len()).expect("more than 2^32 pending events");
                self.slab.push(Some(event));
                slot
            }
        };
        self.heap.push(Key::new(time, seq, slot));
        self.assert_accounted();
    }

    /// Every slab slot is either named by one heap key or free: the
    /// invariant that lets `pop` take a slot's event without searching.
    /// A debug assertion: on the hottest path of the engine it cost the
    /// engine benchmark measurably in release, and `pop` still panics on an
    /// empty slot (reports/BENCHMARKS.md).
    #[inline]
    fn assert_accounted(&self) {
        debug_assert_eq!(
            self.heap.len() + self.free.len(),
            self.slab.len(),
            "event queue slots lost or named twice"
        );
    }

    /// Removes and returns the earliest event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let key = self.heap.pop()?;
        let slot = key.slot();
        let event = self.slab[slot].take();
        self.free.push(slot as u32);
        self.assert_accounted();
        match event {
            Some(event) => Some((key.time(), event)),
            None => panic!("the event queue's slot {slot} was empty"),
        }
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|k| k.time())
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut q = EventQueue::default();
        q.push(SimTime::from_nanos(5), 'c');
        q.push(SimTime::from_nanos(1), 'a');
        q.push(SimTime::from_nanos(5), 'd');
        q.push(SimTime::from_nanos(1), 'b');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['a', 'b', 'c', 'd']);
    }
}
