//! Cache-aside in front of a database (the survey's Redis pattern): node 0
//! is the database, node 1 the cache (TTL, LRU capacity), and the clients
//! are processes. A read asks the cache; on a miss it reads the database
//! and fills the cache with what it read. A write goes to the database,
//! then deletes the key from the cache.
//!
//! The known race (Nishtala et al., "Scaling Memcache at Facebook", NSDI
//! 2013): a reader misses and reads version 1, a writer commits version 2
//! and deletes the key, then the reader's fill puts version 1 back, and
//! every read returns it until its TTL runs out. With `leases` the cache
//! hands a lease to the first miss of a key, a delete invalidates it, and
//! a fill without a valid lease is refused; a miss while another client
//! holds the lease waits and asks again, which also coalesces the misses
//! of a stampede on a hot key; with `coalesce` the cache holds such a
//! miss and answers it with the fill instead. A lease left unfilled
//! lapses after `lease_ttl`. The cache keeps nothing on disk: each start
//! is a new incarnation, whose number lease ids and misses carry, so a
//! fill read before a restart is refused.
//!
//! With `on_write = "update"` a write sets the new value in the cache
//! instead, which has its own race: two writers' sets arrive in the other
//! order and the older value stays. `versioned` is the fix for both: the
//! cache remembers the newest version it has seen of each key (deletes
//! carry the version they follow) and refuses anything older.
//!
//! The check `cache.staleness` measures every read against the database's
//! truth, and `cache.db_load` the database's read rate (`checks`).

pub mod checks;
mod def;
pub mod node;

pub use checks::{CacheChecks, CHECKS};
pub use def::Def;
pub use node::{CacheNode, CacheOptions};

use crate::process::{NodeId, OpFields, Protocol};
use crate::rng::SimRng;
use serde::Serialize;

/// The database node.
pub const DATABASE: NodeId = NodeId(0);
/// The cache node.
pub const CACHE: NodeId = NodeId(1);
/// Server nodes: the database and the cache.
pub const SERVERS: usize = 2;

/// A version of a key: the database numbers each key's writes 1, 2, ...
/// (0: never written).
pub type Version = u64;

/// A client operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CacheOp {
    /// Read `key`.
    Read {
        /// The key.
        key: u64,
    },
    /// Write `value` to `key`.
    Write {
        /// The key.
        key: u64,
        /// The value (unique per write).
        value: u64,
    },
}

/// The result of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CacheRes {
    /// A read's value and version (value 0, version 0: never written).
    Read {
        /// The value.
        value: u64,
        /// Its version.
        version: Version,
        /// Whether the cache answered it.
        hit: bool,
    },
    /// A write committed as `version`.
    Written {
        /// The version.
        version: Version,
    },
    /// It timed out in the client.
    TimedOut,
}

/// Messages.
#[derive(Clone, Debug, Serialize)]
pub enum Msg {
    /// Client → cache.
    Get {
        /// The operation, so the answer finds it.
        op: u64,
        /// The key.
        key: u64,
    },
    /// Cache → client: a hit.
    Hit {
        /// The operation.
        op: u64,
        /// The cached value.
        value: u64,
        /// Its version.
        version: Version,
    },
    /// Cache → client: a miss, with the lease to fill it (`Some`), no
    /// lease needed (`None` without leases), or "another client is
    /// filling it: ask again shortly" (`wait`).
    Miss {
        /// The operation.
        op: u64,
        /// The lease to fill with.
        lease: Option<u64>,
        /// Whether to wait and ask again.
        wait: bool,
        /// The cache's incarnation, for the fill to echo.
        incarnation: u64,
    },
    /// Client → cache: fill `key` with what the database said.
    Fill {
        /// The key.
        key: u64,
        /// The value read.
        value: u64,
        /// Its version.
        version: Version,
        /// The lease the miss handed out.
        lease: Option<u64>,
        /// The cache incarnation the miss came from.
        incarnation: u64,
    },
    /// Client → cache: forget `key` (after a write that committed `version`).
    Delete {
        /// The key.
        key: u64,
        /// The version the write committed.
        version: Version,
    },
    /// Client → cache: set `key` to what a write committed (`on_write =
    /// "update"`).
    Set {
        /// The key.
        key: u64,
        /// The value written.
        value: u64,
        /// The version it committed as.
        version: Version,
    },
    /// Client → database.
    DbRead {
        /// The operation.
        op: u64,
        /// The key.
        key: u64,
    },
    /// Client → database.
    DbWrite {
        /// The operation.
        op: u64,
        /// The key.
        key: u64,
        /// The value.
        value: u64,
    },
    /// Database → client: a read's answer.
    DbValue {
        /// The operation.
        op: u64,
        /// The value.
        value: u64,
        /// Its version.
        version: Version,
    },
    /// Database → client: a write committed.
    DbWritten {
        /// The operation.
        op: u64,
        /// The version it got.
        version: Version,
    },
}

/// Timers.
#[derive(Clone, Debug, Serialize)]
pub enum Timer {
    /// Cache: a lease's time is up.
    LeaseExpired {
        /// The key.
        key: u64,
        /// The lease.
        lease: u64,
    },
    /// Ask the cache again after a "wait" miss.
    Again {
        /// The operation.
        op: u64,
    },
    /// Give the operation up.
    GiveUp {
        /// The operation.
        op: u64,
    },
}

/// What nodes tell the checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// Database: `key` got `version`.
    Committed {
        /// The key.
        key: u64,
        /// The version.
        version: Version,
    },
    /// Database: it served a read.
    DbRead,
    /// Cache: a fill was refused (no valid lease, or read before the
    /// cache's restart).
    FillRefused,
    /// Cache: a fill or set was refused as older than a version it has seen.
    OlderRefused,
}

crate::trace_hash_by_serde!(CacheOp, CacheRes, Msg, Timer);

/// The cache-aside bundle.
pub struct Cache {
    options: CacheOptions,
    clients: usize,
    next_value: u64,
}

impl Cache {
    /// Cache-aside with `clients` client processes.
    pub fn new(options: CacheOptions, clients: usize) -> Self {
        Cache {
            options,
            clients,
            next_value: 1,
        }
    }
}

impl Protocol for Cache {
    type Node = CacheNode;
    type Invariants = CacheChecks;

    fn server_count(&self) -> usize {
        SERVERS
    }

    fn process_count(&self) -> usize {
        SERVERS + self.clients
    }

    fn new_process(&self, id: NodeId) -> CacheNode {
        CacheNode::new(&self.options, id)
    }

    fn next_op(&mut self, client: usize, rng: &mut SimRng) -> (NodeId, CacheOp) {
        let key = rng.below(self.options.keys);
        let op = if rng.chance(self.options.read_share) {
            CacheOp::Read { key }
        } else {
            self.next_value += 1;
            CacheOp::Write {
                key,
                value: self.next_value,
            }
        };
        (NodeId((SERVERS + client) as u32), op)
    }

    fn invariants(&self) -> CacheChecks {
        CacheChecks::new(&self.options)
    }

    fn op_fields(&self, op: &CacheOp) -> OpFields {
        let (f, key, value) = match *op {
            CacheOp::Read { key } => ("read", key, serde_json::Value::Null),
            CacheOp::Write { key, value } => ("write", key, value.into()),
        };
        OpFields {
            f: f.into(),
            key: Some(key.to_string()),
            value,
        }
    }

    fn result_value(&self, op: &CacheOp, res: &CacheRes) -> serde_json::Value {
        match (op, res) {
            (_, CacheRes::Read { value, .. }) => (*value).into(),
            (CacheOp::Write { value, .. }, _) => (*value).into(),
            _ => serde_json::Value::Null,
        }
    }
}

#[cfg(test)]
mod tests;
