//! Scenario files: TOML → a validated [`Scenario`]. Parsing and every check
//! of the user's input happen here, once; nothing downstream re-checks.
//! The format is documented in `docs/scenarios.md`.

mod error;
mod raw;
mod validate;
pub mod write;

pub use error::ScenarioError;

use crate::protocols::broadcast::BroadcastOptions;
use crate::protocols::raft::RaftOptions;
use crate::protocols::saga::SagaOptions;
use crate::protocols::twopc::TwoPcOptions;
use crate::protocols::{self, ProtocolInfo};
use crate::sim::{SimConfig, SwarmConfig};
use std::path::Path;

/// The protocol a scenario runs, with its options.
#[derive(Clone, Debug, PartialEq)]
pub enum ProtocolPlan {
    /// Gossip broadcast.
    Broadcast(BroadcastOptions),
    /// A replicated key-value store (quorum or eventual), with its workload.
    Store(
        crate::protocols::store::Kind,
        crate::protocols::store::WorkloadOptions,
    ),
    /// Two-phase commit.
    TwoPc(TwoPcOptions),
    /// Sagas.
    Saga(SagaOptions),
    /// Raft with a key-value store.
    Raft(RaftOptions),
}

impl ProtocolPlan {
    /// The protocol's name.
    pub fn name(&self) -> &'static str {
        match self {
            ProtocolPlan::Broadcast(_) => "broadcast",
            ProtocolPlan::Store(crate::protocols::store::Kind::Quorum(_), _) => "quorum",
            ProtocolPlan::Store(crate::protocols::store::Kind::Eventual(_), _) => "eventual",
            ProtocolPlan::TwoPc(_) => "twopc",
            ProtocolPlan::Saga(_) => "saga",
            ProtocolPlan::Raft(_) => "raft",
        }
    }

    /// What the scenario layer knows of the protocol.
    pub fn info(&self) -> &'static ProtocolInfo {
        protocols::find(self.name()).unwrap_or(&protocols::ALL[0])
    }
}

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
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The file it came from, as the user named it (for replay commands).
    pub file: String,
    /// Its name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// The protocol and its options.
    pub protocol: ProtocolPlan,
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
}

impl Scenario {
    /// Reads and validates the scenario file at `path`.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ScenarioError {
            file: file.clone(),
            line: 0,
            column: 0,
            field: None,
            message: format!("cannot read the scenario file: {e}"),
        })?;
        Scenario::from_bytes(&bytes, &file)
    }

    /// Validates a scenario from raw bytes (which must be UTF-8 TOML).
    pub fn from_bytes(bytes: &[u8], file: &str) -> Result<Scenario, ScenarioError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Scenario::parse(text, file),
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

    /// Validates a scenario from TOML text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        validate::parse(text, file)
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
