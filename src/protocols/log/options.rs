//! The `[log]` scenario table.

use crate::time::SimDuration;
use serde::Deserialize;

/// Options of the `[log]` scenario table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogOptions {
    /// Broker nodes (nodes `0..brokers`); the controller, the sink and
    /// the consumers follow.
    pub brokers: usize,
    /// Partitions of the topic.
    pub partitions: u32,
    /// Replicas of each partition (at most `brokers`): partition `p` lives
    /// on brokers `p, p + 1, ...` (mod `brokers`), the first its preferred
    /// leader.
    pub replication: usize,
    /// When the leader acknowledges a produce: `0` never (fire and
    /// forget), `1` once it has the record, `"all"` once every in-sync
    /// replica has it.
    pub acks: Acks,
    /// With `acks = "all"`: the leader refuses a produce while fewer
    /// replicas than this are in sync.
    pub min_insync_replicas: usize,
    /// The controller may make an out-of-sync replica leader when no
    /// in-sync one is alive (availability over durability).
    pub unclean_leader_election: bool,
    /// Producers number their sends per partition and the leader drops a
    /// retried send it already has (Kafka's idempotent producer).
    pub idempotent_producer: bool,
    /// When a consumer commits its position: after applying a batch, before
    /// processing it, or with the effect (the sink stores each partition's
    /// position in the same write as the effect).
    pub commit: CommitWhen,
    /// Brokers sync each record before acknowledging or replicating it
    /// (false: they flush every 200 ms and a crash loses what was not).
    pub sync: bool,
    /// A follower not caught up with the leader's log end for this long
    /// leaves the in-sync replica set (Kafka's `replica.lag.time.max.ms`).
    pub replica_lag_max: SimDuration,
    /// How often the controller hands each partition back to its
    /// preferred replica when that one is in sync and not leading (Kafka's
    /// `auto.leader.rebalance.enable`, every
    /// `leader.imbalance.check.interval`); `"0s"`: never.
    pub leader_rebalance: SimDuration,
    /// How often brokers heartbeat to the controller.
    pub heartbeat: SimDuration,
    /// The controller deems a broker dead after this long without a
    /// heartbeat and moves its leaderships.
    pub session_timeout: SimDuration,
    /// How long a follower or consumer that found nothing new waits
    /// before fetching again.
    pub fetch_wait: SimDuration,
    /// The most records one fetch or poll returns.
    pub fetch_max: usize,
    /// A producer retries a send unanswered for this long.
    pub request_timeout: SimDuration,
    /// A producer gives a send up after this long (the history records it
    /// as of unknown outcome once `[workload] timeout` passes).
    pub give_up: SimDuration,
    /// How long a consumer takes to process one record before applying it.
    pub processing: SimDuration,
    /// What the scenario claims: `log.duplicate-effects` and
    /// `log.duplicate-writes` fail only when this is true.
    pub exactly_once: bool,
    /// The sink keeps an event-sourced projection (account balances),
    /// snapshotted every `snapshot_every` and rebuilt from the last
    /// snapshot and the log's tail after a restart (`log.projection`).
    pub projection: bool,
    /// How often the projection (or the window state) is snapshotted.
    pub snapshot_every: SimDuration,
    /// Stream processing: the sink counts events by event time in windows
    /// this long (`"0s"`: no windows), checkpointed like the projection
    /// (`log.windows`).
    pub window: SimDuration,
    /// How far apart windows start (`"0s"`: `window`, tumbling windows).
    pub slide: SimDuration,
    /// The watermark trails the latest event time seen by this (bounded
    /// out-of-orderness).
    pub out_of_orderness: SimDuration,
    /// How long after the watermark passes a window's end a late event
    /// still updates its count (later ones are dropped and counted).
    pub allowed_lateness: SimDuration,
}

/// When a partition leader acknowledges a produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(try_from = "toml::Value")]
pub enum Acks {
    /// Never: the producer does not wait (`acks = 0`).
    None,
    /// Once the leader has appended it (`acks = 1`).
    Leader,
    /// Once every in-sync replica has it (`acks = "all"`).
    All,
}

impl TryFrom<toml::Value> for Acks {
    type Error = String;

    fn try_from(value: toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::Integer(0) => Ok(Acks::None),
            toml::Value::Integer(1) => Ok(Acks::Leader),
            toml::Value::String(s) if s == "all" || s == "-1" => Ok(Acks::All),
            toml::Value::Integer(-1) => Ok(Acks::All),
            other => Err(format!("expected 0, 1 or \"all\", found {other}")),
        }
    }
}

/// When a consumer commits its position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitWhen {
    /// After applying the batch (at-least-once: a crash before the commit
    /// applies the batch again).
    #[default]
    After,
    /// Before processing the batch (at-most-once: a crash before applying
    /// skips what was committed).
    Before,
    /// With each effect, in the sink's own write (exactly-once effects).
    WithEffect,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            brokers: 3,
            partitions: 6,
            replication: 3,
            acks: Acks::All,
            min_insync_replicas: 2,
            unclean_leader_election: false,
            idempotent_producer: false,
            commit: CommitWhen::After,
            sync: true,
            replica_lag_max: SimDuration::from_millis(500),
            leader_rebalance: SimDuration::from_secs(5),
            heartbeat: SimDuration::from_millis(100),
            session_timeout: SimDuration::from_millis(600),
            fetch_wait: SimDuration::from_millis(5),
            fetch_max: 100,
            request_timeout: SimDuration::from_millis(300),
            give_up: SimDuration::from_secs(2),
            processing: SimDuration::from_millis(1),
            exactly_once: false,
            projection: false,
            snapshot_every: SimDuration::from_millis(200),
            window: SimDuration::ZERO,
            slide: SimDuration::ZERO,
            out_of_orderness: SimDuration::from_millis(100),
            allowed_lateness: SimDuration::ZERO,
        }
    }
}

/// The most partitions a scenario may ask for (each is a part of its
/// brokers' disks, found by a linear search: a bound on that cost).
pub const PARTITIONS_MAX: u32 = 1 << 16;

impl LogOptions {
    /// What is wrong with the options, if anything: the key and why.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        let zero = SimDuration::ZERO;
        let positive = |key: &'static str| Some((key, "expected a duration above 0".to_string()));
        if self.brokers == 0 {
            return Some(("brokers", "expected at least 1 broker".into()));
        }
        if self.partitions == 0 || self.partitions > PARTITIONS_MAX {
            return Some((
                "partitions",
                format!("expected 1 to {PARTITIONS_MAX} partitions"),
            ));
        }
        if self.replication == 0 || self.replication > self.brokers {
            return Some((
                "replication",
                format!("expected 1 to brokers ({}) replicas", self.brokers),
            ));
        }
        if self.min_insync_replicas == 0 || self.min_insync_replicas > self.replication {
            return Some((
                "min_insync_replicas",
                format!("expected 1 to replication ({})", self.replication),
            ));
        }
        if self.fetch_max == 0 {
            return Some(("fetch_max", "expected at least 1 record".into()));
        }
        for (key, d) in [
            ("replica_lag_max", self.replica_lag_max),
            ("heartbeat", self.heartbeat),
            ("session_timeout", self.session_timeout),
            ("fetch_wait", self.fetch_wait),
            ("request_timeout", self.request_timeout),
            ("give_up", self.give_up),
            ("snapshot_every", self.snapshot_every),
        ] {
            if d == zero {
                return positive(key);
            }
        }
        let (window, slide) = (self.window.as_nanos(), self.slide.as_nanos());
        if slide > 0 && (window == 0 || slide > window || window % slide != 0) {
            return Some(("slide", "expected a slide that divides the window".into()));
        }
        if slide > 0 && window / slide > 100 {
            return Some(("slide", "expected at most 100 slides per window".into()));
        }
        if self.session_timeout <= self.heartbeat {
            return Some((
                "session_timeout",
                "expected a session timeout longer than the heartbeat".into(),
            ));
        }
        None
    }

    /// The replicas of partition `p`, its preferred leader first.
    pub fn replicas(&self, p: u32) -> Vec<u32> {
        (0..self.replication)
            .map(|k| ((p as usize + k) % self.brokers) as u32)
            .collect()
    }
}
