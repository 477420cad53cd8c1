//! Behaviour coverage of one run, for coverage-guided exploration
//! (`explore --guided`). Features are small abstractions of what the run
//! already observes, hashed to `u64`: pairs of consecutive message kinds
//! handled by one node (the Lamport-order event pairs of Mallory, Meng et
//! al., CCS 2023), the message kind a node received in each role, role
//! transitions and how many nodes hold each role after one, the kind of
//! note a node made in each role (a term jump, a commit, an in-doubt
//! period), and the kind of each applied fault with the role of the node it
//! hit. A run that shows a feature no earlier run showed reached new
//! behaviour.
//!
//! Collected only when asked (`SimConfig::coverage`); the set is used for
//! membership only and handed out sorted, so nothing depends on hash order.
//! Feature values depend on the build (note kinds hash their enum
//! discriminants), so they compare only within one program.

use crate::process::NodeId;
use rustc_hash::{FxHashSet, FxHasher};
use std::hash::{Hash, Hasher};

/// Most features one run keeps (a bound on memory; later ones are dropped).
pub const MAX_FEATURES: usize = 1 << 16;

/// The features of one run.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    features: FxHashSet<u64>, // determinism: ok (membership only; handed out sorted)
    /// The last message kind each process handled (a hash; 0 before any).
    last_kind: Vec<u64>,
}

/// A feature: a hash of its tag and parts.
fn feature(parts: impl Hash) -> u64 {
    let mut h = FxHasher::default();
    parts.hash(&mut h);
    h.finish()
}

impl Coverage {
    /// Coverage of a run with `processes` processes.
    pub fn new(processes: usize) -> Self {
        Coverage {
            features: FxHashSet::default(),
            last_kind: vec![0; processes],
        }
    }

    fn insert(&mut self, f: u64) {
        if self.features.len() < MAX_FEATURES {
            self.features.insert(f);
        }
    }

    /// `to`, in `role`, handles a message of `kind`.
    pub fn delivery(&mut self, to: NodeId, role: Option<&str>, kind: &str) {
        let k = feature(kind);
        let previous = std::mem::replace(&mut self.last_kind[to.index()], k);
        self.insert(feature(("pair", previous, k)));
        self.insert(feature(("received", role, k)));
    }

    /// A node went from role `from` to role `to`; `counts` is how many
    /// nodes hold each role now, by role name.
    pub fn role_change(&mut self, from: Option<&str>, to: Option<&str>, counts: &[(&str, usize)]) {
        self.insert(feature(("role", from, to)));
        self.insert(feature(("roles", counts)));
    }

    /// A node in `role` made a note of kind `note` (its discriminant).
    pub fn note(&mut self, role: Option<&str>, note: impl Hash) {
        self.insert(feature(("note", role, note)));
    }

    /// A fault of kind `effect` (its discriminant) hit a node in `role`.
    pub fn fault(&mut self, effect: impl Hash, role: Option<&str>) {
        self.insert(feature(("fault", effect, role)));
    }

    /// A protocol metric's value, bucketed by powers of two.
    pub fn metric(&mut self, name: &str, value: u64) {
        let bucket = 64 - value.leading_zeros();
        self.insert(feature(("metric", name, bucket)));
    }

    /// The features, sorted.
    pub fn into_sorted(self) -> Vec<u64> {
        let mut v: Vec<u64> = self.features.into_iter().collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_depend_on_order_and_repeats_add_nothing() {
        let mut a = Coverage::new(2);
        a.delivery(NodeId(0), Some("leader"), "append");
        a.delivery(NodeId(0), Some("leader"), "vote");
        let mut b = Coverage::new(2);
        b.delivery(NodeId(0), Some("leader"), "vote");
        b.delivery(NodeId(0), Some("leader"), "append");
        assert_ne!(a.clone().into_sorted(), b.into_sorted());
        let before = a.clone().into_sorted().len();
        a.delivery(NodeId(1), Some("leader"), "append");
        a.delivery(NodeId(1), Some("leader"), "vote");
        assert_eq!(
            a.into_sorted().len(),
            before,
            "the same pairs on another node"
        );
    }
}
