//! What a client knows of each replica's health, from two sources (as an
//! Envoy cluster has them): passive outlier detection (a replica whose
//! attempts fail, or take longer than `slow_after`, `consecutive` times in
//! a row is ejected for `eject_for`, never more than `max_ejected` of the
//! replicas at once) and active health checks (a probe to every replica
//! each `interval`; `unhealthy` missed or failed probes in a row take it
//! out, `healthy` answered ones in a row put it back). A replica is out of
//! rotation while either says so.

use crate::time::{SimDuration, SimTime};
use serde::Deserialize;

/// `[service.outlier]`: passive outlier ejection.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutlierOptions {
    /// Failed attempts in a row that eject a replica.
    pub consecutive: u32,
    /// An attempt slower than this counts as failed (latency ejection).
    pub slow_after: Option<SimDuration>,
    /// How long an ejection lasts.
    pub eject_for: SimDuration,
    /// The largest share of replicas ejected at once.
    pub max_ejected: f64,
}

impl Default for OutlierOptions {
    fn default() -> Self {
        OutlierOptions {
            consecutive: 5,
            slow_after: None,
            eject_for: SimDuration::from_secs(5),
            max_ejected: 0.5,
        }
    }
}

/// `[service.health]`: active health checks.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthOptions {
    /// Time between probes of every replica.
    pub interval: SimDuration,
    /// A probe unanswered this long failed.
    pub timeout: SimDuration,
    /// Failed probes in a row that take a replica out.
    pub unhealthy: u32,
    /// Answered probes in a row that put it back.
    pub healthy: u32,
}

impl Default for HealthOptions {
    fn default() -> Self {
        HealthOptions {
            interval: SimDuration::from_millis(500),
            timeout: SimDuration::from_millis(200),
            unhealthy: 2,
            healthy: 2,
        }
    }
}

/// A change in what a client thinks of a replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Ejected by outlier detection.
    Ejected,
    /// Taken out by health checks.
    MarkedDown,
    /// Put back by health checks.
    MarkedUp,
}

/// One client's view of every replica.
#[derive(Clone, Debug)]
pub struct Health {
    outlier: Option<OutlierOptions>,
    checks: Option<HealthOptions>,
    /// Failed attempts in a row, per replica.
    failures: Vec<u32>,
    /// Until when each replica is ejected.
    ejected_until: Vec<Option<SimTime>>,
    /// Probe results in a row (negative: failures), per replica.
    streak: Vec<i64>,
    /// Replicas health checks hold out.
    down: Vec<bool>,
}

impl Health {
    /// Everything healthy, for `replicas` replicas.
    pub fn new(
        outlier: Option<OutlierOptions>,
        checks: Option<HealthOptions>,
        replicas: usize,
    ) -> Self {
        Health {
            outlier,
            checks,
            failures: vec![0; replicas],
            ejected_until: vec![None; replicas],
            streak: vec![0; replicas],
            down: vec![false; replicas],
        }
    }

    /// Whether anything can take a replica out (outlier ejection or
    /// health checks are configured).
    pub fn active(&self) -> bool {
        self.outlier.is_some() || self.checks.is_some()
    }

    /// The health-check settings, if the client probes.
    pub fn checks(&self) -> Option<&HealthOptions> {
        self.checks.as_ref()
    }

    /// Whether `replica` is out of rotation at `now`.
    pub fn out(&mut self, replica: usize, now: SimTime) -> bool {
        if self.ejected_until[replica].is_some_and(|until| now >= until) {
            self.ejected_until[replica] = None;
        }
        self.down[replica] || self.ejected_until[replica].is_some()
    }

    /// An attempt at `replica` ended after `latency`, failed or not.
    pub fn attempt_ended(
        &mut self,
        replica: usize,
        failed: bool,
        latency: SimDuration,
        now: SimTime,
    ) -> Option<Change> {
        let o = self.outlier?;
        let bad = failed || o.slow_after.is_some_and(|slow| latency > slow);
        if !bad {
            self.failures[replica] = 0;
            return None;
        }
        self.failures[replica] += 1;
        if self.failures[replica] < o.consecutive || self.ejected_until[replica].is_some() {
            return None;
        }
        let ejected = (0..self.ejected_until.len())
            .filter(|&r| self.out(r, now))
            .count();
        let allowed = (o.max_ejected * self.ejected_until.len() as f64).floor() as usize;
        if ejected >= allowed {
            return None;
        }
        self.failures[replica] = 0;
        self.ejected_until[replica] = Some(now + o.eject_for);
        Some(Change::Ejected)
    }

    /// A probe of `replica` was answered (`ok`) or not.
    pub fn probed(&mut self, replica: usize, ok: bool) -> Option<Change> {
        let c = self.checks.as_ref()?;
        let s = &mut self.streak[replica];
        *s = match (ok, *s > 0) {
            (true, true) => *s + 1,
            (true, false) => 1,
            (false, false) => *s - 1,
            (false, true) => -1,
        };
        if self.down[replica] && *s >= i64::from(c.healthy) {
            self.down[replica] = false;
            return Some(Change::MarkedUp);
        }
        if !self.down[replica] && *s <= -i64::from(c.unhealthy) {
            self.down[replica] = true;
            return Some(Change::MarkedDown);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    fn at(n: u64) -> SimTime {
        SimTime::ZERO + ms(n)
    }

    fn outlier() -> OutlierOptions {
        OutlierOptions {
            consecutive: 3,
            slow_after: Some(ms(100)),
            eject_for: ms(1000),
            max_ejected: 0.5,
        }
    }

    #[test]
    fn consecutive_failures_or_slow_answers_eject_a_replica_for_a_while() {
        let mut h = Health::new(Some(outlier()), None, 4);
        assert_eq!(h.attempt_ended(1, true, ms(5), at(0)), None);
        assert_eq!(
            h.attempt_ended(1, false, ms(150), at(0)),
            None,
            "slow counts as failed"
        );
        assert_eq!(
            h.attempt_ended(1, true, ms(5), at(10)),
            Some(Change::Ejected)
        );
        assert!(h.out(1, at(1009)) && !h.out(0, at(1009)));
        assert!(!h.out(1, at(1010)), "back after eject_for");
        h.attempt_ended(2, true, ms(5), at(0));
        h.attempt_ended(2, false, ms(5), at(0));
        h.attempt_ended(2, true, ms(5), at(0));
        h.attempt_ended(2, true, ms(5), at(0));
        assert!(!h.out(2, at(0)), "a success in between resets the count");
    }

    #[test]
    fn no_more_than_max_ejected_are_out_at_once() {
        let mut h = Health::new(Some(outlier()), None, 4);
        let mut ejected = 0;
        for r in 0..4 {
            for _ in 0..3 {
                if h.attempt_ended(r, true, ms(5), at(0)).is_some() {
                    ejected += 1;
                }
            }
        }
        assert_eq!(ejected, 2, "half of four");
        assert_eq!((0..4).filter(|&r| h.out(r, at(1))).count(), 2);
    }

    #[test]
    fn health_checks_take_a_replica_out_and_put_it_back_after_their_streaks() {
        let mut h = Health::new(None, Some(HealthOptions::default()), 2);
        assert_eq!(h.probed(0, false), None);
        assert_eq!(h.probed(0, false), Some(Change::MarkedDown));
        assert!(h.out(0, at(0)));
        assert_eq!(h.probed(0, false), None);
        assert_eq!(h.probed(0, true), None);
        assert_eq!(h.probed(0, false), None, "a failure breaks the streak");
        assert_eq!(h.probed(0, true), None);
        assert_eq!(h.probed(0, true), Some(Change::MarkedUp));
        assert!(!h.out(0, at(0)));
        assert_eq!(
            h.attempt_ended(0, true, ms(1), at(0)),
            None,
            "no outlier detection configured"
        );
    }
}
