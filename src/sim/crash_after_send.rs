//! Crashes at the worst moment: a server crashes right after a handler in
//! which it sent a message, and restarts a moment later. A protocol that
//! answers before its state is durable (a vote granted before `votedFor` is
//! synced, an acceptor's promise, a coordinator's decision, a prepare) is
//! caught in the act: the reply is out, the state is gone. Timed crashes
//! almost never land in that window; this fault aims at it, the way
//! FoundationDB's simulator kills machines at interesting points.
//!
//! Each send of a message whose kind is eligible may trigger it, with a
//! probability the scenario (or a swarm mix) sets. When `kinds` is empty,
//! every kind the protocol names may be, and each is eligible for a whole
//! run or not (about half, decided from the seed and the kind's name), so
//! that some runs crash after votes and others after appends; a protocol
//! that names no kinds has every send eligible. Only one
//! node is down from this fault at a time. Draws come from a stream of
//! their own: turning it on leaves every other stream's draws alone.

use crate::rng::{SimRng, Stream};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// `[nemesis] crash_after_send`: the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct CrashAfterSend {
    /// The probability that a handler which sent an eligible message ends
    /// in a crash.
    pub probability: f64,
    /// The eligible message kinds (empty: each of the protocol's kinds, for
    /// about half the runs each).
    pub kinds: Vec<String>,
    /// The shortest time the crashed node stays down (drawn log-uniformly).
    pub down_min: SimDuration,
    /// The longest.
    pub down_max: SimDuration,
    /// No crash before this time (the nemesis's `start`).
    pub start: SimTime,
}

impl CrashAfterSend {
    /// The default downtime range, from a process its supervisor restarts
    /// at once to a one-second outage.
    pub const DOWN_DEFAULT: (SimDuration, SimDuration) =
        (SimDuration::from_micros(100), SimDuration::from_secs(1));
}

/// The fault's state in one run.
#[derive(Clone, Debug)]
pub struct CrashAfterSendState {
    config: CrashAfterSend,
    seed: u64,
    rng: SimRng,
    /// Whether each kind seen so far is eligible in this run.
    eligible: BTreeMap<&'static str, bool>,
    /// No new crash before this time: the last one's node is still down.
    quiet_until: SimTime,
}

impl CrashAfterSendState {
    /// The fault for the run with `seed`.
    pub fn new(config: CrashAfterSend, seed: u64) -> Self {
        CrashAfterSendState {
            config,
            seed,
            rng: SimRng::new(seed, Stream::CrashAfterSend),
            eligible: BTreeMap::new(),
            quiet_until: SimTime::ZERO,
        }
    }

    /// Whether a message of `kind` may trigger a crash in this run.
    pub fn eligible(&mut self, kind: &'static str) -> bool {
        let (config, seed) = (&self.config, self.seed);
        *self.eligible.entry(kind).or_insert_with(|| {
            if !config.kinds.is_empty() {
                config.kinds.iter().any(|k| k == kind)
            } else if kind == crate::process::DEFAULT_MESSAGE_KIND {
                true // a protocol that names no kinds: every send
            } else {
                super::buggify::active(seed, kind)
            }
        })
    }

    /// Whether a handler that sent an eligible message at `now` ends in a
    /// crash, and if so for how long the node stays down. One draw per
    /// call once the fault may fire (two when it fires), none before.
    pub fn fires(&mut self, now: SimTime, fault_end: SimTime) -> Option<SimDuration> {
        if now < self.config.start || now < self.quiet_until || now >= fault_end {
            return None;
        }
        if !self.rng.chance(self.config.probability) {
            return None;
        }
        let down = self.draw_down();
        self.quiet_until = now + down;
        Some(down)
    }

    /// A downtime, log-uniform over `[down_min, down_max]`: as likely a
    /// sub-millisecond restart (the node is back before its peers moved
    /// on, the case that shows forgotten state) as a one-second outage.
    fn draw_down(&mut self) -> SimDuration {
        let (lo, hi) = (self.config.down_min, self.config.down_max);
        SimDuration::from_nanos(self.rng.log_uniform(lo.as_nanos(), hi.as_nanos()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(probability: f64, kinds: &[&str]) -> CrashAfterSend {
        CrashAfterSend {
            probability,
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            down_min: SimDuration::from_millis(10),
            down_max: SimDuration::from_millis(20),
            start: SimTime::from_nanos(1_000),
        }
    }

    #[test]
    fn named_kinds_only_are_eligible() {
        let mut s = CrashAfterSendState::new(config(1.0, &["VoteReply"]), 3);
        assert!(s.eligible("VoteReply"));
        assert!(!s.eligible("AppendEntries"));
    }

    #[test]
    fn without_kinds_about_half_are_eligible_per_run() {
        let kinds: Vec<&'static str> = (0..200)
            .map(|i| &*Box::leak(format!("k{i}").into_boxed_str()))
            .collect();
        let mut s = CrashAfterSendState::new(config(1.0, &[]), 9);
        let n = kinds.iter().filter(|k| s.eligible(k)).count();
        assert!((70..130).contains(&n), "{n} of 200");
    }

    #[test]
    fn fires_only_in_its_window_and_one_node_at_a_time() {
        let mut s = CrashAfterSendState::new(config(1.0, &[]), 1);
        let end = SimTime::from_nanos(1_000_000_000);
        assert_eq!(s.fires(SimTime::from_nanos(999), end), None, "before start");
        let t = SimTime::from_nanos(5_000);
        let down = s.fires(t, end).expect("fires at probability 1");
        assert!((10_000_000..=20_000_000).contains(&down.as_nanos()));
        assert_eq!(s.fires(t + SimDuration::from_millis(5), end), None);
        assert!(s.fires(t + down, end).is_some(), "again once it is back");
        assert_eq!(s.fires(end, end), None, "not in the liveness phase");
    }

    #[test]
    fn never_fires_at_probability_zero() {
        let mut s = CrashAfterSendState::new(config(0.0, &[]), 1);
        let end = SimTime::from_nanos(u64::MAX / 2);
        assert!((0..10_000u64).all(|i| s.fires(SimTime::from_nanos(2_000 + i), end).is_none()));
    }
}
