//! Lowe's memo cache for the Wing & Gong search: the set of configurations
//! (linearized ops as a bitset, model state) already explored. Owns a
//! compact layout (bitsets and states in fixed-size chunks, an
//! open-addressing table of indices) so that a lookup allocates nothing,
//! growth is fallible and announced before it happens, and its size in
//! bytes is known exactly enough to bound the real peak.
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};

/// Hashes a model state with FxHash.
pub(crate) fn hash_state<S: Hash>(state: &S) -> u64 {
    let mut h = FxHasher::default();
    state.hash(&mut h);
    h.finish()
}

/// A per-op random word; a bitset's hash is the xor of its members' words
/// (Zobrist hashing), so setting or clearing a bit updates it in O(1).
pub(crate) fn zobrist(op: usize) -> u64 {
    let mut z = (op as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An empty slot of the hash table.
const EMPTY: u32 = u32::MAX;
/// Bitset words per chunk (256 KiB): big enough that chunks are few, small
/// enough that growing the last one never holds much twice.
const CHUNK_WORDS: usize = 1 << 15;
/// Hash-table slots of the first table; it doubles at half load.
const TABLE_SLOTS_FIRST: usize = 1 << 10;

/// The memo cannot grow: the system refused an allocation of this many bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AllocFailed(pub usize);

/// The set of explored configurations: entries (hash, state, bitset) in
/// fixed-size chunks, found through an open-addressing table of entry
/// indices. Chunks never move once full, so the only large transient is a
/// table resize, and [`Memo::growth_bytes`] says how big the next one is
/// before it happens. Invariant: every entry index below `len` sits in
/// exactly one table slot, and the table is at most half full.
pub(crate) struct Memo<S> {
    words: usize,
    /// Entries per chunk, a power of two.
    per_chunk: usize,
    shift: u32,
    bits: Vec<Vec<u64>>,
    entries: Vec<Vec<(u64, S)>>,
    len: usize,
    table: Vec<u32>,
    heap_bytes: usize,
    /// Bytes of tables and chunk buffers outgrown and freed. Still counted:
    /// an allocator may keep freed memory resident for a while (mimalloc
    /// does), and the budget bounds the process's real peak.
    retired_bytes: usize,
}

impl<S: Eq> Memo<S> {
    /// An empty cache for bitsets of `words` 64-bit words.
    pub(crate) fn new(words: usize) -> Self {
        let per_chunk = (CHUNK_WORDS / words.max(1)).max(1);
        let per_chunk = 1usize << (usize::BITS - 1 - per_chunk.leading_zeros());
        Memo {
            words,
            per_chunk,
            shift: per_chunk.trailing_zeros(),
            bits: Vec::new(),
            entries: Vec::new(),
            len: 0,
            table: Vec::new(),
            heap_bytes: 0,
            retired_bytes: 0,
        }
    }

    fn locate(&self, idx: usize) -> (usize, usize) {
        (idx >> self.shift, idx & (self.per_chunk - 1))
    }

    fn bits_of(&self, idx: usize) -> &[u64] {
        let (c, o) = self.locate(idx);
        &self.bits[c][o * self.words..(o + 1) * self.words]
    }

    /// The state of entry `idx`.
    pub(crate) fn state(&self, idx: u32) -> &S {
        let (c, o) = self.locate(idx as usize);
        &self.entries[c][o].1
    }

    /// Whether (`bits`, `state`), whose combined hash is `hash`, is cached.
    pub(crate) fn contains(&self, hash: u64, bits: &[u64], state: &S) -> bool {
        if self.table.is_empty() {
            return false;
        }
        let mask = self.table.len() - 1;
        let mut slot = hash as usize & mask;
        loop {
            let idx = self.table[slot];
            if idx == EMPTY {
                return false;
            }
            let (c, o) = self.locate(idx as usize);
            let (h, s) = &self.entries[c][o];
            if *h == hash && s == state && self.bits_of(idx as usize) == bits {
                return true;
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Bytes the next insert adds to [`Memo::bytes`]: a full chunk's
    /// new, larger allocation and, at half load, a table of twice the
    /// slots. Each is whole, not its difference from the old one: the old
    /// allocation is still held while the new one fills, and `bytes`
    /// keeps counting it (as retired), so the bound covers the transient.
    pub(crate) fn growth_bytes(&self) -> usize {
        let (c, o) = self.locate(self.len);
        let mut extra = 0;
        if c == self.entries.len() || self.entries[c].len() == self.entries[c].capacity() {
            let have = self.entries.get(c).map_or(0, Vec::capacity);
            let want = next_chunk_capacity(have, o, self.per_chunk);
            extra += want * (self.words * 8 + std::mem::size_of::<(u64, S)>());
        }
        if (self.len + 1) * 2 > self.table.len() {
            extra += (self.table.len() * 2).max(TABLE_SLOTS_FIRST) * 4;
        }
        extra
    }

    /// Adds an entry known to be absent and returns its index.
    pub(crate) fn insert_new(
        &mut self,
        hash: u64,
        bits: &[u64],
        state: S,
        heap_bytes: usize,
    ) -> Result<u32, AllocFailed> {
        assert_eq!(
            bits.len(),
            self.words,
            "bitset width is fixed per partition"
        );
        let idx = self.len;
        assert!(idx < EMPTY as usize, "memo cache index overflow");
        if (self.len + 1) * 2 > self.table.len() {
            self.grow_table()?;
        }
        self.reserve_entry()?;
        let (c, _) = self.locate(idx);
        self.bits[c].extend_from_slice(bits);
        self.entries[c].push((hash, state));
        self.len += 1;
        self.heap_bytes += heap_bytes;
        self.place(hash, idx as u32);
        Ok(idx as u32)
    }

    fn place(&mut self, hash: u64, idx: u32) {
        let mask = self.table.len() - 1;
        let mut slot = hash as usize & mask;
        while self.table[slot] != EMPTY {
            slot = (slot + 1) & mask;
        }
        self.table[slot] = idx;
    }

    /// Makes room for entry `len` in its chunk.
    fn reserve_entry(&mut self) -> Result<(), AllocFailed> {
        let (c, o) = self.locate(self.len);
        if c == self.bits.len() {
            self.bits.push(Vec::new());
            self.entries.push(Vec::new());
        }
        if self.entries[c].len() < self.entries[c].capacity() {
            return Ok(());
        }
        let want = next_chunk_capacity(self.entries[c].capacity(), o, self.per_chunk);
        let more = want - self.entries[c].len();
        self.retired_bytes += self.entries[c].capacity() * std::mem::size_of::<(u64, S)>()
            + self.bits[c].capacity() * 8;
        self.entries[c]
            .try_reserve_exact(more)
            .map_err(|_| AllocFailed(more * std::mem::size_of::<(u64, S)>()))?;
        self.bits[c]
            .try_reserve_exact(more * self.words)
            .map_err(|_| AllocFailed(more * self.words * 8))
    }

    fn grow_table(&mut self) -> Result<(), AllocFailed> {
        let slots = (self.table.len() * 2).max(TABLE_SLOTS_FIRST);
        let mut table = Vec::new();
        table
            .try_reserve_exact(slots)
            .map_err(|_| AllocFailed(slots * 4))?;
        table.resize(slots, EMPTY);
        self.retired_bytes += self.table.capacity() * 4;
        self.table = table;
        for idx in 0..self.len {
            let (c, o) = self.locate(idx);
            let hash = self.entries[c][o].0;
            self.place(hash, idx as u32);
        }
        Ok(())
    }

    /// Bytes held: chunks and table at capacity, the states' own heap data,
    /// and what was outgrown.
    pub(crate) fn bytes(&self) -> usize {
        let entry = std::mem::size_of::<(u64, S)>();
        let chunks: usize = self
            .entries
            .iter()
            .zip(&self.bits)
            .map(|(e, b)| e.capacity() * entry + b.capacity() * 8)
            .sum();
        chunks + self.table.capacity() * 4 + self.heap_bytes + self.retired_bytes
    }
}

/// The capacity a chunk grows to when entry offset `offset` does not fit:
/// doubling from 64 entries up to `per_chunk`.
fn next_chunk_capacity(have: usize, offset: usize, per_chunk: usize) -> usize {
    (have * 2).max(64).max(offset + 1).min(per_chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(words: usize, i: usize) -> Vec<u64> {
        (0..words)
            .map(|w| (i as u64).wrapping_mul(0x9E37).wrapping_add(w as u64))
            .collect()
    }

    /// Each insert grows [`Memo::bytes`] by exactly what
    /// [`Memo::growth_bytes`] announced before it (plus the state's heap
    /// bytes), through chunk growth, new chunks and table doubling; and
    /// every entry is found again, at its index.
    #[test]
    fn growth_is_announced_exactly_and_entries_are_found() {
        // One word: 32,768 entries per chunk, so 40,000 fill a second one;
        // 4,096 words: 8 per chunk.
        for (words, n) in [(1, 40_000usize), (4096, 40)] {
            let mut memo: Memo<u32> = Memo::new(words);
            let hash = |i: usize| zobrist(i) ^ hash_state(&(i as u32));
            for i in 0..n {
                let b = bits(words, i);
                assert!(!memo.contains(hash(i), &b, &(i as u32)));
                let (before, growth) = (memo.bytes(), memo.growth_bytes());
                let idx = memo
                    .insert_new(hash(i), &b, i as u32, 3)
                    .unwrap_or_else(|e| panic!("{e:?}"));
                assert_eq!(idx as usize, i);
                assert_eq!(
                    memo.bytes(),
                    before + growth + 3,
                    "insert {i} with {words} words"
                );
            }
            for i in 0..n {
                assert!(memo.contains(hash(i), &bits(words, i), &(i as u32)));
                assert_eq!(*memo.state(i as u32), i as u32);
            }
        }
    }

    /// Entries that share a hash are told apart by their bitsets and
    /// states, and each is found past the other in the table.
    #[test]
    fn a_hash_collision_is_told_apart_by_bits_and_state() {
        let mut memo: Memo<u32> = Memo::new(2);
        assert!(
            !memo.contains(7, &[1, 2], &5),
            "an empty memo holds nothing"
        );
        memo.insert_new(7, &[1, 2], 5, 0)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(memo.contains(7, &[1, 2], &5));
        assert!(!memo.contains(7, &[1, 3], &5));
        assert!(!memo.contains(7, &[1, 2], &6));
        assert!(!memo.contains(8, &[1, 2], &5));
        memo.insert_new(7, &[1, 3], 5, 0)
            .unwrap_or_else(|e| panic!("{e:?}"));
        memo.insert_new(7, &[1, 2], 6, 0)
            .unwrap_or_else(|e| panic!("{e:?}"));
        for (b, s) in [([1, 2], 5), ([1, 3], 5), ([1, 2], 6)] {
            assert!(memo.contains(7, &b, &s), "{b:?} {s}");
        }
        assert!(!memo.contains(7, &[1, 3], &6));
    }

    /// The Zobrist words are distinct, so a set's hash tells sets apart.
    #[test]
    fn zobrist_words_are_distinct() {
        let words: std::collections::BTreeSet<u64> = (0..100_000).map(zobrist).collect();
        assert_eq!(words.len(), 100_000);
        assert!(!words.contains(&0));
    }
}
