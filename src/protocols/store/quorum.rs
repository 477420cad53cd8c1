//! The quorum store's replica, which is also the coordinator of its
//! clients' requests. Reads: query every replica, take the newest of the
//! first R answers, write it back to W replicas (so a later read cannot see
//! an older value), answer. Writes: learn the newest version from R
//! replicas, store a newer one at W, answer. A request that cannot gather
//! its quorum before its deadline is refused if it is a read (a read has no
//! effect, so refusing it is honest); a write is left unanswered (its client
//! times out: "unknown"), because its new version may already sit on some
//! replica. Requests are coordinated at most once, even when the network
//! duplicates them and across restarts (accepted ids are synced to disk).
//!
//! A write's version is unique: one above the newest its query saw and
//! above every version this coordinator issued for the key before (synced
//! before the version leaves the node). Without the second rule two writes
//! coordinated by one replica got the same version when the first had not
//! reached the second's read quorum, replicas kept whichever arrived first,
//! and reads flipped between the two values (`cap-quorum-storm`, seed 838).

use super::{key_index, Msg, Op, Record, Role, Stamp, StoreNode, Timer, DEFAULT_DEADLINE};
use crate::process::{Ctx, Disk, DiskKey, NodeId};
use crate::time::SimDuration;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// Options of the `[quorum]` scenario section.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuorumOptions {
    /// Read quorum (0: a majority).
    pub r: usize,
    /// Write quorum (0: a majority).
    pub w: usize,
    /// Write the value a read returns back to W replicas first (needed for
    /// linearizable reads).
    pub read_repair: bool,
    /// How long a request may take to gather its quorum.
    pub deadline: SimDuration,
}

impl Default for QuorumOptions {
    fn default() -> Self {
        QuorumOptions {
            r: 0,
            w: 0,
            read_repair: true,
            deadline: DEFAULT_DEADLINE,
        }
    }
}

/// The disk namespace of accepted request ids.
const SEEN: &str = "seen";
/// The disk namespace of the highest version counter issued per key.
const ISSUED: &str = "issued";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Querying: nothing has been written yet, so refusing is honest.
    Query,
    /// Storing a version: it may already be on some replica.
    Store,
}

struct Pending {
    client: NodeId,
    id: u64,
    op: Op,
    phase: Phase,
    /// Distinct replicas that answered this phase: a duplicated reply must
    /// not count twice towards a quorum.
    replied: BTreeSet<NodeId>,
    newest: (Stamp, String),
}

/// A quorum replica.
pub struct QuorumReplica {
    options: QuorumOptions,
    data: BTreeMap<String, Record>,
    /// Client request ids accepted (durable: see `begin`).
    seen: BTreeSet<u64>,
    /// The highest version counter this replica issued per key (durable).
    issued: BTreeMap<String, u64>,
    pending: BTreeMap<u64, Pending>,
    next_rid: u64,
}

impl QuorumReplica {
    /// A replica with no data.
    pub fn new(options: QuorumOptions) -> Self {
        QuorumReplica {
            options,
            data: BTreeMap::new(),
            seen: BTreeSet::new(),
            issued: BTreeMap::new(),
            pending: BTreeMap::new(),
            next_rid: 0,
        }
    }

    /// Every key's current record here.
    pub fn records(&self) -> &BTreeMap<String, Record> {
        &self.data
    }

    fn quorum(configured: usize, n: usize) -> usize {
        if configured == 0 {
            n / 2 + 1
        } else {
            configured.min(n)
        }
    }

    fn begin(&mut self, ctx: &mut Ctx<'_, StoreNode>, client: NodeId, id: u64, op: Op) {
        // At most once per request, across restarts: the network may
        // duplicate a request, and a write coordinated twice could take
        // effect twice (the second time after a later write).
        if !self.seen.insert(id) {
            return;
        }
        ctx.write(DiskKey::new(SEEN, id), ((0, 0), String::new()));
        ctx.sync();
        let rid = self.next_rid;
        self.next_rid += 1;
        let key = op.key().to_string();
        self.pending.insert(
            rid,
            Pending {
                client,
                id,
                op,
                phase: Phase::Query,
                replied: BTreeSet::new(),
                newest: ((0, 0), String::new()),
            },
        );
        for to in ctx.servers().to_vec() {
            ctx.send(
                to,
                Msg::Query {
                    rid,
                    key: key.clone(),
                },
            );
        }
        ctx.set_timer(self.options.deadline, Timer::Deadline(rid));
    }

    fn on_query_reply(
        &mut self,
        ctx: &mut Ctx<'_, StoreNode>,
        from: NodeId,
        rid: u64,
        stamp: Stamp,
        value: String,
    ) {
        let r = Self::quorum(self.options.r, ctx.servers().len());
        let me = ctx.me().0;
        let Some(p) = self
            .pending
            .get_mut(&rid)
            .filter(|p| p.phase == Phase::Query)
        else {
            return;
        };
        if !p.replied.insert(from) {
            return;
        }
        if stamp > p.newest.0 {
            p.newest = (stamp, value);
        }
        if p.replied.len() < r {
            return;
        }
        let (stamp, value) = match &p.op {
            Op::Get(_) if !self.options.read_repair => {
                let (client, id, value) = (p.client, p.id, p.newest.1.clone());
                self.pending.remove(&rid);
                ctx.send(
                    client,
                    Msg::Response {
                        id,
                        ok: true,
                        value,
                    },
                );
                return;
            }
            Op::Get(_) => p.newest.clone(),
            Op::Put(key, v) => {
                let issued = self.issued.get(key).copied().unwrap_or(0);
                let counter = p.newest.0 .0.max(issued) + 1;
                self.issued.insert(key.clone(), counter);
                ctx.write(
                    DiskKey::new(ISSUED, key_index(key)),
                    ((counter, me), String::new()),
                );
                ctx.sync();
                ((counter, me), v.clone())
            }
        };
        p.phase = Phase::Store;
        p.replied.clear();
        p.newest = (stamp, value.clone());
        let key = p.op.key().to_string();
        for to in ctx.servers().to_vec() {
            ctx.send(
                to,
                Msg::Store {
                    rid,
                    key: key.clone(),
                    stamp,
                    value: value.clone(),
                },
            );
        }
    }

    fn on_store_ack(&mut self, ctx: &mut Ctx<'_, StoreNode>, from: NodeId, rid: u64) {
        let w = Self::quorum(self.options.w, ctx.servers().len());
        let Some(p) = self
            .pending
            .get_mut(&rid)
            .filter(|p| p.phase == Phase::Store)
        else {
            return;
        };
        if p.replied.insert(from) && p.replied.len() >= w {
            let p = self
                .pending
                .remove(&rid)
                .unwrap_or_else(|| unreachable!("just found"));
            ctx.send(
                p.client,
                Msg::Response {
                    id: p.id,
                    ok: true,
                    value: p.newest.1,
                },
            );
        }
    }

    fn on_store(&mut self, ctx: &mut Ctx<'_, StoreNode>, key: String, stamp: Stamp, value: String) {
        let newer = self.data.get(&key).is_none_or(|(s, _)| stamp > *s);
        if newer {
            ctx.write(DiskKey::new("kv", key_index(&key)), (stamp, value.clone()));
            ctx.sync();
            ctx.note(super::Note::Stored {
                key: key.clone(),
                stamp,
                value: value.clone(),
            });
            self.data.insert(key, (stamp, value));
        }
    }
}

impl Role for QuorumReplica {
    fn start(&mut self, ctx: &mut Ctx<'_, StoreNode>, disk: &Disk<Record>) {
        self.data = disk
            .scan("kv")
            .map(|(i, record)| (format!("k{i}"), record.clone()))
            .collect();
        self.seen = disk.scan(SEEN).map(|(id, _)| id).collect();
        self.issued = disk
            .scan(ISSUED)
            .map(|(i, ((counter, _), _))| (format!("k{i}"), *counter))
            .collect();
        // A fresh range of request ids per incarnation, so a reply meant for
        // a request of the crashed incarnation never counts for a new one.
        self.next_rid = ctx.rng().next_u64() >> 1;
    }

    fn message(&mut self, ctx: &mut Ctx<'_, StoreNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Request { id, op } => self.begin(ctx, from, id, op),
            Msg::Query { rid, key } => {
                let (stamp, value) = self
                    .data
                    .get(&key)
                    .cloned()
                    .unwrap_or(((0, 0), String::new()));
                ctx.send(from, Msg::QueryReply { rid, stamp, value });
            }
            Msg::QueryReply { rid, stamp, value } => {
                self.on_query_reply(ctx, from, rid, stamp, value)
            }
            Msg::Store {
                rid,
                key,
                stamp,
                value,
            } => {
                self.on_store(ctx, key, stamp, value);
                ctx.send(from, Msg::StoreAck { rid });
            }
            Msg::StoreAck { rid } => self.on_store_ack(ctx, from, rid),
            Msg::Response { .. } | Msg::Sync { .. } => {}
        }
    }

    fn timer(&mut self, ctx: &mut Ctx<'_, StoreNode>, timer: Timer) {
        let Timer::Deadline(rid) = timer else { return };
        let Some(p) = self.pending.remove(&rid) else {
            return;
        };
        // Only a read is refused: it has no effect, so "did not happen" is
        // true. A write may have reached some replica (or be coordinated
        // again from a duplicate), so it gets no answer: its outcome is
        // unknown to the client, which is the truth.
        if matches!(p.op, Op::Get(_)) {
            ctx.send(
                p.client,
                Msg::Response {
                    id: p.id,
                    ok: false,
                    value: String::new(),
                },
            );
        }
    }
}
