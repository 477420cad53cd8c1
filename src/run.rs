//! Runs a scenario for one seed and judges the result against what the
//! scenario expects.

use crate::protocols::broadcast::Broadcast;
use crate::protocols::raft::Raft;
use crate::protocols::saga::Saga;
use crate::protocols::store::Store;
use crate::protocols::twopc::TwoPc;
use crate::scenario::{Expect, ProtocolPlan, Scenario};
use crate::sim::{RunResult, SimConfig, Simulation};
use crate::time::SimTime;

/// Options of one run beyond the seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Keep every event for reports.
    pub record_trace: bool,
    /// Apply the seed's swarm fault mix (a scenario without `[swarm]` runs as is).
    pub swarm: bool,
    /// Leave the JSON history out of the result (sweeps need only verdicts).
    pub skip_history: bool,
}

/// Runs `scenario` with `seed`.
pub fn run(scenario: &Scenario, seed: u64, options: RunOptions) -> RunResult {
    let (mut config, mix) = match scenario.swarm_config(seed) {
        Some((config, mix)) if options.swarm => (config, Some(mix)),
        _ => (scenario.config(seed), None),
    };
    config.record_trace = options.record_trace;
    config.export_history = !options.skip_history;
    let mut result = run_config(scenario, config);
    result.swarm = mix;
    result
}

/// Runs `scenario`'s protocol under an explicit engine configuration (the
/// scenario's own, or one derived from it, e.g. while shrinking).
pub fn run_config(scenario: &Scenario, config: SimConfig) -> RunResult {
    match &scenario.protocol {
        ProtocolPlan::Broadcast(o) => {
            Simulation::new(Broadcast::new(o.clone(), scenario.nodes), config).run()
        }
        ProtocolPlan::Store(kind, workload) => {
            let clients = config.workload.clients;
            let store = Store::new(kind.clone(), scenario.nodes, clients, workload.clone());
            Simulation::new(store, config).run()
        }
        ProtocolPlan::TwoPc(o) => {
            Simulation::new(TwoPc::new(o.clone(), scenario.nodes), config).run()
        }
        ProtocolPlan::Saga(o) => {
            Simulation::new(Saga::new(o.clone(), scenario.nodes), config).run()
        }
        ProtocolPlan::Raft(o) => {
            let clients = config.workload.clients;
            let liveness_start = SimTime::ZERO + config.duration;
            let raft = Raft::new(o.clone(), scenario.nodes, clients, liveness_start);
            Simulation::new(raft, config).run()
        }
    }
}

/// Whether a run ended as the scenario expects: every check held for
/// `expect = "pass"`; the expected check (or any) failed for `"violation"`.
pub fn as_expected(scenario: &Scenario, result: &RunResult) -> bool {
    match &scenario.expect {
        Expect::Pass => result.violations.is_empty(),
        Expect::Violation(None) => !result.violations.is_empty(),
        Expect::Violation(Some(check)) => result.violations.iter().any(|v| &v.check == check),
    }
}
