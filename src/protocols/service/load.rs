//! Open-loop load: requests arrive as a Poisson process whose rate
//! follows the scenario's phases (a spike of N times for T, a ramp), the
//! way traffic reaches a service whatever state the service is in. Closed-
//! loop users (who wait for an answer and think) are the engine's workload.

use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use serde::Deserialize;

/// The shape of a load phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseKind {
    /// The rate is `x` times the base during the phase, the base after it.
    #[default]
    Spike,
    /// The rate climbs linearly from the base to `x` times it during the
    /// phase, and stays there.
    Ramp,
}

/// One phase of the load.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// When it starts.
    pub at: SimDuration,
    /// How long it lasts.
    #[serde(rename = "for")]
    pub length: SimDuration,
    /// The factor on the base rate.
    pub x: f64,
    /// Spike or ramp.
    #[serde(default)]
    pub kind: PhaseKind,
}

impl Phase {
    /// When it ends.
    pub fn end(&self) -> SimDuration {
        self.at + self.length
    }

    /// Its factor on the base rate at `t` (from the start of the run).
    fn factor(&self, t: SimDuration) -> f64 {
        if t < self.at {
            return 1.0;
        }
        match self.kind {
            PhaseKind::Spike if t < self.end() => self.x,
            PhaseKind::Spike => 1.0,
            PhaseKind::Ramp if t >= self.end() => self.x,
            PhaseKind::Ramp => {
                let done = (t - self.at).as_nanos() as f64 / self.length.as_nanos().max(1) as f64;
                1.0 + (self.x - 1.0) * done
            }
        }
    }
}

/// The open-loop load of one client: its share of the rate, and the phases.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// Requests per second at the base rate (0: no open-loop load).
    pub rate: f64,
    /// The phases, applied together (their factors multiply).
    pub phases: Vec<Phase>,
    /// No request arrives at or after this time.
    pub until: SimTime,
}

impl Load {
    /// The rate at `at`, in requests per second.
    pub fn rate_at(&self, at: SimTime) -> f64 {
        let t = at.saturating_since(SimTime::ZERO);
        self.phases.iter().map(|p| p.factor(t)).product::<f64>() * self.rate
    }

    /// The highest rate any time (the bound thinning draws against).
    fn peak(&self) -> f64 {
        self.phases.iter().map(|p| p.x.max(1.0)).product::<f64>() * self.rate
    }

    /// The next arrival after `now`, or `None` when none comes before
    /// `until`. Thinning (Lewis and Shedler): candidate arrivals at the
    /// peak rate, each kept with probability rate/peak, so any rate curve
    /// is followed exactly.
    pub fn next_arrival(&self, now: SimTime, rng: &mut SimRng) -> Option<SimTime> {
        let peak = self.peak();
        if peak.is_nan() || peak <= 0.0 {
            return None;
        }
        let mut t = now;
        loop {
            let gap_ns = (rng.standard_exponential() / peak * 1e9).min(1e15) as u64;
            t = t + SimDuration::from_nanos(gap_ns.max(1));
            if t >= self.until {
                return None;
            }
            if rng.unit() * peak < self.rate_at(t) {
                return Some(t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    fn secs(n: u64) -> SimDuration {
        SimDuration::from_secs(n)
    }

    fn arrivals_per_second(load: &Load, seed: u64) -> Vec<u32> {
        let mut rng = SimRng::new(seed, Stream::Workload);
        let mut counts = vec![0; (load.until.as_nanos() / 1_000_000_000) as usize];
        let mut t = SimTime::ZERO;
        while let Some(next) = load.next_arrival(t, &mut rng) {
            counts[(next.as_nanos() / 1_000_000_000) as usize] += 1;
            t = next;
        }
        counts
    }

    #[test]
    fn a_spike_multiplies_the_rate_for_its_length_only() {
        let load = Load {
            rate: 1000.0,
            phases: vec![Phase {
                at: secs(4),
                length: secs(2),
                x: 3.0,
                kind: PhaseKind::Spike,
            }],
            until: SimTime::ZERO + secs(10),
        };
        let counts = arrivals_per_second(&load, 1);
        for (second, &n) in counts.iter().enumerate() {
            let expected = if (4..6).contains(&second) { 3000 } else { 1000 };
            let slack = expected / 10;
            assert!(
                n.abs_diff(expected) < slack,
                "second {second}: {n} arrivals, expected about {expected}"
            );
        }
    }

    #[test]
    fn a_ramp_climbs_linearly_and_stays() {
        let load = Load {
            rate: 100.0,
            phases: vec![Phase {
                at: secs(2),
                length: secs(4),
                x: 5.0,
                kind: PhaseKind::Ramp,
            }],
            until: SimTime::ZERO + secs(8),
        };
        let at = |s: u64| load.rate_at(SimTime::ZERO + SimDuration::from_millis(s));
        assert_eq!(at(1000), 100.0);
        assert!((at(4000) - 300.0).abs() < 1e-6, "half-way: 3x");
        assert_eq!(at(7000), 500.0);
        let counts = arrivals_per_second(&load, 2);
        assert!(counts[7] > 400 && counts[0] < 140, "{counts:?}");
    }

    #[test]
    fn no_rate_or_no_time_left_means_no_arrival() {
        let mut rng = SimRng::new(3, Stream::Workload);
        let none = Load {
            rate: 0.0,
            phases: Vec::new(),
            until: SimTime::ZERO + secs(5),
        };
        assert_eq!(none.next_arrival(SimTime::ZERO, &mut rng), None);
        let over = Load {
            rate: 10.0,
            phases: Vec::new(),
            until: SimTime::ZERO + secs(5),
        };
        assert_eq!(over.next_arrival(SimTime::ZERO + secs(5), &mut rng), None);
    }
}
