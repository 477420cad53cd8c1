//! The queue's registry entry: options from `[queue]`, the broker, the
//! sink and the consumers as servers, producers as client processes.

use super::{Queue, QueueOptions, CHECKS, FIRST_CONSUMER, ROLES};
use crate::protocols::registry::{ProtocolDef, Setup};
use crate::protocols::ReportSection;
use crate::scenario::{OptionsInput, ScenarioError};
use crate::sim::RunResult;

/// The `queue` protocol.
pub struct Def;

impl ProtocolDef for Def {
    type Options = QueueOptions;
    type Protocol = Queue;

    fn name(&self) -> &'static str {
        "queue"
    }

    fn about(&self) -> &'static str {
        "an at-least-once message queue (visibility timeouts, acks, nacks, dead letters, idempotent consumers), checked for lost, stuck, unexpected and duplicated messages"
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
        &["send", "receive", "apply"]
    }

    fn fixed_placement(&self) -> Option<&'static str> {
        Some("producers send to the broker")
    }

    fn options(&self, input: &OptionsInput<'_>) -> Result<QueueOptions, ScenarioError> {
        let options: QueueOptions = input.table("queue")?;
        if input.nodes() <= FIRST_CONSUMER {
            return Err(input.nodes_error(format!(
                "expected at least 3 nodes for a queue (the broker, the sink and a consumer), found {}",
                input.nodes()
            )));
        }
        if input.clients() == 0 {
            let why = "expected [workload] clients of at least 1: the clients are the producers";
            return Err(input.error("queue", None, why));
        }
        match options.problem() {
            Some((key, why)) => Err(input.error("queue", Some(key), why)),
            None => Ok(options),
        }
    }

    fn build(&self, options: &QueueOptions, setup: &Setup) -> Queue {
        Queue::new(options.clone(), setup.nodes, setup.clients)
    }

    fn headline(&self, result: &RunResult) -> Option<String> {
        Some(format!(
            "queue       {} acknowledged sends, {} applied, {} lost, {} applied twice or more, {} redeliveries, {} dead-lettered",
            result.metric_text("queue_acknowledged"),
            result.metric_text("queue_applied"),
            result.metric_text("queue_lost"),
            result.metric_text("queue_duplicates"),
            result.metric_text("queue_redeliveries"),
            result.metric_text("queue_dead_lettered"),
        ))
    }

    fn report_section(&self, result: &RunResult) -> Option<ReportSection> {
        let section = ReportSection::new("Message queue")
            .metric(
                result,
                "acknowledged sends",
                "queue_acknowledged",
                "sends the broker stored and acknowledged",
            )
            .metric(
                result,
                "lost",
                "queue_lost",
                "acknowledged sends that never took effect",
            )
            .metric(
                result,
                "duplicates",
                "queue_duplicates",
                "extra effects of a message applied more than once",
            )
            .metric(
                result,
                "redeliveries",
                "queue_redeliveries",
                "deliveries after a message's first: a consumer crashed, was slow, or its ack was lost",
            )
            .metric(
                result,
                "deduplicated",
                "queue_deduplicated",
                "applies the idempotent sink recognised and skipped",
            )
            .metric(
                result,
                "dead-lettered",
                "queue_dead_lettered",
                "messages moved to the dead-letter queue after max_deliveries",
            );
        Some(section)
    }
}
