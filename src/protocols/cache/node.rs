//! The three kinds of cache-aside process: the database (durable rows,
//! each key's writes numbered), the cache (TTL, LRU capacity, optional
//! leases) and the client (read-through on a miss, delete after a write).

use super::{CacheOp, CacheRes, Msg, Note, Timer, Version, CACHE, DATABASE};
use crate::process::{Ctx, Disk, DiskKey, NodeId, Process, RequestId, TimerId};
use crate::time::{SimDuration, SimTime};
use serde::Deserialize;
use std::collections::{BTreeMap, VecDeque};

/// Options of the `[cache]` scenario table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheOptions {
    /// How long a cached entry lives.
    pub ttl: SimDuration,
    /// Entries the cache holds; the least recently used goes first.
    pub capacity: usize,
    /// Leases (Facebook's memcache): a fill needs the lease its miss got,
    /// and a delete invalidates it.
    pub leases: bool,
    /// With leases: how long a miss that finds another client filling
    /// waits before asking again.
    pub hot_miss_wait: SimDuration,
    /// With leases: how long a lease lasts unfilled before the next miss
    /// may take one (its holder may have crashed or its fill been lost).
    pub lease_ttl: SimDuration,
    /// With leases: a miss that finds another client filling is held at
    /// the cache and answered with the fill (request coalescing, Go's
    /// singleflight), instead of told to ask again after `hot_miss_wait`.
    pub coalesce: bool,
    /// `cache.db_load` fails a run whose database reads peak above this
    /// rate (per second, over 100 ms windows): a stampede's footprint.
    pub max_db_reads_per_s: Option<f64>,
    /// Keys the workload uses.
    pub keys: u64,
    /// The share of operations that are reads.
    pub read_share: f64,
    /// A client gives an operation up after this long.
    pub give_up: SimDuration,
    /// `cache.staleness` fails a read more stale than this (default: the TTL).
    pub staleness_bound: Option<SimDuration>,
    /// What a write does to the cache after committing.
    pub on_write: OnWrite,
    /// The cache refuses a fill or set older than a version of the key it
    /// has seen (cached, set, or named by a delete).
    pub versioned: bool,
}

/// What a write does to the cache once the database committed it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnWrite {
    /// Delete the key (cache-aside proper).
    #[default]
    Delete,
    /// Set the key to the value written.
    Update,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            ttl: SimDuration::from_secs(1),
            capacity: 1000,
            leases: false,
            hot_miss_wait: SimDuration::from_millis(10),
            lease_ttl: SimDuration::from_millis(200),
            coalesce: false,
            max_db_reads_per_s: None,
            keys: 10,
            read_share: 0.9,
            give_up: SimDuration::from_secs(1),
            staleness_bound: None,
            on_write: OnWrite::Delete,
            versioned: false,
        }
    }
}

impl CacheOptions {
    /// The staleness `cache.staleness` allows.
    pub fn bound(&self) -> SimDuration {
        self.staleness_bound.unwrap_or(self.ttl)
    }

    /// What is wrong with the options, if anything: the key and why.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        let zero = SimDuration::ZERO;
        if [self.ttl, self.give_up, self.hot_miss_wait, self.lease_ttl].contains(&zero) {
            return Some((
                "ttl",
                "expected ttl, give_up, hot_miss_wait and lease_ttl above 0",
            ));
        }
        if self.coalesce && !self.leases {
            return Some((
                "coalesce",
                "expected leases = true with coalesce: the lease says who is filling",
            ));
        }
        if self
            .max_db_reads_per_s
            .is_some_and(|r| r.is_nan() || r < 0.0)
        {
            return Some(("max_db_reads_per_s", "expected a rate of 0 or more"));
        }
        if self.capacity == 0 || self.keys == 0 {
            return Some(("capacity", "expected capacity and keys of at least 1"));
        }
        if !(0.0..=1.0).contains(&self.read_share) {
            return Some(("read_share", "expected read_share between 0 and 1"));
        }
        None
    }
}

/// A database row on disk: value and version.
const ROWS: &str = "rows";

/// The database.
#[derive(Debug, Default)]
pub struct Database {
    rows: BTreeMap<u64, (u64, Version)>,
}

/// A cached entry.
#[derive(Clone, Copy, Debug)]
struct Entry {
    value: u64,
    version: Version,
    expires: SimTime,
    /// When it was last used (the LRU order's key).
    used: u64,
}

/// The cache.
#[derive(Debug)]
pub struct CacheServer {
    ttl: SimDuration,
    capacity: usize,
    leases: bool,
    entries: BTreeMap<u64, Entry>,
    /// Keys by last use, oldest first.
    recency: BTreeMap<u64, u64>,
    tick: u64,
    lease_ttl: SimDuration,
    coalesce: bool,
    /// The outstanding lease of each key being filled.
    lease_of: BTreeMap<u64, u64>,
    /// The next lease id: this incarnation's number in the high bits, so
    /// a lease handed out before a restart never matches one after.
    next_lease: u64,
    /// This incarnation's number (drawn at each start): misses carry it
    /// and fills echo it, so a fill read before a restart is known.
    incarnation: u64,
    /// With `coalesce`: the reads held behind each key's fill, oldest
    /// first.
    parked: BTreeMap<u64, VecDeque<Held>>,
    /// How long a client waits for a read: a read held longer has been
    /// given up, and is not handed a lease.
    give_up: SimDuration,
    /// With `versioned`: the newest version seen of each key.
    newest: Option<BTreeMap<u64, Version>>,
}

/// A read held at the cache behind its key's fill (`coalesce`).
#[derive(Clone, Copy, Debug)]
struct Held {
    client: NodeId,
    op: u64,
    /// When it was held.
    at: SimTime,
}

/// The most reads held behind one key's fill; past it a read is told to
/// ask again, as without coalescing.
pub const HELD_MAX: usize = 10_000;

/// An operation a client is carrying out.
#[derive(Clone, Copy, Debug)]
struct Pending {
    req: RequestId,
    op: CacheOp,
    lease: Option<u64>,
    /// The cache incarnation its miss came from.
    incarnation: u64,
    give_up: TimerId,
}

/// A client.
#[derive(Debug)]
pub struct Client {
    on_write: OnWrite,
    hot_miss_wait: SimDuration,
    give_up: SimDuration,
    session: u64,
    next: u64,
    pending: BTreeMap<u64, Pending>,
}

/// A cache-aside process.
#[derive(Debug)]
pub enum CacheNode {
    /// Node 0.
    Database(Database),
    /// Node 1.
    Cache(CacheServer),
    /// The clients, after the servers.
    Client(Client),
}

impl CacheNode {
    /// A fresh process `id`.
    pub fn new(options: &CacheOptions, id: NodeId) -> Self {
        match id {
            DATABASE => CacheNode::Database(Database::default()),
            CACHE => CacheNode::Cache(CacheServer {
                ttl: options.ttl,
                capacity: options.capacity,
                leases: options.leases,
                entries: BTreeMap::new(),
                recency: BTreeMap::new(),
                tick: 0,
                lease_ttl: options.lease_ttl,
                coalesce: options.coalesce,
                lease_of: BTreeMap::new(),
                next_lease: 1,
                incarnation: 0,
                parked: BTreeMap::new(),
                give_up: options.give_up,
                newest: options.versioned.then(BTreeMap::new),
            }),
            _ => CacheNode::Client(Client {
                on_write: options.on_write,
                hot_miss_wait: options.hot_miss_wait,
                give_up: options.give_up,
                session: 0,
                next: 0,
                pending: BTreeMap::new(),
            }),
        }
    }
}

type NCtx<'a, 'b> = &'a mut Ctx<'b, CacheNode>;

impl Database {
    fn message(&mut self, ctx: NCtx, from: NodeId, msg: Msg) {
        match msg {
            Msg::DbRead { op, key } => {
                ctx.note(Note::DbRead);
                let (value, version) = self.rows.get(&key).copied().unwrap_or((0, 0));
                ctx.send(from, Msg::DbValue { op, value, version });
            }
            Msg::DbWrite { op, key, value } => {
                let version = self.rows.get(&key).map_or(0, |r| r.1) + 1;
                self.rows.insert(key, (value, version));
                ctx.write(DiskKey::new(ROWS, key), (value, version));
                ctx.sync();
                ctx.note(Note::Committed { key, version });
                ctx.send(from, Msg::DbWritten { op, version });
            }
            _ => {}
        }
    }
}

impl CacheServer {
    /// Whether `version` of `key` is older than one seen (versioned only);
    /// remembers it as the newest otherwise.
    fn older(&mut self, key: u64, version: Version) -> bool {
        let Some(newest) = &mut self.newest else {
            return false;
        };
        let seen = newest.entry(key).or_insert(0);
        if version < *seen {
            return true;
        }
        *seen = version;
        false
    }

    /// This incarnation's number.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Starts an incarnation: a fresh number, and lease ids under it.
    fn boot(&mut self, ctx: NCtx) {
        self.incarnation = ctx.rng().below(1 << 31) + 1;
        self.next_lease = (self.incarnation << 32) | 1;
    }

    fn message(&mut self, ctx: NCtx, from: NodeId, msg: Msg) {
        let now = ctx.now();
        match msg {
            Msg::Get { op, key } => match self.lookup(key, now) {
                Some(e) => ctx.send(
                    from,
                    Msg::Hit {
                        op,
                        value: e.value,
                        version: e.version,
                    },
                ),
                None => self.miss(ctx, key, from, op),
            },
            Msg::Fill {
                key,
                value,
                version,
                lease,
                incarnation,
            } => {
                let leased =
                    !self.leases || (lease.is_some() && self.lease_of.get(&key) == lease.as_ref());
                // A versioned cache forgets at a restart the versions it had
                // seen, so it takes no fill read before it.
                let this_life = self.newest.is_none() || incarnation == self.incarnation;
                if !leased || !this_life {
                    ctx.note(Note::FillRefused);
                    return;
                }
                self.lease_of.remove(&key);
                if self.older(key, version) {
                    ctx.note(Note::OlderRefused);
                    return self.hand_over(ctx, key);
                }
                self.insert(key, value, version, now);
                for held in self.parked.remove(&key).unwrap_or_default() {
                    let hit = Msg::Hit {
                        op: held.op,
                        value,
                        version,
                    };
                    ctx.send(held.client, hit);
                }
            }
            Msg::Set {
                key,
                value,
                version,
            } => {
                if self.older(key, version) {
                    return ctx.note(Note::OlderRefused);
                }
                self.insert(key, value, version, now);
            }
            Msg::Delete { key, version } => {
                self.older(key, version);
                self.remove(key);
                if self.lease_of.remove(&key).is_some() {
                    self.hand_over(ctx, key);
                }
            }
            _ => {}
        }
    }

    /// A lease's time is up: if it is still the key's, the key is free.
    fn lease_expired(&mut self, ctx: NCtx, key: u64, lease: u64) {
        if self.lease_of.get(&key) == Some(&lease) {
            self.lease_of.remove(&key);
            self.hand_over(ctx, key);
        }
    }

    /// A miss of `key` by `from`'s operation `op`: the answer, with the
    /// lease to fill it (leases), "ask again" (another client is
    /// filling), or nothing yet (coalescing: held for the fill).
    fn miss(&mut self, ctx: NCtx, key: u64, from: NodeId, op: u64) {
        let incarnation = self.incarnation;
        if !self.leases {
            let miss = Msg::Miss {
                op,
                lease: None,
                wait: false,
                incarnation,
            };
            return ctx.send(from, miss);
        }
        if self.lease_of.contains_key(&key) {
            if self.coalesce && self.hold(key, from, op, ctx.now()) {
                return;
            }
            let wait = Msg::Miss {
                op,
                lease: None,
                wait: true,
                incarnation,
            };
            return ctx.send(from, wait);
        }
        let lease = self.grant(ctx, key);
        let miss = Msg::Miss {
            op,
            lease: Some(lease),
            wait: false,
            incarnation,
        };
        ctx.send(from, miss);
    }

    /// A new lease on `key`, which expires after `lease_ttl`.
    fn grant(&mut self, ctx: NCtx, key: u64) -> u64 {
        let lease = self.next_lease;
        self.next_lease += 1;
        self.lease_of.insert(key, lease);
        ctx.set_timer(self.lease_ttl, Timer::LeaseExpired { key, lease });
        lease
    }

    /// Holds `from`'s read `op` of `key` behind the key's fill, dropping
    /// reads held past their clients' `give_up`; false when already
    /// [`HELD_MAX`] are held (the read is told to ask again instead).
    fn hold(&mut self, key: u64, from: NodeId, op: u64, now: SimTime) -> bool {
        let waiting = self.parked.entry(key).or_default();
        while waiting
            .front()
            .is_some_and(|h| now.saturating_since(h.at) >= self.give_up)
        {
            waiting.pop_front();
        }
        if waiting.len() >= HELD_MAX {
            return false;
        }
        waiting.push_back(Held {
            client: from,
            op,
            at: now,
        });
        true
    }

    /// `key`'s lease ended without a fill that answers the reads held
    /// behind it: the oldest read its client still waits for gets a new
    /// lease to fill it, the rest stay held behind that; reads given up
    /// are dropped.
    fn hand_over(&mut self, ctx: NCtx, key: u64) {
        let now = ctx.now();
        let Some(waiting) = self.parked.get_mut(&key) else {
            return;
        };
        let mut next = None;
        while let Some(h) = waiting.pop_front() {
            if now.saturating_since(h.at) < self.give_up {
                next = Some(h);
                break;
            }
        }
        if waiting.is_empty() {
            self.parked.remove(&key);
        }
        let Some(h) = next else {
            return;
        };
        let lease = self.grant(ctx, key);
        let miss = Msg::Miss {
            op: h.op,
            lease: Some(lease),
            wait: false,
            incarnation: self.incarnation,
        };
        ctx.send(h.client, miss);
    }

    /// The entry for `key`, if cached and not expired; marks it used.
    fn lookup(&mut self, key: u64, now: SimTime) -> Option<Entry> {
        let entry = *self.entries.get(&key)?;
        if now >= entry.expires {
            self.remove(key);
            return None;
        }
        self.touch(key);
        self.entries.get(&key).copied()
    }

    fn insert(&mut self, key: u64, value: u64, version: Version, now: SimTime) {
        self.remove(key);
        while self.entries.len() >= self.capacity {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        self.tick += 1;
        let entry = Entry {
            value,
            version,
            expires: now + self.ttl,
            used: self.tick,
        };
        self.entries.insert(key, entry);
        self.recency.insert(self.tick, key);
        assert_eq!(
            self.entries.len(),
            self.recency.len(),
            "LRU order out of step"
        );
    }

    fn touch(&mut self, key: u64) {
        if let Some(e) = self.entries.get_mut(&key) {
            self.recency.remove(&e.used);
            self.tick += 1;
            e.used = self.tick;
            self.recency.insert(self.tick, key);
        }
    }

    fn remove(&mut self, key: u64) {
        if let Some(e) = self.entries.remove(&key) {
            self.recency.remove(&e.used);
        }
    }
}

impl Client {
    fn request(&mut self, ctx: NCtx, req: RequestId, op: CacheOp) {
        let id = (self.session << 32) | (self.next & 0xffff_ffff);
        self.next += 1;
        let give_up = ctx.set_timer(self.give_up, Timer::GiveUp { op: id });
        self.pending.insert(
            id,
            Pending {
                req,
                op,
                lease: None,
                incarnation: 0,
                give_up,
            },
        );
        match op {
            CacheOp::Read { key } => ctx.send(CACHE, Msg::Get { op: id, key }),
            CacheOp::Write { key, value } => {
                ctx.send(DATABASE, Msg::DbWrite { op: id, key, value })
            }
        }
    }

    fn message(&mut self, ctx: NCtx, msg: Msg) {
        match msg {
            Msg::Hit { op, value, version } => {
                let res = CacheRes::Read {
                    value,
                    version,
                    hit: true,
                };
                self.finish(ctx, op, res);
            }
            Msg::Miss {
                op,
                lease,
                wait,
                incarnation,
            } => {
                let Some(p) = self.pending.get_mut(&op) else {
                    return;
                };
                let CacheOp::Read { key } = p.op else { return };
                if wait {
                    ctx.set_timer(self.hot_miss_wait, Timer::Again { op });
                } else {
                    p.lease = lease;
                    p.incarnation = incarnation;
                    ctx.send(DATABASE, Msg::DbRead { op, key });
                }
            }
            Msg::DbValue { op, value, version } => {
                let Some(p) = self.pending.get(&op).copied() else {
                    return;
                };
                let CacheOp::Read { key } = p.op else { return };
                let fill = Msg::Fill {
                    key,
                    value,
                    version,
                    lease: p.lease,
                    incarnation: p.incarnation,
                };
                ctx.send(CACHE, fill);
                let res = CacheRes::Read {
                    value,
                    version,
                    hit: false,
                };
                self.finish(ctx, op, res);
            }
            Msg::DbWritten { op, version } => {
                let Some(p) = self.pending.get(&op).copied() else {
                    return;
                };
                let CacheOp::Write { key, value } = p.op else {
                    return;
                };
                let msg = match self.on_write {
                    OnWrite::Delete => Msg::Delete { key, version },
                    OnWrite::Update => Msg::Set {
                        key,
                        value,
                        version,
                    },
                };
                ctx.send(CACHE, msg);
                self.finish(ctx, op, CacheRes::Written { version });
            }
            _ => {}
        }
    }

    fn timer(&mut self, ctx: NCtx, timer: Timer) {
        match timer {
            Timer::Again { op } => {
                if let Some(CacheOp::Read { key }) = self.pending.get(&op).map(|p| p.op) {
                    ctx.send(CACHE, Msg::Get { op, key });
                }
            }
            Timer::GiveUp { op } => {
                if let Some(p) = self.pending.remove(&op) {
                    ctx.reply_fail(p.req, CacheRes::TimedOut);
                }
            }
            Timer::LeaseExpired { .. } => {}
        }
    }

    fn finish(&mut self, ctx: NCtx, op: u64, res: CacheRes) {
        if let Some(p) = self.pending.remove(&op) {
            ctx.cancel_timer(p.give_up);
            ctx.reply_ok(p.req, res);
        }
    }
}

impl Process for CacheNode {
    type Msg = Msg;
    type Timer = Timer;
    type Op = CacheOp;
    type Res = CacheRes;
    type Stored = (u64, Version);
    type Note = Note;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<(u64, Version)>) {
        match self {
            CacheNode::Database(db) => {
                db.rows = disk.scan(ROWS).map(|(k, &row)| (k, row)).collect();
            }
            CacheNode::Client(c) => c.session = ctx.rng().below(1 << 31),
            CacheNode::Cache(c) => c.boot(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            CacheNode::Database(db) => db.message(ctx, from, msg),
            CacheNode::Cache(c) => c.message(ctx, from, msg),
            CacheNode::Client(c) => c.message(ctx, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, timer: Timer) {
        match (self, timer) {
            (CacheNode::Cache(c), Timer::LeaseExpired { key, lease }) => {
                c.lease_expired(ctx, key, lease)
            }
            (CacheNode::Client(c), timer) => c.timer(ctx, timer),
            _ => {}
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: CacheOp) {
        match self {
            CacheNode::Client(c) => c.request(ctx, req, op),
            _ => ctx.reply_fail(req, CacheRes::TimedOut),
        }
    }

    fn role(&self) -> Option<&'static str> {
        Some(match self {
            CacheNode::Database(_) => "database",
            CacheNode::Cache(_) => "cache",
            CacheNode::Client(_) => "client",
        })
    }
}
