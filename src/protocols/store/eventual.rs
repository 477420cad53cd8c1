//! The eventually consistent store's replica: it answers every request at
//! once from its own copy (writes stamped with its own clock reading, so a
//! skewed clock matters), and every `sync_interval` sends its whole state to
//! its peers, who keep the newer stamp of each key (last writer wins). After
//! a partition heals, anti-entropy makes every replica converge.

use super::{key_index, Msg, Note, Op, Record, Role, StoreNode, Timer};
use crate::process::{Ctx, Disk, DiskKey, NodeId};
use crate::time::SimDuration;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Options of the `[eventual]` scenario section.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventualOptions {
    /// How often a replica sends its state to its peers.
    pub sync_interval: SimDuration,
}

impl Default for EventualOptions {
    fn default() -> Self {
        EventualOptions {
            sync_interval: SimDuration::from_millis(100),
        }
    }
}

/// An eventual replica.
pub struct EventualReplica {
    options: EventualOptions,
    data: BTreeMap<String, Record>,
}

impl EventualReplica {
    /// A replica with no data.
    pub fn new(options: EventualOptions) -> Self {
        EventualReplica {
            options,
            data: BTreeMap::new(),
        }
    }

    /// The value of `key` here ("" if none).
    pub fn value(&self, key: &str) -> &str {
        self.data.get(key).map_or("", |(_, v)| v.as_str())
    }

    /// Every key's current record here.
    pub fn records(&self) -> &BTreeMap<String, Record> {
        &self.data
    }

    fn merge(&mut self, ctx: &mut Ctx<'_, StoreNode>, key: String, record: Record) {
        if self.data.get(&key).is_some_and(|(s, _)| *s >= record.0) {
            return;
        }
        ctx.write(DiskKey::new("kv", key_index(&key)), record.clone());
        ctx.sync();
        ctx.note(Note::Stored {
            key: key.clone(),
            stamp: record.0,
            value: record.1.clone(),
        });
        self.data.insert(key, record);
    }
}

impl Role for EventualReplica {
    fn start(&mut self, ctx: &mut Ctx<'_, StoreNode>, disk: &Disk<Record>) {
        self.data = disk
            .scan("kv")
            .map(|(i, record)| (format!("k{i}"), record.clone()))
            .collect();
        ctx.set_timer(self.options.sync_interval, Timer::AntiEntropy);
    }

    fn message(&mut self, ctx: &mut Ctx<'_, StoreNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Request {
                id,
                op: Op::Get(key),
            } => {
                let value = self.value(&key).to_string();
                ctx.send(
                    from,
                    Msg::Response {
                        id,
                        ok: true,
                        value,
                    },
                );
            }
            Msg::Request {
                id,
                op: Op::Put(key, value),
            } => {
                let stamp = (ctx.now().as_nanos(), ctx.me().0);
                self.merge(ctx, key, (stamp, value.clone()));
                ctx.send(
                    from,
                    Msg::Response {
                        id,
                        ok: true,
                        value,
                    },
                );
            }
            Msg::Sync { entries } => {
                for (key, stamp, value) in entries {
                    self.merge(ctx, key, (stamp, value));
                }
            }
            _ => {}
        }
    }

    fn timer(&mut self, ctx: &mut Ctx<'_, StoreNode>, _timer: Timer) {
        if !self.data.is_empty() {
            let entries: Vec<(String, super::Stamp, String)> = self
                .data
                .iter()
                .map(|(k, (s, v))| (k.clone(), *s, v.clone()))
                .collect();
            ctx.broadcast(Msg::Sync { entries });
        }
        ctx.set_timer(self.options.sync_interval, Timer::AntiEntropy);
    }
}
