//! The sagas' registry entry: options from `[saga]`, the node count each
//! flow needs, and the summary's and report's saga outcomes.

use super::{Flow, Saga, SagaOptions, CHECKS, ORDER_NODES, ROLES};
use crate::protocols::registry::{ProtocolDef, Setup};
use crate::protocols::ReportSection;
use crate::scenario::{OptionsInput, ScenarioError};
use crate::sim::RunResult;
use crate::time::SimDuration;

/// The `saga` protocol.
pub struct Def;

impl ProtocolDef for Def {
    type Options = SagaOptions;
    type Protocol = Saga;

    fn name(&self) -> &'static str {
        "saga"
    }

    fn about(&self) -> &'static str {
        "orchestrated sagas (order flow or bank transfers) with retries, idempotency and compensation"
    }

    fn checks(&self) -> &'static [crate::process::CheckInfo] {
        CHECKS
    }

    fn roles(&self) -> &'static [&'static str] {
        ROLES
    }

    /// With every fault repaired and no operation left, nothing is sent.
    fn quiescent(&self) -> bool {
        true
    }

    fn fixed_placement(&self) -> Option<&'static str> {
        Some("every saga goes to the orchestrator")
    }

    fn options(&self, input: &OptionsInput<'_>) -> Result<SagaOptions, ScenarioError> {
        let o: SagaOptions = input.table("saga")?;
        let nodes = input.nodes();
        let fits = match o.flow {
            Flow::Order => nodes == ORDER_NODES,
            Flow::Transfer => nodes >= 3,
        };
        if !fits {
            return Err(input.nodes_error(match o.flow {
                Flow::Order => format!("expected exactly 6 nodes for the saga's order flow (orchestrator, users, inventory, payment, orders, notifications), found {nodes}"),
                Flow::Transfer => format!("expected at least 3 nodes for the saga's transfer flow (an orchestrator and two shards), found {nodes}"),
            }));
        }
        match problem(&o, nodes) {
            Some((key, m)) => Err(input.error("saga", Some(key), m)),
            None => Ok(o),
        }
    }

    fn build(&self, options: &SagaOptions, setup: &Setup) -> Saga {
        Saga::new(options.clone(), setup.nodes)
    }

    fn headline(&self, result: &RunResult) -> Option<String> {
        Some(format!(
            "sagas       {} completed, {} compensated, {} reported stuck; isolation anomalies: {}",
            result.metric_text("sagas_completed"),
            result.metric_text("sagas_compensated"),
            result.metric_text("sagas_reported_stuck"),
            anomaly_classes(result),
        ))
    }

    fn report_section(&self, result: &RunResult) -> Option<ReportSection> {
        let section = ReportSection::new("Sagas")
            .metric(result, "completed", "sagas_completed", "sagas whose every step took effect")
            .metric(result, "compensated", "sagas_compensated", "sagas undone step by step after a step failed")
            .metric(result, "reported stuck", "sagas_reported_stuck", "sagas the orchestrator gave up on and reported for an operator")
            .metric(result, "aborted reads (G1a)", "anomalies", "steps that read another saga's change that was later compensated; sagas give up isolation (BASE)")
            .row("isolation anomalies", anomaly_classes(result), "every class the transaction checker found (cycles: up to 8 examples each), each saga one transaction")
            .metric(result, "orchestrator crashes mid-saga", "orchestrator_crashes_mid_saga", "crashes recovered from the orchestrator's log")
            .metric(result, "orchestrator crashes mid-compensation", "orchestrator_crashes_mid_compensation", "crashes while undoing a saga");
        Some(section)
    }
}

/// The anomaly classes of a run and their counts, e.g. `G0 8, G1a 1`.
fn anomaly_classes(result: &RunResult) -> String {
    let classes: Vec<String> = result
        .metrics
        .get("isolation_anomalies")
        .and_then(|v| v.as_object())
        .into_iter()
        .flatten()
        .map(|(class, n)| format!("{class} {n}"))
        .collect();
    if classes.is_empty() {
        "none".to_string()
    } else {
        classes.join(", ")
    }
}

/// What is wrong with saga options, if anything: the option and why.
fn problem(o: &SagaOptions, nodes: usize) -> Option<(&'static str, String)> {
    let problem = |key, m: &str| Some((key, m.to_string()));
    if o.retry_base == SimDuration::ZERO {
        problem("retry_base", "expected retry_base above 0")
    } else if o.retry_max < o.retry_base {
        problem("retry_max", "expected retry_max at least retry_base")
    } else if !(1..=64).contains(&o.max_attempts) {
        problem("max_attempts", "expected max_attempts from 1 to 64")
    } else if !(1..=64).contains(&o.stuck_after) {
        problem("stuck_after", "expected stuck_after from 1 to 64")
    } else if !(0.0..=1.0).contains(&o.payment_failure_probability) {
        problem(
            "payment_failure_probability",
            "expected payment_failure_probability from 0 to 1",
        )
    } else if !(0.0..=1.0).contains(&o.transient_failure_probability) {
        problem(
            "transient_failure_probability",
            "expected transient_failure_probability from 0 to 1",
        )
    } else if o
        .unavailable_service
        .is_some_and(|n| n == 0 || n as usize >= nodes)
    {
        let m = format!(
            "expected unavailable_service to be a service node, 1 to {}",
            nodes - 1
        );
        Some(("unavailable_service", m))
    } else if o.unavailable_until < o.unavailable_from {
        problem(
            "unavailable_until",
            "expected unavailable_until at or after unavailable_from",
        )
    } else if !(1..=1_000_000).contains(&o.items) || o.stock_per_item > 1_000_000_000_000 {
        problem(
            "items",
            "expected items from 1 to 1000000 and stock_per_item up to 10^12",
        )
    } else if !(1..=1_000_000).contains(&o.users) || o.balance_per_user > 1_000_000_000_000 {
        problem(
            "users",
            "expected users from 1 to 1000000 and balance_per_user up to 10^12",
        )
    } else {
        o.bank().problem()
    }
}
