//! The service family's registry entry: options from `[service]`, checked
//! against the node count, clients and duration; the summary's and
//! report's load figures.

use super::{Service, ServiceOptions, CHECKS, ROLES};
use crate::protocols::registry::{ProtocolDef, Setup};
use crate::protocols::ReportSection;
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
        "a service under load: client-side balancing, deadlines, retries with backoff, budgets and breakers over queueing replicas"
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
        Some("each client picks the replica of every attempt with its balancer ([service] balance)")
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
        Some(section)
    }
}
