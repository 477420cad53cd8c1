//! Windowed counts by event time (the Dataflow model): tumbling windows
//! (`slide` = `window`) or sliding ones, a watermark that trails the
//! event times seen by the bounded out-of-orderness, and allowed
//! lateness. An event whose window the watermark has passed is late: it
//! still updates the window's count within the allowed lateness, and is
//! dropped (counted as such) after. As in Flink and the Dataflow model,
//! the watermark is the least over the partitions seen of each one's
//! latest event time: a partition read behind the others holds it back,
//! so events are late only when they reached their own partition late.
//!
//! Invariant: for every window, counted + dropped is the number of events
//! with event times in it that were applied (the check `log.windows`
//! compares it with the final logs).

use super::Partition;
use crate::time::SimDuration;
use std::collections::BTreeMap;

/// How windows are cut and closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    /// A window's length (ns).
    pub window_ns: u64,
    /// How far apart windows start (ns); `window_ns` for tumbling windows.
    pub slide_ns: u64,
    /// The watermark trails the latest event time by this (ns).
    pub out_of_orderness_ns: u64,
    /// How long after the watermark passes a window's end its count may
    /// still change (ns).
    pub allowed_lateness_ns: u64,
}

impl WindowSpec {
    /// A spec from the options' durations (`slide` zero: tumbling).
    pub fn new(
        window: SimDuration,
        slide: SimDuration,
        out_of_orderness: SimDuration,
        allowed_lateness: SimDuration,
    ) -> Self {
        let window_ns = window.as_nanos();
        let slide_ns = match slide.as_nanos() {
            0 => window_ns,
            s => s,
        };
        assert!(
            window_ns > 0 && slide_ns > 0 && window_ns % slide_ns == 0,
            "a window is a whole number of slides"
        );
        WindowSpec {
            window_ns,
            slide_ns,
            out_of_orderness_ns: out_of_orderness.as_nanos(),
            allowed_lateness_ns: allowed_lateness.as_nanos(),
        }
    }

    /// The starts of the windows holding event time `t`.
    pub fn starts(&self, t: u64) -> impl Iterator<Item = u64> {
        let last = t - t % self.slide_ns;
        let (window, slide) = (self.window_ns, self.slide_ns);
        (0..window / slide)
            .map(move |k| k * slide)
            .take_while(move |&back| back <= last)
            .map(move |back| last - back)
            .filter(move |&start| t < start + window)
    }
}

/// One window's tally.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Events counted in it.
    pub counted: u64,
    /// Of those, counted after the watermark passed its end.
    pub late: u64,
    /// Events dropped: past its end plus the allowed lateness.
    pub dropped: u64,
}

/// The state of a windowed count: what a checkpoint holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Windows {
    /// The latest event time seen in each partition (ns).
    pub latest_ns: BTreeMap<Partition, u64>,
    /// Each window's tally, by start (ns).
    pub tallies: BTreeMap<u64, Tally>,
}

impl Windows {
    /// The watermark: no event older than this is expected any more.
    pub fn watermark_ns(&self, spec: &WindowSpec) -> u64 {
        let least = self.latest_ns.values().min().copied().unwrap_or(0);
        least.saturating_sub(spec.out_of_orderness_ns)
    }

    /// Counts (or drops) an event of time `t` read from `partition`.
    pub fn add(&mut self, spec: &WindowSpec, partition: Partition, t: u64) {
        let watermark = self.watermark_ns(spec);
        for start in spec.starts(t) {
            let end = start + spec.window_ns;
            let tally = self.tallies.entry(start).or_default();
            if watermark >= end + spec.allowed_lateness_ns {
                tally.dropped += 1;
            } else {
                tally.counted += 1;
                tally.late += u64::from(watermark >= end);
            }
        }
        let latest = self.latest_ns.entry(partition).or_insert(t);
        *latest = (*latest).max(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    #[test]
    fn an_event_falls_in_one_tumbling_window_and_window_over_slide_sliding_ones() {
        let tumbling = WindowSpec::new(ms(100), SimDuration::ZERO, ms(0), ms(0));
        assert_eq!(
            tumbling.starts(250_000_000).collect::<Vec<_>>(),
            [200_000_000]
        );
        let sliding = WindowSpec::new(ms(100), ms(50), ms(0), ms(0));
        assert_eq!(
            sliding.starts(260_000_000).collect::<Vec<_>>(),
            [250_000_000, 200_000_000]
        );
        assert_eq!(
            sliding.starts(10_000_000).collect::<Vec<_>>(),
            [0],
            "none before 0"
        );
    }

    #[test]
    fn late_events_update_within_the_allowed_lateness_and_are_dropped_after() {
        let spec = WindowSpec::new(ms(100), SimDuration::ZERO, ms(20), ms(30));
        let mut w = Windows::default();
        w.add(&spec, 0, 50_000_000); // window 0, on time
        w.add(&spec, 0, 125_000_000); // watermark 105 ms: window 0 has ended
        w.add(&spec, 0, 60_000_000); // late, within lateness (105 < 130)
        w.add(&spec, 0, 160_000_000); // watermark 140 ms
        w.add(&spec, 0, 70_000_000); // past 130 ms: dropped
        let t0 = w.tallies[&0];
        assert_eq!((t0.counted, t0.late, t0.dropped), (2, 1, 1));
        assert_eq!(w.tallies[&100_000_000].counted, 2);
        // A partition read behind the others holds the watermark back
        // (its own first event, unseen till then, is judged without it).
        w.add(&spec, 1, 10_000_000);
        assert_eq!(w.watermark_ns(&spec), 0);
        w.add(&spec, 0, 80_000_000);
        let t0 = w.tallies[&0];
        assert_eq!(
            (t0.counted, t0.dropped),
            (3, 2),
            "80 ms counted: partition 1 is behind"
        );
    }
}
