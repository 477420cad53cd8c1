//! Raft's registry entry: options from `[raft]`, its roles, and client
//! processes after the servers, its part in `cap`, and its report section.

use super::options::RaftTable;
use super::{Raft, RaftOptions, CHECKS, ROLES};
use crate::protocols::registry::{CapRole, ProtocolDef, Setup};
use crate::protocols::ReportSection;
use crate::scenario::{OptionsInput, ScenarioError};
use crate::sim::RunResult;
use crate::time::SimTime;

/// The `raft` protocol.
pub struct Def;

impl ProtocolDef for Def {
    type Options = RaftOptions;
    type Protocol = Raft;

    fn name(&self) -> &'static str {
        "raft"
    }

    fn about(&self) -> &'static str {
        "Raft (PreVote, CheckQuorum, snapshots) with a key-value store and sessions"
    }

    fn checks(&self) -> &'static [crate::process::CheckInfo] {
        CHECKS
    }

    fn roles(&self) -> &'static [&'static str] {
        ROLES
    }

    fn tags(&self) -> &'static [&'static str] {
        &["behind"]
    }

    fn client_processes(&self) -> bool {
        true
    }

    fn message_kinds(&self) -> &'static [&'static str] {
        &super::messages::MsgKind::NAMES
    }

    fn buggify_points(&self) -> &'static [&'static str] {
        super::BUGGIFY_POINTS
    }

    fn options(&self, input: &OptionsInput<'_>) -> Result<RaftOptions, ScenarioError> {
        let table: RaftTable = input.table("raft")?;
        if table.linearizability_budget_ms.is_some() {
            let message = "no longer supported: a budget in wall time made the verdict depend on the machine; expected [checks] linearizability_steps (a budget of search steps) instead, or raft.linearizable left out of [checks] enabled to skip the check";
            return Err(input.error("raft", Some("linearizability_budget_ms"), message));
        }
        let options = RaftOptions::from(table);
        match options.problem() {
            Some(problem) => Err(input.error("raft", None, problem)),
            None => Ok(options),
        }
    }

    fn build(&self, options: &RaftOptions, setup: &Setup) -> Raft {
        let liveness_start = SimTime::ZERO + setup.duration;
        Raft::new(options.clone(), setup.nodes, setup.clients, liveness_start)
            .with_placement(setup.placement, &setup.targets)
    }

    fn report_section(&self, result: &RunResult) -> Option<ReportSection> {
        let section = ReportSection::new("Raft")
            .metric(
                result,
                "leader changes",
                "raft_leader_changes",
                "times a new leader took over (elections that succeeded)",
            )
            .metric(
                result,
                "highest term",
                "raft_max_term",
                "terms started, counting elections that failed",
            )
            .duration(
                result,
                "time without a leader",
                "raft_leaderless_ns",
                "how long no server was leader, so none could accept writes",
            )
            .metric(
                result,
                "entries committed",
                "raft_committed",
                "log entries a majority stored",
            )
            .duration(
                result,
                "commit latency p50",
                "raft_commit_latency_ns_p50",
                "from a leader appending an entry to its commit",
            )
            .duration(
                result,
                "commit latency p99",
                "raft_commit_latency_ns_p99",
                "the slow tail of the same",
            )
            .metric(
                result,
                "snapshots taken",
                "raft_snapshots_taken",
                "log compactions by any server",
            )
            .metric(
                result,
                "snapshots installed",
                "raft_snapshots_installed",
                "followers caught up by a snapshot instead of log entries",
            )
            .metric(
                result,
                "linearizability",
                "raft_linearizability",
                "the client history checked against a sequential key-value store",
            );
        Some(section)
    }

    /// In the CAP experiment: half gets and half puts on two keys, like
    /// the stores.
    fn cap_store(&self) -> Option<CapRole<RaftOptions>> {
        let mut options = RaftOptions::default();
        options.workload.keys = 2;
        options.workload.get_put_only = true;
        Some(CapRole {
            label: "raft (CP)",
            options,
            linearizability_metric: "raft_linearizability",
        })
    }

    /// In the consensus experiment: as in the CAP experiment, and without
    /// PreVote and CheckQuorum (whose leader lease makes followers ignore
    /// a higher term while they hear their leader): a server cut off from
    /// the leader then raises the term and deposes it through any server
    /// both reach.
    fn consensus_stores(&self) -> Vec<CapRole<RaftOptions>> {
        let Some(with) = self.cap_store() else {
            return Vec::new();
        };
        let mut options = with.options.clone();
        options.server.pre_vote = false;
        options.server.check_quorum = false;
        let without = CapRole {
            label: "raft, no PreVote/CheckQuorum",
            options,
            linearizability_metric: with.linearizability_metric,
        };
        let with = CapRole {
            label: "raft",
            ..with
        };
        vec![with, without]
    }
}
