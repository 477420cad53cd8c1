//! The protocol registry: every protocol a scenario file can name, each
//! one entry. A protocol lives in its own folder and reaches the rest of
//! the program through one [`ProtocolDef`]: its name, checks and roles, how
//! its options are read and validated from its own `[name]` table (with
//! line and column on every mistake), how it is built for a run, and what
//! it adds to the human summary and the reports. Adding a protocol is one `with` call here
//! (built-ins) or in a user's own `main` ([`crate::cli::main_with`]).
//!
//! The scenario layer sees a protocol only through [`Entry`] (before its
//! options are read) and [`Plan`] (after): object-safe views that the
//! generic adapters below derive from any `ProtocolDef`.

use super::ReportSection;
use crate::process::{CheckInfo, Protocol};
use crate::scenario::{OptionsInput, ScenarioError};
use crate::sim::{Progress, RunResult, SimConfig, Simulation};
use crate::time::SimDuration;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// What a protocol is built from for one run: the scenario's servers, its
/// workload clients and the length of its fault phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Server nodes (processes `0..nodes`).
    pub nodes: usize,
    /// Workload clients.
    pub clients: usize,
    /// The fault phase; the liveness phase starts at its end.
    pub duration: SimDuration,
    /// `[workload] placement`, for a protocol whose clients are processes
    /// and place their own requests (the engine places requests sent
    /// straight to servers).
    pub placement: crate::sim::Placement,
    /// `[workload] targets` (empty: every server).
    pub targets: Vec<crate::process::NodeId>,
}

/// One protocol as scenario files name it. Implement it for a unit struct
/// and register it ([`Registry::with`]); `docs/new-protocol.md` walks
/// through one.
pub trait ProtocolDef: Send + Sync + 'static {
    /// The options, read and validated from the scenario.
    type Options: Clone + fmt::Debug + PartialEq + Send + Sync + 'static;
    /// The protocol bundle a run simulates.
    type Protocol: Protocol;

    /// The name a scenario's `protocol` field takes; also the name of its
    /// options table (`[name]`).
    fn name(&self) -> &'static str;
    /// One line saying what it is, for listings.
    fn about(&self) -> &'static str;
    /// Every check it can report (the engine adds its own).
    fn checks(&self) -> &'static [CheckInfo];
    /// Roles a fault may target (`node = "leader"`).
    fn roles(&self) -> &'static [&'static str] {
        &[]
    }
    /// Tags a fault may target (`node = "tag:behind"`): what its
    /// `Protocol::tagged` answers for.
    fn tags(&self) -> &'static [&'static str] {
        &[]
    }
    /// Scenario tables it reads besides `[name]` (e.g. the stores' shared
    /// `[store]` workload table).
    fn extra_tables(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether each workload client is a process of its own, numbered after
    /// the servers (so partition groups and links may name clients).
    fn client_processes(&self) -> bool {
        false
    }
    /// The names its `Process::message_kind` gives messages, for faults
    /// that target kinds (`[network.slow] kinds`); none by default.
    fn message_kinds(&self) -> &'static [&'static str] {
        &[]
    }
    /// The code-level fault points its processes mark with
    /// `Ctx::buggify`, for documentation and `faultline protocols`.
    fn buggify_points(&self) -> &'static [&'static str] {
        &[]
    }
    /// Why `[workload] placement` cannot choose where its requests go, if
    /// it cannot (the protocol sends them to one coordinator, or its
    /// clients are processes that choose their servers); `None`: any
    /// server can take a request.
    fn fixed_placement(&self) -> Option<&'static str> {
        None
    }
    /// Whether its processes stop sending messages once every fault is
    /// repaired and no operation is left (timers may still fire): then
    /// `engine.quiescence` fails a run whose last window sent any.
    fn quiescent(&self) -> bool {
        false
    }
    /// Reads and validates the options; every mistake is a
    /// [`ScenarioError`] made with `input`'s helpers, which point at the
    /// table or key at fault.
    fn options(&self, input: &OptionsInput<'_>) -> Result<Self::Options, ScenarioError>;
    /// The protocol for one run.
    fn build(&self, options: &Self::Options, setup: &Setup) -> Self::Protocol;
    /// A line for the human summary with the protocol's headline metrics.
    fn headline(&self, result: &RunResult) -> Option<String> {
        let _ = result;
        None
    }
    /// The protocol's own section of `report.md` and `index.html`: the
    /// measures that explain its behaviour in this run, each with what it
    /// means.
    fn report_section(&self, result: &RunResult) -> Option<ReportSection> {
        let _ = result;
        None
    }
    /// How the protocol takes part in the CAP experiment (`faultline cap`),
    /// if it does. A store that takes part has client processes (the
    /// experiment attaches one to each of 5 replicas) and writes a `kv`
    /// history of gets and puts, judged by its linearizability check.
    fn cap_store(&self) -> Option<CapRole<Self::Options>> {
        None
    }
    /// The stores it runs as in the consensus experiment (`faultline
    /// consensus`), if it elects a leader: as configured by default and
    /// with the mechanisms that keep a cut-off server from deposing the
    /// leader turned off. The experiment's workload is the CAP
    /// experiment's, so these are usually its [`ProtocolDef::cap_store`]
    /// options with one switch changed.
    fn consensus_stores(&self) -> Vec<CapRole<Self::Options>> {
        Vec::new()
    }
}

/// How a protocol takes part in the CAP experiment: its label in the
/// results and its options there (the experiment's workload: half gets,
/// half puts, on two keys).
pub struct CapRole<O> {
    /// The label, e.g. `quorum (CP)`.
    pub label: &'static str,
    /// Its options in the experiment.
    pub options: O,
    /// The metric that carries its linearizability verdict.
    pub linearizability_metric: &'static str,
}

/// A store of the CAP experiment, as the registry lists it.
#[derive(Clone, Debug)]
pub struct CapStore {
    /// Its label, e.g. `quorum (CP)`.
    pub name: &'static str,
    /// The protocol with its options in the experiment.
    pub plan: Arc<dyn Plan>,
    /// The metric that carries its linearizability verdict.
    pub linearizability_metric: &'static str,
}

/// A registered protocol, before its options are read.
pub trait Entry: Send + Sync {
    /// The protocol's name.
    fn name(&self) -> &'static str;
    /// One line saying what it is.
    fn about(&self) -> &'static str;
    /// Its checks.
    fn checks(&self) -> &'static [CheckInfo];
    /// Its roles.
    fn roles(&self) -> &'static [&'static str];
    /// Its tags; see [`ProtocolDef::tags`].
    fn tags(&self) -> &'static [&'static str];
    /// Every scenario table it reads: `[name]` first.
    fn tables(&self) -> Vec<&'static str>;
    /// Whether workload clients are processes after the servers.
    fn client_processes(&self) -> bool;
    /// The message kinds it names; see [`ProtocolDef::message_kinds`].
    fn message_kinds(&self) -> &'static [&'static str];
    /// Its fault points; see [`ProtocolDef::buggify_points`].
    fn buggify_points(&self) -> &'static [&'static str];
    /// Why placement does not apply; see [`ProtocolDef::fixed_placement`].
    fn fixed_placement(&self) -> Option<&'static str>;
    /// Whether it goes quiet; see [`ProtocolDef::quiescent`].
    fn quiescent(&self) -> bool;
    /// Reads its options: the plan a scenario runs.
    fn plan(&self, input: &OptionsInput<'_>) -> Result<Arc<dyn Plan>, ScenarioError>;
    /// Its part in the CAP experiment, if any.
    fn cap_store(&self) -> Option<CapStore>;
    /// Its stores in the consensus experiment (none if it does not elect
    /// a leader).
    fn consensus_stores(&self) -> Vec<CapStore>;
}

/// A protocol with its options read: what a scenario runs.
pub trait Plan: fmt::Debug + Send + Sync {
    /// The protocol's name.
    fn name(&self) -> &'static str;
    /// Its checks.
    fn checks(&self) -> &'static [CheckInfo];
    /// Its roles.
    fn roles(&self) -> &'static [&'static str];
    /// Whether workload clients are processes after the servers.
    fn client_processes(&self) -> bool;
    /// Runs it once under `config`, telling `progress` how far it got.
    fn run(&self, setup: &Setup, config: SimConfig, progress: Option<Progress>) -> RunResult;
    /// Its line for the human summary, if it has one.
    fn headline(&self, result: &RunResult) -> Option<String>;
    /// The protocol's section of the reports; see [`ProtocolDef::report_section`].
    fn report_section(&self, result: &RunResult) -> Option<ReportSection>;
    /// Whether `other` is the same protocol with the same options.
    fn same(&self, other: &dyn Plan) -> bool;
    /// For [`Plan::same`].
    fn as_any(&self) -> &dyn Any;
}

/// The entry of a [`ProtocolDef`].
struct DefEntry<D>(Arc<D>);

impl<D: ProtocolDef> Entry for DefEntry<D> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn about(&self) -> &'static str {
        self.0.about()
    }

    fn checks(&self) -> &'static [CheckInfo] {
        self.0.checks()
    }

    fn roles(&self) -> &'static [&'static str] {
        self.0.roles()
    }

    fn tags(&self) -> &'static [&'static str] {
        self.0.tags()
    }

    fn tables(&self) -> Vec<&'static str> {
        std::iter::once(self.0.name())
            .chain(self.0.extra_tables().iter().copied())
            .collect()
    }

    fn client_processes(&self) -> bool {
        self.0.client_processes()
    }

    fn message_kinds(&self) -> &'static [&'static str] {
        self.0.message_kinds()
    }

    fn buggify_points(&self) -> &'static [&'static str] {
        self.0.buggify_points()
    }

    fn fixed_placement(&self) -> Option<&'static str> {
        self.0.fixed_placement()
    }

    fn quiescent(&self) -> bool {
        self.0.quiescent()
    }

    fn plan(&self, input: &OptionsInput<'_>) -> Result<Arc<dyn Plan>, ScenarioError> {
        let options = self.0.options(input)?;
        Ok(Arc::new(DefPlan {
            def: Arc::clone(&self.0),
            options,
        }))
    }

    fn cap_store(&self) -> Option<CapStore> {
        Some(self.store(self.0.cap_store()?))
    }

    fn consensus_stores(&self) -> Vec<CapStore> {
        self.0
            .consensus_stores()
            .into_iter()
            .map(|role| self.store(role))
            .collect()
    }
}

impl<D: ProtocolDef> DefEntry<D> {
    /// The store `role` describes.
    fn store(&self, role: CapRole<D::Options>) -> CapStore {
        CapStore {
            name: role.label,
            plan: Arc::new(DefPlan {
                def: Arc::clone(&self.0),
                options: role.options,
            }),
            linearizability_metric: role.linearizability_metric,
        }
    }
}

/// The plan of a [`ProtocolDef`]: the definition and its options.
struct DefPlan<D: ProtocolDef> {
    def: Arc<D>,
    options: D::Options,
}

impl<D: ProtocolDef> fmt::Debug for DefPlan<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.def.name(), self.options)
    }
}

impl<D: ProtocolDef> Plan for DefPlan<D> {
    fn name(&self) -> &'static str {
        self.def.name()
    }

    fn checks(&self) -> &'static [CheckInfo] {
        self.def.checks()
    }

    fn roles(&self) -> &'static [&'static str] {
        self.def.roles()
    }

    fn client_processes(&self) -> bool {
        self.def.client_processes()
    }

    fn run(&self, setup: &Setup, config: SimConfig, progress: Option<Progress>) -> RunResult {
        let simulation = Simulation::new(self.def.build(&self.options, setup), config);
        match progress {
            Some(p) => simulation.with_progress(p).run(),
            None => simulation.run(),
        }
    }

    fn headline(&self, result: &RunResult) -> Option<String> {
        self.def.headline(result)
    }

    fn report_section(&self, result: &RunResult) -> Option<ReportSection> {
        self.def.report_section(result)
    }

    fn same(&self, other: &dyn Plan) -> bool {
        other
            .as_any()
            .downcast_ref::<DefPlan<D>>()
            .is_some_and(|o| o.options == self.options && o.name() == self.name())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The plan of protocol `def` with `options` given as values (for
/// experiments that build scenarios in code, e.g. `cap`): not validated,
/// so the options must be ones `def.options` would accept.
pub fn plan_of<D: ProtocolDef>(def: D, options: D::Options) -> Arc<dyn Plan> {
    Arc::new(DefPlan {
        def: Arc::new(def),
        options,
    })
}

/// The protocols scenario files may name, and the command that runs them
/// (for the replay commands printed with every failure).
#[derive(Clone)]
pub struct Registry {
    entries: Vec<Arc<dyn Entry>>,
    program: &'static str,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Registry {
    /// No protocols.
    pub fn empty() -> Self {
        Registry {
            entries: Vec::new(),
            program: "faultline",
        }
    }

    /// This registry, with replay commands that start with `program`
    /// (default `faultline`; a crate with its own `main` names its own
    /// binary, e.g. `cargo run --release --example lww --`).
    pub fn program(mut self, program: &'static str) -> Self {
        self.program = program;
        self
    }

    /// The command replay commands start with.
    pub fn program_name(&self) -> &'static str {
        self.program
    }

    /// Every built-in protocol.
    pub fn builtin() -> Self {
        use super::{
            broadcast, cache, log, paxos, queue, raft, saga, service, shardkv, store, twopc,
        };
        Registry::empty()
            .with(broadcast::Def)
            .with(store::QuorumDef)
            .with(store::EventualDef)
            .with(twopc::Def)
            .with(saga::Def)
            .with(raft::Def)
            .with(paxos::Def)
            .with(service::Def)
            .with(cache::Def)
            .with(queue::Def)
            .with(log::Def)
            .with(shardkv::Def)
    }

    /// This registry with `def` added. Panics if its name, or a table it
    /// reads as its own, is taken (a programming mistake, found at start).
    pub fn with<D: ProtocolDef>(mut self, def: D) -> Self {
        let entry: Arc<dyn Entry> = Arc::new(DefEntry(Arc::new(def)));
        assert!(
            self.find(entry.name()).is_none(),
            "two protocols are named {:?}",
            entry.name()
        );
        assert!(
            self.entries
                .iter()
                .all(|e| !e.tables().contains(&entry.name())),
            "protocol {:?} is named like another's options table",
            entry.name()
        );
        self.entries.push(entry);
        self
    }

    /// The protocol called `name`.
    pub fn find(&self, name: &str) -> Option<&Arc<dyn Entry>> {
        self.entries.iter().find(|e| e.name() == name)
    }

    /// The stores that take part in the CAP experiment, in registration
    /// order.
    pub fn cap_stores(&self) -> Vec<CapStore> {
        self.entries.iter().filter_map(|e| e.cap_store()).collect()
    }

    /// The stores of the consensus experiment, in registration order.
    pub fn consensus_stores(&self) -> Vec<CapStore> {
        self.entries
            .iter()
            .flat_map(|e| e.consensus_stores())
            .collect()
    }

    /// Every protocol's name, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name()).collect()
    }

    /// Every protocol.
    pub fn entries(&self) -> &[Arc<dyn Entry>] {
        &self.entries
    }

    /// The protocols that read scenario table `table`.
    pub fn readers_of(&self, table: &str) -> Vec<&'static str> {
        self.entries
            .iter()
            .filter(|e| e.tables().contains(&table))
            .map(|e| e.name())
            .collect()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::builtin()
    }
}
