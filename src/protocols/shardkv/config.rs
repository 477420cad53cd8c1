//! The configuration service's state machine: the numbered sequence of
//! configurations (which replica group owns each shard), changed by joins
//! and leaves and read by queries, all through the service's Raft log.
//!
//! Invariants: configuration `n` sits at index `n` of the sequence and
//! never changes once made; configuration 0 has no groups and no owners;
//! in every configuration each shard is owned by one of its groups (or by
//! none when it has no groups), loads within one of each other, and a
//! change moves only the shards it must (`placement::assign::rebalance`).
//! Joins and leaves are idempotent (joining a present group or leaving an
//! absent one makes no configuration), so retries need no session table.

use crate::placement::assign::{rebalance, GroupId};
use crate::protocols::raft::StateMachine;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// One configuration: its number, the groups in it, and each shard's owner
/// (0: none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The configuration's number (0: the initial, empty one).
    pub num: u64,
    /// The groups in it, ascending.
    pub groups: Vec<GroupId>,
    /// Each shard's owner; 0 when no group owns it.
    pub owners: Vec<GroupId>,
}

impl Config {
    /// Configuration 0: no groups, every one of `shards` shards unowned.
    pub fn initial(shards: usize) -> Self {
        Config {
            num: 0,
            groups: Vec::new(),
            owners: vec![0; shards],
        }
    }

    /// The next configuration, with `groups`: shards rebalanced, moving
    /// only those that must move.
    fn next(&self, groups: Vec<GroupId>) -> Config {
        let current: Vec<Option<GroupId>> = self
            .owners
            .iter()
            .map(|&g| (g != 0 && groups.contains(&g)).then_some(g))
            .collect();
        let owners = rebalance(&current, &groups)
            .into_iter()
            .map(|g| g.unwrap_or(0))
            .collect();
        Config {
            num: self.num + 1,
            groups,
            owners,
        }
    }
}

impl Default for Config {
    /// Configuration 0 of no shards (a group machine's before it is sized).
    fn default() -> Self {
        Config::initial(0)
    }
}

/// A command to the configuration service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigOp {
    /// Add these groups (those already present are ignored).
    Join(Vec<GroupId>),
    /// Remove these groups (those absent are ignored).
    Leave(Vec<GroupId>),
    /// Read configuration `n`, or the latest if there is no `n` yet.
    Query(u64),
}

/// The configuration service's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigRes {
    /// A join or leave took effect (or had nothing to change).
    Done,
    /// The configuration a query asked for.
    Config(Rc<Config>),
}

crate::trace_hash_by_serde!(ConfigOp, ConfigRes);

/// The sequence of configurations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigMachine {
    configs: Vec<Rc<Config>>,
}

impl Default for ConfigMachine {
    /// A sequence with no shards; [`ConfigMachine::new`] sizes it.
    fn default() -> Self {
        ConfigMachine::new(0)
    }
}

impl ConfigMachine {
    /// The service for `shards` shards, holding configuration 0.
    pub fn new(shards: usize) -> Self {
        ConfigMachine {
            configs: vec![Rc::new(Config::initial(shards))],
        }
    }

    /// Every configuration made, by number.
    pub fn configs(&self) -> &[Rc<Config>] {
        &self.configs
    }

    /// The latest configuration.
    pub fn latest(&self) -> &Rc<Config> {
        self.configs
            .last()
            .expect("configuration 0 is always there")
    }

    fn change(&mut self, groups: Vec<GroupId>) {
        let latest = self.latest();
        if groups == latest.groups {
            return;
        }
        let next = latest.next(groups);
        assert_eq!(
            next.num as usize,
            self.configs.len(),
            "configuration numbers are dense"
        );
        self.configs.push(Rc::new(next));
    }
}

impl StateMachine for ConfigMachine {
    type Op = ConfigOp;
    type Res = ConfigRes;

    fn apply(&mut self, _session: u64, _seq: u64, op: &ConfigOp) -> ConfigRes {
        match op {
            ConfigOp::Join(joining) => {
                let mut groups = self.latest().groups.clone();
                groups.extend(joining.iter().copied().filter(|&g| g != 0));
                groups.sort_unstable();
                groups.dedup();
                self.change(groups);
                ConfigRes::Done
            }
            ConfigOp::Leave(leaving) => {
                let mut groups = self.latest().groups.clone();
                groups.retain(|g| !leaving.contains(g));
                self.change(groups);
                ConfigRes::Done
            }
            ConfigOp::Query(n) => {
                let at = usize::try_from(*n).unwrap_or(usize::MAX);
                let config = self.configs.get(at).unwrap_or_else(|| self.latest());
                ConfigRes::Config(Rc::clone(config))
            }
        }
    }

    fn answers(_res: &ConfigRes) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(m: &mut ConfigMachine, n: u64) -> Rc<Config> {
        match m.apply(1, 1, &ConfigOp::Query(n)) {
            ConfigRes::Config(c) => c,
            other => panic!("a query answered {other:?}"),
        }
    }

    #[test]
    fn joins_and_leaves_make_numbered_balanced_configurations() {
        let mut m = ConfigMachine::new(10);
        m.apply(1, 1, &ConfigOp::Join(vec![1, 2]));
        let c1 = query(&mut m, 1);
        assert_eq!((c1.num, c1.groups.clone()), (1, vec![1, 2]));
        assert_eq!(c1.owners.iter().filter(|&&g| g == 1).count(), 5);
        m.apply(1, 2, &ConfigOp::Join(vec![3]));
        let c2 = query(&mut m, 2);
        let moved = c1.owners.iter().zip(&c2.owners).filter(|(a, b)| a != b);
        assert!(
            moved.clone().all(|(_, &b)| b == 3),
            "a join moves shards only to the newcomer"
        );
        assert_eq!(moved.count(), 3);
        m.apply(1, 3, &ConfigOp::Leave(vec![1]));
        let c3 = query(&mut m, u64::MAX);
        assert_eq!(c3.num, 3);
        assert!(c3.owners.iter().all(|&g| g == 2 || g == 3));
        assert_eq!(query(&mut m, 1), c1, "old configurations stay as they were");
    }

    #[test]
    fn repeated_joins_and_leaves_change_nothing() {
        let mut m = ConfigMachine::new(4);
        m.apply(1, 1, &ConfigOp::Join(vec![1]));
        m.apply(1, 1, &ConfigOp::Join(vec![1]));
        m.apply(1, 2, &ConfigOp::Leave(vec![7]));
        assert_eq!(m.configs().len(), 2);
        m.apply(1, 3, &ConfigOp::Leave(vec![1]));
        assert_eq!(m.latest().owners, vec![0; 4], "no groups: no owners");
    }
}
