//! The `[queue]` scenario table.

use crate::time::SimDuration;
use serde::Deserialize;

/// Options of the `[queue]` scenario table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueOptions {
    /// How long a delivered message stays invisible to other consumers.
    pub visibility_timeout: SimDuration,
    /// Deliveries after which a message goes to the dead-letter queue
    /// instead of being delivered again (0: never).
    pub max_deliveries: u32,
    /// The broker syncs a message before acknowledging its send (false: it
    /// acknowledges from memory, and a crash loses what was not yet
    /// flushed).
    pub sync: bool,
    /// How long a consumer takes to process a message before applying it.
    pub processing: SimDuration,
    /// How long an idle consumer waits before polling again.
    pub poll_interval: SimDuration,
    /// When a consumer acknowledges a delivery: after applying it, or
    /// before processing it.
    pub ack: AckWhen,
    /// The sink applies each message's key once (a dedupe table written
    /// with the effect): effectively-once.
    pub idempotent: bool,
    /// What the scenario claims: `queue.duplicates` fails a message
    /// applied twice only when this is true.
    pub exactly_once: bool,
    /// A producer forgets a send unanswered after this long (the history
    /// records it as of unknown outcome once `[workload] timeout` passes).
    pub give_up: SimDuration,
    /// The chance that processing a message fails this time (a transient
    /// error): the consumer gives it back (a nack) and it is delivered
    /// again at once.
    pub error_rate: f64,
    /// Every value divisible by this is a poison message: its processing
    /// always fails (0: none).
    pub poison_every: u64,
}

/// When a consumer acknowledges a delivery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AckWhen {
    /// After the sink applied it (at-least-once).
    #[default]
    After,
    /// As soon as it arrives, before processing (at-most-once).
    Before,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            visibility_timeout: SimDuration::from_secs(1),
            max_deliveries: 0,
            sync: true,
            processing: SimDuration::from_millis(5),
            poll_interval: SimDuration::from_millis(20),
            ack: AckWhen::After,
            idempotent: false,
            exactly_once: false,
            give_up: SimDuration::from_secs(1),
            error_rate: 0.0,
            poison_every: 0,
        }
    }
}

impl QueueOptions {
    /// What is wrong with the options, if anything: the key and why.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        let zero = SimDuration::ZERO;
        if self.visibility_timeout == zero {
            return Some(("visibility_timeout", "expected a duration above 0"));
        }
        if self.poll_interval == zero {
            return Some(("poll_interval", "expected a duration above 0"));
        }
        if self.give_up == zero {
            return Some(("give_up", "expected a duration above 0"));
        }
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Some(("error_rate", "expected a probability between 0 and 1"));
        }
        None
    }
}
