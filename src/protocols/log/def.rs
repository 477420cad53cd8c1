//! The log's registry entry: options from `[log]`, the brokers, the
//! controller, the sink and the consumers as servers, producers as client
//! processes.

use super::{Log, LogOptions, CHECKS, MESSAGE_KINDS, ROLES};
use crate::protocols::registry::{ProtocolDef, Setup};
use crate::protocols::ReportSection;
use crate::scenario::{OptionsInput, ScenarioError};
use crate::sim::RunResult;

/// The `log` protocol.
pub struct Def;

impl ProtocolDef for Def {
    type Options = LogOptions;
    type Protocol = Log;

    fn name(&self) -> &'static str {
        "log"
    }

    fn about(&self) -> &'static str {
        "a replicated partitioned log (Kafka-style: ISR, high watermark, acks, unclean election, idempotent producer, consumer group commits), checked for lost, skipped, duplicated and reordered records"
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
        MESSAGE_KINDS
    }

    fn fixed_placement(&self) -> Option<&'static str> {
        Some("producers send to each partition's leader")
    }

    fn options(&self, input: &OptionsInput<'_>) -> Result<LogOptions, ScenarioError> {
        let options: LogOptions = input.table("log")?;
        if let Some((key, why)) = options.problem() {
            return Err(input.error("log", Some(key), &why));
        }
        let needed = options.brokers + 3;
        if input.nodes() < needed {
            return Err(input.nodes_error(format!(
                "expected at least {needed} nodes for a log of {} brokers (the brokers, the controller, the sink and a consumer), found {}",
                options.brokers,
                input.nodes()
            )));
        }
        if input.clients() == 0 {
            let why = "expected [workload] clients of at least 1: the clients are the producers";
            return Err(input.error("log", None, why));
        }
        Ok(options)
    }

    fn build(&self, options: &LogOptions, setup: &Setup) -> Log {
        Log::new(options.clone(), setup.nodes, setup.clients)
    }

    fn headline(&self, result: &RunResult) -> Option<String> {
        Some(format!(
            "log         {} acknowledged sends, {} lost, {} records, {} skipped, {} applied twice or more, {} elections ({} unclean)",
            result.metric_text("log_acknowledged"),
            result.metric_text("log_lost"),
            result.metric_text("log_records"),
            result.metric_text("log_skipped"),
            result.metric_text("log_duplicate_effects"),
            result.metric_text("log_elections"),
            result.metric_text("log_unclean_elections"),
        ))
    }

    fn report_section(&self, result: &RunResult) -> Option<ReportSection> {
        let section = ReportSection::new("Replicated log")
            .metric(
                result,
                "acknowledged sends",
                "log_acknowledged",
                "sends a leader acknowledged with an offset",
            )
            .metric(
                result,
                "lost",
                "log_lost",
                "acknowledged sends missing from their partition's final committed log",
            )
            .metric(
                result,
                "records",
                "log_records",
                "records in the final committed logs",
            )
            .metric(
                result,
                "skipped",
                "log_skipped",
                "records in the final logs that never took effect at the sink",
            )
            .metric(
                result,
                "duplicate effects",
                "log_duplicate_effects",
                "extra effects of a value applied more than once",
            )
            .metric(
                result,
                "duplicate writes",
                "log_duplicate_writes",
                "values at two offsets of a final log",
            )
            .metric(
                result,
                "elections",
                "log_elections",
                "leader changes the controller made",
            )
            .metric(
                result,
                "unclean elections",
                "log_unclean_elections",
                "leaders chosen from outside the in-sync replicas",
            )
            .metric(
                result,
                "truncated",
                "log_truncated",
                "records followers cut from their logs where they diverged from a new leader's",
            );
        Some(section)
    }
}
