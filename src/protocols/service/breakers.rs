//! The breaker state timeline (Hystrix's dashboard shows it live): for
//! each window of the run, how long breakers spent open and half-open,
//! summed over every client's breakers, from the state changes clients
//! note. An open breaker turns half-open by itself at the time its open
//! state names, so the timeline splits that span without a note.

use super::policy::BreakerState;
use crate::process::NodeId;
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// Time spent open and half-open per window, over every breaker.
#[derive(Clone, Debug)]
pub struct BreakerTimeline {
    window_ns: u64,
    /// The most windows kept; later time counts in the last one.
    max_windows: usize,
    /// Each breaker's state and since when, by (client, endpoint).
    current: BTreeMap<(u32, u32), (BreakerState, SimTime)>,
    open_ns: Vec<u64>,
    half_open_ns: Vec<u64>,
    opened: u64,
}

impl BreakerTimeline {
    /// A timeline of `window`s, at most `max_windows` of them.
    pub fn new(window: SimDuration, max_windows: usize) -> Self {
        assert!(
            window > SimDuration::ZERO && max_windows > 0,
            "a timeline needs windows"
        );
        BreakerTimeline {
            window_ns: window.as_nanos(),
            max_windows,
            current: BTreeMap::new(),
            open_ns: Vec::new(),
            half_open_ns: Vec::new(),
            opened: 0,
        }
    }

    /// Breaker `endpoint` of client `node` moved to `state` at `at`.
    pub fn changed(&mut self, at: SimTime, node: NodeId, endpoint: u32, state: BreakerState) {
        if let Some((before, since)) = self.current.insert((node.0, endpoint), (state, at)) {
            self.account(before, since, at);
        }
        self.opened += u64::from(matches!(state, BreakerState::Open { .. }));
    }

    /// Client `node` crashed at `at`: its breakers are gone (it starts
    /// again with closed ones).
    pub fn forget(&mut self, at: SimTime, node: NodeId) {
        let gone: Vec<(u32, u32)> = self
            .current
            .range((node.0, 0)..=(node.0, u32::MAX))
            .map(|(k, _)| *k)
            .collect();
        for key in gone {
            if let Some((state, since)) = self.current.remove(&key) {
                self.account(state, since, at);
            }
        }
    }

    /// How many times a breaker opened.
    pub fn opened(&self) -> u64 {
        self.opened
    }

    /// Per window up to `end`: the mean number of breakers open, and of
    /// breakers half-open (time in the state over the window's length).
    pub fn per_window(&self, end: SimTime) -> (Vec<f64>, Vec<f64>) {
        let mut upto = self.clone();
        for (state, since) in self.current.values() {
            upto.account(*state, *since, end);
        }
        let windows = (end.as_nanos().div_ceil(self.window_ns) as usize).min(self.max_windows);
        // The last kept window also holds the time past it.
        let length = |w: usize| -> u64 {
            if w + 1 == self.max_windows {
                end.as_nanos()
                    .saturating_sub(w as u64 * self.window_ns)
                    .max(self.window_ns)
            } else {
                self.window_ns
            }
        };
        let mean = |ns: &[u64]| -> Vec<f64> {
            (0..windows)
                .map(|w| {
                    let share = ns.get(w).copied().unwrap_or(0) as f64 / length(w) as f64;
                    (share * 100.0).round() / 100.0
                })
                .collect()
        };
        (mean(&upto.open_ns), mean(&upto.half_open_ns))
    }

    /// Counts `state`, held from `since` to `to`, into the windows.
    fn account(&mut self, state: BreakerState, since: SimTime, to: SimTime) {
        match state {
            BreakerState::Closed => {}
            BreakerState::HalfOpen { .. } => self.spread(Held::HalfOpen, since, to),
            BreakerState::Open { until } => {
                let turned = until.max(since).min(to);
                self.spread(Held::Open, since, turned);
                self.spread(Held::HalfOpen, turned, to);
            }
        }
    }

    /// Adds the span `[from, to)` to the windows it overlaps.
    fn spread(&mut self, held: Held, from: SimTime, to: SimTime) {
        let (window, max) = (self.window_ns, self.max_windows);
        let counts = match held {
            Held::Open => &mut self.open_ns,
            Held::HalfOpen => &mut self.half_open_ns,
        };
        let (mut t, end) = (from.as_nanos(), to.as_nanos());
        while t < end {
            let w = (t / window) as usize;
            let next = if w + 1 >= max {
                end
            } else {
                ((t / window + 1) * window).min(end)
            };
            let slot = w.min(max - 1);
            if counts.len() <= slot {
                counts.resize(slot + 1, 0);
            }
            counts[slot] += next - t;
            t = next;
        }
    }
}

/// Which of the two non-closed states a span is counted as.
#[derive(Clone, Copy)]
enum Held {
    Open,
    HalfOpen,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(n)
    }

    fn open_until(n: u64) -> BreakerState {
        BreakerState::Open { until: ms(n) }
    }

    #[test]
    fn an_open_breaker_counts_open_until_its_time_then_half_open_until_it_closes() {
        let mut t = BreakerTimeline::new(SimDuration::from_secs(1), 100);
        // Opens at 0.5 s for 1 s, half-open from 1.5 s, closes at 2.25 s.
        t.changed(ms(500), NodeId(3), 0, open_until(1500));
        t.changed(ms(2250), NodeId(3), 0, BreakerState::Closed);
        let (open, half) = t.per_window(ms(4000));
        assert_eq!(open, [0.5, 0.5, 0.0, 0.0]);
        assert_eq!(half, [0.0, 0.5, 0.25, 0.0]);
        assert_eq!(t.opened(), 1);
    }

    #[test]
    fn breakers_of_several_clients_add_up_and_a_crash_forgets_a_clients() {
        let mut t = BreakerTimeline::new(SimDuration::from_secs(1), 100);
        t.changed(ms(0), NodeId(3), 0, open_until(10_000));
        t.changed(ms(0), NodeId(4), 1, open_until(10_000));
        t.changed(ms(0), NodeId(4), 2, open_until(10_000));
        t.forget(ms(1000), NodeId(4));
        let (open, _) = t.per_window(ms(2000));
        assert_eq!(open, [3.0, 1.0], "still open at the end counts too");
    }

    #[test]
    fn time_past_the_last_window_counts_in_it() {
        let mut t = BreakerTimeline::new(SimDuration::from_secs(1), 2);
        t.changed(ms(0), NodeId(3), 0, open_until(5000));
        t.changed(ms(5000), NodeId(3), 0, BreakerState::Closed);
        let (open, _) = t.per_window(ms(6000));
        assert_eq!(open, [1.0, 0.8], "4 s open of the 5 s the last holds");
    }
}
