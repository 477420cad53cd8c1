//! The progress check (`engine.progress`): once every fault is repaired,
//! the work a run does must come back to proportion. A livelock (two
//! replicas that reject each other's messages forever, a retry storm that
//! outlives its trigger) passes every safety check and often liveness too,
//! since the rest of the system still answers; what gives it away is work.
//!
//! The meter counts events per window of simulated time through the fault
//! phase, and the events of the run's last window (the end of the liveness
//! phase, when faults have been repaired for a while and no new operations
//! start). The last window may do at most `factor` times the fault phase's
//! baseline, its lower quartile window: a protocol at rest after its
//! faults does less than it did while serving clients under them, a
//! livelocked one does orders of magnitude more.

use crate::process::Violation;
use crate::time::{SimDuration, SimTime};

/// Most fault-phase windows a meter keeps: a longer run's window widens
/// so the count stays bounded.
const MAX_WINDOWS: u64 = 100_000;

/// How `engine.progress` judges a run.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkBound {
    /// The window work is counted over.
    pub window: SimDuration,
    /// The last window may do this many times the fault phase's baseline.
    pub factor: f64,
}

impl Default for WorkBound {
    fn default() -> Self {
        WorkBound {
            window: SimDuration::from_secs(1),
            factor: 10.0,
        }
    }
}

/// What the meter concluded.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkVerdict {
    /// The last window's work was in proportion.
    Held {
        /// Events in the last window.
        last: u64,
        /// The fault phase's baseline (lower quartile) of events per window.
        baseline: u64,
    },
    /// The last window did too much.
    Violated(Violation),
    /// The run has no window to judge or none to compare with (a fault
    /// phase or liveness phase shorter than the window).
    NotApplicable(&'static str),
}

/// Which part of the run the meter is counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Segment {
    /// Window `i` of the fault phase.
    Window(usize),
    /// After the fault phase, before the last window: not counted.
    Gap,
    /// The run's last window.
    Tail,
}

/// Counts events per window through a run. The per-event path is one
/// comparison and one increment; the bookkeeping happens at window edges.
#[derive(Clone, Debug)]
pub struct WorkMeter {
    bound: WorkBound,
    window_ns: u64,
    fault_end_ns: u64,
    tail_start_ns: u64,
    /// Events per window of the fault phase, from time 0, as of the last
    /// edge crossed.
    windows: Vec<u64>,
    /// Events at or after `tail_start_ns`, as of the last edge crossed.
    tail: u64,
    /// Messages sent at or after `tail_start_ns`.
    tail_messages: u64,
    /// What is being counted now, how many so far, and where it ends.
    segment: Segment,
    count: u64,
    next_edge_ns: u64,
    /// The least baseline the verdict takes (events per window).
    floor: u64,
}

impl WorkMeter {
    /// A meter for a run whose fault phase ends at `fault_end` and which
    /// ends at `end`.
    pub fn new(bound: WorkBound, fault_end: SimTime, end: SimTime) -> Self {
        let fault_ns = fault_end.as_nanos();
        let window_ns = bound
            .window
            .as_nanos()
            .max(fault_ns.div_ceil(MAX_WINDOWS))
            .max(1);
        let tail_start_ns = end.as_nanos().saturating_sub(window_ns);
        WorkMeter {
            window_ns,
            fault_end_ns: fault_ns,
            tail_start_ns,
            windows: Vec::new(),
            tail: 0,
            tail_messages: 0,
            segment: Segment::Window(0),
            count: 0,
            next_edge_ns: window_ns.min(fault_ns).min(tail_start_ns),
            bound,
            floor: 1,
        }
    }

    /// The same meter, taking a baseline of at least `floor` events per
    /// window: a fault phase that stood idle (its coordinator down for
    /// most of it) is no measure of normal work, and the recovery that
    /// follows its repair would look like a storm against it. The engine
    /// sets one event per process.
    pub fn with_floor(mut self, floor: u64) -> Self {
        self.floor = floor.max(1);
        self
    }

    /// Counts one event at `now` (events come in time order).
    #[inline(always)]
    pub fn event(&mut self, now: SimTime) {
        let ns = now.as_nanos();
        if ns >= self.next_edge_ns {
            self.cross(ns);
        }
        self.count += 1;
    }

    /// Counts one message sent at `now`.
    #[inline(always)]
    pub fn message(&mut self, now: SimTime) {
        if now.as_nanos() >= self.tail_start_ns {
            self.tail_messages += 1;
        }
    }

    /// Messages sent in the run's last window.
    pub fn last_window_messages(&self) -> u64 {
        self.tail_messages
    }

    /// Whether the run's last window lies wholly in its liveness phase (a
    /// run without one, or with one shorter than a window, is not judged).
    fn last_window_after_faults(&self) -> bool {
        self.tail_start_ns >= self.fault_end_ns
    }

    /// `engine.quiescence` at the end of a run that reached its end at
    /// `end`: a protocol that goes quiet once its faults are repaired and
    /// its operations done sends nothing in the run's last window.
    pub fn quiescence(&self, end: SimTime) -> Option<Violation> {
        if !self.last_window_after_faults() || self.tail_messages == 0 {
            return None;
        }
        let window = SimDuration::from_nanos(self.window_ns);
        let message = format!(
            "the protocol goes quiet once its faults are repaired and no operation is left, but the run's last {window} still sent {} messages: a retransmission that never ends, or work that leaked",
            self.tail_messages
        );
        Some(Violation::new("engine.quiescence", end, message))
    }

    /// Moves on to the segment holding `ns`.
    #[cold]
    fn cross(&mut self, ns: u64) {
        self.flush();
        (self.segment, self.next_edge_ns) = if ns >= self.tail_start_ns {
            (Segment::Tail, u64::MAX)
        } else if ns >= self.fault_end_ns {
            (Segment::Gap, self.tail_start_ns)
        } else {
            let index = ns / self.window_ns;
            let edge = (index + 1).saturating_mul(self.window_ns);
            let edge = edge.min(self.fault_end_ns).min(self.tail_start_ns);
            (Segment::Window(index as usize), edge)
        };
    }

    /// Adds the current count to its segment.
    fn flush(&mut self) {
        match self.segment {
            Segment::Window(i) => {
                if i >= self.windows.len() {
                    self.windows.resize(i + 1, 0);
                }
                self.windows[i] += self.count;
            }
            Segment::Tail => self.tail += self.count,
            Segment::Gap => {}
        }
        self.count = 0;
    }

    /// Events in the run's last window so far.
    pub fn last_window(&self) -> u64 {
        match self.segment {
            Segment::Tail => self.tail + self.count,
            _ => self.tail,
        }
    }

    /// The baseline: the lower quartile of events per full window of the
    /// fault phase, at least the floor (`None` when the fault phase is
    /// shorter than a window): the figure the verdict compares against,
    /// and the one the run's metrics report. A quartile rather than the
    /// median, so a storm that set in early in the fault phase does not
    /// become its own baseline.
    pub fn baseline_window(&self) -> Option<u64> {
        let full = (self.fault_end_ns / self.window_ns) as usize;
        let mut counts: Vec<u64> = self.windows.iter().take(full).copied().collect();
        counts.resize(full, 0);
        if let Segment::Window(i) = self.segment {
            if i < full {
                counts[i] += self.count;
            }
        }
        counts.sort_unstable();
        counts.get(counts.len() / 4).map(|&q| q.max(self.floor))
    }

    /// The verdict at the end of a run that reached its end at `end`.
    pub fn verdict(&self, end: SimTime) -> WorkVerdict {
        if !self.last_window_after_faults() {
            return WorkVerdict::NotApplicable("the liveness phase is shorter than the window");
        }
        let Some(baseline) = self.baseline_window() else {
            return WorkVerdict::NotApplicable("the fault phase is shorter than the window");
        };
        let last = self.last_window();
        let limit = self.bound.factor * baseline as f64;
        if (last as f64) <= limit {
            return WorkVerdict::Held { last, baseline };
        }
        let window = SimDuration::from_nanos(self.window_ns);
        let message = format!(
            "after every fault was repaired, the run's last {window} processed {} events, {:.0}x the fault phase's baseline of {baseline} per {window} (its lower quartile, at least one event per process; limit: progress_factor = {}): a livelock or a message storm that outlived its faults",
            last,
            last as f64 / baseline as f64,
            self.bound.factor
        );
        WorkVerdict::Violated(Violation::new("engine.progress", end, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meter(factor: f64) -> WorkMeter {
        let bound = WorkBound {
            window: SimDuration::from_secs(1),
            factor,
        };
        WorkMeter::new(
            bound,
            SimTime::from_nanos(4_000_000_000),
            SimTime::from_nanos(6_000_000_000),
        )
    }

    fn feed(m: &mut WorkMeter, from_ms: u64, to_ms: u64, per_ms: u64) {
        for ms in from_ms..to_ms {
            for _ in 0..per_ms {
                m.event(SimTime::from_nanos(ms * 1_000_000));
            }
        }
    }

    #[test]
    fn a_quiet_liveness_phase_holds() {
        let mut m = meter(10.0);
        feed(&mut m, 0, 4000, 5);
        feed(&mut m, 4000, 6000, 1);
        let verdict = m.verdict(SimTime::from_nanos(6_000_000_000));
        assert_eq!(
            verdict,
            WorkVerdict::Held {
                last: 1000,
                baseline: 5000
            }
        );
    }

    #[test]
    fn a_storm_that_outlives_its_faults_is_a_violation() {
        let mut m = meter(10.0);
        feed(&mut m, 0, 4000, 5);
        feed(&mut m, 4000, 6000, 60);
        match m.verdict(SimTime::from_nanos(6_000_000_000)) {
            WorkVerdict::Violated(v) => {
                assert_eq!(v.check, "engine.progress");
                assert!(v.message.contains("60000 events"), "{}", v.message);
            }
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    /// A fault phase that stood idle (one event per window: its
    /// coordinator was down) is no baseline: with a floor of one event per
    /// process, the recovery after it holds; without, it looked like a storm.
    #[test]
    fn an_idle_fault_phase_is_measured_against_the_floor() {
        let run = |floor| {
            let mut m = meter(10.0).with_floor(floor);
            for s in 0..4u64 {
                m.event(SimTime::from_nanos(s * 1_000_000_000 + 10));
            }
            for k in 0..11u64 {
                m.event(SimTime::from_nanos(5_500_000_000 + k));
            }
            (
                m.verdict(SimTime::from_nanos(6_000_000_000)),
                m.baseline_window(),
            )
        };
        assert!(matches!(run(1).0, WorkVerdict::Violated(_)), "{:?}", run(1));
        // What the metrics report is the baseline the verdict used.
        assert_eq!(run(1).1, Some(1));
        assert_eq!(run(4).1, Some(4));
        assert!(
            matches!(
                run(4).0,
                WorkVerdict::Held {
                    last: 11,
                    baseline: 4
                }
            ),
            "{:?}",
            run(4)
        );
    }

    #[test]
    fn the_baseline_ignores_a_few_busy_windows() {
        let mut m = meter(10.0);
        feed(&mut m, 0, 1000, 500); // one busy window
        feed(&mut m, 1000, 4000, 5);
        feed(&mut m, 4000, 6000, 20);
        assert!(matches!(
            m.verdict(SimTime::from_nanos(6_000_000_000)),
            WorkVerdict::Held { baseline: 5000, .. }
        ));
    }

    #[test]
    fn no_liveness_phase_means_nothing_to_judge() {
        let end = SimTime::from_nanos(4_000_000_000);
        let mut m = WorkMeter::new(WorkBound::default(), end, end);
        feed(&mut m, 0, 4000, 5);
        assert!(matches!(m.verdict(end), WorkVerdict::NotApplicable(_)));
    }
}
