//! The sharded store's registry entry and its `[shardkv]` options.

use super::config::ConfigOp;
use super::{Layout, ShardKv, CHECKS, MESSAGE_KINDS, ROLES, TAGS};
use crate::placement::assign::GroupId;
use crate::protocols::raft::{ServerOptions, WorkloadOptions};
use crate::protocols::registry::{ProtocolDef, Setup};
use crate::protocols::ReportSection;
use crate::scenario::{OptionsInput, ScenarioError};
use crate::sim::RunResult;
use crate::time::{SimDuration, SimTime};
use serde::Deserialize;
use std::collections::BTreeSet;

/// The `[shardkv]` table: every key documented in
/// `docs/scenarios.md#shardkv`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShardKvOptions {
    /// Servers of the configuration service (processes `0..config_servers`).
    pub config_servers: usize,
    /// Replica groups (ids `1..=groups`), each `group_size` servers after
    /// the service's.
    pub groups: usize,
    /// Servers per replica group.
    pub group_size: usize,
    /// Groups `1..=initial_groups` join at the start.
    pub initial_groups: usize,
    /// Shards the keys are spread over.
    pub shards: usize,
    /// Joins and leaves, in time order.
    pub changes: Vec<Change>,
    /// A group's leader asks for the next configuration (and pushes its
    /// migrations on) this often.
    pub poll: SimDuration,
    /// Keys the workload uses.
    pub keys: usize,
    /// A client resends a command after this long without an answer.
    pub client_retry: SimDuration,
    /// Every Raft leader's heartbeat interval.
    pub heartbeat: SimDuration,
    /// The shortest Raft election timeout.
    pub election_min: SimDuration,
    /// The longest Raft election timeout.
    pub election_max: SimDuration,
    /// Each Raft server snapshots its state every this many applied
    /// entries (0: never).
    pub snapshot_every: u64,
    /// After the liveness phase begins, every change must be made and
    /// every shard served by its owner within this many `election_max`.
    pub liveness_election_timeouts: u64,
}

/// One scheduled change of the groups: a join or a leave.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// When the controller asks for it (after the change before it took
    /// effect).
    pub at: SimDuration,
    /// Groups that join.
    #[serde(default)]
    pub join: Vec<GroupId>,
    /// Groups that leave.
    #[serde(default)]
    pub leave: Vec<GroupId>,
}

impl Change {
    /// The configuration service's command for it.
    pub fn op(&self) -> ConfigOp {
        if self.join.is_empty() {
            ConfigOp::Leave(self.leave.clone())
        } else {
            ConfigOp::Join(self.join.clone())
        }
    }
}

impl Default for ShardKvOptions {
    fn default() -> Self {
        ShardKvOptions {
            config_servers: 3,
            groups: 3,
            group_size: 3,
            initial_groups: 2,
            shards: 10,
            changes: Vec::new(),
            poll: SimDuration::from_millis(100),
            keys: 10,
            client_retry: SimDuration::from_millis(200),
            heartbeat: SimDuration::from_millis(50),
            election_min: SimDuration::from_millis(150),
            election_max: SimDuration::from_millis(300),
            snapshot_every: 200,
            liveness_election_timeouts: 20,
        }
    }
}

impl ShardKvOptions {
    /// Where the processes are, with `clients` workload clients.
    pub fn layout(&self, clients: usize) -> Layout {
        Layout {
            config_servers: self.config_servers,
            groups: self.groups,
            group_size: self.group_size,
            clients,
        }
    }

    /// What every Raft server (the service's and the groups') runs with:
    /// Raft's defaults (PreVote, CheckQuorum, the leader's no-op) and this
    /// table's timing and snapshots.
    pub fn raft_server(&self) -> ServerOptions {
        ServerOptions {
            heartbeat: self.heartbeat,
            election_min: self.election_min,
            election_max: self.election_max,
            snapshot_every: self.snapshot_every,
            ..ServerOptions::default()
        }
    }

    /// The workload: Raft's key-value mix over `keys` keys.
    pub fn workload(&self) -> WorkloadOptions {
        WorkloadOptions {
            keys: self.keys,
            client_retry: self.client_retry,
            get_put_only: false,
        }
    }

    /// How long after the liveness phase begins the store must have settled.
    pub fn liveness_bound(&self) -> SimDuration {
        SimDuration::from_nanos(self.election_max.as_nanos() * self.liveness_election_timeouts)
    }

    /// What is wrong with these options, if anything: the key and why.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        let zero = SimDuration::ZERO;
        let positive = [
            ("config_servers", self.config_servers),
            ("groups", self.groups),
            ("group_size", self.group_size),
            ("initial_groups", self.initial_groups),
            ("shards", self.shards),
            ("keys", self.keys),
            (
                "liveness_election_timeouts",
                self.liveness_election_timeouts as usize,
            ),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Some((key, "expected at least 1".into()));
        }
        if self.initial_groups > self.groups {
            let why = format!("expected at most groups ({}) initial groups", self.groups);
            return Some(("initial_groups", why));
        }
        for (key, d) in [
            ("poll", self.poll),
            ("client_retry", self.client_retry),
            ("heartbeat", self.heartbeat),
            ("election_min", self.election_min),
        ] {
            if d == zero {
                return Some((key, "expected a duration above 0".into()));
            }
        }
        if self.election_max < self.election_min {
            return Some((
                "election_max",
                "expected election_max >= election_min".into(),
            ));
        }
        if self.heartbeat >= self.election_min {
            let why =
                "expected heartbeat below election_min, or followers time out between heartbeats";
            return Some(("heartbeat", why.into()));
        }
        self.changes_problem().map(|why| ("changes", why))
    }

    /// What is wrong with `changes`: each one a join or a leave of known
    /// groups, in time order, never leaving no group.
    fn changes_problem(&self) -> Option<String> {
        let mut present: BTreeSet<GroupId> = (1..=self.initial_groups as GroupId).collect();
        let mut last = SimDuration::ZERO;
        for (i, change) in self.changes.iter().enumerate() {
            let which = format!("change {} (at {})", i + 1, change.at);
            if change.join.is_empty() == change.leave.is_empty() {
                return Some(format!(
                    "{which}: expected exactly one of join or leave, with at least one group"
                ));
            }
            let groups = change.join.iter().chain(&change.leave);
            if let Some(g) = groups
                .clone()
                .find(|&&g| g == 0 || g as usize > self.groups)
            {
                return Some(format!(
                    "{which}: no group {g}; expected groups 1 to {}",
                    self.groups
                ));
            }
            if change.at < last {
                return Some(format!("{which}: expected changes in time order"));
            }
            last = change.at;
            present.extend(&change.join);
            present.retain(|g| !change.leave.contains(g));
            if present.is_empty() {
                return Some(format!("{which}: expected at least one group to remain"));
            }
        }
        None
    }
}

/// The `shardkv` protocol.
pub struct Def;

impl ProtocolDef for Def {
    type Options = ShardKvOptions;
    type Protocol = ShardKv;

    fn name(&self) -> &'static str {
        "shardkv"
    }

    fn about(&self) -> &'static str {
        "A sharded key-value store: a Raft configuration service and Raft replica groups, shards migrating on joins and leaves"
    }

    fn checks(&self) -> &'static [crate::process::CheckInfo] {
        CHECKS
    }

    fn roles(&self) -> &'static [&'static str] {
        ROLES
    }

    fn tags(&self) -> &'static [&'static str] {
        TAGS
    }

    fn client_processes(&self) -> bool {
        true
    }

    fn message_kinds(&self) -> &'static [&'static str] {
        MESSAGE_KINDS
    }

    fn options(&self, input: &OptionsInput<'_>) -> Result<ShardKvOptions, ScenarioError> {
        let options: ShardKvOptions = input.table("shardkv")?;
        if let Some((key, problem)) = options.problem() {
            return Err(input.error("shardkv", Some(key), problem));
        }
        let servers = options.layout(0).servers();
        if input.nodes() != servers {
            return Err(input.nodes_error(format!(
                "expected nodes = config_servers + groups x group_size = {} + {} x {} = {servers} for shardkv",
                options.config_servers, options.groups, options.group_size
            )));
        }
        Ok(options)
    }

    fn build(&self, options: &ShardKvOptions, setup: &Setup) -> ShardKv {
        ShardKv::new(
            options.clone(),
            setup.clients,
            SimTime::ZERO + setup.duration,
        )
    }

    fn report_section(&self, result: &RunResult) -> Option<ReportSection> {
        let section = ReportSection::new("Sharded key-value store")
            .metric(
                result,
                "configurations",
                "shardkv_configurations",
                "the latest configuration's number",
            )
            .metric(
                result,
                "changes made",
                "shardkv_changes_made",
                "joins and leaves the service applied, the initial join included",
            )
            .metric(
                result,
                "shard moves",
                "shardkv_shard_moves",
                "shards the configurations moved from one group to another",
            )
            .metric(
                result,
                "installs",
                "shardkv_installs",
                "shards installed by their new owner (every replica counts)",
            )
            .duration(
                result,
                "shard move, p50",
                "shardkv_migration_p50_ns",
                "from the new owner's move to the configuration to the shard installed",
            )
            .duration(
                result,
                "shard move, p99",
                "shardkv_migration_p99_ns",
                "the same, 99th percentile",
            )
            .metric(
                result,
                "group elections",
                "shardkv_group_elections",
                "leaders elected in the replica groups",
            )
            .metric(
                result,
                "linearizability",
                "shardkv_linearizability",
                "the client history checked per key against a sequential key-value store",
            );
        Some(section)
    }
}
