//! Raw scenario → validated [`Scenario`]: defaults filled in, every value
//! range-checked, node references resolved against the node count, and each
//! fault's fields checked against its action. The first mistake is returned,
//! pointing at the text that holds it. This file reads the top level and
//! hands the protocol's tables to its registry entry; the sections are
//! checked beside it: `network`, `faults` (nodes and `[[faults]]`) and
//! `limits` (bounds, budgets, nemesis, swarm, workload, checks).

mod faults;
mod limits;
mod network;

use super::error::{ScenarioError, Source};
use super::options::OptionsInput;
use super::raw::{
    DurationRange, RawChecks, RawCrashAfterSend, RawFault, RawLatency, RawLink, RawNemesis,
    RawNetwork, RawNodeRef, RawRate, RawScenario, RawSize, RawSlow, RawSwarm, RawSwarmRate,
    RawWorkload,
};
use super::{Expect, Scenario, Slo};
use crate::net::{Latency, LinkConfig, NetworkConfig, SlowMessages};
use crate::process::{CheckBudget, NodeId};
use crate::protocols::engine_checks;
use crate::protocols::registry::{Entry, Registry};
use crate::sim::repeat;
use crate::sim::{
    CrashAfterSend, FaultAction, FaultRate, FaultTemplate, GroupSize, NemesisConfig, NodeRef,
    Placement, Repeat, Shape, ShapeKind, SimConfig, StorageFaults, SwarmConfig, SwarmRate,
    TimedFault, WorkBound, WorkloadConfig,
};
use crate::time::{parse_duration, SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

type Result<T> = std::result::Result<T, ScenarioError>;

/// Longest fault phase a scenario may ask for.
const DURATION_MAX: SimDuration = SimDuration::from_secs(24 * 3600);
/// Most server nodes a scenario may ask for.
const NODES_MAX: i64 = 1024;
/// Most pending events a scenario may allow (the queue holds 2^24; one
/// handler may add a few thousand before the engine looks).
const PENDING_EVENTS_MAX: u64 = 1 << 23;
/// Most client operations a scenario may let the history hold (about
/// 1 KB each in memory).
const HISTORY_OPS_MAX: u64 = 10_000_000;
/// Most random faults (and repairs) one nemesis or swarm rate may schedule
/// over a run, on average.
const NEMESIS_FAULTS_MAX: u64 = 100_000;
/// The shortest pause between a client's operations: a million
/// operations per client per simulated second.
const INTERVAL_MIN: SimDuration = SimDuration::from_micros(1);
/// Bounds of the end-of-run checker's memory budget.
const CHECK_MEMORY_MIN: usize = 1 << 20;
const CHECK_MEMORY_MAX: usize = 64 << 30;

pub fn parse(text: &str, file: &str, registry: &Registry) -> Result<Scenario> {
    let src = Source { file, text };
    if text.trim().is_empty() {
        // About the file as a whole: line 0, so no position is printed.
        return Err(ScenarioError {
            file: file.to_string(),
            line: 0,
            column: 0,
            field: None,
            message: "the file is empty: expected a scenario with at least `name`, `protocol`, `nodes` and `duration`".to_string(),
        });
    }
    let (raw, tables) = split(&src, registry)?;
    // The typed parse succeeded, so the text is a valid TOML table.
    let document: toml::Table = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    let validator = Validator {
        src,
        registry,
        tables: &tables,
    };
    let mut scenario = validator.scenario(raw)?;
    scenario.document = document;
    Ok(scenario)
}

/// Splits the file into the common sections (read into [`RawScenario`],
/// which denies unknown keys) and the protocols' option tables (any table a
/// registered protocol reads), which the chosen protocol reads itself.
/// Both keep their positions in the text.
#[allow(clippy::type_complexity)]
fn split<'a>(
    src: &Source<'a>,
    registry: &Registry,
) -> Result<(RawScenario, BTreeMap<String, Spanned<DeValue<'a>>>)> {
    let document = DeTable::parse(src.text).map_err(|e| src.toml_error(&e))?;
    let span = document.span();
    let mut common = document.into_inner();
    // An unknown protocol is the mistake to report first: its options
    // table would otherwise be an unknown key.
    if let Some((_, value)) = common.iter().find(|(k, _)| k.get_ref() == "protocol") {
        if let DeValue::String(name) = value.get_ref() {
            if registry.find(name).is_none() {
                return Err(src.error(
                    value.span(),
                    Some("protocol".to_string()),
                    format!(
                        "unknown protocol {:?}: expected one of {}",
                        name.as_ref(),
                        registry.names().join(", ")
                    ),
                ));
            }
        }
    }
    let protocol_tables: Vec<_> = common
        .keys()
        .filter(|k| !registry.readers_of(k.get_ref()).is_empty())
        .cloned()
        .collect();
    let mut tables = BTreeMap::new();
    for key in protocol_tables {
        if let Some(value) = common.remove(&key) {
            tables.insert(key.into_inner().into_owned(), value);
        }
    }
    let deserializer = toml::de::Deserializer::from(Spanned::new(span, common));
    let raw = serde::Deserialize::deserialize(deserializer).map_err(|e| src.toml_error(&e))?;
    Ok((raw, tables))
}

struct Validator<'a> {
    src: Source<'a>,
    registry: &'a Registry,
    /// The protocols' option tables in the file, by name.
    tables: &'a BTreeMap<String, Spanned<DeValue<'a>>>,
}

fn field(name: &str) -> Option<String> {
    Some(name.to_string())
}

impl Validator<'_> {
    fn err(&self, span: Range<usize>, name: &str, message: impl Into<String>) -> ScenarioError {
        self.src.error(span, field(name), message)
    }

    fn scenario(&self, raw: RawScenario) -> Result<Scenario> {
        if raw.name.get_ref().trim().is_empty() {
            return Err(self.err(raw.name.span(), "name", "expected a non-empty name"));
        }
        let entry = self.registry.find(raw.protocol.get_ref()).ok_or_else(|| {
            self.err(
                raw.protocol.span(),
                "protocol",
                format!(
                    "unknown protocol {:?}: expected one of {}",
                    raw.protocol.get_ref(),
                    self.registry.names().join(", ")
                ),
            )
        })?;
        let entry = entry.as_ref();
        let nodes = *raw.nodes.get_ref();
        if !(1..=NODES_MAX).contains(&nodes) {
            return Err(self.err(
                raw.nodes.span(),
                "nodes",
                format!("expected 1 to {NODES_MAX} nodes, found {nodes}"),
            ));
        }
        let nodes = nodes as usize;
        let duration = *raw.duration.get_ref();
        if duration == SimDuration::ZERO || duration > DURATION_MAX {
            return Err(self.err(
                raw.duration.span(),
                "duration",
                format!("expected a duration above 0 and at most {DURATION_MAX}"),
            ));
        }
        let mut workload = self.workload(raw.workload.as_ref())?;
        self.placement(raw.workload.as_ref(), entry, nodes, &mut workload)?;
        let protocol = self.protocol_plan(&raw, entry, nodes, workload.clients)?;
        // Protocols with client processes address them after the servers,
        // in explicit partition groups and links.
        let processes = if entry.client_processes() {
            nodes + workload.clients
        } else {
            nodes
        };
        let ctx = Context {
            nodes,
            processes,
            duration,
            entry,
        };
        let nemesis = raw
            .nemesis
            .as_ref()
            .map(|n| self.nemesis(n, duration))
            .transpose()?
            .unwrap_or_default();
        let (faults, templates) = self.faults(&raw.faults, &ctx, &nemesis)?;
        let nemesis = NemesisConfig {
            templates,
            ..nemesis
        };
        let crash_after_send = match &raw.nemesis {
            Some(n) => n
                .crash_after_send
                .as_ref()
                .map(|c| self.crash_after_send(c, n.start.unwrap_or_default(), &ctx))
                .transpose()?,
            None => None,
        };
        let (expect, settle, enabled_checks) = self.checks(&raw, entry)?;
        let check_budget = self.check_budget(raw.checks.as_ref())?;
        let work_bound = self.work_bound(raw.checks.as_ref())?;
        let defaults = SimConfig::default();
        let max_events = self.limit(
            &raw.max_events,
            "max_events",
            defaults.max_events,
            u64::MAX,
            "events",
        )?;
        let max_pending_events = self.limit(
            &raw.max_pending_events,
            "max_pending_events",
            defaults.max_pending_events,
            PENDING_EVENTS_MAX,
            "pending events",
        )?;
        let max_history_ops = self.limit(
            &raw.max_history_ops,
            "max_history_ops",
            defaults.max_history_ops,
            HISTORY_OPS_MAX,
            "operations",
        )?;
        let (network, pause_drops_messages) = match &raw.network {
            Some(n) => self.network(n, &ctx)?,
            None => (NetworkConfig::default(), false),
        };
        let config = SimConfig {
            seed: raw.seed.unwrap_or(0),
            duration,
            settle,
            max_events,
            max_pending_events,
            max_history_ops,
            max_trace_records: defaults.max_trace_records,
            check_budget,
            work_bound,
            buggify: match &raw.buggify {
                Some(b) => self
                    .probability(b.fire.as_ref(), "buggify.fire")?
                    .unwrap_or(0.0),
                None => 0.0,
            },
            storage: match &raw.storage {
                Some(st) => StorageFaults {
                    lost_sync: self
                        .probability(st.lost_sync.as_ref(), "storage.lost_sync")?
                        .unwrap_or(0.0),
                    failed_sync: self
                        .probability(st.failed_sync.as_ref(), "storage.failed_sync")?
                        .unwrap_or(0.0),
                    torn_crash: self
                        .probability(st.torn_crash.as_ref(), "storage.torn_crash")?
                        .unwrap_or(0.0),
                },
                None => StorageFaults::default(),
            },
            crash_after_send,
            network,
            pause_drops_messages,
            faults,
            nemesis,
            workload,
            enabled_checks,
            record_trace: false,
            export_history: true,
            coverage: false,
            quiescent: entry.quiescent(),
        };
        let swarm = raw
            .swarm
            .as_ref()
            .map(|w| self.swarm(w, duration))
            .transpose()?;
        let slo = match &raw.slo {
            None => Slo::default(),
            Some(s) => Slo {
                latency_p50: s.latency_p50,
                latency_p99: s.latency_p99,
                availability: self.probability(s.availability.as_ref(), "slo.availability")?,
                throughput: match &s.throughput {
                    Some(t) if !(*t.get_ref() >= 0.0 && t.get_ref().is_finite()) => {
                        return Err(self.err(
                            t.span(),
                            "slo.throughput",
                            "expected operations per second, at least 0",
                        ))
                    }
                    t => t.as_ref().map(|t| *t.get_ref()),
                },
            },
        };
        Ok(Scenario {
            slo,
            swarm,
            document: toml::Table::new(),
            registry: self.registry.clone(),
            file: self.src.file.to_string(),
            name: raw.name.into_inner(),
            description: raw.description.unwrap_or_default(),
            protocol,
            nodes,
            default_seed: raw.seed.unwrap_or(0),
            expect,
            config,
        })
    }

    /// The protocol's tables checked against the protocol the file names,
    /// and its options read by the protocol itself.
    fn protocol_plan(
        &self,
        raw: &RawScenario,
        entry: &dyn Entry,
        nodes: usize,
        clients: usize,
    ) -> Result<std::sync::Arc<dyn crate::protocols::registry::Plan>> {
        let own = entry.tables();
        for (table, value) in self.tables {
            if own.contains(&table.as_str()) {
                continue;
            }
            let whose = match self.registry.find(table) {
                Some(_) => format!("options for protocol {table:?}"),
                None => format!(
                    "options for protocols {}",
                    self.registry.readers_of(table).join(" and ")
                ),
            };
            return Err(self.err(
                value.span(),
                table,
                format!(
                    "{whose}, but the scenario runs {:?}: expected a [{}] section or none",
                    entry.name(),
                    entry.name()
                ),
            ));
        }
        let input = OptionsInput {
            src: &self.src,
            tables: self.tables,
            nodes,
            nodes_span: raw.nodes.span(),
            clients,
            duration: *raw.duration.get_ref(),
        };
        entry.plan(&input)
    }
}

/// What validation of one part needs to know about the whole.
struct Context<'a> {
    nodes: usize,
    processes: usize,
    duration: SimDuration,
    entry: &'a dyn Entry,
}
