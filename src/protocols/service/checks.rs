//! The checks and metrics of a service under load. Requests are counted
//! into windows of `[service] window` by the true time they ended, so
//! goodput (requests answered successfully before their deadline) is a
//! series over the run; latencies go into an HdrHistogram, so memory stays
//! bounded whatever the request count.
//!
//! - `service.recovery` (eventually): after the trigger (the load phases
//!   and slow windows, or `[service.recovery] trigger`) ends, goodput
//!   comes back to `fraction` of its level over the `baseline` before the
//!   trigger, in some window starting within `within`. Goodput is judged
//!   relative to demand: the share of the requests ending in a window that
//!   got their answer in time (so a quieter stretch of arrivals is not a
//!   failure). A service that stays down once the trigger is gone has a
//!   metastable failure (failure kind `metastable`).
//! - `service.slo` (at end): availability (the share of requests that got
//!   goodput) and the p99 latency of successful requests, as
//!   `[service.slo]` asks (kinds `availability`, `latency-p99`).

use super::breakers::BreakerTimeline;
use super::health::Change;
use super::options::{RecoveryOptions, ServiceOptions, SloOptions};
use super::{Note, Outcome, ServiceNode, Status};
use crate::process::{CheckInfo, EndState, Invariants, Lifecycle, NodeId, Violation};
use crate::time::{SimDuration, SimTime};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::ops::Range;

/// Every check the service reports.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo::eventually("service.recovery"),
    CheckInfo::at_end("service.slo"),
];

/// The most windows counted (a run of a day at one-second windows); later
/// requests count in the last one.
const WINDOWS_MAX: usize = 86_400;

/// Counts per window.
#[derive(Clone, Debug, Default)]
struct Series {
    /// Requests that ended with goodput.
    good: Vec<u64>,
    /// Requests that ended (any outcome).
    ended: Vec<u64>,
    /// Attempts sent (first ones and retries).
    attempts: Vec<u64>,
}

impl Series {
    /// The count of `window` in `counts`, grown to hold it (windows past
    /// [`WINDOWS_MAX`] share the last).
    fn slot(counts: &mut Vec<u64>, window: usize) -> &mut u64 {
        let window = window.min(WINDOWS_MAX - 1);
        if counts.len() <= window {
            counts.resize(window + 1, 0);
        }
        &mut counts[window]
    }

    fn bump(counts: &mut Vec<u64>, window: usize) {
        *Series::slot(counts, window) += 1;
    }
}

/// The checks of one run.
#[derive(Debug)]
pub struct ServiceChecks {
    window: SimDuration,
    duration: SimDuration,
    trigger: Option<(SimDuration, SimDuration)>,
    recovery: RecoveryOptions,
    slo: SloOptions,
    series: Series,
    outcomes: BTreeMap<Outcome, u64>,
    latency: Histogram<u64>,
    attempts: u64,
    retries: u64,
    served: u64,
    wasted: u64,
    rejected: u64,
    shed: u64,
    dropped: u64,
    breakers: BreakerTimeline,
    /// The end of the run, once known.
    end: Option<SimTime>,
    /// Servers down now (crashed), by index.
    down: Vec<bool>,
    /// Attempts sent to a server that was down (a replica, or the proxy).
    attempts_to_down: u64,
    /// Attempts a proxy forwarded, and those to a replica that was down.
    forwarded: u64,
    forwarded_to_down: u64,
    /// Clients' changes of view of replicas, by kind.
    health_changes: BTreeMap<&'static str, u64>,
    /// When the last request ended.
    last_end: SimTime,
    /// The most each server held at once, per window.
    held: BTreeMap<u32, Vec<u64>>,
}

impl ServiceChecks {
    /// Checks for a run of `options` whose load lasts `duration`.
    pub fn new(options: &ServiceOptions, duration: SimDuration) -> Self {
        // Nanoseconds from 1 to an hour at 3 significant digits (0.1%).
        let latency = Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
            .unwrap_or_else(|e| panic!("histogram bounds are constants: {e}"));
        ServiceChecks {
            window: options.window,
            duration,
            trigger: options.trigger(),
            recovery: options.recovery.clone(),
            slo: options.slo.clone(),
            series: Series::default(),
            outcomes: BTreeMap::new(),
            latency,
            attempts: 0,
            retries: 0,
            served: 0,
            wasted: 0,
            rejected: 0,
            shed: 0,
            dropped: 0,
            breakers: BreakerTimeline::new(options.window, WINDOWS_MAX),
            end: None,
            down: Vec::new(),
            attempts_to_down: 0,
            forwarded: 0,
            forwarded_to_down: 0,
            health_changes: BTreeMap::new(),
            last_end: SimTime::ZERO,
            held: BTreeMap::new(),
        }
    }

    fn window_of(&self, at: SimTime) -> usize {
        (at.as_nanos() / self.window.as_nanos()) as usize
    }

    fn requests(&self) -> u64 {
        self.outcomes.values().sum()
    }

    /// The whole windows inside `[from, to)`.
    fn windows(&self, from: SimDuration, to: SimDuration) -> Range<usize> {
        let w = self.window.as_nanos();
        from.as_nanos().div_ceil(w) as usize..(to.as_nanos() / w) as usize
    }

    /// Of the requests that ended in `windows`, the share that got
    /// goodput (`None` if none ended): goodput relative to demand, so a
    /// quieter stretch of arrivals is not mistaken for a failure.
    fn good_share(&self, windows: Range<usize>) -> Option<f64> {
        let sum = |v: &[u64]| -> u64 {
            windows
                .clone()
                .map(|k| v.get(k).copied().unwrap_or(0))
                .sum()
        };
        let ended = sum(&self.series.ended);
        (ended > 0).then(|| sum(&self.series.good) as f64 / ended as f64)
    }

    /// Where the baseline before a trigger at `start` begins: `baseline`
    /// before it, but never in the first window (clients warming up).
    fn baseline_from(&self, start: SimDuration) -> SimDuration {
        let from = start
            .as_nanos()
            .saturating_sub(self.recovery.baseline.as_nanos());
        SimDuration::from_nanos(from).max(self.window)
    }

    /// `service.recovery`: the violation, if goodput did not come back.
    fn recovery_violation(&self, end: SimTime) -> Option<Violation> {
        let (start, stop) = self.trigger?;
        let baseline_from = self.baseline_from(start);
        let baseline = self.good_share(self.windows(baseline_from, start))?;
        let target = baseline * self.recovery.fraction;
        let judged = self.windows(
            stop,
            (stop + self.recovery.within + self.window).min(self.duration),
        );
        let shares: Vec<f64> = judged
            .clone()
            .filter_map(|k| self.good_share(k..k + 1))
            .collect();
        if shares.iter().any(|&share| share >= target) {
            return None;
        }
        let best = shares.iter().copied().fold(0.0, f64::max);
        let message = format!(
            "metastable failure: goodput stayed below {:.0}% of its level before the trigger for {} after the trigger ended at {stop}: {:.1}% of requests got an answer in time over the {} before {start}, at most {:.1}% in any window after",
            self.recovery.fraction * 100.0,
            self.recovery.within,
            baseline * 100.0,
            start - baseline_from,
            best * 100.0,
        );
        Some(
            Violation::new("service.recovery", end, message)
                .with_kind("metastable")
                .with_data(json!({"baseline_share": baseline, "best_share": best, "windows_judged": judged.len()})),
        )
    }

    /// `service.slo`: the violations of the service levels asked for.
    fn slo_violations(&self, end: SimTime) -> Vec<Violation> {
        let mut found = Vec::new();
        let requests = self.requests();
        if let (Some(want), true) = (self.slo.availability, requests > 0) {
            let good = self.outcomes.get(&Outcome::Ok).copied().unwrap_or(0);
            let got = good as f64 / requests as f64;
            if got < want {
                let message = format!(
                    "availability {:.4} ({good} of {requests} requests answered ok within their deadline), below the {want} asked",
                    got
                );
                found.push(Violation::new("service.slo", end, message).with_kind("availability"));
            }
        }
        if let (Some(want), false) = (self.slo.p99, self.latency.is_empty()) {
            let p99 = SimDuration::from_nanos(self.latency.value_at_quantile(0.99));
            if p99 > want {
                let message =
                    format!("p99 latency {p99} of successful requests, above the {want} asked");
                found.push(Violation::new("service.slo", end, message).with_kind("latency-p99"));
            }
        }
        found
    }
}

impl Invariants<ServiceNode> for ServiceChecks {
    fn names(&self) -> &'static [CheckInfo] {
        CHECKS
    }

    fn on_note(&mut self, at: SimTime, node: NodeId, note: &Note) -> Result<(), Violation> {
        let window = self.window_of(at);
        match *note {
            Note::Finished {
                outcome, latency, ..
            } => {
                *self.outcomes.entry(outcome).or_insert(0) += 1;
                self.last_end = self.last_end.max(at);
                Series::bump(&mut self.series.ended, window);
                if outcome == Outcome::Ok {
                    Series::bump(&mut self.series.good, window);
                    self.latency.saturating_record(latency.as_nanos().max(1));
                }
            }
            Note::Attempt { retry, replica } => {
                self.attempts += 1;
                let down = self.down.get(replica as usize).copied().unwrap_or(false);
                self.attempts_to_down += u64::from(down);
                self.retries += u64::from(retry);
                Series::bump(&mut self.series.attempts, window);
            }
            Note::Breaker { endpoint, state } => self.breakers.changed(at, node, endpoint, state),
            Note::Served { wasted } => {
                self.served += 1;
                self.wasted += u64::from(wasted);
            }
            Note::Refused { status } => match status {
                Status::Shed => self.shed += 1,
                _ => self.rejected += 1,
            },
            Note::Dropped => self.dropped += 1,
            Note::Forwarded { replica } => {
                self.forwarded += 1;
                let down = self.down.get(replica as usize).copied().unwrap_or(false);
                self.forwarded_to_down += u64::from(down);
            }
            Note::Held { peak } => {
                // A sample at the end of a window describes that window.
                let w = self.window_of(at).saturating_sub(1);
                let most = Series::slot(self.held.entry(node.0).or_default(), w);
                *most = (*most).max(u64::from(peak));
            }
            Note::Health { change, .. } => {
                *self.health_changes.entry(change_name(change)).or_insert(0) += 1
            }
        }
        Ok(())
    }

    fn on_lifecycle(&mut self, at: SimTime, node: NodeId, event: Lifecycle) {
        if event == Lifecycle::Crashed {
            self.breakers.forget(at, node);
        }
        let i = node.index();
        if self.down.len() <= i {
            self.down.resize(i + 1, false);
        }
        self.down[i] = event == Lifecycle::Crashed;
    }

    fn at_end(&mut self, end: &EndState<'_, ServiceNode>) -> Vec<Violation> {
        self.end = Some(end.time);
        let mut found = Vec::new();
        if end.completed && end.is_enabled("service.recovery") {
            found.extend(self.recovery_violation(end.time));
        }
        if end.completed && end.is_enabled("service.slo") {
            found.extend(self.slo_violations(end.time));
        }
        found
    }

    fn metrics(&self) -> BTreeMap<String, Value> {
        let mut m = BTreeMap::new();
        let requests = self.requests();
        let mut put = |k: &str, v: Value| {
            m.insert(format!("service_{k}"), v);
        };
        put("requests", json!(requests));
        for (outcome, n) in &self.outcomes {
            put(&format!("outcome_{}", outcome.name()), json!(n));
        }
        put("attempts", json!(self.attempts));
        put("retries", json!(self.retries));
        if requests > 0 {
            put(
                "amplification",
                rounded(self.attempts as f64 / requests as f64),
            );
            let good = self.outcomes.get(&Outcome::Ok).copied().unwrap_or(0);
            put("availability", rounded(good as f64 / requests as f64));
        }
        put("served", json!(self.served));
        put("wasted", json!(self.wasted));
        put("rejected", json!(self.rejected));
        put("shed", json!(self.shed));
        put("dropped_expired", json!(self.dropped));
        put("breaker_opened", json!(self.breakers.opened()));
        put("attempts_to_down", json!(self.attempts_to_down));
        if self.forwarded > 0 {
            put("forwarded", json!(self.forwarded));
            put("forwarded_to_down", json!(self.forwarded_to_down));
        }
        put("last_end_ns", json!(self.last_end.as_nanos()));
        for (change, n) in &self.health_changes {
            put(change, json!(n));
        }
        if !self.latency.is_empty() {
            for (name, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
                put(
                    &format!("latency_ns_{name}"),
                    json!(self.latency.value_at_quantile(q)),
                );
            }
        }
        put("window_ns", json!(self.window.as_nanos()));
        put("goodput_per_window", json!(self.series.good));
        put("ended_per_window", json!(self.series.ended));
        put("attempts_per_window", json!(self.series.attempts));
        let held: BTreeMap<String, &Vec<u64>> =
            self.held.iter().map(|(n, v)| (n.to_string(), v)).collect();
        put("held_per_window", json!(held));
        if self.breakers.opened() > 0 {
            let (open, half_open) = self.breakers.per_window(self.end.unwrap_or(self.last_end));
            put("breakers_open_per_window", json!(open));
            put("breakers_half_open_per_window", json!(half_open));
        }
        if let Some((start, stop)) = self.trigger {
            put("trigger_ns", json!([start.as_nanos(), stop.as_nanos()]));
            if let Some(b) = self.good_share(self.windows(self.baseline_from(start), start)) {
                put("baseline_good_share", rounded(b));
            }
            let bound = (stop + self.recovery.within).min(self.duration);
            if let Some(a) = self.good_share(self.windows(bound, self.duration)) {
                put("good_share_after_recovery_bound", rounded(a));
            }
        }
        m
    }
}

/// A health change's metric name (after `service_`).
fn change_name(change: Change) -> &'static str {
    match change {
        Change::Ejected => "ejections",
        Change::MarkedDown => "marked_down",
        Change::MarkedUp => "marked_up",
    }
}

/// `x` to four decimals, for metrics people read.
fn rounded(x: f64) -> Value {
    json!((x * 1e4).round() / 1e4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::service::load::Phase;

    fn secs(n: u64) -> SimDuration {
        SimDuration::from_secs(n)
    }

    /// Checks of a 20 s run with a spike from 6 s to 8 s.
    fn checks() -> ServiceChecks {
        let options = ServiceOptions {
            phases: vec![Phase {
                at: secs(6),
                length: secs(2),
                x: 3.0,
                kind: Default::default(),
            }],
            slo: SloOptions {
                availability: Some(0.9),
                p99: Some(SimDuration::from_millis(100)),
            },
            ..ServiceOptions::default()
        };
        ServiceChecks::new(&options, secs(20))
    }

    /// Feeds `good` successful and `bad` timed-out requests ending in second `s`.
    fn second(c: &mut ServiceChecks, s: u64, good: u64, bad: u64) {
        let at = SimTime::ZERO + secs(s) + SimDuration::from_millis(500);
        for k in 0..good + bad {
            let outcome = if k < good {
                Outcome::Ok
            } else {
                Outcome::TimedOut
            };
            let latency = SimDuration::from_millis(10);
            let note = Note::Finished {
                outcome,
                latency,
                attempts: 1,
            };
            assert!(c.on_note(at, NodeId(4), &note).is_ok());
        }
    }

    fn recovery(c: &ServiceChecks) -> Option<Violation> {
        c.recovery_violation(SimTime::ZERO + secs(20))
    }

    #[test]
    fn goodput_that_stays_down_after_the_trigger_is_a_metastable_failure() {
        let mut c = checks();
        for s in 0..20 {
            let healthy = s < 6;
            second(
                &mut c,
                s,
                if healthy { 100 } else { 3 },
                if healthy { 0 } else { 97 },
            );
        }
        let v = recovery(&c).map(|v| (v.check.clone(), v.identity()));
        assert_eq!(
            v,
            Some((
                "service.recovery".into(),
                "service.recovery/metastable".into()
            ))
        );
    }

    #[test]
    fn goodput_back_within_the_bound_holds_and_back_later_does_not() {
        for (back_at, holds) in [(12, true), (13, true), (14, false)] {
            let mut c = checks();
            for s in 0..20 {
                let good = s < 6 || s >= back_at;
                second(
                    &mut c,
                    s,
                    if good { 100 } else { 10 },
                    if good { 0 } else { 90 },
                );
            }
            assert_eq!(
                recovery(&c).is_none(),
                holds,
                "back at {back_at}s (trigger ends at 8 s, 5 s allowed)"
            );
        }
    }

    #[test]
    fn fewer_arrivals_after_the_trigger_are_not_a_failure_but_a_lower_share_is() {
        let mut c = checks();
        for s in 0..20 {
            let n = if s < 6 { 100 } else { 40 };
            second(&mut c, s, n, 0);
        }
        assert!(
            recovery(&c).is_none(),
            "every request answered in time, fewer of them"
        );
        let mut c = checks();
        for s in 0..20 {
            let (good, bad) = if s < 6 { (100, 0) } else { (85, 15) };
            second(&mut c, s, good, bad);
        }
        assert!(
            recovery(&c).is_some(),
            "85% of requests is below 90% of 100%"
        );
    }

    #[test]
    fn service_levels_are_judged_on_availability_and_the_p99_of_successes() {
        let mut c = checks();
        second(&mut c, 1, 90, 10);
        assert!(
            c.slo_violations(SimTime::ZERO + secs(20)).is_empty(),
            "90% is the 0.9 asked, 10 ms under 100 ms"
        );
        second(&mut c, 2, 0, 1);
        let slow = Note::Finished {
            outcome: Outcome::Ok,
            latency: SimDuration::from_millis(300),
            attempts: 2,
        };
        for _ in 0..5 {
            assert!(c.on_note(SimTime::ZERO + secs(3), NodeId(4), &slow).is_ok());
        }
        let kinds: Vec<String> = c
            .slo_violations(SimTime::ZERO + secs(20))
            .iter()
            .map(Violation::identity)
            .collect();
        assert_eq!(
            kinds,
            ["service.slo/availability", "service.slo/latency-p99"]
        );
        let m = c.metrics();
        assert_eq!(m["service_requests"], 106);
        assert_eq!(m["service_outcome_ok"], 95);
        assert_eq!(m["service_goodput_per_window"], json!([0, 90, 0, 5]));
    }
}
