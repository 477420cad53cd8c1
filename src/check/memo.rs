//! Lowe's memo cache for the Wing & Gong search: the set of configurations
//! (linearized ops as a bitset, model state) already explored. Owns a
//! compact arena layout (all bitsets in one `Vec<u64>`, hash chains through
//! indices) so that a lookup allocates nothing and an insert allocates only
//! amortised arena growth; and an estimate of its own size in bytes.
// The checker runs outside simulated runs, so the project's lint against
// HashMap in simulated code does not apply here.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]
use std::collections::HashMap; // determinism: ok (checker only, never in a run)
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// FxHash (as used in rustc): one rotate, xor and multiply per word.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

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

const NO_ENTRY: u32 = u32::MAX;

/// The set of explored configurations.
pub(crate) struct Memo<S> {
    words: usize,
    bits: Vec<u64>,
    states: Vec<S>,
    chain: Vec<u32>,
    heads: HashMap<u64, u32, BuildHasherDefault<FxHasher>>, // determinism: ok
    heap_bytes: usize,
}

impl<S: Eq> Memo<S> {
    /// An empty cache for bitsets of `words` 64-bit words.
    pub(crate) fn new(words: usize) -> Self {
        Memo {
            words,
            bits: Vec::new(),
            states: Vec::new(),
            chain: Vec::new(),
            heads: HashMap::default(), // determinism: ok
            heap_bytes: 0,
        }
    }

    /// The state of entry `idx`.
    pub(crate) fn state(&self, idx: u32) -> &S {
        &self.states[idx as usize]
    }

    /// Whether (`bits`, `state`), whose combined hash is `hash`, is cached.
    pub(crate) fn contains(&self, hash: u64, bits: &[u64], state: &S) -> bool {
        let mut idx = self.heads.get(&hash).copied().map_or(NO_ENTRY, |i| i);
        while idx != NO_ENTRY {
            let i = idx as usize;
            if self.states[i] == *state && self.bits[i * self.words..(i + 1) * self.words] == *bits
            {
                return true;
            }
            idx = self.chain[i];
        }
        false
    }

    /// Adds an entry known to be absent and returns its index.
    pub(crate) fn insert_new(
        &mut self,
        hash: u64,
        bits: &[u64],
        state: S,
        heap_bytes: usize,
    ) -> u32 {
        assert_eq!(
            bits.len(),
            self.words,
            "bitset width is fixed per partition"
        );
        let idx = self.states.len() as u32;
        assert!(idx != NO_ENTRY, "memo cache index overflow");
        let head = self.heads.entry(hash).or_insert(NO_ENTRY);
        self.chain.push(*head);
        *head = idx;
        self.bits.extend_from_slice(bits);
        self.states.push(state);
        self.heap_bytes += heap_bytes;
        idx
    }

    /// Estimated bytes held: arenas at capacity, the hash table's slots and
    /// control bytes, and the states' own heap data.
    pub(crate) fn bytes(&self) -> usize {
        self.bits.capacity() * 8
            + self.states.capacity() * std::mem::size_of::<S>()
            + self.chain.capacity() * 4
            + self.heads.capacity() * (8 + 4 + 1)
            + self.heap_bytes
    }
}
