//! [`TraceHash`] for the std types protocol types are built from, in the
//! canonical encoding of the module doc (the same words serde's encoding of
//! the same values gives, so the two can be mixed).

use super::{TraceHash, TraceHasher};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

macro_rules! unsigned {
    ($($t:ty),+) => {$(
        impl TraceHash for $t {
            #[inline]
            fn trace_hash(&self, h: &mut TraceHasher) {
                h.word(u64::from(*self));
            }
        }
    )+};
}
unsigned!(u8, u16, u32, u64, bool, char);

macro_rules! signed {
    ($($t:ty),+) => {$(
        impl TraceHash for $t {
            #[inline]
            fn trace_hash(&self, h: &mut TraceHasher) {
                h.word(i64::from(*self) as u64);
            }
        }
    )+};
}
signed!(i8, i16, i32, i64);

impl TraceHash for usize {
    #[inline]
    fn trace_hash(&self, h: &mut TraceHasher) {
        h.word(*self as u64);
    }
}

impl TraceHash for isize {
    #[inline]
    fn trace_hash(&self, h: &mut TraceHasher) {
        h.word(*self as i64 as u64);
    }
}

impl TraceHash for f64 {
    #[inline]
    fn trace_hash(&self, h: &mut TraceHasher) {
        h.word(self.to_bits());
    }
}

impl TraceHash for f32 {
    #[inline]
    fn trace_hash(&self, h: &mut TraceHasher) {
        h.word(u64::from(self.to_bits()));
    }
}

impl TraceHash for () {
    #[inline]
    fn trace_hash(&self, _h: &mut TraceHasher) {}
}

impl TraceHash for str {
    #[inline]
    fn trace_hash(&self, h: &mut TraceHasher) {
        h.bytes(self.as_bytes());
    }
}

impl TraceHash for String {
    #[inline]
    fn trace_hash(&self, h: &mut TraceHasher) {
        h.bytes(self.as_bytes());
    }
}

impl<T: TraceHash> TraceHash for Option<T> {
    #[inline]
    fn trace_hash(&self, h: &mut TraceHasher) {
        match self {
            None => h.word(0),
            Some(v) => {
                h.word(1);
                v.trace_hash(h);
            }
        }
    }
}

impl<T: TraceHash + ?Sized> TraceHash for &T {
    #[inline]
    fn trace_hash(&self, h: &mut TraceHasher) {
        (**self).trace_hash(h);
    }
}

impl<T: TraceHash + ?Sized> TraceHash for Box<T> {
    #[inline]
    fn trace_hash(&self, h: &mut TraceHasher) {
        (**self).trace_hash(h);
    }
}

impl<T: TraceHash + ?Sized> TraceHash for Rc<T> {
    #[inline]
    fn trace_hash(&self, h: &mut TraceHasher) {
        (**self).trace_hash(h);
    }
}

impl<T: TraceHash + ?Sized> TraceHash for Arc<T> {
    #[inline]
    fn trace_hash(&self, h: &mut TraceHasher) {
        (**self).trace_hash(h);
    }
}

/// A sequence: its length, then its elements.
fn sequence<'a, T: TraceHash + 'a>(
    h: &mut TraceHasher,
    len: usize,
    items: impl IntoIterator<Item = &'a T>,
) {
    h.word(len as u64);
    for item in items {
        item.trace_hash(h);
    }
}

impl<T: TraceHash> TraceHash for [T] {
    fn trace_hash(&self, h: &mut TraceHasher) {
        sequence(h, self.len(), self);
    }
}

impl<T: TraceHash> TraceHash for Vec<T> {
    fn trace_hash(&self, h: &mut TraceHasher) {
        sequence(h, self.len(), self);
    }
}

impl<T: TraceHash> TraceHash for VecDeque<T> {
    fn trace_hash(&self, h: &mut TraceHasher) {
        sequence(h, self.len(), self);
    }
}

impl<T: TraceHash> TraceHash for BTreeSet<T> {
    fn trace_hash(&self, h: &mut TraceHasher) {
        sequence(h, self.len(), self);
    }
}

impl<K: TraceHash, V: TraceHash> TraceHash for BTreeMap<K, V> {
    fn trace_hash(&self, h: &mut TraceHasher) {
        h.word(self.len() as u64);
        for (k, v) in self {
            k.trace_hash(h);
            v.trace_hash(h);
        }
    }
}

impl<T: TraceHash, const N: usize> TraceHash for [T; N] {
    fn trace_hash(&self, h: &mut TraceHasher) {
        // serde encodes a fixed-size array as a tuple: no length.
        for item in self {
            item.trace_hash(h);
        }
    }
}

macro_rules! tuple {
    ($($name:ident),+) => {
        impl<$($name: TraceHash),+> TraceHash for ($($name,)+) {
            #[inline]
            #[allow(non_snake_case)]
            fn trace_hash(&self, h: &mut TraceHasher) {
                let ($($name,)+) = self;
                $($name.trace_hash(h);)+
            }
        }
    };
}
tuple!(A);
tuple!(A, B);
tuple!(A, B, C);
tuple!(A, B, C, D);
tuple!(A, B, C, D, E);
tuple!(A, B, C, D, E, F);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Serialize;

    fn by_impl<T: TraceHash + ?Sized>(v: &T) -> u64 {
        let mut h = TraceHasher::default();
        h.value(v);
        h.finish()
    }

    fn by_serde<T: Serialize + ?Sized>(v: &T) -> u64 {
        let mut h = TraceHasher::default();
        h.serde(v);
        h.finish()
    }

    proptest! {
        /// The impls write the words serde's encoding writes, so a type may
        /// move from `trace_hash_by_serde!` to a hand-written impl (or mix
        /// them) without changing any run's trace hash.
        #[test]
        fn std_impls_match_the_serde_encoding(
            n in any::<u64>(),
            i in any::<i32>(),
            b in any::<bool>(),
            c in any::<char>(),
            f in any::<f64>(),
            s in ".{0,40}",
            o in proptest::option::of(any::<u16>()),
            v in proptest::collection::vec(any::<u8>(), 0..20),
            set in proptest::collection::btree_set(any::<i64>(), 0..10),
            map in proptest::collection::btree_map(".{0,5}", any::<u32>(), 0..10),
        ) {
            prop_assert_eq!(by_impl(&n), by_serde(&n));
            prop_assert_eq!(by_impl(&i), by_serde(&i));
            prop_assert_eq!(by_impl(&b), by_serde(&b));
            prop_assert_eq!(by_impl(&c), by_serde(&c));
            prop_assert_eq!(by_impl(&f), by_serde(&f));
            prop_assert_eq!(by_impl(s.as_str()), by_serde(s.as_str()));
            prop_assert_eq!(by_impl(&o), by_serde(&o));
            prop_assert_eq!(by_impl(&v), by_serde(&v));
            prop_assert_eq!(by_impl(&set), by_serde(&set));
            prop_assert_eq!(by_impl(&map), by_serde(&map));
            let rc: Rc<str> = Rc::from(s.as_str());
            prop_assert_eq!(by_impl(&rc), by_serde(&rc));
            let tuple = (n, s.clone(), o, [b, !b]);
            prop_assert_eq!(by_impl(&tuple), by_serde(&tuple));
        }
    }
}
