//! The engine: virtual clock, event queue, seeded random streams, faults,
//! workload and trace hash. It runs any [`Protocol`] single-threaded and
//! deterministically: the same [`SimConfig`] (seed included) gives the same
//! events in the same order and the same trace hash, on every machine.
//!
//! A run has two phases (after TigerBeetle's VOPR): a *fault phase* until
//! `duration`, with the scheduled and random faults and the client
//! workload, then a *liveness phase* of `settle`, in which every partition is
//! healed, every crashed node restarted and every paused node resumed, and
//! no new faults or operations start. End-of-run checks (eventual delivery,
//! liveness) judge the state after it.

pub mod buggify;
mod clock;
pub mod coverage;
pub mod crash_after_send;
mod engine;
pub mod fault;
pub mod nemesis;
pub mod panics;
mod queue;
pub mod repeat;
pub mod storage;
pub mod swarm;
pub mod work;

pub use buggify::Buggify;
pub use clock::NodeClock;
pub use coverage::Coverage;
pub use crash_after_send::CrashAfterSend;
pub use engine::{Progress, Simulation};
pub use fault::{FaultAction, GroupSize, NodeRef, Shape, TimedFault};
pub use nemesis::{FaultRate, NemesisConfig, ShapeKind};
pub use queue::EventQueue;
pub use repeat::{FaultTemplate, Repeat};
pub use storage::StorageFaults;
pub use swarm::{SwarmConfig, SwarmRate};
pub use work::{WorkBound, WorkMeter, WorkVerdict};

use crate::history::Record;
use crate::net::{NetStats, NetworkConfig};
use crate::process::{CheckBudget, Undecided, Violation};
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use serde::Serialize;
use std::collections::BTreeMap;

/// The client workload.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadConfig {
    /// Number of concurrent clients; each has one operation open at a time.
    pub clients: usize,
    /// Pause between a client's operations.
    pub interval: SimDuration,
    /// A client gives up on an operation after this long (outcome unknown).
    pub timeout: SimDuration,
    /// Stop after this many operations in all (`None`: until `duration`).
    pub max_ops: Option<u64>,
    /// Which server each client's requests go to.
    pub placement: Placement,
    /// The servers placement chooses among (empty: every server).
    pub targets: Vec<crate::process::NodeId>,
}

/// Which server a workload client's request goes to (`[workload]
/// placement`), for protocols whose requests go to a server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Placement {
    /// Where the protocol's workload sends it.
    #[default]
    Protocol,
    /// Client `c` always talks to target `c mod n`.
    Fixed,
    /// Client `c`'s `k`-th request goes to target `(c + k) mod n`.
    RoundRobin,
    /// A target drawn from the workload stream for each request.
    Random,
}

impl Placement {
    /// Which of `n` targets client `client`'s `k`-th request goes to
    /// (`None`: the protocol decides); `Random` draws from `rng`.
    pub fn pick(self, client: usize, k: u64, n: usize, rng: &mut SimRng) -> Option<usize> {
        match self {
            Placement::Protocol => None,
            Placement::Fixed => Some(client % n),
            Placement::RoundRobin => Some((client + k as usize) % n),
            Placement::Random => Some(rng.index(n)),
        }
    }
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            clients: 0,
            interval: SimDuration::from_millis(100),
            timeout: SimDuration::from_secs(1),
            max_ops: None,
            placement: Placement::Protocol,
            targets: Vec::new(),
        }
    }
}

/// Default of [`SimConfig::max_pending_events`]: a million queued events
/// (a few hundred bytes each at most) stay well under the run's memory
/// ceiling (docs/scenarios.md, "Limits").
pub const MAX_PENDING_EVENTS_DEFAULT: u64 = 1_000_000;
/// Default of [`SimConfig::max_history_ops`]: the history, its report
/// form and the linearizability checker's copy cost about 1 KB per
/// operation together, so a million keep a run near 1 GiB.
pub const MAX_HISTORY_OPS_DEFAULT: u64 = 1_000_000;
/// Default of [`SimConfig::max_trace_records`]: the report's trace
/// (Perfetto) and message diagram draw from at most this many events.
pub const MAX_TRACE_RECORDS_DEFAULT: usize = 100_000;
/// Most role changes a run keeps for its role chart (later ones are not
/// kept; the chart stays a few MB at most).
pub const MAX_ROLE_CHANGES: usize = 20_000;
/// Most protocol intervals (e.g. in-doubt periods) a run keeps for its
/// interval chart: the first ones.
pub const MAX_INTERVALS: usize = 20_000;

/// Everything the engine needs besides the protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// The run's seed.
    pub seed: u64,
    /// Length of the fault phase.
    pub duration: SimDuration,
    /// Length of the liveness phase after it.
    pub settle: SimDuration,
    /// The run stops (as a failure, `engine.max-events`) after this many events.
    pub max_events: u64,
    /// The run stops (as a failure, `engine.max-pending`) when more events
    /// than this wait in the queue at once (a message storm).
    pub max_pending_events: u64,
    /// The run stops (as a failure, `engine.max-history`) when the client
    /// history would grow past this many operations.
    pub max_history_ops: u64,
    /// At most this many events are recorded for reports (`record_trace`);
    /// later ones are counted, not kept.
    pub max_trace_records: usize,
    /// The budget of end-of-run checks that search (linearizability).
    pub check_budget: CheckBudget,
    /// How `engine.progress` judges the run's work after its faults.
    pub work_bound: WorkBound,
    /// How often an active code-level fault point fires (`Ctx::buggify`);
    /// 0 turns buggify off.
    pub buggify: f64,
    /// Collect behaviour coverage (`explore --guided`; off for speed).
    pub coverage: bool,
    /// Storage faults: lost syncs and torn crashes (`[storage]`).
    pub storage: StorageFaults,
    /// Crashes right after a send (`[nemesis] crash_after_send`); kept
    /// apart from the nemesis, whose schedule shrinking writes out.
    pub crash_after_send: Option<CrashAfterSend>,
    /// The protocol goes quiet after the liveness phase (its registry
    /// entry says so): `engine.quiescence` judges it.
    pub quiescent: bool,
    /// The network.
    pub network: NetworkConfig,
    /// Whether messages to a paused node are dropped (true) or queued.
    pub pause_drops_messages: bool,
    /// Faults at fixed times.
    pub faults: Vec<TimedFault>,
    /// Random faults.
    pub nemesis: NemesisConfig,
    /// Client operations.
    pub workload: WorkloadConfig,
    /// Checks that may fail the run (`None`: all). Others are counted only.
    pub enabled_checks: Option<Vec<String>>,
    /// Keep a record of every event (for reports); off for speed.
    pub record_trace: bool,
    /// Export the client history as JSON lines into the result (for
    /// reports and `check`); sweeps that only need verdicts turn it off.
    pub export_history: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            duration: SimDuration::from_secs(10),
            settle: SimDuration::ZERO,
            max_events: 50_000_000,
            max_pending_events: MAX_PENDING_EVENTS_DEFAULT,
            max_history_ops: MAX_HISTORY_OPS_DEFAULT,
            max_trace_records: MAX_TRACE_RECORDS_DEFAULT,
            check_budget: CheckBudget::default(),
            work_bound: WorkBound::default(),
            buggify: 0.0,
            coverage: false,
            storage: StorageFaults::default(),
            crash_after_send: None,
            quiescent: false,
            network: NetworkConfig::default(),
            pause_drops_messages: false,
            faults: Vec::new(),
            nemesis: NemesisConfig::default(),
            workload: WorkloadConfig::default(),
            enabled_checks: None,
            record_trace: false,
            export_history: true,
        }
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// It reached `duration + settle`.
    Completed,
    /// A check failed as the run went and stopped it.
    Violation,
    /// It hit `max_events` first.
    EventLimit,
    /// Too many events were pending at once (`max_pending_events`).
    PendingLimit,
    /// The history reached `max_history_ops`.
    HistoryLimit,
    /// A process (or the engine) panicked; the check `engine.panic` says where.
    Panic,
}

/// A fault as it was applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppliedFault {
    /// When.
    pub time_ns: u64,
    /// What happened, with role and random targets resolved, for people.
    pub description: String,
    /// What happened, typed: what the reports read.
    pub effect: FaultEffect,
}

/// What an applied fault did, with its targets resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FaultEffect {
    /// Partition `name` started (`groups` as cut; empty for a ring, which
    /// cuts links rather than groups).
    Partitioned {
        /// Its name, which a heal refers to.
        name: String,
        /// The groups, by node index.
        groups: Vec<Vec<u32>>,
        /// Whether only the first group's messages to the others are cut.
        one_way: bool,
    },
    /// These partitions healed.
    Healed {
        /// Their names.
        names: Vec<String>,
    },
    /// These nodes crashed.
    Crashed {
        /// By index.
        nodes: Vec<u32>,
    },
    /// A crash was armed: `node` crashes right after its next send (of a
    /// kind, if the fault named one).
    Armed {
        /// By index.
        node: u32,
    },
    /// These nodes restarted from their disks.
    Restarted {
        /// By index.
        nodes: Vec<u32>,
    },
    /// These nodes paused.
    Paused {
        /// By index.
        nodes: Vec<u32>,
    },
    /// These nodes resumed.
    Resumed {
        /// By index.
        nodes: Vec<u32>,
    },
    /// A node's clock was set.
    ClockSet {
        /// By index.
        node: u32,
        /// Offset from true time.
        offset_ns: i64,
        /// Drift, in parts per million.
        drift_ppm: i64,
    },
    /// The fault found nothing to act on (its node was not in the state it
    /// acts on, or no partition of that name was active).
    Skipped,
    /// The liveness phase began: every partition healed, every paused node
    /// resumed, every crashed node restarted.
    LivenessPhase {
        /// The partitions healed.
        healed: Vec<String>,
        /// The nodes resumed.
        resumed: Vec<u32>,
        /// The nodes restarted.
        restarted: Vec<u32>,
    },
}

/// One recorded event, for reports (only with `record_trace`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceRecord {
    /// When.
    pub time_ns: u64,
    /// `send`, `deliver`, `drop`, `timer`, `fault`, `invoke`, `complete`, `timeout`.
    pub kind: &'static str,
    /// The acting or receiving process.
    pub node: Option<u32>,
    /// The other process (sender of a delivery, destination of a send).
    pub peer: Option<u32>,
    /// For deliveries: when the message was sent.
    pub sent_ns: Option<u64>,
    /// A readable description (`Debug` of the message or timer).
    pub detail: String,
}

/// A process started or stopped playing a role (e.g. became leader), or
/// crashed (`role: None` after a crash).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoleChange {
    /// When.
    pub time_ns: u64,
    /// The process.
    pub node: u32,
    /// Its role from now on (`None`: no role, or down).
    pub role: Option<String>,
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// The trace hash, 16 hex digits.
    pub trace_hash: String,
    /// Events processed.
    pub events: u64,
    /// Simulated time at the end.
    pub sim_time: SimTime,
    /// Why the run ended.
    pub end_reason: EndReason,
    /// Violated checks, in the order found.
    pub violations: Vec<Violation>,
    /// Violations of checks the scenario did not enable (counted, not failing).
    pub ignored_violations: Vec<Violation>,
    /// Checks that could not be decided within their budget.
    pub undecided: Vec<Undecided>,
    /// Engine and protocol metrics.
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// Faults applied, in order.
    pub faults: Vec<AppliedFault>,
    /// Network counters.
    pub net: NetStats,
    /// The client history (empty when `export_history` was off); written
    /// as JSON lines by [`crate::history::write_jsonl`].
    pub history: Vec<Record>,
    /// The events, when `record_trace` was set: the first
    /// `max_trace_records` of them.
    pub trace: Vec<TraceRecord>,
    /// Events recorded beyond `max_trace_records` and not kept.
    pub trace_dropped: u64,
    /// Every change of a process's role, in time order (the first
    /// [`MAX_ROLE_CHANGES`]).
    pub roles: Vec<RoleChange>,
    /// The protocol's intervals worth drawing (e.g. in-doubt periods).
    pub intervals: Vec<crate::process::Interval>,
    /// The swarm fault mix this run drew, if any (set by [`crate::run::run`]).
    pub swarm: Option<String>,
    /// The behaviour coverage features of the run, sorted (empty unless
    /// `SimConfig::coverage`).
    pub coverage: Vec<u64>,
    /// Each crash `crash_after_send` drew, in order (the first
    /// [`MAX_CRASHES_AFTER_SEND`]): what shrinking writes out as faults.
    pub crashes_after_send: Vec<CrashAfterSendRecord>,
}

/// Most drawn crashes after sends a run keeps a record of.
pub const MAX_CRASHES_AFTER_SEND: usize = 10_000;

/// One crash `crash_after_send` drew.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashAfterSendRecord {
    /// When, in true time.
    pub time_ns: u64,
    /// The server, by index.
    pub node: u32,
    /// The kind of message whose send set it off.
    pub kind: &'static str,
    /// How long it was drawn to stay down.
    pub down_ns: u64,
}

/// A metric's value as numbers (empty unless an array; an entry that is
/// not a number reads as 0).
fn numbers(value: Option<&serde_json::Value>) -> Vec<f64> {
    value
        .and_then(serde_json::Value::as_array)
        .map(|a| a.iter().map(|v| v.as_f64().unwrap_or(0.0)).collect())
        .unwrap_or_default()
}

impl RunResult {
    /// Metric `key` as text: a number or string as is, `-` when absent or null.
    pub fn metric_text(&self, key: &str) -> String {
        match self.metrics.get(key) {
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::Null) | None => "-".into(),
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }
    }

    /// Metric `key` (nanoseconds) as a duration, `-` when absent.
    pub fn metric_duration_text(&self, key: &str) -> String {
        match self.metrics.get(key).and_then(serde_json::Value::as_u64) {
            Some(ns) => SimTime::from_nanos(ns).to_string(),
            None => "-".into(),
        }
    }

    /// Metric `key` as a series of numbers (empty when absent or not an
    /// array; an entry that is not a number reads as 0).
    pub fn metric_series(&self, key: &str) -> Vec<f64> {
        numbers(self.metrics.get(key))
    }

    /// The same for a metric that is an object of series: entry `name` of it.
    pub fn metric_series_of(&self, key: &str, name: &str) -> Vec<f64> {
        numbers(self.metrics.get(key).and_then(|m| m.get(name)))
    }
}
