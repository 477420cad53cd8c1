//! Per-node clocks: an offset from true time and a drift rate. A node reads
//! its own clock and its timers run by it: a timer of `d` local nanoseconds
//! on a clock running `ppm` parts per million fast fires after
//! `d / (1 + ppm/1e6)` true nanoseconds. Integer arithmetic throughout.

use crate::time::{SimDuration, SimTime};

const MILLION: i128 = 1_000_000;

/// One node's clock. Invariant: `drift_ppm > -1_000_000` (time moves forward).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeClock {
    anchor_true_ns: u64,
    anchor_local_ns: i64,
    drift_ppm: i64,
}

impl NodeClock {
    /// The node's clock reading at true time `now` (never below zero).
    pub fn local(&self, now: SimTime) -> SimTime {
        if self.drift_ppm == 0 && self.anchor_local_ns == self.anchor_true_ns as i64 {
            return now; // an exact clock: the common case, kept cheap
        }
        let elapsed = i128::from(now.as_nanos().saturating_sub(self.anchor_true_ns));
        let local = i128::from(self.anchor_local_ns)
            + elapsed * (MILLION + i128::from(self.drift_ppm)) / MILLION;
        SimTime::from_nanos(local.clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// The true time that passes while this clock advances by `local`.
    pub fn true_delay(&self, local: SimDuration) -> SimDuration {
        if self.drift_ppm == 0 {
            return local;
        }
        let rate = MILLION + i128::from(self.drift_ppm);
        let ns = (i128::from(local.as_nanos()) * MILLION + rate - 1) / rate;
        SimDuration::from_nanos(ns.clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// From true time `now` on, read `now + offset_ns` and drift at `drift_ppm`.
    pub fn set(&mut self, now: SimTime, offset_ns: i64, drift_ppm: i64) {
        assert!(drift_ppm > -1_000_000, "a clock cannot run backwards");
        self.anchor_true_ns = now.as_nanos();
        self.anchor_local_ns = (now.as_nanos() as i64).saturating_add(offset_ns);
        self.drift_ppm = drift_ppm;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_clock_fires_timers_early() {
        let mut clock = NodeClock::default();
        clock.set(SimTime::ZERO, 0, 100_000); // 10% fast
        let d = clock.true_delay(SimDuration::from_millis(110));
        assert_eq!(d, SimDuration::from_millis(100));
        assert_eq!(
            clock.local(SimTime::from_nanos(1_000_000_000)).as_nanos(),
            1_100_000_000
        );
    }

    #[test]
    fn offset_shifts_readings_not_timers() {
        let mut clock = NodeClock::default();
        clock.set(SimTime::from_nanos(1_000), -500, 0);
        assert_eq!(clock.local(SimTime::from_nanos(2_000)).as_nanos(), 1_500);
        assert_eq!(
            clock.true_delay(SimDuration::from_nanos(10)),
            SimDuration::from_nanos(10)
        );
    }
}
