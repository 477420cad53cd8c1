//! Client-side load balancing (Finagle's and gRPC's model: each client
//! picks the replica of every attempt itself): round-robin, random,
//! least-outstanding-requests, power-of-two-choices and peak-EWMA
//! (latency-aware), over the replicas the client has not ejected.

use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
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
    /// Two distinct replicas drawn at random, the one with the lower cost:
    /// its peak-sensitive moving average of latency times its
    /// outstanding attempts plus one (Finagle's and Linkerd's peak EWMA).
    /// A slower answer than the average replaces it at once; faster ones
    /// pull it down gradually, and it decays while no answer comes, so a
    /// replica that was slow gets tried again.
    PeakEwma,
}

/// A peak-sensitive exponentially weighted moving average of latency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeakEwma {
    /// The average, in nanoseconds, as of `stamp`.
    cost_ns: f64,
    stamp: SimTime,
}

impl PeakEwma {
    /// The average at `now`, decayed for the time since it was last
    /// updated with time constant `decay`.
    pub fn at(&self, now: SimTime, decay: SimDuration) -> f64 {
        self.cost_ns * self.weight(now, decay)
    }

    /// Takes in a latency observed at `now`.
    pub fn observe(&mut self, latency: SimDuration, now: SimTime, decay: SimDuration) {
        let w = self.weight(now, decay);
        let rtt = latency.as_nanos() as f64;
        let decayed = self.cost_ns * w;
        self.cost_ns = if rtt > decayed {
            rtt
        } else {
            decayed + rtt * (1.0 - w)
        };
        self.stamp = now.max(self.stamp);
    }

    fn weight(&self, now: SimTime, decay: SimDuration) -> f64 {
        let elapsed = now.saturating_since(self.stamp).as_nanos() as f64;
        (-elapsed / decay.as_nanos() as f64).exp()
    }
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
    /// With peak-EWMA: each replica's latency average, and its decay.
    ewma: Vec<PeakEwma>,
    decay: SimDuration,
}

impl Balancer {
    /// A balancer over `replicas` replicas, all in rotation; peak-EWMA
    /// averages decay with time constant `decay`.
    pub fn new(policy: Balance, replicas: usize, decay: SimDuration) -> Self {
        assert!(replicas > 0, "a balancer needs a replica");
        assert!(decay > SimDuration::ZERO, "a decay above 0");
        let unknown = PeakEwma {
            cost_ns: 0.0,
            stamp: SimTime::ZERO,
        };
        Balancer {
            policy,
            outstanding: vec![0; replicas],
            out: vec![false; replicas],
            barred: vec![false; replicas],
            next: 0,
            ewma: vec![unknown; replicas],
            decay,
        }
    }

    /// The replica for the next attempt (counted outstanding until
    /// [`Balancer::done`]). When every replica not barred is ejected, all
    /// those are candidates again (Envoy's panic threshold at its
    /// extreme). Panics if every replica is barred: the caller fails the
    /// request fast instead.
    pub fn pick(&mut self, rng: &mut SimRng, now: SimTime) -> usize {
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
                let (a, b) = two_distinct(&candidates, rng);
                if load(&b) < load(&a) {
                    b
                } else {
                    a
                }
            }
            Balance::PeakEwma => {
                let (a, b) = two_distinct(&candidates, rng);
                let cost = |r: usize| {
                    let average = self.ewma[r].at(now, self.decay);
                    let held = f64::from(self.outstanding[r]);
                    // No latency known yet but attempts held: not free
                    // (Finagle's penalty), so an unanswered replica does not
                    // win every draw.
                    if average == 0.0 && held > 0.0 {
                        UNKNOWN_PENALTY_NS + held
                    } else {
                        average * (held + 1.0)
                    }
                };
                if cost(b) < cost(a) {
                    b
                } else {
                    a
                }
            }
        };
        self.outstanding[chosen] += 1;
        chosen
    }

    /// An attempt at `replica` ended at `now`, answered or given up
    /// `latency` after it was sent.
    pub fn done(&mut self, replica: usize, latency: SimDuration, now: SimTime) {
        self.outstanding[replica] = self.outstanding[replica].saturating_sub(1);
        if self.policy == Balance::PeakEwma {
            self.ewma[replica].observe(latency, now, self.decay);
        }
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

/// Peak-EWMA's cost of a replica with attempts held and no latency known
/// yet: above any latency average (an hour, in nanoseconds).
const UNKNOWN_PENALTY_NS: f64 = 3.6e12;

/// Two distinct candidates drawn at random (one twice when there is only
/// one), as Envoy and Finagle draw them.
fn two_distinct(candidates: &[usize], rng: &mut SimRng) -> (usize, usize) {
    let n = candidates.len();
    let i = rng.index(n);
    let j = if n > 1 {
        (i + 1 + rng.index(n - 1)) % n
    } else {
        i
    };
    (candidates[i], candidates[j])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    const SECOND: SimDuration = SimDuration::from_secs(1);
    const MS: SimDuration = SimDuration::from_millis(1);
    const T0: SimTime = SimTime::ZERO;

    fn rng() -> SimRng {
        SimRng::new(9, Stream::Workload)
    }

    #[test]
    fn round_robin_takes_each_replica_in_turn_skipping_ejected_ones() {
        let mut b = Balancer::new(Balance::RoundRobin, 3, SECOND);
        let mut r = rng();
        let picks: Vec<_> = (0..4).map(|_| b.pick(&mut r, T0)).collect();
        assert_eq!(picks, [0, 1, 2, 0]);
        b.set_out(1, true);
        let picks: Vec<_> = (0..3).map(|_| b.pick(&mut r, T0)).collect();
        assert_eq!(picks, [2, 0, 2]);
        assert_eq!(b.ejected(), 1);
    }

    #[test]
    fn least_outstanding_avoids_a_replica_that_holds_attempts() {
        let mut b = Balancer::new(Balance::LeastOutstanding, 3, SECOND);
        let mut r = rng();
        let mut first: Vec<usize> = (0..3).map(|_| b.pick(&mut r, T0)).collect();
        first.sort();
        assert_eq!(first, [0, 1, 2], "one each before any second");
        b.done(1, MS, T0);
        assert_eq!(b.pick(&mut r, T0), 1, "the one that answered");
        assert_eq!(b.outstanding(0), 1);
        let mut spread = [0; 3];
        for _ in 0..300 {
            let p = b.pick(&mut r, T0);
            spread[p] += 1;
            b.done(p, MS, T0);
        }
        assert!(
            spread.iter().all(|&n| n > 60),
            "ties are broken at random: {spread:?}"
        );
    }

    #[test]
    fn two_choices_never_picks_the_busier_of_its_two_draws() {
        let mut b = Balancer::new(Balance::TwoChoices, 2, SECOND);
        let mut r = rng();
        // Replica 0 holds 50 attempts; two distinct draws from two
        // replicas always include replica 1, and then it must win.
        for _ in 0..50 {
            b.outstanding[0] += 1;
        }
        let ones = (0..400)
            .filter(|_| {
                let p = b.pick(&mut r, T0);
                b.done(p, MS, T0);
                p == 1
            })
            .count();
        assert_eq!(ones, 400, "the busy replica is never picked");
        let mut c = Balancer::new(Balance::TwoChoices, 3, SECOND);
        c.outstanding[2] = 9;
        let mut picks = [0; 3];
        for _ in 0..300 {
            let p = c.pick(&mut r, T0);
            c.done(p, MS, T0);
            picks[p] += 1;
        }
        assert_eq!(picks[2], 0, "of three, the busiest never wins a draw");
        assert!(picks[0] > 100 && picks[1] > 100, "{picks:?}");
    }

    #[test]
    fn random_spreads_and_every_policy_falls_back_when_all_are_ejected() {
        let mut r = rng();
        let mut b = Balancer::new(Balance::Random, 4, SECOND);
        let mut counts = [0; 4];
        for _ in 0..400 {
            let p = b.pick(&mut r, T0);
            counts[p] += 1;
            b.done(p, MS, T0);
        }
        assert!(counts.iter().all(|&c| c > 60), "{counts:?}");
        for policy in [
            Balance::RoundRobin,
            Balance::Random,
            Balance::LeastOutstanding,
            Balance::TwoChoices,
        ] {
            let mut b = Balancer::new(policy, 2, SECOND);
            b.set_out(0, true);
            b.set_out(1, true);
            assert!(b.pick(&mut r, T0) < 2, "{policy:?}");
        }
    }

    #[test]
    fn peak_ewma_jumps_to_a_slow_answer_and_forgets_it_with_time() {
        let mut e = PeakEwma {
            cost_ns: 0.0,
            stamp: T0,
        };
        let at = |ms: u64| T0 + SimDuration::from_millis(ms);
        e.observe(SimDuration::from_millis(10), at(0), SECOND);
        assert_eq!(e.at(at(0), SECOND), 10e6);
        e.observe(SimDuration::from_millis(200), at(1), SECOND);
        assert_eq!(e.at(at(1), SECOND), 200e6, "a peak is taken at once");
        let later = e.at(at(1001), SECOND);
        assert!((later - 200e6 / std::f64::consts::E).abs() < 1.0, "{later}");
        // Fast answers pull it toward theirs, by the weight of the time
        // since the last one.
        let mut previous = 200e6;
        for s in 1..=8 {
            e.observe(SimDuration::from_millis(10), at(1 + 1000 * s), SECOND);
            let now = e.at(at(1 + 1000 * s), SECOND);
            assert!(now >= 10e6 && now <= previous, "after {s} s: {now}");
            previous = now;
        }
        assert_eq!(previous, 10e6, "at the fast answers' latency");
    }

    #[test]
    fn peak_ewma_does_not_pile_onto_a_replica_that_has_not_answered_yet() {
        let mut b = Balancer::new(Balance::PeakEwma, 2, SECOND);
        let mut r = rng();
        // Replica 1 answered fast once; replica 0 never has, and holds
        // one attempt: it is the costlier of the two.
        b.outstanding[0] = 1;
        b.ewma[1].observe(SimDuration::from_millis(20), T0, SECOND);
        for _ in 0..20 {
            let p = b.pick(&mut r, T0);
            assert_eq!(p, 1, "not the replica whose latency is unknown");
            b.done(p, SimDuration::from_millis(20), T0);
        }
    }

    #[test]
    fn peak_ewma_sends_little_to_a_slow_replica_and_tries_it_again_later() {
        let mut b = Balancer::new(Balance::PeakEwma, 3, SECOND);
        let mut r = rng();
        let mut now = T0;
        let mut to_slow = 0;
        for _ in 0..300 {
            now = now + SimDuration::from_millis(10);
            let p = b.pick(&mut r, now);
            let latency = SimDuration::from_millis(if p == 1 { 200 } else { 20 });
            to_slow += u32::from(p == 1);
            b.done(p, latency, now);
        }
        assert!(
            (1..=30).contains(&to_slow),
            "replica 1 answers ten times slower: {to_slow} of 300 picks"
        );
        // Quiet for a long while: the averages decay and all look alike.
        let idle = now + SimDuration::from_secs(30);
        let picks: Vec<usize> = (0..60).map(|_| b.pick(&mut r, idle)).collect();
        assert!(picks.contains(&1), "the slow one is tried again");
    }
}
