//! A load-balancing proxy (`[service.proxy]`, Envoy or HAProxy in front of
//! the replicas): every client sends its attempts to it, and it forwards
//! each to the replica its rotation picks (the `[service]` balancer,
//! outlier ejection, health checks and discovery, which with a proxy are
//! its own and not the clients'), then relays the answer. It sees every
//! attempt in flight, where a client-side balancer sees only its own: the
//! global view least-outstanding needs. It is also one more hop and a
//! single point of failure: crashed, it answers no one.
//!
//! A forwarded attempt is given up when the budget its client propagated
//! runs out (the client stops waiting then too); the proxy tells the
//! client nothing, and counts it a failure of the replica.
//!
//! Invariant: the rotation counts exactly the attempts forwarded and not
//! yet answered or given up.

use super::options::ServiceOptions;
use super::rotation::Rotation;
use super::{CallId, Msg, Note, ServiceNode, Status, Timer};
use crate::process::{Ctx, NodeId, TimerId};
use crate::time::{SimDuration, SimTime};
use serde::Deserialize;
use std::collections::BTreeMap;

type PCtx<'a, 'b> = &'a mut Ctx<'b, ServiceNode>;

/// Options of `[service.proxy]`: its presence puts a proxy in front of
/// the replicas.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyOptions {}

/// An attempt forwarded to a replica.
#[derive(Clone, Copy, Debug)]
struct Forward {
    client: NodeId,
    id: CallId,
    attempt: u32,
    replica: usize,
    sent: SimTime,
    timeout: TimerId,
}

/// The proxy.
#[derive(Debug)]
pub struct Proxy {
    rotation: Rotation,
    /// Forwarded attempts by the proxy's own id.
    forwarded: BTreeMap<CallId, Forward>,
    /// Drawn at each start, in the high bits of the proxy's ids, so a
    /// restarted proxy never takes a late answer to its former self's
    /// forward as its own.
    session: u64,
    next: u64,
}

impl Proxy {
    /// A fresh proxy over `replicas` replicas (at start and after a
    /// restart: what was in flight is forgotten).
    pub fn new(options: &ServiceOptions, replicas: usize) -> Self {
        Proxy {
            rotation: Rotation::new(options, replicas),
            forwarded: BTreeMap::new(),
            session: 0,
            next: 0,
        }
    }

    pub(super) fn start(&mut self, ctx: PCtx) {
        self.session = ctx.rng().below(1 << 31);
        self.rotation.start(ctx);
    }

    /// The rotation (for the registry's and the probes' answers).
    pub(super) fn rotation(&mut self) -> &mut Rotation {
        &mut self.rotation
    }

    /// A client's attempt: forward it to a replica, with the client's
    /// budget.
    pub(super) fn request(
        &mut self,
        ctx: PCtx,
        client: NodeId,
        id: CallId,
        attempt: u32,
        budget: SimDuration,
    ) {
        let now = ctx.now();
        let replica = self.rotation.pick(ctx, now, &[]);
        let fwd = (self.session << 32) | (self.next & 0xffff_ffff);
        self.next += 1;
        let timeout = ctx.set_timer(budget, Timer::Forwarded { id: fwd });
        let forward = Forward {
            client,
            id,
            attempt,
            replica,
            sent: now,
            timeout,
        };
        self.forwarded.insert(fwd, forward);
        ctx.note(Note::Forwarded {
            replica: replica as u32,
        });
        let msg = Msg::Request {
            id: fwd,
            attempt: 0,
            budget,
        };
        ctx.send(NodeId(replica as u32), msg);
    }

    /// A replica's answer: relay it to the client.
    pub(super) fn reply(&mut self, ctx: PCtx, from: NodeId, fwd: CallId, status: Status) {
        let Some(f) = self.forwarded.get(&fwd).copied() else {
            return; // given up already
        };
        if f.replica != from.index() {
            return;
        }
        self.forwarded.remove(&fwd);
        ctx.cancel_timer(f.timeout);
        self.ended(ctx, &f, status != Status::Ok);
        let msg = Msg::Reply {
            id: f.id,
            attempt: f.attempt,
            status,
        };
        ctx.send(f.client, msg);
    }

    /// The forward's budget ran out: give it up.
    pub(super) fn timed_out(&mut self, ctx: PCtx, fwd: CallId) {
        if let Some(f) = self.forwarded.remove(&fwd) {
            self.ended(ctx, &f, true);
        }
    }

    fn ended(&mut self, ctx: PCtx, f: &Forward, failed: bool) {
        let now = ctx.now();
        let latency = now.saturating_since(f.sent);
        self.rotation.ended(ctx, f.replica, failed, latency, now);
    }

    /// Attempts forwarded and not yet answered or given up.
    pub fn in_flight(&self) -> usize {
        self.forwarded.len()
    }
}
