//! The stores' registry entries: `quorum` (options from `[quorum]`) and
//! `eventual` (from `[eventual]`), both with their workload from the shared
//! `[store]` table. Their clients are processes after the replicas.

use super::eventual::EventualOptions;
use super::quorum::QuorumOptions;
use super::{checks, Kind, Store, WorkloadOptions};
use crate::protocols::registry::{CapRole, ProtocolDef, Setup};
use crate::scenario::{OptionsInput, ScenarioError};
use crate::time::SimDuration;

/// The `[store]` workload, checked.
fn workload(input: &OptionsInput<'_>) -> Result<WorkloadOptions, ScenarioError> {
    let workload: WorkloadOptions = input.table("store")?;
    if workload.keys == 0 || !(0.0..=1.0).contains(&workload.read_ratio) {
        return Err(input.error(
            "store",
            None,
            "expected keys of at least 1 and a read_ratio between 0 and 1",
        ));
    }
    Ok(workload)
}

/// The CAP experiment's workload: half gets and half puts on two keys.
fn two_keys() -> WorkloadOptions {
    WorkloadOptions {
        keys: 2,
        read_ratio: 0.5,
    }
}

/// The quorum-replicated store (CP).
pub struct QuorumDef;

impl ProtocolDef for QuorumDef {
    type Options = (QuorumOptions, WorkloadOptions);
    type Protocol = Store;

    fn name(&self) -> &'static str {
        "quorum"
    }

    fn about(&self) -> &'static str {
        "a quorum-replicated key-value store (R and W of N, ABD-style reads with write-back): CP"
    }

    fn checks(&self) -> &'static [crate::process::CheckInfo] {
        checks::CHECKS
    }

    /// With every fault repaired and no operation left, nothing is sent.
    fn quiescent(&self) -> bool {
        true
    }

    fn extra_tables(&self) -> &'static [&'static str] {
        &["store"]
    }

    fn client_processes(&self) -> bool {
        true
    }

    fn options(&self, input: &OptionsInput<'_>) -> Result<Self::Options, ScenarioError> {
        let workload = workload(input)?;
        let options: QuorumOptions = input.table("quorum")?;
        let nodes = input.nodes();
        if options.r > nodes || options.w > nodes || options.deadline == SimDuration::ZERO {
            return Err(input.error("quorum", None, format!("expected r and w between 0 (a majority) and {nodes} (the node count), and a deadline above 0")));
        }
        Ok((options, workload))
    }

    fn build(&self, (options, workload): &Self::Options, setup: &Setup) -> Store {
        let kind = Kind::Quorum(options.clone());
        Store::new(kind, setup.nodes, setup.clients, workload.clone())
    }

    fn cap_store(&self) -> Option<CapRole<Self::Options>> {
        let quorum = QuorumOptions {
            r: 3,
            w: 3,
            ..QuorumOptions::default()
        };
        Some(CapRole {
            label: "quorum (CP)",
            options: (quorum, two_keys()),
            linearizability_metric: "lincheck",
        })
    }
}

/// The eventually consistent store (AP).
pub struct EventualDef;

impl ProtocolDef for EventualDef {
    type Options = (EventualOptions, WorkloadOptions);
    type Protocol = Store;

    fn name(&self) -> &'static str {
        "eventual"
    }

    fn about(&self) -> &'static str {
        "an eventually consistent key-value store (any replica answers, last writer wins, anti-entropy): AP"
    }

    fn checks(&self) -> &'static [crate::process::CheckInfo] {
        checks::CHECKS
    }

    fn extra_tables(&self) -> &'static [&'static str] {
        &["store"]
    }

    fn client_processes(&self) -> bool {
        true
    }

    fn options(&self, input: &OptionsInput<'_>) -> Result<Self::Options, ScenarioError> {
        let workload = workload(input)?;
        let options: EventualOptions = input.table("eventual")?;
        if options.sync_interval == SimDuration::ZERO {
            return Err(input.error("eventual", None, "expected a sync_interval above 0"));
        }
        Ok((options, workload))
    }

    fn build(&self, (options, workload): &Self::Options, setup: &Setup) -> Store {
        let kind = Kind::Eventual(options.clone());
        Store::new(kind, setup.nodes, setup.clients, workload.clone())
    }

    fn cap_store(&self) -> Option<CapRole<Self::Options>> {
        Some(CapRole {
            label: "eventual (AP)",
            options: (EventualOptions::default(), two_keys()),
            linearizability_metric: "lincheck",
        })
    }
}
