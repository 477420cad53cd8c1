//! The scenario file exactly as written: serde structs that mirror the
//! common sections of the TOML, with spans kept where validation needs to
//! point back at the text. A protocol's own tables are not here: its
//! registry entry reads them. Nothing here is checked beyond types;
//! `validate` turns it into a plan.

use crate::time::SimDuration;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub protocol: Spanned<String>,
    pub nodes: Spanned<i64>,
    pub duration: Spanned<SimDuration>,
    pub seed: Option<u64>,
    pub max_events: Option<Spanned<u64>>,
    pub max_pending_events: Option<Spanned<u64>>,
    pub max_history_ops: Option<Spanned<u64>>,
    pub network: Option<RawNetwork>,
    #[serde(default)]
    pub faults: Vec<Spanned<RawFault>>,
    pub nemesis: Option<RawNemesis>,
    pub workload: Option<RawWorkload>,
    pub checks: Option<RawChecks>,
    pub swarm: Option<RawSwarm>,
    pub buggify: Option<RawBuggify>,
    pub storage: Option<RawStorage>,
    pub slo: Option<RawSlo>,
}

/// `[storage]`: storage faults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub lost_sync: Option<Spanned<f64>>,
    pub failed_sync: Option<Spanned<f64>>,
    pub torn_crash: Option<Spanned<f64>>,
}

/// `[buggify]`: code-level fault points.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBuggify {
    pub fire: Option<Spanned<f64>>,
}

/// `[network]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub latency: Option<Spanned<RawLatency>>,
    pub loss: Option<Spanned<f64>>,
    pub duplicate: Option<Spanned<f64>>,
    pub paused_messages: Option<Spanned<String>>,
    #[serde(default)]
    pub links: Vec<Spanned<RawLink>>,
    pub slow: Option<Spanned<RawSlow>>,
}

/// `[network.slow]`: a share of messages with a long-tailed delay.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlow {
    pub share: Option<Spanned<f64>>,
    pub latency: Option<Spanned<RawLatency>>,
    pub kinds: Option<Spanned<Vec<String>>>,
}

/// A latency distribution, e.g. `{ dist = "uniform", min = "1ms", max = "9ms" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLatency {
    pub dist: String,
    pub value: Option<SimDuration>,
    pub min: Option<SimDuration>,
    pub max: Option<SimDuration>,
    pub mean: Option<SimDuration>,
    pub stddev: Option<SimDuration>,
    pub scale: Option<SimDuration>,
    pub shape: Option<f64>,
    pub median: Option<SimDuration>,
    pub sigma: Option<f64>,
}

/// `[[network.links]]`: an override for one directed link (or both ways).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    pub from: Spanned<i64>,
    pub to: Spanned<i64>,
    #[serde(default)]
    pub symmetric: bool,
    pub latency: Option<Spanned<RawLatency>>,
    pub loss: Option<Spanned<f64>>,
    pub duplicate: Option<Spanned<f64>>,
}

/// `[[faults]]`: one timed fault. Which fields apply depends on `action`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub at: Spanned<SimDuration>,
    pub action: Spanned<String>,
    pub node: Option<Spanned<RawNodeRef>>,
    pub name: Option<Spanned<String>>,
    pub shape: Option<Spanned<String>>,
    pub minority: Option<Spanned<Vec<i64>>>,
    pub groups: Option<Spanned<Vec<Vec<i64>>>>,
    pub one_way: Option<Spanned<bool>>,
    pub offset: Option<Spanned<String>>,
    pub drift_ppm: Option<Spanned<i64>>,
    pub size: Option<Spanned<RawSize>>,
    #[serde(rename = "for")]
    pub lasting: Option<Spanned<DurationRange>>,
    pub every: Option<Spanned<SimDuration>>,
    pub count: Option<Spanned<i64>>,
    pub until: Option<Spanned<SimDuration>>,
    pub jitter: Option<Spanned<SimDuration>>,
    pub after_send: Option<Spanned<String>>,
}

/// A group size: a count, `"minority"` or `"majority"`.
#[derive(Debug, Clone, PartialEq)]
pub enum RawSize {
    Count(i64),
    Name(String),
}

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of servers, \"minority\" or \"majority\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSize, E> {
                Ok(RawSize::Count(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSize, E> {
                Ok(RawSize::Count(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSize, E> {
                Ok(RawSize::Name(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A node named by index, by role, or `"any"`.
#[derive(Debug, Clone, PartialEq)]
pub enum RawNodeRef {
    Index(i64),
    Name(String),
}

impl<'de> Deserialize<'de> for RawNodeRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawNodeRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a node index (0, 1, ...), a role name (e.g. \"leader\") or \"any\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawNodeRef, E> {
                Ok(RawNodeRef::Index(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNodeRef, E> {
                Ok(RawNodeRef::Index(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawNodeRef, E> {
                Ok(RawNodeRef::Name(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[nemesis]`: random faults with rates.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNemesis {
    pub start: Option<SimDuration>,
    pub partition: Option<Spanned<RawRate>>,
    pub shapes: Option<Spanned<Vec<String>>>,
    pub one_way: Option<Spanned<f64>>,
    pub crash: Option<Spanned<RawRate>>,
    pub pause: Option<Spanned<RawRate>>,
    pub clock: Option<Spanned<RawRate>>,
    pub skew_max: Option<Spanned<SimDuration>>,
    pub drift_ppm_max: Option<Spanned<i64>>,
    pub crash_after_send: Option<Spanned<RawCrashAfterSend>>,
}

/// `{ probability = 0.05, kinds = ["VoteReply"], down = ["1ms", "100ms"] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrashAfterSend {
    pub probability: Option<Spanned<f64>>,
    pub kinds: Option<Spanned<Vec<String>>>,
    pub down: Option<Spanned<DurationRange>>,
}

/// `{ every = "10s", duration = ["2s", "5s"] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRate {
    pub every: SimDuration,
    pub duration: DurationRange,
}

/// A duration or a `[min, max]` pair of durations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationRange {
    pub min: SimDuration,
    pub max: SimDuration,
}

impl<'de> Deserialize<'de> for DurationRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DurationRange;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like \"2s\" or a range like [\"2s\", \"5s\"]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationRange, E> {
                let d = crate::time::parse_duration(v).map_err(E::custom)?;
                Ok(DurationRange { min: d, max: d })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DurationRange, A::Error> {
                let min: SimDuration = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let max: SimDuration = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if seq.next_element::<SimDuration>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(DurationRange { min, max })
            }
        }
        d.deserialize_any(V)
    }
}

/// `[workload]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub clients: Option<Spanned<i64>>,
    pub interval: Option<Spanned<SimDuration>>,
    pub timeout: Option<Spanned<SimDuration>>,
    pub max_ops: Option<u64>,
    pub placement: Option<Spanned<String>>,
    pub targets: Option<Spanned<Vec<i64>>>,
}

/// `[checks]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChecks {
    pub expect: Option<Spanned<String>>,
    pub expect_check: Option<Spanned<String>>,
    pub settle: Option<Spanned<SimDuration>>,
    pub enabled: Option<Spanned<Vec<String>>>,
    pub linearizability_steps: Option<Spanned<u64>>,
    pub linearizability_memory: Option<Spanned<String>>,
    pub progress_window: Option<Spanned<SimDuration>>,
    pub progress_factor: Option<Spanned<f64>>,
}

/// `[swarm]`: ranges each seed draws its own fault mix from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSwarm {
    pub loss: Option<Spanned<[f64; 2]>>,
    pub duplicate: Option<Spanned<[f64; 2]>>,
    pub partition: Option<Spanned<RawSwarmRate>>,
    pub crash: Option<Spanned<RawSwarmRate>>,
    pub pause: Option<Spanned<RawSwarmRate>>,
    pub clock: Option<Spanned<RawSwarmRate>>,
    pub off: Option<Spanned<f64>>,
    pub buggify: Option<Spanned<[f64; 2]>>,
    pub crash_after_send: Option<Spanned<[f64; 2]>>,
}

/// `{ every = ["2s", "20s"], duration = ["1s", "5s"] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSwarmRate {
    pub every: DurationRange,
    pub duration: DurationRange,
}

/// `[slo]`: requirements the report evaluates (PASS / FAIL).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    pub latency_p50: Option<SimDuration>,
    pub latency_p99: Option<SimDuration>,
    pub availability: Option<Spanned<f64>>,
    pub throughput: Option<Spanned<f64>>,
}
