//! The service family's registry entry: options from `[service]`, checked
//! against the node count, clients and duration; the summary's and
//! report's load figures.

use super::{Service, ServiceOptions, CHECKS, ROLES};
use crate::protocols::registry::{ProtocolDef, Setup};
use crate::protocols::{ReportSection, SeriesChart};
use crate::scenario::{OptionsInput, ScenarioError};
use crate::sim::RunResult;

/// The `service` protocol.
pub struct Def;

impl ProtocolDef for Def {
    type Options = ServiceOptions;
    type Protocol = Service;

    fn name(&self) -> &'static str {
        "service"
    }

    fn about(&self) -> &'static str {
        "a service under load: balancing in the clients or a proxy, deadlines, retries with backoff, budgets and breakers over queueing replicas"
    }

    fn checks(&self) -> &'static [crate::process::CheckInfo] {
        CHECKS
    }

    fn roles(&self) -> &'static [&'static str] {
        ROLES
    }

    fn client_processes(&self) -> bool {
        true
    }

    fn message_kinds(&self) -> &'static [&'static str] {
        &["request", "reply", "probe", "discovery"]
    }

    fn fixed_placement(&self) -> Option<&'static str> {
        Some("each client picks the replica of every attempt with its balancer ([service] balance), or sends it to the proxy ([service.proxy])")
    }

    fn options(&self, input: &OptionsInput<'_>) -> Result<ServiceOptions, ScenarioError> {
        let options: ServiceOptions = input.table("service")?;
        if input.clients() == 0 {
            let why = "expected [workload] clients of at least 1: the clients are the processes that send the requests";
            return Err(input.error("service", None, why));
        }
        match options.problem(input.nodes(), input.duration()) {
            Some((key, why)) => Err(input.error("service", Some(key), why)),
            None => Ok(options),
        }
    }

    fn build(&self, options: &ServiceOptions, setup: &Setup) -> Service {
        Service::new(options.clone(), setup.nodes, setup.clients, setup.duration)
    }

    fn headline(&self, result: &RunResult) -> Option<String> {
        Some(format!(
            "service     {} requests, availability {}, {} attempts per request, p99 {}, {} served after their client stopped waiting (wasted)",
            result.metric_text("service_requests"),
            result.metric_text("service_availability"),
            result.metric_text("service_amplification"),
            result.metric_duration_text("service_latency_ns_p99"),
            result.metric_text("service_wasted"),
        ))
    }

    fn report_section(&self, result: &RunResult) -> Option<ReportSection> {
        let section = ReportSection::new("Service under load")
            .metric(
                result,
                "requests",
                "service_requests",
                "requests made (open-loop arrivals and closed-loop calls)",
            )
            .metric(
                result,
                "availability",
                "service_availability",
                "share answered successfully before their deadline (goodput)",
            )
            .metric(
                result,
                "attempts per request",
                "service_amplification",
                "retry amplification: attempts sent over requests made",
            )
            .duration(
                result,
                "latency p50",
                "service_latency_ns_p50",
                "of successful requests, from arrival to answer, retries included",
            )
            .duration(
                result,
                "latency p99",
                "service_latency_ns_p99",
                "the slow tail of the same",
            )
            .metric(
                result,
                "wasted work",
                "service_wasted",
                "attempts served after their client stopped waiting: work for no one",
            )
            .metric(
                result,
                "rejected",
                "service_rejected",
                "attempts refused at once by a full queue",
            )
            .metric(
                result,
                "shed",
                "service_shed",
                "attempts refused by admission control after waiting too long",
            )
            .metric(
                result,
                "breaker openings",
                "service_breaker_opened",
                "times a client's circuit breaker opened",
            )
            .metric(
                result,
                "budget denials",
                "service_outcome_budget_denied",
                "requests failed because the retry budget was empty",
            );
        Some(with_charts(section, result))
    }
}

/// The service's charts: goodput against attempts per window (a retry
/// storm shows as attempts far above goodput), the breaker state
/// timeline, and the work each replica held (its queue over time); the
/// trigger shaded.
fn with_charts(section: ReportSection, result: &RunResult) -> ReportSection {
    let window_s = result
        .metrics
        .get("service_window_ns")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(1e9)
        / 1e9;
    let shade = result
        .metrics
        .get("service_trigger_ns")
        .and_then(serde_json::Value::as_array)
        .and_then(|t| Some((t.first()?.as_f64()? / 1e9, t.get(1)?.as_f64()? / 1e9)))
        .map(|(start, end)| (start, end, "trigger".to_string()));
    let chart = |title: &str, y_desc: &str, series: Vec<(String, Vec<f64>)>| SeriesChart {
        title: title.into(),
        y_desc: y_desc.into(),
        window_s,
        shade: shade.clone(),
        series,
    };
    let held: Vec<(String, Vec<f64>)> = result
        .metrics
        .get("service_held_per_window")
        .and_then(serde_json::Value::as_object)
        .map(|servers| {
            let mut names: Vec<&String> = servers.keys().collect();
            names.sort_by_key(|s| s.parse::<u32>().unwrap_or(u32::MAX));
            names
                .into_iter()
                .take(HELD_LINES_MAX)
                .map(|s| {
                    let line = result.metric_series_of("service_held_per_window", s);
                    (format!("server {s}"), line)
                })
                .collect()
        })
        .unwrap_or_default();
    section
        .chart(chart(
            "Goodput, throughput and attempts per window",
            "per window",
            vec![
                (
                    "goodput".into(),
                    result.metric_series("service_goodput_per_window"),
                ),
                (
                    "ended".into(),
                    result.metric_series("service_ended_per_window"),
                ),
                (
                    "attempts".into(),
                    result.metric_series("service_attempts_per_window"),
                ),
            ],
        ))
        .chart(chart(
            "Circuit breakers over time",
            "breakers (mean over the window)",
            vec![
                (
                    "open".into(),
                    result.metric_series("service_breakers_open_per_window"),
                ),
                (
                    "half-open".into(),
                    result.metric_series("service_breakers_half_open_per_window"),
                ),
            ],
        ))
        .chart(chart(
            "Work held per replica",
            "most attempts held at once",
            held,
        ))
}

/// The most replicas the held-work chart draws a line for.
const HELD_LINES_MAX: usize = 12;
