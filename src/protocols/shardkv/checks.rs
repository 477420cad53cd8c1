//! The sharded store's checks.
//!
//! - `shardkv.raft-safety` (always): Raft's own safety properties
//!   (election safety, leader append-only, log matching, leader
//!   completeness, state-machine safety: `raft::checks`) in the
//!   configuration service and in every replica group, each judged on its
//!   own group's notes; the failure kind names the property.
//! - `shardkv.config-agreement` (always): every configuration server that
//!   applies configuration `n` applied the same one.
//! - `shardkv.single-owner` (always): a group applies a client command to
//!   a shard only if it owns the shard in the configuration it is in, and
//!   never after another group served the shard in a later configuration
//!   (no shard served by two groups at once).
//! - `shardkv.linearizable` (at end): the client history, per key, across
//!   every migration, is linearizable.
//! - `shardkv.acked-write-lost` (at end): the final value of every key,
//!   read from its owner, holds every acknowledged append that began after
//!   every put and cas of the key had completed (nothing could have
//!   overwritten them).
//! - `shardkv.liveness` (eventually): after the liveness phase every
//!   planned change was made, every group with a live server reached the
//!   latest configuration, every shard is served there by its owner, and
//!   every client operation has its outcome.

use super::config::Config;
use super::group::{shard_of, Applied, ShardState};
use super::{Layout, Note, ShardKvOptions, ShardNode};
use crate::placement::assign::GroupId;
use crate::process::{CheckInfo, EndState, Invariants, Lifecycle, NodeId, Undecided, Violation};
use crate::protocols::lincheck::{judge_kv, kv_check_history, Judgement};
use crate::protocols::raft::checks::RaftChecks;
use crate::protocols::raft::kv::{KvOp, KvRes};
use crate::protocols::raft::messages::Note as RaftNote;
use crate::protocols::raft::RaftNode;
use crate::time::{SimDuration, SimTime};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Every check of the store.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo::always("shardkv.raft-safety"),
    CheckInfo::always("shardkv.config-agreement"),
    CheckInfo::always("shardkv.single-owner"),
    CheckInfo::at_end("shardkv.linearizable"),
    CheckInfo::at_end("shardkv.acked-write-lost"),
    CheckInfo::eventually("shardkv.liveness"),
];

/// The checks of one run.
pub struct ShardChecks {
    layout: Layout,
    shards: usize,
    liveness_start: SimTime,
    liveness_bound: SimDuration,
    /// Every configuration applied by some configuration server, by number.
    configs: Vec<Rc<Config>>,
    /// Per shard, the latest configuration it was served in, and by whom.
    served: Vec<Option<(u64, GroupId)>>,
    linearizability: Judgement,
    counts: Counts,
    /// Raft's checks of the service (index 0) and of each group.
    raft: Vec<RaftChecks>,
}

/// What the run did, for the metrics.
#[derive(Default)]
struct Counts {
    served: u64,
    reconfigured: BTreeMap<GroupId, u64>,
    installed: u64,
    dropped: u64,
    changes: usize,
    group_elections: u64,
    /// When each group first moved to each configuration.
    moved_at: BTreeMap<(GroupId, u64), SimTime>,
    /// Each shard move's time from its new owner's move to the
    /// configuration to the first install, in ns, by (shard, configuration).
    migrations: BTreeMap<(u32, u64), u64>,
}

impl ShardChecks {
    /// The checks for a store laid out as `layout`.
    pub fn new(options: &ShardKvOptions, layout: Layout, liveness_start: SimTime) -> Self {
        ShardChecks {
            layout,
            shards: options.shards,
            liveness_start,
            liveness_bound: options.liveness_bound(),
            configs: Vec::new(),
            served: vec![None; options.shards],
            linearizability: Judgement::skipped(),
            counts: Counts::default(),
            raft: (0..=layout.groups)
                .map(|gid| {
                    let size = if gid == 0 {
                        layout.config_servers
                    } else {
                        layout.group_size
                    };
                    RaftChecks::new(options.liveness_bound(), 1, size, liveness_start)
                })
                .collect(),
        }
    }

    fn on_config(
        &mut self,
        at: SimTime,
        node: NodeId,
        config: &Rc<Config>,
    ) -> Result<(), Violation> {
        let n = config.num as usize;
        match self.configs.get(n) {
            Some(known) if known != config => Err(Violation::new(
                "shardkv.config-agreement",
                at,
                format!(
                    "{node} applied configuration {n} as {config:?}, another server as {known:?}"
                ),
            )),
            Some(_) => Ok(()),
            None if n == self.configs.len() => {
                self.configs.push(Rc::clone(config));
                Ok(())
            }
            None => Err(Violation::new(
                "shardkv.config-agreement",
                at,
                format!(
                    "{node} applied configuration {n} before configuration {}",
                    self.configs.len()
                ),
            )),
        }
    }

    fn on_served(
        &mut self,
        at: SimTime,
        node: NodeId,
        gid: GroupId,
        shard: u32,
        num: u64,
    ) -> Result<(), Violation> {
        let frontier = self.counts.reconfigured.get(&gid).copied().unwrap_or(0);
        if num < frontier {
            // A replica catching up: some replica of the group already
            // applied this command, and the move past `num` after it.
            return Ok(());
        }
        self.counts.served += 1;
        let violation = |kind: &str, message: String| {
            Violation::new("shardkv.single-owner", at, message).with_kind(kind)
        };
        let owner = self
            .configs
            .get(num as usize)
            .map(|c| c.owners[shard as usize]);
        if let Some(owner) = owner.filter(|&o| o != gid) {
            let message = format!(
                "group {gid} ({node}) applied a command to shard {shard} in configuration {num}, which gives the shard to {}",
                owner_name(owner)
            );
            return Err(violation("served-by-non-owner", message));
        }
        let slot = &mut self.served[shard as usize];
        match *slot {
            Some((later, other)) if later > num && other != gid => {
                let message = format!(
                    "group {gid} ({node}) applied a command to shard {shard} in configuration {num}, after group {other} served it in configuration {later}"
                );
                Err(violation("served-by-two-groups", message))
            }
            Some((latest, _)) if latest >= num => Ok(()),
            _ => {
                *slot = Some((num, gid));
                Ok(())
            }
        }
    }

    /// The value of `key` at the end, from a live server of its shard's
    /// owner in the latest configuration, if one serves it there.
    fn final_value<'a>(&self, end: &'a EndState<'_, ShardNode>, key: &str) -> Option<&'a str> {
        let latest = self.configs.last()?;
        let shard = shard_of(key, self.shards);
        let owner = latest.owners[shard];
        end.nodes
            .iter()
            .flatten()
            .filter_map(|n| n.group())
            .filter(|g| g.gid() == owner)
            .map(|g| g.state())
            .find(|s| s.config().num == latest.num && s.shards()[shard] == ShardState::Serving)
            .map(|s| s.data(shard).get(key).map_or("", |v| v))
    }

    fn acked_writes_lost(&self, end: &EndState<'_, ShardNode>) -> Vec<Violation> {
        // Per key: the latest completion of any put or cas that may have
        // taken effect, and the appends acknowledged that began after it.
        let mut overwritten: BTreeMap<&str, SimTime> = BTreeMap::new();
        for op in &end.history.ops {
            if matches!(op.op, KvOp::Put { .. } | KvOp::Cas { .. }) {
                let done = op.completed.unwrap_or(SimTime::MAX);
                let t = overwritten.entry(op.op.key()).or_insert(SimTime::ZERO);
                *t = (*t).max(done);
            }
        }
        let mut found = Vec::new();
        for (op, res) in end.history.acknowledged() {
            let (KvOp::Append { key, value }, KvRes::Done) = (&op.op, res) else {
                continue;
            };
            let since = overwritten.get(&**key).copied().unwrap_or(SimTime::ZERO);
            if op.invoked < since {
                continue;
            }
            let Some(current) = self.final_value(end, key) else {
                continue;
            };
            if !current.contains(&**value) {
                let message = format!(
                    "the append of {value:?} to key {key:?} was acknowledged at {}, and nothing could overwrite it, but the key's final value is {current:?}",
                    op.completed.unwrap_or(op.invoked)
                );
                found.push(Violation::new(
                    "shardkv.acked-write-lost",
                    end.time,
                    message,
                ));
                break;
            }
        }
        found
    }

    fn liveness(&self, end: &EndState<'_, ShardNode>) -> Vec<Violation> {
        if end.time <= self.liveness_start + self.liveness_bound {
            return Vec::new();
        }
        let violation = |kind: &str, message: String| {
            Violation::new("shardkv.liveness", end.time, message).with_kind(kind)
        };
        let mut found = Vec::new();
        let controller =
            end.nodes[self.layout.controller().index()].and_then(ShardNode::controller);
        if let Some(c) = controller.filter(|c| c.made() < c.planned()) {
            let message = format!(
                "the configuration service made {} of the {} planned changes",
                c.made(),
                c.planned()
            );
            found.push(violation("changes-not-made", message));
        }
        if let Some(latest) = self.configs.last() {
            let unserved: Vec<String> = (0..self.shards)
                .filter(|&shard| {
                    let owner = latest.owners[shard];
                    let serves = |s: &super::group::GroupMachine| {
                        s.config().num == latest.num && s.shards()[shard] == ShardState::Serving
                    };
                    owner != 0
                        && !end
                            .nodes
                            .iter()
                            .flatten()
                            .filter_map(|n| n.group())
                            .any(|g| g.gid() == owner && serves(g.state()))
                })
                .map(|shard| format!("shard {shard} (owner {})", owner_name(latest.owners[shard])))
                .collect();
            if !unserved.is_empty() {
                let message = format!(
                    "after the liveness phase, not served by their owner in configuration {}: {}",
                    latest.num,
                    unserved.join(", ")
                );
                found.push(violation("shard-not-served", message));
            }
        }
        let waiting: Vec<String> = (end.servers..end.nodes.len())
            .filter(|&i| {
                end.nodes[i]
                    .and_then(ShardNode::client)
                    .is_some_and(|c| c.busy())
            })
            .map(|i| NodeId(i as u32).name(end.servers))
            .collect();
        if !waiting.is_empty() {
            let message = format!(
                "client operations still without an outcome after the liveness phase: {}",
                waiting.join(", ")
            );
            found.push(violation("operation-without-outcome", message));
        }
        found
    }
}

impl ShardChecks {
    /// Where `node` sits in its Raft group: the group and its own id there.
    fn in_group(&self, node: NodeId) -> Option<(GroupId, NodeId)> {
        let gid = self.layout.group_of(node)?;
        let base = if gid == 0 {
            0
        } else {
            self.layout.group_base(gid)
        };
        Some((gid, NodeId(node.0 - base)))
    }

    fn on_raft(
        &mut self,
        at: SimTime,
        node: NodeId,
        gid: GroupId,
        note: &RaftNote,
    ) -> Result<(), Violation> {
        if gid != 0 && matches!(note, RaftNote::Leader { .. }) {
            self.counts.group_elections += 1;
        }
        let Some((_, inner)) = self.in_group(node) else {
            return Ok(());
        };
        let checks = &mut self.raft[gid as usize];
        Invariants::<RaftNode>::on_note(checks, at, inner, note).map_err(|v| {
            let kind = v.check.trim_start_matches("raft.").to_string();
            let group = match gid {
                0 => "the configuration service".to_string(),
                g => format!("group {g}"),
            };
            let message = format!("in {group} (its servers numbered from 0): {}", v.message);
            Violation::new("shardkv.raft-safety", v.time, message).with_kind(&kind)
        })
    }
}

fn owner_name(gid: GroupId) -> String {
    match gid {
        0 => "no group".to_string(),
        g => format!("group {g}"),
    }
}

impl Invariants<ShardNode> for ShardChecks {
    fn names(&self) -> &'static [CheckInfo] {
        CHECKS
    }

    fn on_note(&mut self, at: SimTime, node: NodeId, note: &Note) -> Result<(), Violation> {
        match note {
            Note::Config(config) => self.on_config(at, node, config),
            Note::Group { gid, applied } => match *applied {
                Applied::Served { shard, num } => self.on_served(at, node, *gid, shard, num),
                Applied::Reconfigured { num } => {
                    let seen = self.counts.reconfigured.entry(*gid).or_default();
                    *seen = (*seen).max(num);
                    self.counts.moved_at.entry((*gid, num)).or_insert(at);
                    Ok(())
                }
                Applied::Installed { shard, num } => {
                    self.counts.installed += 1;
                    if let Some(&since) = self.counts.moved_at.get(&(*gid, num)) {
                        let took = at.saturating_since(since).as_nanos();
                        self.counts.migrations.entry((shard, num)).or_insert(took);
                    }
                    Ok(())
                }
                Applied::Dropped { .. } => {
                    self.counts.dropped += 1;
                    Ok(())
                }
            },
            Note::Changed { index } => {
                self.counts.changes = self.counts.changes.max(index + 1);
                Ok(())
            }
            Note::Raft { gid, note } => self.on_raft(at, node, *gid, note),
        }
    }

    fn on_lifecycle(&mut self, at: SimTime, node: NodeId, event: Lifecycle) {
        if let Some((gid, inner)) = self.in_group(node) {
            let checks = &mut self.raft[gid as usize];
            Invariants::<RaftNode>::on_lifecycle(checks, at, inner, event);
        }
    }

    fn at_end(&mut self, end: &EndState<'_, ShardNode>) -> Vec<Violation> {
        let mut found = Vec::new();
        if end.is_enabled("shardkv.linearizable") {
            let history = kv_check_history(end.history);
            self.linearizability = judge_kv("shardkv.linearizable", &history, end.budget, end.time);
            found.extend(self.linearizability.violation());
        }
        if end.is_enabled("shardkv.acked-write-lost") {
            found.extend(self.acked_writes_lost(end));
        }
        if end.completed {
            found.extend(self.liveness(end));
        }
        found
    }

    fn undecided(&self) -> Vec<Undecided> {
        self.linearizability.undecided().into_iter().collect()
    }

    fn metrics(&self) -> BTreeMap<String, Value> {
        let mut metrics = self.linearizability.metrics("shardkv_linearizability");
        let latest = self.configs.last().map_or(0, |c| c.num);
        // Shard moves: owners that changed from a group to another group.
        let moves: usize = self
            .configs
            .windows(2)
            .map(|w| {
                w[0].owners
                    .iter()
                    .zip(&w[1].owners)
                    .filter(|(a, b)| **a != 0 && a != b)
                    .count()
            })
            .sum();
        let mut took: Vec<u64> = self.counts.migrations.values().copied().collect();
        let mut quantile = |q| crate::stats::quantile(&mut took, q);
        let (p50, p99, max) = (quantile(0.5), quantile(0.99), quantile(1.0));
        metrics.extend([
            ("shardkv_migration_p50_ns".to_string(), json!(p50)),
            ("shardkv_migration_p99_ns".to_string(), json!(p99)),
            ("shardkv_migration_max_ns".to_string(), json!(max)),
            ("shardkv_configurations".to_string(), json!(latest)),
            (
                "shardkv_changes_made".to_string(),
                json!(self.counts.changes),
            ),
            ("shardkv_shard_moves".to_string(), json!(moves)),
            ("shardkv_installs".to_string(), json!(self.counts.installed)),
            ("shardkv_drops".to_string(), json!(self.counts.dropped)),
            (
                "shardkv_commands_served".to_string(),
                json!(self.counts.served),
            ),
            (
                "shardkv_group_elections".to_string(),
                json!(self.counts.group_elections),
            ),
        ]);
        metrics
    }
}
