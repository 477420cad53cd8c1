//! Client-side load balancing (Finagle's and gRPC's model: each client
//! picks the replica of every attempt itself): round-robin, random,
//! least-outstanding-requests and power-of-two-choices, over the replicas
//! the client has not ejected.

use crate::rng::SimRng;
use serde::Deserialize;

/// How a client picks the replica for an attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Balance {
    /// Each replica in turn.
    #[default]
    RoundRobin,
    /// A replica drawn uniformly.
    Random,
    /// The replica with the fewest of this client's attempts outstanding
    /// (drawn at random among equals, so ties do not pile onto one).
    LeastOutstanding,
    /// Two distinct replicas drawn at random, the one with fewer
    /// outstanding (Mitzenmacher's power of two choices).
    TwoChoices,
}

/// A client's balancer: the policy and what it knows of each replica.
#[derive(Clone, Debug)]
pub struct Balancer {
    policy: Balance,
    /// This client's attempts outstanding at each replica.
    outstanding: Vec<u32>,
    /// Replicas taken out of rotation (ejected), by index.
    out: Vec<bool>,
    /// Replicas never to pick, even when every other is out (an open
    /// breaker per endpoint).
    barred: Vec<bool>,
    next: usize,
}

impl Balancer {
    /// A balancer over `replicas` replicas, all in rotation.
    pub fn new(policy: Balance, replicas: usize) -> Self {
        assert!(replicas > 0, "a balancer needs a replica");
        Balancer {
            policy,
            outstanding: vec![0; replicas],
            out: vec![false; replicas],
            barred: vec![false; replicas],
            next: 0,
        }
    }

    /// The replica for the next attempt (counted outstanding until
    /// [`Balancer::done`]). When every replica not barred is ejected, all
    /// those are candidates again (Envoy's panic threshold at its
    /// extreme). Panics if every replica is barred: the caller fails the
    /// request fast instead.
    pub fn pick(&mut self, rng: &mut SimRng) -> usize {
        let allowed = |r: &usize| !self.barred[*r];
        let mut candidates: Vec<usize> = (0..self.out.len())
            .filter(|r| allowed(r) && !self.out[*r])
            .collect();
        if candidates.is_empty() {
            candidates = (0..self.out.len()).filter(allowed).collect();
        }
        assert!(!candidates.is_empty(), "a pick with every replica barred");
        let load = |r: &usize| self.outstanding[*r];
        let chosen = match self.policy {
            Balance::RoundRobin => {
                let start = self.next;
                let r = (0..self.out.len())
                    .map(|k| (start + k) % self.out.len())
                    .find(|r| candidates.contains(r))
                    .unwrap_or(candidates[0]);
                self.next = (r + 1) % self.out.len();
                r
            }
            Balance::Random => candidates[rng.index(candidates.len())],
            Balance::LeastOutstanding => {
                let least = candidates.iter().map(load).min().unwrap_or(0);
                candidates.retain(|r| load(r) == least);
                candidates[rng.index(candidates.len())]
            }
            Balance::TwoChoices => {
                // Two distinct replicas (when there are two), as Envoy and
                // Finagle draw them.
                let n = candidates.len();
                let i = rng.index(n);
                let j = if n > 1 {
                    (i + 1 + rng.index(n - 1)) % n
                } else {
                    i
                };
                let (a, b) = (candidates[i], candidates[j]);
                if load(&b) < load(&a) {
                    b
                } else {
                    a
                }
            }
        };
        self.outstanding[chosen] += 1;
        chosen
    }

    /// An attempt at `replica` ended (answered or given up).
    pub fn done(&mut self, replica: usize) {
        self.outstanding[replica] = self.outstanding[replica].saturating_sub(1);
    }

    /// Takes `replica` out of rotation, or puts it back.
    pub fn set_out(&mut self, replica: usize, out: bool) {
        self.out[replica] = out;
    }

    /// Bars `replica` from every pick, or lifts the bar.
    pub fn set_barred(&mut self, replica: usize, barred: bool) {
        self.barred[replica] = barred;
    }

    /// Replicas out of rotation.
    pub fn ejected(&self) -> usize {
        self.out.iter().filter(|&&o| o).count()
    }

    /// Attempts outstanding at `replica`.
    pub fn outstanding(&self, replica: usize) -> u32 {
        self.outstanding[replica]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    fn rng() -> SimRng {
        SimRng::new(9, Stream::Workload)
    }

    #[test]
    fn round_robin_takes_each_replica_in_turn_skipping_ejected_ones() {
        let mut b = Balancer::new(Balance::RoundRobin, 3);
        let mut r = rng();
        let picks: Vec<_> = (0..4).map(|_| b.pick(&mut r)).collect();
        assert_eq!(picks, [0, 1, 2, 0]);
        b.set_out(1, true);
        let picks: Vec<_> = (0..3).map(|_| b.pick(&mut r)).collect();
        assert_eq!(picks, [2, 0, 2]);
        assert_eq!(b.ejected(), 1);
    }

    #[test]
    fn least_outstanding_avoids_a_replica_that_holds_attempts() {
        let mut b = Balancer::new(Balance::LeastOutstanding, 3);
        let mut r = rng();
        let mut first: Vec<usize> = (0..3).map(|_| b.pick(&mut r)).collect();
        first.sort();
        assert_eq!(first, [0, 1, 2], "one each before any second");
        b.done(1);
        assert_eq!(b.pick(&mut r), 1, "the one that answered");
        assert_eq!(b.outstanding(0), 1);
        let mut spread = [0; 3];
        for _ in 0..300 {
            let p = b.pick(&mut r);
            spread[p] += 1;
            b.done(p);
        }
        assert!(
            spread.iter().all(|&n| n > 60),
            "ties are broken at random: {spread:?}"
        );
    }

    #[test]
    fn two_choices_never_picks_the_busier_of_its_two_draws() {
        let mut b = Balancer::new(Balance::TwoChoices, 2);
        let mut r = rng();
        // Replica 0 holds 50 attempts; two distinct draws from two
        // replicas always include replica 1, and then it must win.
        for _ in 0..50 {
            b.outstanding[0] += 1;
        }
        let ones = (0..400)
            .filter(|_| {
                let p = b.pick(&mut r);
                b.done(p);
                p == 1
            })
            .count();
        assert_eq!(ones, 400, "the busy replica is never picked");
        let mut c = Balancer::new(Balance::TwoChoices, 3);
        c.outstanding[2] = 9;
        let mut picks = [0; 3];
        for _ in 0..300 {
            let p = c.pick(&mut r);
            c.done(p);
            picks[p] += 1;
        }
        assert_eq!(picks[2], 0, "of three, the busiest never wins a draw");
        assert!(picks[0] > 100 && picks[1] > 100, "{picks:?}");
    }

    #[test]
    fn random_spreads_and_every_policy_falls_back_when_all_are_ejected() {
        let mut r = rng();
        let mut b = Balancer::new(Balance::Random, 4);
        let mut counts = [0; 4];
        for _ in 0..400 {
            let p = b.pick(&mut r);
            counts[p] += 1;
            b.done(p);
        }
        assert!(counts.iter().all(|&c| c > 60), "{counts:?}");
        for policy in [
            Balance::RoundRobin,
            Balance::Random,
            Balance::LeastOutstanding,
            Balance::TwoChoices,
        ] {
            let mut b = Balancer::new(policy, 2);
            b.set_out(0, true);
            b.set_out(1, true);
            assert!(b.pick(&mut r) < 2, "{policy:?}");
        }
    }
}
