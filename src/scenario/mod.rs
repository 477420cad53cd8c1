//! Scenario files: TOML → a validated [`Scenario`]. Parsing and every check
//! of the user's input happen here, once; nothing downstream re-checks.
//! The format is documented in `docs/scenarios.md`.

mod error;
mod options;
mod raw;
mod validate;
pub mod write;

pub use error::ScenarioError;
pub use options::OptionsInput;

use crate::protocols::registry::{Plan, Registry, Setup};
use crate::sim::{SimConfig, SwarmConfig};
use std::path::Path;
use std::sync::Arc;

/// Service-level requirements from a scenario's `[slo]` section, evaluated
/// PASS / FAIL in the run report (they do not change the exit code).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Slo {
    /// Median client latency at most this.
    pub latency_p50: Option<crate::time::SimDuration>,
    /// 99th-percentile client latency at most this.
    pub latency_p99: Option<crate::time::SimDuration>,
    /// Share of requests answered (ok or fail) within their timeout, at least this.
    pub availability: Option<f64>,
    /// Operations completed ok per simulated second, at least this.
    pub throughput: Option<f64>,
}

/// The outcome a scenario expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Every check holds.
    Pass,
    /// Some check fails (this one, if named): the scenario demonstrates a bug.
    Violation(Option<String>),
}

/// A validated scenario: everything needed to run it for any seed.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file it came from, as the user named it (for replay commands).
    pub file: String,
    /// Its name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// The protocol and its options, as its registry entry read them.
    pub protocol: Arc<dyn Plan>,
    /// Number of server nodes.
    pub nodes: usize,
    /// The seed used when none is given.
    pub default_seed: u64,
    /// The expected outcome.
    pub expect: Expect,
    /// The engine configuration, with `seed` = `default_seed`.
    pub config: SimConfig,
    /// The `[swarm]` ranges, if the scenario declares them.
    pub swarm: Option<SwarmConfig>,
    /// Requirements the run report evaluates.
    pub slo: Slo,
    /// The file as parsed TOML, for writing derived scenarios (shrinking)
    /// that keep every section they do not change.
    pub document: toml::Table,
    /// The protocols it was read with, to read derived scenarios again.
    pub registry: Registry,
}

impl PartialEq for Scenario {
    fn eq(&self, other: &Self) -> bool {
        self.protocol.same(other.protocol.as_ref())
            && (
                &self.file,
                &self.name,
                &self.description,
                self.nodes,
                self.default_seed,
                &self.expect,
                &self.config,
                &self.swarm,
                &self.slo,
                &self.document,
            ) == (
                &other.file,
                &other.name,
                &other.description,
                other.nodes,
                other.default_seed,
                &other.expect,
                &other.config,
                &other.swarm,
                &other.slo,
                &other.document,
            )
    }
}

impl Scenario {
    /// Reads and validates the scenario file at `path` (built-in protocols).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::load_with(path, &Registry::builtin())
    }

    /// Reads and validates the scenario file at `path`, whose protocol is
    /// one of `registry`'s.
    pub fn load_with(path: &Path, registry: &Registry) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ScenarioError {
            file: file.clone(),
            line: 0,
            column: 0,
            field: None,
            message: format!("cannot read the scenario file: {e}"),
        })?;
        Scenario::from_bytes_with(&bytes, &file, registry)
    }

    /// Validates a scenario from raw bytes (which must be UTF-8 TOML).
    pub fn from_bytes(bytes: &[u8], file: &str) -> Result<Scenario, ScenarioError> {
        Scenario::from_bytes_with(bytes, file, &Registry::builtin())
    }

    /// [`Scenario::from_bytes`] for a protocol of `registry`.
    pub fn from_bytes_with(
        bytes: &[u8],
        file: &str,
        registry: &Registry,
    ) -> Result<Scenario, ScenarioError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Scenario::parse_with(text, file, registry),
            Err(e) => {
                let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or("");
                let src = error::Source { file, text: valid };
                Err(src.error(
                    e.valid_up_to()..e.valid_up_to(),
                    None,
                    "the file is not valid UTF-8: expected a TOML text file",
                ))
            }
        }
    }

    /// Validates a scenario from TOML text (built-in protocols); `file`
    /// names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_with(text, file, &Registry::builtin())
    }

    /// [`Scenario::parse`] for a protocol of `registry`.
    pub fn parse_with(
        text: &str,
        file: &str,
        registry: &Registry,
    ) -> Result<Scenario, ScenarioError> {
        validate::parse(text, file, registry)
    }

    /// A scenario built in code: `name` running `protocol` on `nodes`
    /// servers under `config`, expecting every check to hold. Nothing is
    /// validated: the caller builds values a file would be accepted with.
    pub fn from_plan(name: &str, protocol: Arc<dyn Plan>, nodes: usize, config: SimConfig) -> Self {
        Scenario {
            file: format!("<{name}>"),
            name: name.to_string(),
            description: String::new(),
            protocol,
            nodes,
            default_seed: config.seed,
            expect: Expect::Pass,
            config,
            swarm: None,
            slo: Slo::default(),
            document: toml::Table::new(),
            registry: Registry::builtin(),
        }
    }

    /// Reads a scenario derived from this one (e.g. while shrinking) with
    /// the same protocols.
    pub fn reparse(&self, text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_with(text, file, &self.registry)
    }

    /// What the protocol is built from for a run under `config`.
    pub fn setup(&self, config: &SimConfig) -> Setup {
        Setup {
            nodes: self.nodes,
            clients: config.workload.clients,
            duration: config.duration,
            placement: config.workload.placement,
            targets: config.workload.targets.clone(),
        }
    }

    /// The engine configuration for a run with `seed`.
    pub fn config(&self, seed: u64) -> SimConfig {
        SimConfig {
            seed,
            ..self.config.clone()
        }
    }

    /// The configuration for `seed` with its swarm fault mix applied, and a
    /// description of the mix. `None` when the scenario has no `[swarm]`.
    pub fn swarm_config(&self, seed: u64) -> Option<(SimConfig, String)> {
        let swarm = self.swarm.as_ref()?;
        let mut config = self.config(seed);
        let mix = crate::sim::swarm::apply(swarm, seed, &mut config);
        Some((config, mix))
    }
}
