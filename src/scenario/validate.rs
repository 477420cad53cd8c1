//! Raw scenario → validated [`Scenario`]: defaults filled in, every value
//! range-checked, node references resolved against the node count, and each
//! fault's fields checked against its action. The first mistake is returned,
//! pointing at the text that holds it.

use super::error::{ScenarioError, Source};
use super::options::OptionsInput;
use super::raw::{
    DurationRange, RawChecks, RawFault, RawLatency, RawLink, RawNemesis, RawNetwork, RawNodeRef,
    RawRate, RawScenario, RawSwarm, RawSwarmRate, RawWorkload,
};
use super::{Expect, Scenario, Slo};
use crate::net::{Latency, LinkConfig, NetworkConfig};
use crate::process::{CheckBudget, NodeId};
use crate::protocols::registry::{Entry, Registry};
use crate::protocols::ENGINE_CHECKS;
use crate::sim::{
    FaultAction, FaultRate, NemesisConfig, NodeRef, Shape, ShapeKind, SimConfig, SwarmConfig,
    SwarmRate, TimedFault, WorkloadConfig,
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
        let workload = self.workload(raw.workload.as_ref())?;
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
        let faults = self.faults(&raw.faults, &ctx, &nemesis)?;
        let (expect, settle, enabled_checks) = self.checks(&raw, entry)?;
        let check_budget = self.check_budget(raw.checks.as_ref())?;
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
            network,
            pause_drops_messages,
            faults,
            nemesis,
            workload,
            enabled_checks,
            record_trace: false,
            export_history: true,
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
        };
        entry.plan(&input)
    }

    // ----- network ------------------------------------------------------------------

    fn network(&self, raw: &RawNetwork, ctx: &Context) -> Result<(NetworkConfig, bool)> {
        let base = LinkConfig::default();
        let default = LinkConfig {
            latency: match &raw.latency {
                Some(l) => self.latency(l, "network.latency")?,
                None => base.latency,
            },
            loss: self
                .probability(raw.loss.as_ref(), "network.loss")?
                .unwrap_or(0.0),
            duplicate: self
                .probability(raw.duplicate.as_ref(), "network.duplicate")?
                .unwrap_or(0.0),
        };
        let mut links = Vec::new();
        for (i, link) in raw.links.iter().enumerate() {
            links.extend(self.link(link, i, &default, ctx)?);
        }
        let pause_drops = match raw.paused_messages.as_ref() {
            None => false,
            Some(p) => match p.get_ref().as_str() {
                "queue" => false,
                "drop" => true,
                other => {
                    return Err(self.err(
                        p.span(),
                        "network.paused_messages",
                        format!("expected \"queue\" or \"drop\", found {other:?}"),
                    ))
                }
            },
        };
        Ok((NetworkConfig { default, links }, pause_drops))
    }

    fn link(
        &self,
        raw: &Spanned<RawLink>,
        i: usize,
        default: &LinkConfig,
        ctx: &Context,
    ) -> Result<Vec<((NodeId, NodeId), LinkConfig)>> {
        let l = raw.get_ref();
        let name = |f: &str| format!("network.links[{i}].{f}");
        let from = self.node_index(&l.from, &name("from"), ctx.processes)?;
        let to = self.node_index(&l.to, &name("to"), ctx.processes)?;
        if from == to {
            return Err(self.err(
                l.to.span(),
                &name("to"),
                "expected a link between two different nodes",
            ));
        }
        let config = LinkConfig {
            latency: match &l.latency {
                Some(lat) => self.latency(lat, &name("latency"))?,
                None => default.latency.clone(),
            },
            loss: self
                .probability(l.loss.as_ref(), &name("loss"))?
                .unwrap_or(default.loss),
            duplicate: self
                .probability(l.duplicate.as_ref(), &name("duplicate"))?
                .unwrap_or(default.duplicate),
        };
        let mut out = vec![((from, to), config.clone())];
        if l.symmetric {
            out.push(((to, from), config));
        }
        Ok(out)
    }

    fn probability(&self, p: Option<&Spanned<f64>>, name: &str) -> Result<Option<f64>> {
        match p {
            None => Ok(None),
            Some(p) if (0.0..=1.0).contains(p.get_ref()) => Ok(Some(*p.get_ref())),
            Some(p) => Err(self.err(
                p.span(),
                name,
                format!(
                    "expected a probability between 0 and 1, found {}",
                    p.get_ref()
                ),
            )),
        }
    }

    fn latency(&self, raw: &Spanned<RawLatency>, name: &str) -> Result<Latency> {
        let l = raw.get_ref();
        let span = raw.span();
        let present: Vec<&str> = [
            ("value", l.value.is_some()),
            ("min", l.min.is_some()),
            ("max", l.max.is_some()),
            ("mean", l.mean.is_some()),
            ("stddev", l.stddev.is_some()),
            ("scale", l.scale.is_some()),
            ("shape", l.shape.is_some()),
            ("median", l.median.is_some()),
            ("sigma", l.sigma.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, p)| p.then_some(k))
        .collect();
        let (required, optional): (&[&str], &[&str]) = match l.dist.as_str() {
            "constant" => (&["value"], &[]),
            "uniform" => (&["min", "max"], &[]),
            "normal" => (&["mean", "stddev"], &[]),
            "exponential" => (&["mean"], &[]),
            "pareto" => (&["scale", "shape"], &["max"]),
            "lognormal" => (&["median", "sigma"], &["max"]),
            other => {
                return Err(self.err(
                    span,
                    &format!("{name}.dist"),
                    format!("unknown distribution {other:?}: expected constant, uniform, normal, exponential, pareto or lognormal"),
                ))
            }
        };
        for key in &present {
            if !required.contains(key) && !optional.contains(key) {
                return Err(self.err(
                    span.clone(),
                    &format!("{name}.{key}"),
                    format!(
                        "does not apply to dist = {:?}: expected {}",
                        l.dist,
                        required.join(" and ")
                    ),
                ));
            }
        }
        for key in required {
            if !present.contains(key) {
                return Err(self.err(
                    span.clone(),
                    &format!("{name}.{key}"),
                    format!(
                        "missing: dist = {:?} needs {}",
                        l.dist,
                        required.join(" and ")
                    ),
                ));
            }
        }
        let z = SimDuration::ZERO;
        let latency = match l.dist.as_str() {
            "constant" => Latency::Constant(l.value.unwrap_or(z)),
            "uniform" => Latency::Uniform {
                min: l.min.unwrap_or(z),
                max: l.max.unwrap_or(z),
            },
            "normal" => Latency::Normal {
                mean: l.mean.unwrap_or(z),
                stddev: l.stddev.unwrap_or(z),
            },
            "exponential" => Latency::Exponential {
                mean: l.mean.unwrap_or(z),
            },
            "pareto" => Latency::Pareto {
                scale: l.scale.unwrap_or(z),
                shape: l.shape.unwrap_or(1.0),
                max: l.max,
            },
            _ => Latency::LogNormal {
                median: l.median.unwrap_or(z),
                sigma: l.sigma.unwrap_or(0.0),
                max: l.max,
            },
        };
        self.check_latency(&latency, span, name)?;
        Ok(latency)
    }

    fn check_latency(&self, latency: &Latency, span: Range<usize>, name: &str) -> Result<()> {
        let problem = match latency {
            Latency::Uniform { min, max } if min > max => Some("expected min <= max"),
            Latency::Pareto { shape, .. } if !(*shape > 0.0 && shape.is_finite()) => {
                Some("expected shape > 0")
            }
            Latency::Pareto { scale, .. } if *scale == SimDuration::ZERO => {
                Some("expected scale > 0")
            }
            Latency::LogNormal { sigma, .. } if !(*sigma >= 0.0 && sigma.is_finite()) => {
                Some("expected sigma >= 0")
            }
            _ => None,
        };
        match problem {
            Some(p) => Err(self.err(span, name, p)),
            None => Ok(()),
        }
    }

    // ----- nodes --------------------------------------------------------------------

    fn node_index(&self, raw: &Spanned<i64>, name: &str, processes: usize) -> Result<NodeId> {
        let i = *raw.get_ref();
        if i < 0 || i as usize >= processes {
            return Err(self.err(
                raw.span(),
                name,
                format!("node index {i} is out of range: expected 0 to {} (the scenario has {processes} nodes)", processes - 1),
            ));
        }
        Ok(NodeId(i as u32))
    }

    fn node_ref(&self, raw: &Spanned<RawNodeRef>, name: &str, ctx: &Context) -> Result<NodeRef> {
        match raw.get_ref() {
            RawNodeRef::Index(i) => {
                let spanned = Spanned::new(raw.span(), *i);
                self.node_index(&spanned, name, ctx.processes)
                    .map(NodeRef::Id)
            }
            RawNodeRef::Name(n) if n == "any" => Ok(NodeRef::Any),
            RawNodeRef::Name(n) if ctx.entry.roles().contains(&n.as_str()) => {
                Ok(NodeRef::Role(n.clone()))
            }
            RawNodeRef::Name(n) => {
                let roles = if ctx.entry.roles().is_empty() {
                    format!("protocol {} has no roles", ctx.entry.name())
                } else {
                    format!(
                        "roles of {}: {}",
                        ctx.entry.name(),
                        ctx.entry.roles().join(", ")
                    )
                };
                Err(self.err(
                    raw.span(),
                    name,
                    format!(
                        "unknown node {n:?}: expected a node index, \"any\" or a role ({roles})"
                    ),
                ))
            }
        }
    }

    /// Distinct node indices below `limit` (servers for a split's minority,
    /// every process for explicit groups, which may place clients).
    fn node_list(&self, raw: &Spanned<Vec<i64>>, name: &str, limit: usize) -> Result<Vec<NodeId>> {
        let mut ids = Vec::new();
        for &i in raw.get_ref() {
            let id = self.node_index(&Spanned::new(raw.span(), i), name, limit)?;
            if ids.contains(&id) {
                return Err(self.err(raw.span(), name, format!("node {i} is listed twice")));
            }
            ids.push(id);
        }
        Ok(ids)
    }

    // ----- faults -------------------------------------------------------------------

    fn faults(
        &self,
        raw: &[Spanned<RawFault>],
        ctx: &Context,
        nemesis: &NemesisConfig,
    ) -> Result<Vec<TimedFault>> {
        let mut faults = Vec::new();
        for (i, f) in raw.iter().enumerate() {
            faults.push((self.fault(f, i, ctx)?, i));
        }
        faults.sort_by_key(|(f, _)| f.at);
        self.check_fault_sequence(&faults, raw, nemesis)?;
        Ok(faults.into_iter().map(|(f, _)| f).collect())
    }

    fn fault(&self, raw: &Spanned<RawFault>, i: usize, ctx: &Context) -> Result<TimedFault> {
        let f = raw.get_ref();
        let name = |k: &str| format!("faults[{i}].{k}");
        let at = *f.at.get_ref();
        if at >= ctx.duration {
            return Err(self.err(
                f.at.span(),
                &name("at"),
                format!("{at} is not before the end of the fault phase: expected a time below duration = {}", ctx.duration),
            ));
        }
        let action = f.action.get_ref().as_str();
        let allowed: &[&str] = match action {
            "partition" => &["name", "shape", "node", "minority", "groups", "one_way"],
            "heal" => &["name"],
            "crash" | "pause" => &["node"],
            "restart" | "resume" => &["node"],
            "clock" => &["node", "offset", "drift_ppm"],
            other => {
                return Err(self.err(
                    f.action.span(),
                    &name("action"),
                    format!("unknown action {other:?}: expected partition, heal, crash, restart, pause, resume or clock"),
                ))
            }
        };
        self.only_fields(f, allowed, i, action)?;
        let node = |required: bool| -> Result<Option<NodeRef>> {
            match &f.node {
                Some(n) => self.node_ref(n, &name("node"), ctx).map(Some),
                None if required => Err(self.err(
                    raw.span(),
                    &name("node"),
                    format!("missing: action {action:?} needs a node"),
                )),
                None => Ok(None),
            }
        };
        let action = match action {
            "partition" => self.partition(f, i, ctx)?,
            "heal" => FaultAction::Heal(f.name.as_ref().map(|n| n.get_ref().clone())),
            "crash" => FaultAction::Crash(node(true)?.unwrap_or(NodeRef::Any)),
            "pause" => FaultAction::Pause(node(true)?.unwrap_or(NodeRef::Any)),
            "restart" => FaultAction::Restart(node(false)?),
            "resume" => FaultAction::Resume(node(false)?),
            _ => self.clock(f, i, node(true)?.unwrap_or(NodeRef::Any))?,
        };
        Ok(TimedFault {
            at: SimTime::ZERO + at,
            action,
        })
    }

    fn only_fields(&self, f: &RawFault, allowed: &[&str], i: usize, action: &str) -> Result<()> {
        let present: [(&str, Option<Range<usize>>); 9] = [
            ("node", f.node.as_ref().map(|x| x.span())),
            ("name", f.name.as_ref().map(|x| x.span())),
            ("shape", f.shape.as_ref().map(|x| x.span())),
            ("minority", f.minority.as_ref().map(|x| x.span())),
            ("groups", f.groups.as_ref().map(|x| x.span())),
            ("one_way", f.one_way.as_ref().map(|x| x.span())),
            ("offset", f.offset.as_ref().map(|x| x.span())),
            ("drift_ppm", f.drift_ppm.as_ref().map(|x| x.span())),
            ("at", None),
        ];
        for (key, span) in present {
            if let Some(span) = span {
                if !allowed.contains(&key) {
                    return Err(self.err(
                        span,
                        &format!("faults[{i}].{key}"),
                        format!(
                            "does not apply to action {action:?}: expected only {}",
                            allowed.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn partition(&self, f: &RawFault, i: usize, ctx: &Context) -> Result<FaultAction> {
        let name = |k: &str| format!("faults[{i}].{k}");
        let shape_name = f.shape.as_ref().map(|s| s.get_ref().as_str());
        let shape_span = f.shape.as_ref().map_or(f.action.span(), |s| s.span());
        let shape = match shape_name {
            Some("isolate") | Some("bridge") => {
                let node =
                    match &f.node {
                        Some(n) => self.node_ref(n, &name("node"), ctx)?,
                        None => return Err(self.err(
                            shape_span,
                            &name("node"),
                            "missing: this shape needs the node to isolate or to bridge through",
                        )),
                    };
                if let (NodeRef::Id(id), Some(n)) = (&node, &f.node) {
                    if id.index() >= ctx.nodes {
                        return Err(self.err(
                            n.span(),
                            &name("node"),
                            format!("node {} is a client process: named shapes cut servers only (0 to {}); use groups to cut clients", id.0, ctx.nodes - 1),
                        ));
                    }
                }
                if shape_name == Some("isolate") {
                    Shape::Isolate(node)
                } else {
                    Shape::Bridge(node)
                }
            }
            Some("split") => Shape::Split(
                f.minority
                    .as_ref()
                    .map(|m| self.node_list(m, &name("minority"), ctx.nodes))
                    .transpose()?,
            ),
            Some("ring") => Shape::Ring,
            Some("groups") | None => {
                let Some(groups) = &f.groups else {
                    return Err(self.err(shape_span, &name("groups"), "missing: expected shape = isolate, split, bridge or ring, or groups = [[...], [...]]"));
                };
                Shape::Groups(self.groups(groups, &name("groups"), ctx)?)
            }
            Some(other) => {
                return Err(self.err(
                    shape_span,
                    &name("shape"),
                    format!(
                        "unknown shape {other:?}: expected isolate, split, bridge, ring or groups"
                    ),
                ))
            }
        };
        let mismatched = match &shape {
            Shape::Isolate(_) | Shape::Bridge(_) => f
                .minority
                .as_ref()
                .map(|m| ("minority", m.span()))
                .or(f.groups.as_ref().map(|g| ("groups", g.span()))),
            Shape::Split(_) => f
                .node
                .as_ref()
                .map(|n| ("node", n.span()))
                .or(f.groups.as_ref().map(|g| ("groups", g.span()))),
            Shape::Ring | Shape::Groups(_) => f
                .node
                .as_ref()
                .map(|n| ("node", n.span()))
                .or(f.minority.as_ref().map(|m| ("minority", m.span()))),
        };
        if let Some((key, span)) = mismatched {
            return Err(self.err(
                span,
                &name(key),
                format!("does not apply to this partition shape ({shape})"),
            ));
        }
        let one_way = f.one_way.as_ref().is_some_and(|o| *o.get_ref());
        if one_way && matches!(shape, Shape::Ring | Shape::Bridge(_)) {
            let span = f.one_way.as_ref().map_or(0..0, |o| o.span());
            return Err(self.err(
                span,
                &name("one_way"),
                "one-way cuts apply to isolate, split and groups shapes only",
            ));
        }
        let pname = f
            .name
            .as_ref()
            .map_or_else(|| format!("p{i}"), |n| n.get_ref().clone());
        Ok(FaultAction::Partition {
            name: pname,
            shape,
            one_way,
        })
    }

    fn groups(
        &self,
        raw: &Spanned<Vec<Vec<i64>>>,
        name: &str,
        ctx: &Context,
    ) -> Result<Vec<Vec<NodeId>>> {
        if raw.get_ref().len() < 2 {
            return Err(self.err(
                raw.span(),
                name,
                "expected at least two groups, e.g. [[0, 1], [2, 3, 4]]",
            ));
        }
        let mut seen = BTreeSet::new();
        let mut groups = Vec::new();
        for g in raw.get_ref() {
            let ids = self.node_list(&Spanned::new(raw.span(), g.clone()), name, ctx.processes)?;
            if ids.is_empty() {
                return Err(self.err(
                    raw.span(),
                    name,
                    "expected every group to name at least one node",
                ));
            }
            for id in &ids {
                if !seen.insert(*id) {
                    return Err(self.err(
                        raw.span(),
                        name,
                        format!("node {} is in two groups", id.0),
                    ));
                }
            }
            groups.push(ids);
        }
        Ok(groups)
    }

    fn clock(&self, f: &RawFault, i: usize, node: NodeRef) -> Result<FaultAction> {
        let offset_ns = match &f.offset {
            None => 0,
            Some(o) => parse_signed(o.get_ref()).ok_or_else(|| {
                self.err(
                    o.span(),
                    &format!("faults[{i}].offset"),
                    format!(
                        "expected a signed duration like \"-200ms\" or \"+1s\", found {:?}",
                        o.get_ref()
                    ),
                )
            })?,
        };
        let drift_ppm = match &f.drift_ppm {
            None => 0,
            Some(d) if (-499_999..=499_999).contains(d.get_ref()) => *d.get_ref(),
            Some(d) => {
                return Err(self.err(
                    d.span(),
                    &format!("faults[{i}].drift_ppm"),
                    "expected a drift between -499999 and 499999 ppm",
                ))
            }
        };
        Ok(FaultAction::Clock {
            node,
            offset_ns,
            drift_ppm,
        })
    }

    /// Heals need a partition to heal; restarts and resumes need a crash or
    /// pause before them; partition names must not clash while active.
    fn check_fault_sequence(
        &self,
        faults: &[(TimedFault, usize)],
        raw: &[Spanned<RawFault>],
        nemesis: &NemesisConfig,
    ) -> Result<()> {
        let mut active: Vec<&str> = Vec::new();
        let mut any_partition = nemesis.partition.is_some();
        let mut any_crash = nemesis.crash.is_some();
        let mut any_pause = nemesis.pause.is_some();
        for (fault, i) in faults {
            let span = raw[*i].get_ref().action.span();
            let at = |k: &str| format!("faults[{i}].{k}");
            match &fault.action {
                FaultAction::Partition { name, .. } => {
                    if active.contains(&name.as_str()) {
                        return Err(self.err(span, &at("name"), format!("partition {name:?} is already active: expected a new name or a heal first")));
                    }
                    active.push(name);
                    any_partition = true;
                }
                FaultAction::Heal(Some(name)) => {
                    let Some(pos) = active.iter().position(|a| a == name) else {
                        return Err(self.err(
                            span,
                            &at("name"),
                            format!("heal of {name:?} without an earlier partition of that name"),
                        ));
                    };
                    active.remove(pos);
                }
                FaultAction::Heal(None) if !any_partition => {
                    return Err(self.err(span, &at("action"), "heal without partition: expected an earlier partition fault or a nemesis partition rate"));
                }
                FaultAction::Heal(None) => active.clear(),
                FaultAction::Crash(_) => any_crash = true,
                FaultAction::Pause(_) => any_pause = true,
                FaultAction::Restart(_) if !any_crash => {
                    return Err(self.err(span, &at("action"), "restart without crash: expected an earlier crash fault or a nemesis crash rate"));
                }
                FaultAction::Resume(_) if !any_pause => {
                    return Err(self.err(span, &at("action"), "resume without pause: expected an earlier pause fault or a nemesis pause rate"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A run bound: at least 1, at most `max`, `default` when absent.
    fn limit(
        &self,
        raw: &Option<Spanned<u64>>,
        name: &str,
        default: u64,
        max: u64,
        what: &str,
    ) -> Result<u64> {
        match raw {
            None => Ok(default),
            Some(m) if (1..=max).contains(m.get_ref()) => Ok(*m.get_ref()),
            Some(m) if max == u64::MAX => Err(self.err(
                m.span(),
                name,
                format!("expected at least 1 {}", what.trim_end_matches('s')),
            )),
            Some(m) => Err(self.err(
                m.span(),
                name,
                format!("expected 1 to {max} {what}, found {}", m.get_ref()),
            )),
        }
    }

    /// `[checks] linearizability_steps` and `linearizability_memory`.
    fn check_budget(&self, raw: Option<&RawChecks>) -> Result<CheckBudget> {
        let mut budget = CheckBudget::default();
        let Some(raw) = raw else { return Ok(budget) };
        if let Some(steps) = &raw.linearizability_steps {
            if *steps.get_ref() == 0 {
                return Err(self.err(
                    steps.span(),
                    "checks.linearizability_steps",
                    "expected at least 1 step (to skip the check, leave it out of [checks] enabled)",
                ));
            }
            budget.steps = *steps.get_ref();
        }
        if let Some(memory) = &raw.linearizability_memory {
            let bytes = crate::check::units::parse_size(memory.get_ref())
                .map_err(|e| self.err(memory.span(), "checks.linearizability_memory", e))?;
            if !(CHECK_MEMORY_MIN..=CHECK_MEMORY_MAX).contains(&bytes) {
                return Err(self.err(
                    memory.span(),
                    "checks.linearizability_memory",
                    "expected a size from 1MiB to 64GiB",
                ));
            }
            budget.memory_bytes = bytes;
        }
        Ok(budget)
    }

    // ----- nemesis, workload, checks ------------------------------------------------

    fn nemesis(&self, raw: &RawNemesis, duration: SimDuration) -> Result<NemesisConfig> {
        let start = raw.start.unwrap_or(SimDuration::ZERO);
        let span_ns = duration.as_nanos().saturating_sub(start.as_nanos());
        let rate = |r: &Option<Spanned<RawRate>>, name: &str| -> Result<Option<FaultRate>> {
            let Some(r) = r else { return Ok(None) };
            let RawRate {
                every,
                duration: DurationRange { min, max },
            } = *r.get_ref();
            if every == SimDuration::ZERO || min > max || max == SimDuration::ZERO {
                return Err(self.err(r.span(), name, "expected every > 0 and a duration range [min, max] with 0 < max and min <= max"));
            }
            self.fault_count(r.span(), name, span_ns, every, min)?;
            Ok(Some(FaultRate {
                every,
                duration_min: min,
                duration_max: max,
            }))
        };
        let mut shapes = Vec::new();
        if let Some(s) = &raw.shapes {
            for name in s.get_ref() {
                shapes.push(match name.as_str() {
                    "isolate" => ShapeKind::Isolate,
                    "split" => ShapeKind::Split,
                    "bridge" => ShapeKind::Bridge,
                    "ring" => ShapeKind::Ring,
                    other => {
                        return Err(self.err(
                            s.span(),
                            "nemesis.shapes",
                            format!(
                                "unknown shape {other:?}: expected isolate, split, bridge or ring"
                            ),
                        ))
                    }
                });
            }
        }
        let drift_ppm_max = match &raw.drift_ppm_max {
            Some(d) if (0..500_000).contains(d.get_ref()) => *d.get_ref(),
            Some(d) => {
                return Err(self.err(
                    d.span(),
                    "nemesis.drift_ppm_max",
                    "expected a drift between 0 and 499999 ppm",
                ))
            }
            None => 0,
        };
        let skew_max = match &raw.skew_max {
            // The nemesis doubles it in signed nanoseconds: keep it far from overflow.
            Some(s) if *s.get_ref() > DURATION_MAX => {
                return Err(self.err(
                    s.span(),
                    "nemesis.skew_max",
                    format!("expected a clock skew of at most {DURATION_MAX}"),
                ))
            }
            Some(s) => *s.get_ref(),
            None => SimDuration::ZERO,
        };
        Ok(NemesisConfig {
            start: SimTime::ZERO + raw.start.unwrap_or(SimDuration::ZERO),
            partition: rate(&raw.partition, "nemesis.partition")?,
            shapes,
            one_way: self
                .probability(raw.one_way.as_ref(), "nemesis.one_way")?
                .unwrap_or(0.0),
            crash: rate(&raw.crash, "nemesis.crash")?,
            pause: rate(&raw.pause, "nemesis.pause")?,
            clock: rate(&raw.clock, "nemesis.clock")?,
            skew_max,
            drift_ppm_max,
        })
    }

    /// Rejects a rate that would schedule more than `NEMESIS_FAULTS_MAX`
    /// faults and repairs over `span_ns` on average (each fault lasts at
    /// least `length` and is followed by a gap of `every` on average).
    fn fault_count(
        &self,
        span: Range<usize>,
        name: &str,
        span_ns: u64,
        every: SimDuration,
        length: SimDuration,
    ) -> Result<()> {
        let cycle_ns = every.as_nanos().saturating_add(length.as_nanos()).max(1);
        let faults = (span_ns / cycle_ns).saturating_mul(2);
        if faults <= NEMESIS_FAULTS_MAX {
            return Ok(());
        }
        let every_min = SimDuration::from_nanos(
            (span_ns / (NEMESIS_FAULTS_MAX / 2)).saturating_sub(length.as_nanos()),
        );
        Err(self.err(
            span,
            name,
            format!(
                "this rate schedules about {faults} faults and repairs over the run, more than the limit of {NEMESIS_FAULTS_MAX}: expected every of at least {every_min} for this duration"
            ),
        ))
    }

    fn swarm(&self, raw: &RawSwarm, duration: SimDuration) -> Result<SwarmConfig> {
        let swarm_span_ns = duration.as_nanos();
        let range = |r: &Option<Spanned<[f64; 2]>>, name: &str| -> Result<Option<(f64, f64)>> {
            match r {
                None => Ok(None),
                Some(r) => {
                    let [lo, hi] = *r.get_ref();
                    if (0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi) && lo <= hi {
                        Ok(Some((lo, hi)))
                    } else {
                        Err(self.err(
                            r.span(),
                            name,
                            "expected [low, high] probabilities with 0 <= low <= high <= 1",
                        ))
                    }
                }
            }
        };
        let rate = |r: &Option<Spanned<RawSwarmRate>>, name: &str| -> Result<Option<SwarmRate>> {
            let Some(r) = r else { return Ok(None) };
            let RawSwarmRate { every, duration } = r.get_ref();
            let ok = every.min > SimDuration::ZERO
                && every.min <= every.max
                && duration.max > SimDuration::ZERO
                && duration.min <= duration.max;
            if !ok {
                return Err(self.err(r.span(), name, "expected every = [min, max] with 0 < min <= max and duration = [min, max] with min <= max, max > 0"));
            }
            self.fault_count(r.span(), name, swarm_span_ns, every.min, duration.min)?;
            Ok(Some(SwarmRate {
                every_min: every.min,
                every_max: every.max,
                duration_min: duration.min,
                duration_max: duration.max,
            }))
        };
        Ok(SwarmConfig {
            loss: range(&raw.loss, "swarm.loss")?,
            duplicate: range(&raw.duplicate, "swarm.duplicate")?,
            partition: rate(&raw.partition, "swarm.partition")?,
            crash: rate(&raw.crash, "swarm.crash")?,
            pause: rate(&raw.pause, "swarm.pause")?,
            clock: rate(&raw.clock, "swarm.clock")?,
            off: self
                .probability(raw.off.as_ref(), "swarm.off")?
                .unwrap_or(0.25),
        })
    }

    fn workload(&self, raw: Option<&RawWorkload>) -> Result<WorkloadConfig> {
        let mut w = WorkloadConfig {
            clients: 1,
            ..WorkloadConfig::default()
        };
        let Some(raw) = raw else { return Ok(w) };
        if let Some(c) = &raw.clients {
            if !(0..=10_000).contains(c.get_ref()) {
                return Err(self.err(c.span(), "workload.clients", "expected 0 to 10000 clients"));
            }
            w.clients = *c.get_ref() as usize;
        }
        if let Some(v) = &raw.interval {
            if *v.get_ref() < INTERVAL_MIN {
                return Err(self.err(
                    v.span(),
                    "workload.interval",
                    format!("expected an interval of at least {INTERVAL_MIN} (a client issues at most a million operations per simulated second)"),
                ));
            }
            w.interval = *v.get_ref();
        }
        if let Some(v) = &raw.timeout {
            if *v.get_ref() == SimDuration::ZERO {
                return Err(self.err(v.span(), "workload.timeout", "expected a duration above 0"));
            }
            w.timeout = *v.get_ref();
        }
        w.max_ops = raw.max_ops;
        Ok(w)
    }

    fn checks(
        &self,
        raw: &RawScenario,
        entry: &dyn Entry,
    ) -> Result<(Expect, SimDuration, Option<Vec<String>>)> {
        let default_settle = SimDuration::from_secs(5);
        let Some(c) = &raw.checks else {
            return Ok((Expect::Pass, default_settle, None));
        };
        let checks = entry.checks();
        let known = |name: &str| checks.contains(&name) || ENGINE_CHECKS.contains(&name);
        let all: Vec<&str> = checks.iter().chain(ENGINE_CHECKS).copied().collect();
        let expect_check = match &c.expect_check {
            Some(e) if !known(e.get_ref()) => {
                return Err(self.err(
                    e.span(),
                    "checks.expect_check",
                    format!(
                        "unknown check {:?}: expected one of {}",
                        e.get_ref(),
                        all.join(", ")
                    ),
                ))
            }
            other => other.as_ref().map(|e| e.get_ref().clone()),
        };
        let expect = match c.expect.as_ref().map(|e| (e.get_ref().as_str(), e.span())) {
            None | Some(("pass", _)) => {
                if let Some(e) = &c.expect_check {
                    return Err(self.err(
                        e.span(),
                        "checks.expect_check",
                        "applies only with expect = \"violation\"",
                    ));
                }
                Expect::Pass
            }
            Some(("violation", _)) => Expect::Violation(expect_check),
            Some((other, span)) => {
                return Err(self.err(
                    span,
                    "checks.expect",
                    format!("expected \"pass\" or \"violation\", found {other:?}"),
                ))
            }
        };
        let enabled = match &c.enabled {
            None => None,
            Some(list) => {
                for name in list.get_ref() {
                    if !known(name) {
                        return Err(self.err(
                            list.span(),
                            "checks.enabled",
                            format!(
                                "unknown check {name:?}: expected some of {}",
                                all.join(", ")
                            ),
                        ));
                    }
                }
                Some(list.get_ref().clone())
            }
        };
        let settle = match &c.settle {
            Some(s) if *s.get_ref() > DURATION_MAX => {
                return Err(self.err(
                    s.span(),
                    "checks.settle",
                    format!("expected a liveness phase of at most {DURATION_MAX}"),
                ));
            }
            Some(s) => *s.get_ref(),
            None => default_settle,
        };
        Ok((expect, settle, enabled))
    }
}

/// What validation of one part needs to know about the whole.
struct Context<'a> {
    nodes: usize,
    processes: usize,
    duration: SimDuration,
    entry: &'a dyn Entry,
}

fn parse_signed(text: &str) -> Option<i64> {
    let t = text.trim();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let d = parse_duration(rest).ok()?;
    i64::try_from(d.as_nanos()).ok().map(|n| sign * n)
}
