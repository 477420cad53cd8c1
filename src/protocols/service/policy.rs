//! A client's resilience policies, each a small state machine of its own:
//! when to retry and after how long ([`RetryPolicy`], with the jitter
//! variants of the AWS Architecture Blog's "Exponential Backoff And
//! Jitter"), how many retries the client may afford ([`RetryBudget`], a
//! token bucket in the manner of Finagle's and Envoy's retry budgets), and
//! when to stop calling a failing service altogether ([`Breaker`], a
//! circuit breaker with Hystrix's closed, open and half-open states).
//! None of them sees the network: the client asks and they answer.

use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use serde::Deserialize;

/// How the delay before a retry is spread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Jitter {
    /// Exactly the exponential delay.
    #[default]
    None,
    /// Uniform in `[0, delay]`.
    Full,
    /// `delay / 2` plus uniform in `[0, delay / 2]`.
    Equal,
    /// Uniform in `[base, 3 × previous delay]`, capped (no exponent).
    Decorrelated,
}

/// When a failed attempt is tried again, and after how long.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: never retry).
    pub retries: u32,
    /// The first retry's delay (0 with `jitter = "none"`: retry at once).
    pub base: SimDuration,
    /// The longest delay.
    pub cap: SimDuration,
    /// Each retry's delay is the previous one's times this (1: fixed).
    pub multiplier: f64,
    /// How the delay is spread.
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 0,
            base: SimDuration::ZERO,
            cap: SimDuration::from_secs(10),
            multiplier: 2.0,
            jitter: Jitter::None,
        }
    }
}

impl RetryPolicy {
    /// What is wrong with it, if anything.
    pub fn problem(&self) -> Option<&'static str> {
        if !(self.multiplier >= 1.0 && self.multiplier.is_finite()) {
            return Some("expected retry.multiplier of at least 1");
        }
        if self.base > self.cap {
            return Some("expected retry.base <= retry.cap");
        }
        None
    }

    /// The delay before retry number `retry` (1 for the first), given the
    /// delay before the previous one (`previous`, zero before the first).
    /// `None` once the retries are used up.
    pub fn delay(
        &self,
        retry: u32,
        previous: SimDuration,
        rng: &mut SimRng,
    ) -> Option<SimDuration> {
        if retry == 0 || retry > self.retries {
            return None;
        }
        let base = self.base.as_nanos();
        let cap = self.cap.as_nanos();
        let exponential = (base as f64 * self.multiplier.powi(retry as i32 - 1)).min(cap as f64);
        let exp = exponential as u64;
        let ns = match self.jitter {
            Jitter::None => exp,
            Jitter::Full => rng.between(0, exp),
            Jitter::Equal => exp / 2 + rng.between(0, exp - exp / 2),
            Jitter::Decorrelated => {
                let high = previous.as_nanos().max(base).saturating_mul(3).min(cap);
                rng.between(base.min(high), high)
            }
        };
        Some(SimDuration::from_nanos(ns))
    }
}

/// A retry budget: every request deposits `ratio` of a token, every retry
/// spends one whole token, and the bucket holds at most `cap`. Retries
/// then stay near `ratio` of requests however many fail (Finagle's
/// `RetryBudget`, Envoy's `retry_budget`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetOptions {
    /// Tokens each request deposits (the share of requests that may be retried).
    pub ratio: f64,
    /// Most tokens saved up (a burst of retries after calm).
    pub cap: f64,
}

impl Default for BudgetOptions {
    fn default() -> Self {
        BudgetOptions {
            ratio: 0.1,
            cap: 10.0,
        }
    }
}

/// The token bucket of a [`BudgetOptions`].
#[derive(Clone, Debug, PartialEq)]
pub struct RetryBudget {
    options: BudgetOptions,
    tokens: f64,
}

impl RetryBudget {
    /// A bucket that starts full.
    pub fn new(options: BudgetOptions) -> Self {
        let tokens = options.cap;
        RetryBudget { options, tokens }
    }

    /// A new request arrived.
    pub fn deposit(&mut self) {
        self.tokens = (self.tokens + self.options.ratio).min(self.options.cap);
    }

    /// Whether a retry may go now; spends its token if so.
    pub fn withdraw(&mut self) -> bool {
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }

    /// Tokens left.
    pub fn tokens(&self) -> f64 {
        self.tokens
    }
}

/// A circuit breaker's settings: it opens after `failures` consecutive
/// failed attempts, or when at least `failure_rate` of the last `window`
/// attempts failed (once `window` attempts are in), stays open for
/// `open_for`, then lets `probes` attempts through (half-open): all of
/// them succeeding closes it, any failing opens it again.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerOptions {
    /// Consecutive failures that open it (0: this rule off).
    pub failures: u32,
    /// Failure share over the last `window` attempts that opens it (above 1: off).
    pub failure_rate: f64,
    /// Attempts the failure rate is judged over.
    pub window: u32,
    /// How long it stays open before probing.
    pub open_for: SimDuration,
    /// Attempts let through while half-open.
    pub probes: u32,
    /// One breaker per replica (Finagle's failure accrual, Envoy's
    /// per-host circuit breaking) instead of one for the whole service: an
    /// open one takes its replica out of rotation, and a request fails
    /// fast only when every replica's is open.
    pub per_endpoint: bool,
}

impl Default for BreakerOptions {
    fn default() -> Self {
        BreakerOptions {
            failures: 5,
            failure_rate: 2.0,
            window: 20,
            open_for: SimDuration::from_secs(1),
            probes: 1,
            per_endpoint: false,
        }
    }
}

impl BreakerOptions {
    /// What is wrong with them, if anything.
    pub fn problem(&self) -> Option<&'static str> {
        if self.probes == 0 || self.window == 0 {
            return Some("expected breaker.probes and breaker.window of at least 1");
        }
        if self.open_for == SimDuration::ZERO {
            return Some("expected breaker.open_for above 0");
        }
        if self.failure_rate.is_nan() || self.failure_rate <= 0.0 {
            return Some("expected breaker.failure_rate above 0");
        }
        None
    }
}

/// A breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls fail at once until the given time.
    Open {
        /// When it turns half-open.
        until: SimTime,
    },
    /// A few probe calls go through.
    HalfOpen {
        /// Probes let through so far.
        sent: u32,
        /// Probes that succeeded so far.
        passed: u32,
    },
}

/// A circuit breaker.
#[derive(Clone, Debug, PartialEq)]
pub struct Breaker {
    options: BreakerOptions,
    state: BreakerState,
    consecutive: u32,
    /// The outcomes of the last `window` attempts while closed (true: failed).
    recent: std::collections::VecDeque<bool>,
    recent_failed: u32,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(options: BreakerOptions) -> Self {
        Breaker {
            options,
            state: BreakerState::Closed,
            consecutive: 0,
            recent: std::collections::VecDeque::new(),
            recent_failed: 0,
        }
    }

    /// Its state at `now` (an open breaker whose time is up is half-open).
    pub fn state(&mut self, now: SimTime) -> BreakerState {
        if let BreakerState::Open { until } = self.state {
            if now >= until {
                self.state = BreakerState::HalfOpen { sent: 0, passed: 0 };
            }
        }
        self.state
    }

    /// Whether an attempt could go now (without counting it as a probe).
    pub fn available(&mut self, now: SimTime) -> bool {
        match self.state(now) {
            BreakerState::Closed => true,
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { sent, .. } => sent < self.options.probes,
        }
    }

    /// Whether an attempt may go now; counts it as a probe when half-open.
    pub fn allow(&mut self, now: SimTime) -> bool {
        match self.state(now) {
            BreakerState::Closed => true,
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { sent, passed } if sent < self.options.probes => {
                self.state = BreakerState::HalfOpen {
                    sent: sent + 1,
                    passed,
                };
                true
            }
            BreakerState::HalfOpen { .. } => false,
        }
    }

    /// An attempt let through ended, failed or not. Returns the new state
    /// when this moved the breaker to another of its three states.
    pub fn record(&mut self, now: SimTime, failed: bool) -> Option<BreakerState> {
        let before = self.state(now);
        match before {
            BreakerState::Closed => {
                self.consecutive = if failed { self.consecutive + 1 } else { 0 };
                self.recent.push_back(failed);
                self.recent_failed += u32::from(failed);
                if self.recent.len() > self.options.window as usize {
                    let old = self.recent.pop_front().unwrap_or(false);
                    self.recent_failed -= u32::from(old);
                }
                let by_count =
                    self.options.failures > 0 && self.consecutive >= self.options.failures;
                let full = self.recent.len() == self.options.window as usize;
                let rate = f64::from(self.recent_failed) / f64::from(self.options.window);
                if by_count || (full && rate >= self.options.failure_rate) {
                    self.trip(now);
                }
            }
            // A late answer to an attempt sent before the breaker opened.
            BreakerState::Open { .. } => {}
            BreakerState::HalfOpen { sent, passed } => {
                if failed {
                    self.trip(now);
                } else if passed + 1 >= self.options.probes {
                    self.close();
                } else {
                    self.state = BreakerState::HalfOpen {
                        sent,
                        passed: passed + 1,
                    };
                }
            }
        }
        let after = self.state;
        let changed = std::mem::discriminant(&after) != std::mem::discriminant(&before);
        changed.then_some(after)
    }

    fn trip(&mut self, now: SimTime) {
        self.state = BreakerState::Open {
            until: now + self.options.open_for,
        };
    }

    fn close(&mut self) {
        self.state = BreakerState::Closed;
        self.consecutive = 0;
        self.recent.clear();
        self.recent_failed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    fn at(n: u64) -> SimTime {
        SimTime::ZERO + ms(n)
    }

    fn policy(jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            retries: 6,
            base: ms(10),
            cap: ms(200),
            multiplier: 2.0,
            jitter,
        }
    }

    #[test]
    fn exponential_delays_double_up_to_the_cap_and_stop_after_the_retries() {
        let mut rng = SimRng::new(1, Stream::Workload);
        let p = policy(Jitter::None);
        let delays: Vec<_> = (1..=7)
            .map(|k| p.delay(k, SimDuration::ZERO, &mut rng))
            .collect();
        let expected = [10, 20, 40, 80, 160, 200].map(|n| Some(ms(n)));
        assert_eq!(delays[..6], expected);
        assert_eq!(delays[6], None, "six retries, not seven");
        assert_eq!(p.delay(0, SimDuration::ZERO, &mut rng), None);
    }

    #[test]
    fn jittered_delays_stay_in_their_ranges_and_spread() {
        let mut rng = SimRng::new(2, Stream::Workload);
        for retry in 1..=6 {
            let exp = policy(Jitter::None)
                .delay(retry, SimDuration::ZERO, &mut rng)
                .unwrap_or_default();
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..200 {
                let full = policy(Jitter::Full).delay(retry, SimDuration::ZERO, &mut rng);
                let full = full.unwrap_or_default();
                assert!(full <= exp);
                let equal = policy(Jitter::Equal).delay(retry, SimDuration::ZERO, &mut rng);
                let equal = equal.unwrap_or_default().as_nanos();
                assert!(equal >= exp.as_nanos() / 2 && equal <= exp.as_nanos());
                seen.insert(full);
            }
            assert!(seen.len() > 100, "full jitter spreads retry {retry}");
        }
    }

    #[test]
    fn decorrelated_jitter_grows_from_the_previous_delay_within_base_and_cap() {
        let mut rng = SimRng::new(3, Stream::Workload);
        let p = policy(Jitter::Decorrelated);
        let mut previous = SimDuration::ZERO;
        let mut highest = SimDuration::ZERO;
        for retry in 1..=6 {
            let d = p.delay(retry, previous, &mut rng).unwrap_or_default();
            assert!(d >= ms(10) && d <= ms(200), "{d} out of [base, cap]");
            assert!(
                d.as_nanos() <= (3 * previous.as_nanos()).max(ms(30).as_nanos()),
                "at most 3x the previous"
            );
            highest = highest.max(d);
            previous = d;
        }
        assert!(highest > ms(30), "delays grow past 3x base");
    }

    #[test]
    fn a_budget_allows_retries_at_its_ratio_once_its_savings_are_spent() {
        let mut budget = RetryBudget::new(BudgetOptions {
            ratio: 0.2,
            cap: 3.0,
        });
        let saved = (0..10).filter(|_| budget.withdraw()).count();
        assert_eq!(saved, 3, "a full bucket pays for cap retries");
        let mut allowed = 0;
        for _ in 0..100 {
            budget.deposit();
            if budget.withdraw() {
                allowed += 1;
            }
        }
        assert!(
            (19..=20).contains(&allowed),
            "{allowed} retries for 100 requests at 0.2"
        );
        for _ in 0..100 {
            budget.deposit();
        }
        assert!((budget.tokens() - 3.0).abs() < 1e-9, "never above the cap");
    }

    #[test]
    fn a_breaker_opens_after_consecutive_failures_probes_and_closes() {
        let mut b = Breaker::new(BreakerOptions {
            failures: 3,
            open_for: ms(100),
            probes: 2,
            ..BreakerOptions::default()
        });
        for _ in 0..2 {
            assert!(b.allow(at(0)));
            assert_eq!(b.record(at(0), true), None);
        }
        assert_eq!(b.record(at(1), false), None, "a success resets the count");
        for _ in 0..2 {
            b.record(at(2), true);
        }
        assert_eq!(
            b.record(at(3), true),
            Some(BreakerState::Open { until: at(103) })
        );
        assert!(!b.allow(at(50)), "open: calls fail fast");
        assert!(b.allow(at(103)) && b.allow(at(103)), "two probes");
        assert!(!b.allow(at(104)), "no third probe");
        assert_eq!(b.record(at(110), false), None);
        assert_eq!(b.record(at(111), false), Some(BreakerState::Closed));
        assert!(b.allow(at(112)));
    }

    #[test]
    fn a_failed_probe_opens_the_breaker_again() {
        let mut b = Breaker::new(BreakerOptions {
            failures: 1,
            open_for: ms(100),
            ..BreakerOptions::default()
        });
        b.record(at(0), true);
        assert!(b.allow(at(100)));
        assert_eq!(
            b.record(at(120), true),
            Some(BreakerState::Open { until: at(220) })
        );
        assert_eq!(
            b.record(at(130), false),
            None,
            "late answers while open change nothing"
        );
        assert!(!b.allow(at(219)) && b.allow(at(220)));
    }

    #[test]
    fn a_breaker_opens_on_its_failure_rate_over_a_full_window() {
        let mut b = Breaker::new(BreakerOptions {
            failures: 0,
            failure_rate: 0.5,
            window: 4,
            ..BreakerOptions::default()
        });
        for failed in [true, false, true] {
            assert_eq!(b.record(at(0), failed), None, "window not full yet");
        }
        assert!(matches!(
            b.record(at(1), false),
            Some(BreakerState::Open { .. })
        ));
        let mut c = Breaker::new(BreakerOptions {
            failures: 0,
            failure_rate: 0.5,
            window: 4,
            ..BreakerOptions::default()
        });
        for failed in [true, false, false, false, true, false] {
            assert_eq!(c.record(at(0), failed), None, "never half of the last four");
        }
    }
}
