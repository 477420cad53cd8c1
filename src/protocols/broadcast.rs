//! Reliable broadcast by anti-entropy gossip: every node must eventually
//! deliver every value any node was given, across partitions once healed
//! and across crashes once restarted.
//!
//! A client gives a value to one node, which stores it (synced to disk
//! before it acknowledges) and then, every gossip interval, sends each peer
//! the values that peer has not acknowledged yet. A peer stores what it
//! receives and acknowledges it. Because every value is retransmitted until
//! acknowledged and acknowledged values are durable, loss, duplication,
//! partitions and crashes only delay delivery.
//!
//! Two options weaken it on purpose, so scenarios can show the checks
//! catching real bugs: `persist = false` keeps values in memory only (a crash
//! loses acknowledged values), and `retransmit = false` gossips each value to
//! each peer once (loss loses it for good).
//!
//! Checks: `broadcast.integrity` (only values some client broadcast are
//! delivered), `broadcast.no-duplicates` (a node delivers a value at most
//! once per incarnation), and `broadcast.delivery` (after the liveness
//! phase every acknowledged value is at every node).

use crate::history::Outcome;
use crate::process::{
    CheckInfo, Ctx, Disk, DiskKey, EndState, Invariants, Lifecycle, NodeId, OpFields, Process,
    Protocol, RequestId, TimerId, Violation,
};
use crate::rng::SimRng;
use crate::stats::quantile;
use crate::time::{SimDuration, SimTime};
use crate::trace::{TraceHash, TraceHasher};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Options of the `[broadcast]` scenario section.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BroadcastOptions {
    /// How often a node gossips to its peers.
    pub gossip_interval: SimDuration,
    /// At most this many values per gossip message.
    pub batch_max: usize,
    /// Sync values to disk before acknowledging them (false: a crash loses them).
    pub persist: bool,
    /// Resend values until acknowledged (false: send each value once).
    pub retransmit: bool,
}

impl Default for BroadcastOptions {
    fn default() -> Self {
        BroadcastOptions {
            gossip_interval: SimDuration::from_millis(100),
            batch_max: 64,
            persist: true,
            retransmit: true,
        }
    }
}

/// Messages between broadcast nodes. They serialize for a real network
/// (`examples/udp`); the trace hash is [`TraceHash`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// Values the sender knows and the receiver has not acknowledged.
    Gossip(Vec<u64>),
    /// Values the sender has stored.
    Ack(Vec<u64>),
}

impl TraceHash for Msg {
    fn trace_hash(&self, h: &mut TraceHasher) {
        let (variant, values) = match self {
            Msg::Gossip(values) => (0, values),
            Msg::Ack(values) => (1, values),
        };
        h.word(variant);
        values.trace_hash(h);
    }
}

/// The one timer: time to gossip.
#[derive(Clone, Debug)]
pub struct GossipTick;

impl TraceHash for GossipTick {
    fn trace_hash(&self, _h: &mut TraceHasher) {}
}

/// Observations for the checks.
#[derive(Clone, Debug)]
pub enum Note {
    /// A client gave this node the value.
    Accepted(u64),
    /// This node delivered the value (first time in this incarnation).
    Delivered(u64),
}

/// A broadcast node.
pub struct BroadcastNode {
    options: BroadcastOptions,
    /// Every value this node has delivered.
    known: BTreeSet<u64>,
    /// Per server: known values it has not acknowledged (without
    /// retransmission: not yet sent). Invariant: a subset of `known`.
    pending: Vec<BTreeSet<u64>>,
}

const VALUE: &str = "value";

impl BroadcastNode {
    /// A fresh node among `servers` nodes.
    pub fn new(options: BroadcastOptions, servers: usize) -> Self {
        BroadcastNode {
            options,
            known: BTreeSet::new(),
            pending: vec![BTreeSet::new(); servers],
        }
    }

    /// Every value this node has delivered.
    pub fn delivered(&self) -> &BTreeSet<u64> {
        &self.known
    }

    /// Stores a new value and queues it for every peer but `source`.
    fn learn(&mut self, ctx: &mut Ctx<'_, Self>, value: u64, source: Option<NodeId>) {
        if !self.known.insert(value) {
            return;
        }
        for peer in ctx.peers() {
            if Some(peer) != source {
                self.pending[peer.index()].insert(value);
            }
        }
        ctx.write(DiskKey::new(VALUE, value), ());
        if self.options.persist {
            ctx.sync();
        }
        ctx.note(Note::Delivered(value));
    }

    fn arm(&self, ctx: &mut Ctx<'_, Self>) {
        let interval = self.options.gossip_interval.as_nanos();
        let jitter = ctx.rng().between(0, interval / 2);
        ctx.set_timer(
            SimDuration::from_nanos(interval - interval / 4 + jitter),
            GossipTick,
        );
    }
}

impl Process for BroadcastNode {
    type Msg = Msg;
    type Timer = GossipTick;
    type Op = u64;
    type Res = u64;
    type Stored = ();
    type Note = Note;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<()>) {
        self.known = disk.scan(VALUE).map(|(v, _)| v).collect();
        for peer in ctx.peers() {
            self.pending[peer.index()] = self.known.clone();
        }
        self.arm(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Gossip(values) => {
                for &v in &values {
                    self.learn(ctx, v, Some(from));
                }
                ctx.send(from, Msg::Ack(values));
            }
            Msg::Ack(values) => {
                let pending = &mut self.pending[from.index()];
                for v in values {
                    pending.remove(&v);
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, _timer: GossipTick) {
        let peers: Vec<NodeId> = ctx.peers().collect();
        for peer in peers {
            let pending = &mut self.pending[peer.index()];
            let batch: Vec<u64> = pending
                .iter()
                .take(self.options.batch_max)
                .copied()
                .collect();
            if batch.is_empty() {
                continue;
            }
            if !self.options.retransmit {
                for v in &batch {
                    pending.remove(v);
                }
            }
            ctx.send(peer, Msg::Gossip(batch));
        }
        self.arm(ctx);
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, value: u64) {
        ctx.note(Note::Accepted(value));
        self.learn(ctx, value, None);
        ctx.reply_ok(req, value);
    }
}

/// The broadcast protocol bundle: nodes, a workload of fresh values given to
/// random nodes, and the checks.
pub struct Broadcast {
    options: BroadcastOptions,
    servers: usize,
    next_value: u64,
}

impl Broadcast {
    /// Broadcast among `servers` nodes.
    pub fn new(options: BroadcastOptions, servers: usize) -> Self {
        Broadcast {
            options,
            servers,
            next_value: 0,
        }
    }
}

impl Protocol for Broadcast {
    type Node = BroadcastNode;
    type Invariants = BroadcastChecks;

    fn server_count(&self) -> usize {
        self.servers
    }

    fn new_process(&self, _id: NodeId) -> BroadcastNode {
        BroadcastNode::new(self.options.clone(), self.servers)
    }

    fn next_op(&mut self, _client: usize, rng: &mut SimRng) -> (NodeId, u64) {
        let value = self.next_value;
        self.next_value += 1;
        (NodeId(rng.below(self.servers as u64) as u32), value)
    }

    fn invariants(&self) -> BroadcastChecks {
        BroadcastChecks {
            servers: self.servers,
            ..BroadcastChecks::default()
        }
    }

    fn op_fields(&self, op: &u64) -> OpFields {
        OpFields {
            f: "broadcast".into(),
            key: None,
            value: json!(op),
        }
    }

    fn result_value(&self, _op: &u64, res: &u64) -> Value {
        json!(res)
    }
}

/// The checks of the broadcast protocol.
#[derive(Default)]
pub struct BroadcastChecks {
    servers: usize,
    accepted_at: BTreeMap<u64, SimTime>,
    delivered_by: BTreeMap<NodeId, BTreeSet<u64>>,
    copies: BTreeMap<u64, usize>,
    everywhere_after_ns: Vec<u64>,
}

/// Check names.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo::always("broadcast.integrity"),
    CheckInfo::always("broadcast.no-duplicates"),
    CheckInfo::eventually("broadcast.delivery"),
];

impl Invariants<BroadcastNode> for BroadcastChecks {
    fn names(&self) -> &'static [CheckInfo] {
        CHECKS
    }

    fn on_note(&mut self, at: SimTime, node: NodeId, note: &Note) -> Result<(), Violation> {
        match *note {
            Note::Accepted(v) => {
                self.accepted_at.entry(v).or_insert(at);
                Ok(())
            }
            Note::Delivered(v) => self.on_delivered(at, node, v),
        }
    }

    fn on_lifecycle(&mut self, _at: SimTime, node: NodeId, event: Lifecycle) {
        if event == Lifecycle::Crashed {
            self.delivered_by.remove(&node);
        }
    }

    fn at_end(&mut self, end: &EndState<'_, BroadcastNode>) -> Vec<Violation> {
        let acknowledged: Vec<(u64, SimTime)> = end
            .history
            .ops
            .iter()
            .filter(|o| matches!(o.outcome, Outcome::Ok(_)))
            .map(|o| (o.op, o.invoked))
            .collect();
        let mut missing: Vec<String> = Vec::new();
        for (i, node) in end.nodes.iter().take(end.servers).enumerate() {
            let lost: Vec<u64> = acknowledged
                .iter()
                .map(|(v, _)| *v)
                .filter(|v| !node.is_some_and(|n| n.known.contains(v)))
                .collect();
            if !lost.is_empty() {
                let shown: Vec<String> = lost.iter().take(5).map(|v| v.to_string()).collect();
                let more = if lost.len() > 5 {
                    format!(" and {} more", lost.len() - 5)
                } else {
                    String::new()
                };
                missing.push(format!(
                    "n{i} lacks {} ({}{more})",
                    lost.len(),
                    shown.join(", ")
                ));
            }
        }
        if missing.is_empty() {
            return Vec::new();
        }
        let message = format!(
            "{} acknowledged values; after the liveness phase {}",
            acknowledged.len(),
            missing.join("; ")
        );
        vec![Violation::new("broadcast.delivery", end.time, message)]
    }

    fn metrics(&self) -> BTreeMap<String, Value> {
        let mut spread = self.everywhere_after_ns.clone();
        BTreeMap::from([
            ("values_accepted".to_string(), json!(self.accepted_at.len())),
            ("values_everywhere".to_string(), json!(spread.len())),
            (
                "dissemination_ns_p50".to_string(),
                json!(quantile(&mut spread, 0.5)),
            ),
            (
                "dissemination_ns_p99".to_string(),
                json!(quantile(&mut spread, 0.99)),
            ),
        ])
    }
}

impl BroadcastChecks {
    fn on_delivered(&mut self, at: SimTime, node: NodeId, v: u64) -> Result<(), Violation> {
        let Some(&accepted) = self.accepted_at.get(&v) else {
            return Err(Violation::new(
                "broadcast.integrity",
                at,
                format!("{node} delivered value {v}, which no client broadcast"),
            ));
        };
        if !self.delivered_by.entry(node).or_default().insert(v) {
            return Err(Violation::new(
                "broadcast.no-duplicates",
                at,
                format!("{node} delivered value {v} twice without a crash in between"),
            ));
        }
        let copies = self.copies.entry(v).or_insert(0);
        *copies += 1;
        if *copies == self.servers {
            self.everywhere_after_ns
                .push(at.saturating_since(accepted).as_nanos());
        }
        Ok(())
    }
}

/// The `broadcast` protocol's registry entry: options from `[broadcast]`.
pub struct Def;

impl crate::protocols::registry::ProtocolDef for Def {
    type Options = BroadcastOptions;
    type Protocol = Broadcast;

    fn name(&self) -> &'static str {
        "broadcast"
    }

    fn about(&self) -> &'static str {
        "reliable broadcast by anti-entropy gossip (the worked example)"
    }

    fn checks(&self) -> &'static [crate::process::CheckInfo] {
        CHECKS
    }

    /// With every fault repaired and no operation left, nothing is sent.
    fn quiescent(&self) -> bool {
        true
    }

    fn options(
        &self,
        input: &crate::scenario::OptionsInput<'_>,
    ) -> Result<BroadcastOptions, crate::scenario::ScenarioError> {
        let options: BroadcastOptions = input.table("broadcast")?;
        if options.gossip_interval == SimDuration::ZERO || options.batch_max == 0 {
            return Err(input.error(
                "broadcast",
                None,
                "expected gossip_interval above 0 and batch_max of at least 1",
            ));
        }
        Ok(options)
    }

    fn build(
        &self,
        options: &BroadcastOptions,
        setup: &crate::protocols::registry::Setup,
    ) -> Broadcast {
        Broadcast::new(options.clone(), setup.nodes)
    }
}
