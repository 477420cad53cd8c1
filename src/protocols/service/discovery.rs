//! Service discovery, Consul-like: with `[service.discovery]` the last
//! server node is a registry. Every replica registers with it each
//! `heartbeat`, and a registration not renewed within `ttl` lapses; each
//! client asks it for the live replicas each `refresh` and balances over
//! those only (over all of them until its first answer). A client cut off
//! from the registry keeps its last list, however stale, and a replica cut
//! off from it drops out of every list although it is up: both are what
//! the scenarios measure (`service_attempts_to_down`).

use super::{Msg, ServiceNode};
use crate::process::{Ctx, NodeId};
use crate::time::{SimDuration, SimTime};
use serde::Deserialize;

/// `[service.discovery]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoveryOptions {
    /// How often a replica renews its registration.
    pub heartbeat: SimDuration,
    /// How long a registration lasts unrenewed.
    pub ttl: SimDuration,
    /// How often a client asks for the live replicas.
    pub refresh: SimDuration,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        DiscoveryOptions {
            heartbeat: SimDuration::from_millis(500),
            ttl: SimDuration::from_secs(2),
            refresh: SimDuration::from_secs(1),
        }
    }
}

impl DiscoveryOptions {
    /// What is wrong with them, if anything.
    pub fn problem(&self) -> Option<&'static str> {
        let zero = SimDuration::ZERO;
        if self.heartbeat == zero || self.ttl == zero || self.refresh == zero {
            return Some(
                "expected discovery.heartbeat, discovery.ttl and discovery.refresh above 0",
            );
        }
        if self.ttl <= self.heartbeat {
            return Some("expected discovery.ttl above discovery.heartbeat, or every registration lapses between renewals");
        }
        None
    }
}

/// The registry node.
#[derive(Debug)]
pub struct Registry {
    ttl: SimDuration,
    /// Until when each replica's registration lasts (the registry's clock).
    expires: Vec<Option<SimTime>>,
}

impl Registry {
    /// A registry of `replicas` replicas, none registered yet (also after
    /// a restart: registrations are soft state, renewed within a heartbeat).
    pub fn new(options: &DiscoveryOptions, replicas: usize) -> Self {
        Registry {
            ttl: options.ttl,
            expires: vec![None; replicas],
        }
    }

    pub(super) fn register(&mut self, ctx: &mut Ctx<'_, ServiceNode>, from: NodeId) {
        if let Some(slot) = self.expires.get_mut(from.index()) {
            *slot = Some(ctx.now() + self.ttl);
        }
    }

    pub(super) fn query(&self, ctx: &mut Ctx<'_, ServiceNode>, from: NodeId) {
        let now = ctx.now();
        let live = self.live(now);
        ctx.send(from, Msg::Members { live });
    }

    /// The replicas registered at `now`.
    pub fn live(&self, now: SimTime) -> Vec<u32> {
        (0..self.expires.len())
            .filter(|&r| self.expires[r].is_some_and(|until| now < until))
            .map(|r| r as u32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_lasts_its_ttl_unless_renewed() {
        let options = DiscoveryOptions::default();
        let mut r = Registry::new(&options, 3);
        let at = |ms: u64| SimTime::ZERO + SimDuration::from_millis(ms);
        r.expires[0] = Some(at(2000));
        r.expires[2] = Some(at(2500));
        assert_eq!(r.live(at(1999)), [0, 2]);
        assert_eq!(r.live(at(2000)), [2], "lapsed at its ttl");
        assert_eq!(r.live(at(2500)), Vec::<u32>::new());
        assert_eq!(options.problem(), None);
        let lapsing = DiscoveryOptions {
            ttl: SimDuration::from_millis(500),
            ..options
        };
        assert!(lapsing.problem().is_some());
    }
}
