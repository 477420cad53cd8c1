//! The `[service]` table: the load, the clients' policies, the servers,
//! the gray failures and what recovery means, with every limit checked
//! before a run starts.

use super::balancer::Balance;
use super::discovery::DiscoveryOptions;
use super::health::{HealthOptions, OutlierOptions};
use super::load::Phase;
use super::policy::{BreakerOptions, BudgetOptions, RetryPolicy};
use super::proxy::ProxyOptions;
use crate::net::Latency;
use crate::process::NodeId;
use crate::time::SimDuration;
use serde::Deserialize;

/// The most open-loop requests per second, phases included (a bound that
/// keeps every run's arrivals countable).
pub const RATE_MAX: f64 = 1e7;
/// The largest factor a phase, a slowdown or a slow window may apply.
pub const FACTOR_MAX: f64 = 1e4;

/// The order a server takes queued requests in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Discipline {
    /// Oldest first.
    #[default]
    Fifo,
    /// Newest first (under overload the newest still has time left).
    Lifo,
}

/// A service-time distribution, written like the network's latencies
/// (`{ dist = "exponential", mean = "10ms" }`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum ServiceTime {
    /// Always `value`.
    Constant {
        /// The time.
        value: SimDuration,
    },
    /// Uniform in `[min, max]`.
    Uniform {
        /// Shortest.
        min: SimDuration,
        /// Longest.
        max: SimDuration,
    },
    /// Exponential with `mean`.
    Exponential {
        /// The mean.
        mean: SimDuration,
    },
    /// Log-normal with `median` and log-space `sigma`, capped at `max`.
    Lognormal {
        /// The median.
        median: SimDuration,
        /// The standard deviation of ln(time).
        sigma: f64,
        /// A cap.
        max: Option<SimDuration>,
    },
}

impl ServiceTime {
    /// The same distribution as a [`Latency`] (what draws it).
    pub fn latency(&self) -> Latency {
        match *self {
            ServiceTime::Constant { value } => Latency::Constant(value),
            ServiceTime::Uniform { min, max } => Latency::Uniform { min, max },
            ServiceTime::Exponential { mean } => Latency::Exponential { mean },
            ServiceTime::Lognormal { median, sigma, max } => {
                Latency::LogNormal { median, sigma, max }
            }
        }
    }

    /// Its mean, for the capacity a scenario is described by.
    pub fn mean(&self) -> SimDuration {
        match *self {
            ServiceTime::Constant { value } => value,
            ServiceTime::Uniform { min, max } => {
                SimDuration::from_nanos((min.as_nanos() + max.as_nanos()) / 2)
            }
            ServiceTime::Exponential { mean } => mean,
            ServiceTime::Lognormal { median, sigma, .. } => SimDuration::from_nanos(
                (median.as_nanos() as f64 * (sigma * sigma / 2.0).exp()) as u64,
            ),
        }
    }
}

/// `[service.server]`: every server replica.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerOptions {
    /// Requests worked on at once.
    pub concurrency: u32,
    /// Requests waiting at most; one more is rejected at once.
    pub queue: u32,
    /// Which waiting request goes next.
    pub discipline: Discipline,
    /// How long one request takes to serve.
    pub service_time: ServiceTime,
    /// Load-dependent slowdown: service time times `1 + slowdown x (other
    /// requests held / concurrency)`, counting those waiting (contention,
    /// paging, GC).
    pub slowdown: f64,
    /// Admission control: a request that waited longer than this is
    /// answered "shed" without being served.
    pub shed_after: Option<SimDuration>,
    /// Skip a request its client stopped waiting for while it queued (the
    /// deadline the client propagates: its attempt timeout, or less);
    /// without it the work is done and wasted.
    pub drop_expired: bool,
    /// A served request fails with this probability.
    pub error_rate: f64,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            concurrency: 8,
            queue: 100,
            discipline: Discipline::Fifo,
            service_time: ServiceTime::Exponential {
                mean: SimDuration::from_millis(10),
            },
            slowdown: 0.0,
            shed_after: None,
            drop_expired: false,
            error_rate: 0.0,
        }
    }
}

/// `[[service.slow]]`: a gray failure, one server serving `factor` times
/// slower for a while (a fail-slow disk, a noisy neighbour).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowWindow {
    /// The server.
    pub node: u32,
    /// From when.
    pub at: SimDuration,
    /// For how long.
    #[serde(rename = "for")]
    pub length: SimDuration,
    /// Service time times this.
    pub factor: f64,
}

/// `[service.recovery]`: what `service.recovery` calls recovered.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryOptions {
    /// Goodput must come back to this share of its level before the trigger.
    pub fraction: f64,
    /// ... within this long after the trigger ends.
    pub within: SimDuration,
    /// The level before the trigger is measured over this long before it.
    pub baseline: SimDuration,
    /// The trigger's start and end, when it is not the load phases and
    /// slow windows (a crash in `[[faults]]`, say).
    pub trigger: Option<[SimDuration; 2]>,
}

impl Default for RecoveryOptions {
    fn default() -> Self {
        RecoveryOptions {
            fraction: 0.9,
            within: SimDuration::from_secs(5),
            baseline: SimDuration::from_secs(5),
            trigger: None,
        }
    }
}

/// `[service.slo]`: service levels judged as the check `service.slo`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SloOptions {
    /// At least this share of requests answered successfully within their deadline.
    pub availability: Option<f64>,
    /// The 99th percentile latency of successful requests is at most this.
    pub p99: Option<SimDuration>,
}

/// The options of the `[service]` scenario table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceOptions {
    /// Open-loop arrivals per second, over all clients (0: closed loop only).
    pub rate: f64,
    /// Phases of the open-loop rate.
    pub phases: Vec<Phase>,
    /// A request is given up this long after it arrived.
    pub deadline: SimDuration,
    /// An attempt is given up this long after it was sent (default: the deadline).
    pub attempt_timeout: Option<SimDuration>,
    /// How clients pick a replica.
    pub balance: Balance,
    /// With `balance = "peak-ewma"`: the time constant its latency
    /// averages decay with.
    pub ewma_decay: SimDuration,
    /// When failed attempts are tried again.
    pub retry: RetryPolicy,
    /// A retry budget, if any.
    pub budget: Option<BudgetOptions>,
    /// A circuit breaker in each client, if any.
    pub breaker: Option<BreakerOptions>,
    /// Passive outlier ejection in each client's balancer, if any.
    pub outlier: Option<OutlierOptions>,
    /// Active health checks by each client, if any.
    pub health: Option<HealthOptions>,
    /// Service discovery through a registry (the node after the
    /// replicas), if any.
    pub discovery: Option<DiscoveryOptions>,
    /// A load-balancing proxy (the last node) between clients and
    /// replicas, if any; the balancer, outlier ejection, health checks and
    /// discovery are then its own.
    pub proxy: Option<ProxyOptions>,
    /// The servers.
    pub server: ServerOptions,
    /// Gray failures.
    pub slow: Vec<SlowWindow>,
    /// What recovery means.
    pub recovery: RecoveryOptions,
    /// Service levels checked.
    pub slo: SloOptions,
    /// The width of the windows goodput is counted in.
    pub window: SimDuration,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            rate: 0.0,
            phases: Vec::new(),
            deadline: SimDuration::from_secs(1),
            attempt_timeout: None,
            balance: Balance::RoundRobin,
            ewma_decay: SimDuration::from_secs(10),
            retry: RetryPolicy::default(),
            budget: None,
            breaker: None,
            outlier: None,
            health: None,
            discovery: None,
            proxy: None,
            server: ServerOptions::default(),
            slow: Vec::new(),
            recovery: RecoveryOptions::default(),
            slo: SloOptions::default(),
            window: SimDuration::from_secs(1),
        }
    }
}

impl ServiceOptions {
    /// The attempt timeout in force.
    pub fn attempt_timeout(&self) -> SimDuration {
        self.attempt_timeout.unwrap_or(self.deadline)
    }

    /// How many of `nodes` servers are replicas: the registry (with
    /// `[service.discovery]`) and the proxy (with `[service.proxy]`, the
    /// last node) come after them.
    pub fn replicas(&self, nodes: usize) -> usize {
        nodes.saturating_sub(
            usize::from(self.discovery.is_some()) + usize::from(self.proxy.is_some()),
        )
    }

    /// The proxy's node, with `[service.proxy]`.
    pub fn proxy_node(&self, nodes: usize) -> Option<NodeId> {
        self.proxy
            .as_ref()
            .map(|_| NodeId(nodes.saturating_sub(1) as u32))
    }

    /// The trigger recovery is judged after: `[service.recovery] trigger`,
    /// else from the first load phase or slow window to the end of the
    /// last; `None` when there is none.
    pub fn trigger(&self) -> Option<(SimDuration, SimDuration)> {
        if let Some([start, end]) = self.recovery.trigger {
            return Some((start, end));
        }
        let spans = self
            .phases
            .iter()
            .map(|p| (p.at, p.end()))
            .chain(self.slow.iter().map(|s| (s.at, s.at + s.length)));
        spans.fold(None, |acc, (s, e)| match acc {
            None => Some((s, e)),
            Some((a, b)) => Some((a.min(s), b.max(e))),
        })
    }

    /// What is wrong with the options for `nodes` servers and a fault
    /// phase of `duration`: the key at fault and why.
    pub fn problem(&self, nodes: usize, duration: SimDuration) -> Option<(&'static str, String)> {
        if self.replicas(nodes) == 0 {
            let why = format!(
                "expected at least one replica: {nodes} nodes leave none after the registry ([service.discovery]) and the proxy ([service.proxy])"
            );
            let key = if self.proxy.is_some() {
                "proxy"
            } else {
                "discovery"
            };
            return Some((key, why));
        }
        if self
            .breaker
            .as_ref()
            .is_some_and(|b| b.per_endpoint && self.proxy.is_some())
        {
            let why = "expected no breaker.per_endpoint with [service.proxy]: clients see one endpoint, the proxy (the proxy's outlier ejection is the per-replica breaker)";
            return Some(("breaker", why.into()));
        }
        if let Some(d) = &self.discovery {
            if let Some(why) = d.problem() {
                return Some(("discovery", why.into()));
            }
        }
        let nodes = self.replicas(nodes);
        self.load_problem(duration)
            .or_else(|| self.server_problem(nodes, duration))
            .or_else(|| self.client_problem(duration))
            .or_else(|| self.judging_problem(duration))
    }

    fn load_problem(&self, duration: SimDuration) -> Option<(&'static str, String)> {
        if !(0.0..=RATE_MAX).contains(&self.rate) {
            return Some((
                "rate",
                format!("expected a rate from 0 to {RATE_MAX} requests per second"),
            ));
        }
        let phase_ok =
            |p: &Phase| (0.0..=FACTOR_MAX).contains(&p.x) && p.x > 0.0 && p.end() <= duration;
        if !self.phases.iter().all(phase_ok) {
            let why = format!("expected every phase's x above 0 and at most {FACTOR_MAX}, and its end within the duration ({duration})");
            return Some(("phases", why));
        }
        let peak = self.phases.iter().map(|p| p.x.max(1.0)).product::<f64>() * self.rate;
        if peak > RATE_MAX {
            let why = format!("expected the phases' peak rate ({peak:.0}/s) at most {RATE_MAX} requests per second");
            return Some(("phases", why));
        }
        None
    }

    fn server_problem(
        &self,
        nodes: usize,
        duration: SimDuration,
    ) -> Option<(&'static str, String)> {
        let s = &self.server;
        let why = if s.concurrency == 0 {
            "expected server.concurrency of at least 1".to_string()
        } else if !(0.0..=FACTOR_MAX).contains(&s.slowdown) {
            format!("expected server.slowdown from 0 to {FACTOR_MAX}")
        } else if !(0.0..=1.0).contains(&s.error_rate) {
            "expected server.error_rate between 0 and 1".to_string()
        } else {
            let slow_ok = |w: &SlowWindow| {
                (w.node as usize) < nodes
                    && (1.0..=FACTOR_MAX).contains(&w.factor)
                    && w.at + w.length <= duration
            };
            if self.slow.iter().all(slow_ok) {
                return None;
            }
            let why = format!("expected every slow window's node below {nodes} (the replicas), its factor from 1 to {FACTOR_MAX} and its end within the duration ({duration})");
            return Some(("slow", why));
        };
        Some(("server", why))
    }

    fn client_problem(&self, duration: SimDuration) -> Option<(&'static str, String)> {
        if self.deadline == SimDuration::ZERO {
            return Some(("deadline", "expected a deadline above 0".into()));
        }
        if self.attempt_timeout() == SimDuration::ZERO {
            return Some((
                "attempt_timeout",
                "expected an attempt_timeout above 0".into(),
            ));
        }
        if self.window == SimDuration::ZERO || self.window > duration {
            return Some((
                "window",
                format!("expected a window above 0 and at most the duration ({duration})"),
            ));
        }
        if self.ewma_decay == SimDuration::ZERO {
            return Some(("ewma_decay", "expected an ewma_decay above 0".into()));
        }
        if let Some(p) = self.retry.problem() {
            return Some(("retry", p.into()));
        }
        if let Some(p) = self.breaker.as_ref().and_then(BreakerOptions::problem) {
            return Some(("breaker", p.into()));
        }
        if let Some(why) = self.health_problem() {
            return Some(why);
        }
        let budget_ok =
            |b: &BudgetOptions| (0.0..=1e6).contains(&b.ratio) && (1.0..=1e9).contains(&b.cap);
        if !self.budget.as_ref().is_none_or(budget_ok) {
            let why = "expected budget.ratio from 0 to 1e6 and budget.cap from 1 to 1e9";
            return Some(("budget", why.into()));
        }
        None
    }

    fn health_problem(&self) -> Option<(&'static str, String)> {
        let outlier_ok = |o: &OutlierOptions| {
            o.consecutive >= 1
                && o.eject_for > SimDuration::ZERO
                && (0.0..=1.0).contains(&o.max_ejected)
        };
        if !self.outlier.as_ref().is_none_or(outlier_ok) {
            let why = "expected outlier.consecutive of at least 1, outlier.eject_for above 0 and outlier.max_ejected between 0 and 1";
            return Some(("outlier", why.into()));
        }
        let health_ok = |h: &HealthOptions| {
            h.interval > SimDuration::ZERO
                && h.timeout > SimDuration::ZERO
                && h.unhealthy >= 1
                && h.healthy >= 1
        };
        if !self.health.as_ref().is_none_or(health_ok) {
            let why = "expected health.interval and health.timeout above 0, health.unhealthy and health.healthy of at least 1";
            return Some(("health", why.into()));
        }
        None
    }

    fn judging_problem(&self, duration: SimDuration) -> Option<(&'static str, String)> {
        let r = &self.recovery;
        if !(r.fraction > 0.0 && r.fraction <= 1.0) {
            return Some((
                "recovery",
                "expected recovery.fraction above 0 and at most 1".into(),
            ));
        }
        if r.trigger.is_some_and(|[a, b]| a > b) {
            let why = "expected recovery.trigger as [start, end] with start <= end";
            return Some(("recovery", why.into()));
        }
        if self
            .trigger()
            .is_some_and(|(_, end)| end + r.within > duration)
        {
            let why = format!("expected the trigger's end plus recovery.within ({}) within the duration ({duration}), so recovery can be judged", r.within);
            return Some(("recovery", why));
        }
        if !self
            .slo
            .availability
            .is_none_or(|a| (0.0..=1.0).contains(&a))
        {
            return Some(("slo", "expected slo.availability between 0 and 1".into()));
        }
        None
    }
}
