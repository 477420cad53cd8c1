//! Multi-Paxos's registry entry and its `[paxos]` options.

use super::{Paxos, CHECKS, MESSAGE_KINDS, ROLES};
use crate::protocols::registry::CapRole;
use crate::protocols::registry::{ProtocolDef, Setup};
use crate::protocols::ReportSection;
use crate::scenario::{OptionsInput, ScenarioError};
use crate::sim::RunResult;
use crate::time::{SimDuration, SimTime};
use serde::Deserialize;

/// The `[paxos]` table: every key documented in `docs/scenarios.md#paxos`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaxosOptions {
    /// The leader's heartbeat (and every server's tick) interval.
    pub heartbeat: SimDuration,
    /// The shortest time without a leader before a server runs phase 1.
    pub election_min: SimDuration,
    /// The longest (each wait is drawn in `election_min..=election_max`
    /// with `backoff`).
    pub election_max: SimDuration,
    /// A preempted proposer waits a random time, doubling with each
    /// preemption in a row, before it tries again; and followers' waits
    /// are drawn at random. Off, every wait is `election_min` and a
    /// preempted proposer tries again at once (dueling proposers).
    pub backoff: bool,
    /// Before phase 1 a proposer probes, asking whether a majority would
    /// promise without promising yet; and a server that heard its leader
    /// within `election_min` refuses other proposers' probes and prepares
    /// (Raft's PreVote and leader stickiness). Off, a proposer that times
    /// out prepares at once and acceptors promise any higher ballot (the
    /// textbook protocol: one server cut off from the leader can depose it).
    pub probe: bool,
    /// At most this many values per Accept batch and per catch-up
    /// message.
    pub batch_max: usize,
    /// Every this many applied slots a server snapshots its store and
    /// drops the accepted and chosen values before (0: never); a learner
    /// or a new leader behind a snapshot installs it.
    pub snapshot_every: u64,
    /// Keys the workload uses.
    pub keys: usize,
    /// A client resends a command after this long without an answer.
    pub client_retry: SimDuration,
    /// Gets and puts only, half each (the CAP experiment's workload).
    pub get_put_only: bool,
    /// After the liveness phase begins, a leader must be in office and
    /// every operation answered within this many `election_max`.
    pub liveness_election_timeouts: u64,
}

impl Default for PaxosOptions {
    fn default() -> Self {
        PaxosOptions {
            heartbeat: SimDuration::from_millis(50),
            election_min: SimDuration::from_millis(150),
            election_max: SimDuration::from_millis(300),
            backoff: true,
            probe: true,
            batch_max: 64,
            snapshot_every: 1000,
            keys: 3,
            client_retry: SimDuration::from_millis(200),
            get_put_only: false,
            liveness_election_timeouts: 10,
        }
    }
}

impl PaxosOptions {
    /// How long after the liveness phase begins a leader must lead.
    pub fn liveness_bound(&self) -> SimDuration {
        SimDuration::from_nanos(self.election_max.as_nanos() * self.liveness_election_timeouts)
    }

    /// What is wrong with these options, if anything.
    pub fn problem(&self) -> Option<String> {
        let zero = SimDuration::ZERO;
        if self.heartbeat == zero || self.election_min == zero || self.client_retry == zero {
            return Some("expected heartbeat, election_min and client_retry above 0".into());
        }
        if self.election_max < self.election_min {
            return Some("expected election_max >= election_min".into());
        }
        if self.heartbeat >= self.election_min {
            return Some(
                "expected heartbeat below election_min, or followers time out between heartbeats"
                    .into(),
            );
        }
        if self.batch_max == 0 || self.keys == 0 || self.liveness_election_timeouts == 0 {
            return Some(
                "expected batch_max, keys and liveness_election_timeouts of at least 1".into(),
            );
        }
        None
    }
}

/// The `paxos` protocol.
pub struct Def;

impl ProtocolDef for Def {
    type Options = PaxosOptions;
    type Protocol = Paxos;

    fn name(&self) -> &'static str {
        "paxos"
    }

    fn about(&self) -> &'static str {
        "Multi-Paxos (a distinguished proposer, phase 1 once per leader) with a key-value store and sessions"
    }

    fn checks(&self) -> &'static [crate::process::CheckInfo] {
        CHECKS
    }

    fn roles(&self) -> &'static [&'static str] {
        ROLES
    }

    fn client_processes(&self) -> bool {
        true
    }

    fn message_kinds(&self) -> &'static [&'static str] {
        MESSAGE_KINDS
    }

    fn buggify_points(&self) -> &'static [&'static str] {
        super::BUGGIFY_POINTS
    }

    fn options(&self, input: &OptionsInput<'_>) -> Result<PaxosOptions, ScenarioError> {
        let options: PaxosOptions = input.table("paxos")?;
        match options.problem() {
            Some(problem) => Err(input.error("paxos", None, problem)),
            None => Ok(options),
        }
    }

    fn build(&self, options: &PaxosOptions, setup: &Setup) -> Paxos {
        let liveness_start = SimTime::ZERO + setup.duration;
        Paxos::new(options.clone(), setup.nodes, setup.clients, liveness_start)
            .with_placement(setup.placement, &setup.targets)
    }

    fn report_section(&self, result: &RunResult) -> Option<ReportSection> {
        let section = ReportSection::new("Multi-Paxos")
            .metric(
                result,
                "leaders elected",
                "paxos_elections",
                "phase 1 won by a majority of promises",
            )
            .metric(
                result,
                "highest round",
                "paxos_max_round",
                "ballot rounds begun, counting preempted ones",
            )
            .metric(
                result,
                "slots chosen",
                "paxos_chosen",
                "slots a majority accepted a value in",
            )
            .metric(result, "no-ops", "paxos_noops", "gaps new leaders filled")
            .metric(
                result,
                "snapshots taken",
                "paxos_snapshots_taken",
                "compactions by any server",
            )
            .metric(
                result,
                "snapshots installed by learners",
                "paxos_snapshots_installed_by_learners",
                "servers behind a snapshot caught up from it",
            )
            .metric(
                result,
                "linearizability",
                "paxos_linearizability",
                "the client history checked against a sequential key-value store",
            );
        Some(section)
    }

    /// In the CAP experiment: half gets and half puts on two keys, like
    /// the stores and Raft.
    fn cap_store(&self) -> Option<CapRole<PaxosOptions>> {
        let options = PaxosOptions {
            keys: 2,
            get_put_only: true,
            ..PaxosOptions::default()
        };
        Some(CapRole {
            label: "multi-paxos (CP)",
            options,
            linearizability_metric: "paxos_linearizability",
        })
    }

    /// In the consensus experiment: as in the CAP experiment, and without
    /// the probe (a server cut off from the leader prepares a higher
    /// ballot and deposes it through any acceptor both reach).
    fn consensus_stores(&self) -> Vec<CapRole<PaxosOptions>> {
        let Some(with) = self.cap_store() else {
            return Vec::new();
        };
        let without = CapRole {
            label: "multi-paxos, no probe",
            options: PaxosOptions {
                probe: false,
                ..with.options.clone()
            },
            linearizability_metric: with.linearizability_metric,
        };
        let with = CapRole {
            label: "multi-paxos",
            ..with
        };
        vec![with, without]
    }
}
