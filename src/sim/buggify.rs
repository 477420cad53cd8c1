//! Code-level fault points (FoundationDB's BUGGIFY): a protocol marks a
//! rare path in its own code with `ctx.buggify("raft.drop-append-reply")`
//! and takes it when the call answers true. Only a simulation with buggify
//! on ever answers true; a process run by a [`crate::process::Harness`] or
//! a real driver always gets false, so the points cost nothing and change
//! nothing outside the simulator.
//!
//! In a run with buggify on, each point is active or not for the whole run
//! (half of them, decided from the seed and the point's name, so a point
//! added to the code does not change which others are active), and an
//! active point fires with probability `fire` each time it is reached,
//! drawn from a stream of its own. `[buggify] fire` sets the probability;
//! `[swarm] buggify = [min, max]` draws it per seed.

use crate::rng::{SimRng, Stream};
use std::collections::BTreeMap;

/// A run's fault points.
#[derive(Clone, Debug)]
pub struct Buggify {
    seed: u64,
    fire: f64,
    rng: SimRng,
    /// Each point reached so far: whether it is active, and how often it fired.
    points: BTreeMap<&'static str, (bool, u64)>,
}

impl Buggify {
    /// The points of a run with `seed` that fire with probability `fire`.
    pub fn new(seed: u64, fire: f64) -> Self {
        Buggify {
            seed,
            fire,
            rng: SimRng::new(seed, Stream::Buggify),
            points: BTreeMap::new(),
        }
    }

    /// Whether `point` fires now.
    pub fn fires(&mut self, point: &'static str) -> bool {
        let seed = self.seed;
        let entry = self
            .points
            .entry(point)
            .or_insert_with(|| (active(seed, point), 0));
        if !entry.0 || !self.rng.chance(self.fire) {
            return false;
        }
        entry.1 += 1;
        true
    }

    /// How often each point reached fired (0 for an inactive one).
    pub fn fired(&self) -> BTreeMap<&'static str, u64> {
        self.points.iter().map(|(p, (_, n))| (*p, *n)).collect()
    }
}

/// Whether `point` is active in the run with `seed`: a fixed function of
/// both (FNV-1a of the name, mixed with the seed), true for about half.
pub(crate) fn active(seed: u64, point: &str) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in point.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_half_the_points_are_active_and_fire_at_their_rate() {
        let names: Vec<String> = (0..400).map(|i| format!("p{i}")).collect();
        let active_count = names.iter().filter(|n| active(7, n)).count();
        assert!((150..250).contains(&active_count), "{active_count} of 400");
        let point: &'static str = names
            .iter()
            .find(|n| active(7, n))
            .map(|n| &*Box::leak(n.clone().into_boxed_str()))
            .unwrap_or("none");
        let mut b = Buggify::new(7, 0.25);
        let fired = (0..10_000).filter(|_| b.fires(point)).count();
        assert!((2_300..2_700).contains(&fired), "{fired} of 10000 at 0.25");
        assert_eq!(b.fired()[point], fired as u64);
    }

    #[test]
    fn an_inactive_point_never_fires() {
        let point = (0..100)
            .map(|i| &*Box::leak(format!("q{i}").into_boxed_str()))
            .find(|n| !active(3, n))
            .unwrap_or("none");
        let mut b = Buggify::new(3, 1.0);
        assert!((0..1000).all(|_| !b.fires(point)));
    }
}
