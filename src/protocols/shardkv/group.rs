//! A replica group's state machine: the shards the group owns in its
//! current configuration, their data, and the client sessions, changed
//! only through the group's Raft log.
//!
//! A group moves through configurations one at a time, in order, and only
//! once every migration of the current one is over (no shard `Pulling` or
//! `HandingOff`). On moving to configuration `n`:
//! * a shard it keeps goes on being served;
//! * a shard it gains is served at once if nobody owned it before, and
//!   otherwise waits (`Pulling`) until the previous owner's data, frozen
//!   when that owner moved to `n`, is installed together with its session
//!   table;
//! * a shard it loses is frozen (`HandingOff`): no longer served, its data
//!   kept until the new owner says it installed it, then dropped.
//!
//! Invariants: a client command is applied only to a shard in `Serving`;
//! a command of a session applies at most once (a retry gets the cached
//! result, an older one `Stale`), and the session table travels with the
//! shards, so the new owner recognizes a retry of a command the old owner
//! applied; every configuration change, install and drop is idempotent
//! (it names the configuration it belongs to and is ignored elsewhere).

use super::config::Config;
use crate::placement::assign::GroupId;
use crate::protocols::raft::kv::{apply_once, execute, KvOp, KvRes, Session, Text};
use crate::protocols::raft::StateMachine;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A shard's data.
pub type ShardData = BTreeMap<Text, Text>;

/// A session table: each client's last applied command and its result.
pub type Sessions = BTreeMap<u64, Session>;

/// The shard a key belongs to, of `shards` (FNV-1a of the key's bytes).
pub fn shard_of(key: &str, shards: usize) -> usize {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % shards.max(1) as u64) as usize
}

/// Where one shard stands in a group's current configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShardState {
    /// Not the group's.
    Absent,
    /// The group's, and served.
    Serving,
    /// The group's, waiting for the data of its previous owner.
    Pulling {
        /// The previous owner.
        from: GroupId,
    },
    /// No longer the group's: frozen, kept until the new owner has it.
    HandingOff {
        /// The new owner.
        to: GroupId,
    },
}

/// A command to a replica group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupOp {
    /// A client's operation.
    Client(KvOp),
    /// Move to configuration `config.num` (the next one).
    Reconfigure(Rc<Config>),
    /// The previous owner's data and sessions for a shard it handed off
    /// in configuration `num`.
    Install {
        /// The configuration.
        num: u64,
        /// The shard.
        shard: u32,
        /// Its data, frozen when the previous owner moved to `num`.
        data: Rc<ShardData>,
        /// The previous owner's session table.
        sessions: Rc<Sessions>,
    },
    /// The new owner has the shard handed off in configuration `num`:
    /// drop it.
    Drop {
        /// The configuration.
        num: u64,
        /// The shard.
        shard: u32,
    },
}

/// A replica group's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupRes {
    /// A client operation's result.
    Kv(KvRes),
    /// The group does not serve the key's shard now: ask the
    /// configuration service and try its owner.
    WrongGroup,
    /// A configuration change, install or drop (answered to nobody).
    Internal,
}

crate::trace_hash_by_serde!(GroupOp, GroupRes);

/// What applying the log did that the checks hear of, taken out by the
/// server after each event ([`GroupMachine::take_observed`]). Not part of
/// the replicated state: a copy (a snapshot) starts with none.
#[derive(Debug, Default)]
pub struct Observed(RefCell<Vec<Applied>>);

impl Clone for Observed {
    fn clone(&self) -> Self {
        Observed::default()
    }
}

impl PartialEq for Observed {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for Observed {}

/// One thing the log's application did, for the checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A client command on `shard` was applied in configuration `num`.
    Served {
        /// The shard.
        shard: u32,
        /// The group's configuration.
        num: u64,
    },
    /// The group moved to configuration `num`.
    Reconfigured {
        /// The configuration.
        num: u64,
    },
    /// The group installed `shard`'s data in configuration `num`.
    Installed {
        /// The shard.
        shard: u32,
        /// The configuration.
        num: u64,
    },
    /// The group dropped `shard`'s data in configuration `num`.
    Dropped {
        /// The shard.
        shard: u32,
        /// The configuration.
        num: u64,
    },
}

/// A replica group's replicated state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMachine {
    gid: GroupId,
    /// The configuration the group is in.
    config: Rc<Config>,
    shards: Vec<ShardState>,
    data: Vec<ShardData>,
    sessions: Sessions,
    #[serde(skip)]
    observed: Observed,
}

impl GroupMachine {
    /// Group `gid` of a store with `shards` shards, in configuration 0.
    pub fn new(gid: GroupId, shards: usize) -> Self {
        GroupMachine {
            gid,
            config: Rc::new(Config::initial(shards)),
            shards: vec![ShardState::Absent; shards],
            data: vec![ShardData::new(); shards],
            sessions: Sessions::new(),
            observed: Observed::default(),
        }
    }

    /// The configuration the group is in.
    pub fn config(&self) -> &Rc<Config> {
        &self.config
    }

    /// Each shard's state.
    pub fn shards(&self) -> &[ShardState] {
        &self.shards
    }

    /// A shard's data.
    pub fn data(&self, shard: usize) -> &ShardData {
        &self.data[shard]
    }

    /// The session table.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Whether a migration of the current configuration is still going on.
    pub fn migrating(&self) -> bool {
        self.shards.iter().any(|s| {
            matches!(
                s,
                ShardState::Pulling { .. } | ShardState::HandingOff { .. }
            )
        })
    }

    /// What applying the log did since the last call (the server takes
    /// it out after each event, through its read-only view of the state).
    pub fn take_observed(&self) -> Vec<Applied> {
        self.observed.0.take()
    }

    fn client(&mut self, session: u64, seq: u64, op: &KvOp) -> GroupRes {
        let shard = shard_of(op.key(), self.shards.len());
        if self.shards[shard] != ShardState::Serving {
            return GroupRes::WrongGroup;
        }
        let (data, observed, num) = (&mut self.data[shard], &self.observed, self.config.num);
        let result = apply_once(&mut self.sessions, session, seq, || {
            let shard = shard as u32;
            observed.0.borrow_mut().push(Applied::Served { shard, num });
            execute(data, op)
        });
        GroupRes::Kv(result)
    }

    fn reconfigure(&mut self, next: &Rc<Config>) {
        if next.num != self.config.num + 1 || self.migrating() {
            return; // a duplicate, or early: configurations go one at a time
        }
        assert_eq!(
            next.owners.len(),
            self.shards.len(),
            "a configuration of another size"
        );
        let me = self.gid;
        for (shard, state) in self.shards.iter_mut().enumerate() {
            let (was, now) = (self.config.owners[shard], next.owners[shard]);
            *state = match (was == me, now == me) {
                (false, true) if was == 0 => ShardState::Serving,
                (false, true) => ShardState::Pulling { from: was },
                (true, false) => ShardState::HandingOff { to: now },
                (_, _) => *state,
            };
        }
        self.config = Rc::clone(next);
        self.observed
            .0
            .borrow_mut()
            .push(Applied::Reconfigured { num: next.num });
    }

    fn install(&mut self, num: u64, shard: u32, data: &ShardData, sessions: &Sessions) {
        let at = shard as usize;
        let pulling = matches!(self.shards.get(at), Some(ShardState::Pulling { .. }));
        if num != self.config.num || !pulling {
            return;
        }
        self.data[at] = data.clone();
        for (client, theirs) in sessions {
            let newer = self
                .sessions
                .get(client)
                .is_none_or(|ours| theirs.seq > ours.seq);
            if newer {
                self.sessions.insert(*client, theirs.clone());
            }
        }
        self.shards[at] = ShardState::Serving;
        self.observed
            .0
            .borrow_mut()
            .push(Applied::Installed { shard, num });
    }

    fn drop_shard(&mut self, num: u64, shard: u32) {
        let at = shard as usize;
        let handing_off = matches!(self.shards.get(at), Some(ShardState::HandingOff { .. }));
        if num != self.config.num || !handing_off {
            return;
        }
        self.data[at].clear();
        self.shards[at] = ShardState::Absent;
        self.observed
            .0
            .borrow_mut()
            .push(Applied::Dropped { shard, num });
    }
}

impl StateMachine for GroupMachine {
    type Op = GroupOp;
    type Res = GroupRes;

    fn apply(&mut self, session: u64, seq: u64, op: &GroupOp) -> GroupRes {
        match op {
            GroupOp::Client(op) => return self.client(session, seq, op),
            GroupOp::Reconfigure(next) => self.reconfigure(next),
            GroupOp::Install {
                num,
                shard,
                data,
                sessions,
            } => self.install(*num, *shard, data, sessions),
            GroupOp::Drop { num, shard } => self.drop_shard(*num, *shard),
        }
        GroupRes::Internal
    }

    fn answers(res: &GroupRes) -> bool {
        !matches!(res, GroupRes::Internal | GroupRes::Kv(KvRes::Stale))
    }
}
