//! Property-testing your own protocol in `cargo test`: proptest strategies
//! for seeds, networks and fault schedules, and [`check_case`], which runs a
//! [`Protocol`] under one generated case and fails with everything needed
//! to replay it.
//!
//! Fault schedules are generated as *episodes* (a fault and its repair), so
//! proptest's shrinking removes whole episodes and shortens them, and the
//! case it finally reports is a small schedule, printed in scenario-file
//! form together with the seed.
//!
//! ```no_run
//! use faultline::testing::{check_case, cases};
//! use faultline::sim::SimConfig;
//! use faultline::protocols::broadcast::{Broadcast, BroadcastOptions};
//! use proptest::prelude::*;
//!
//! proptest! {
//!     #[test]
//!     fn broadcast_survives_any_schedule(case in cases(5, faultline::time::SimDuration::from_secs(10))) {
//!         let base = SimConfig::default();
//!         check_case(|| Broadcast::new(BroadcastOptions::default(), 5), &base, &case)?;
//!     }
//! }
//! ```

use crate::net::{Latency, LinkConfig, NetworkConfig};
use crate::process::{NodeId, Protocol};
use crate::sim::{FaultAction, NodeRef, RunResult, Shape, SimConfig, Simulation, TimedFault};
use crate::time::{SimDuration, SimTime};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::fmt::Write;

/// One generated test case: a seed, a network and a fault schedule.
#[derive(Clone, Debug)]
pub struct Case {
    /// The run's seed.
    pub seed: u64,
    /// The network (default link only).
    pub network: NetworkConfig,
    /// The fault schedule, sorted by time.
    pub faults: Vec<TimedFault>,
}

/// Any seed.
pub fn seeds() -> impl Strategy<Value = u64> {
    any::<u64>()
}

/// Networks with uniform latency within 0–50 ms, loss up to `loss_max` and
/// duplication up to `duplicate_max`.
pub fn networks(loss_max: f64, duplicate_max: f64) -> impl Strategy<Value = NetworkConfig> {
    (0u64..20, 1u64..30, 0.0..=loss_max, 0.0..=duplicate_max).prop_map(
        |(min_ms, spread_ms, loss, duplicate)| NetworkConfig {
            default: LinkConfig {
                latency: Latency::Uniform {
                    min: SimDuration::from_millis(min_ms),
                    max: SimDuration::from_millis(min_ms + spread_ms),
                },
                loss,
                duplicate,
            },
            links: Vec::new(),
            slow: None,
        },
    )
}

/// One fault episode on `servers` nodes within `duration`: a crash and
/// restart, a pause and resume, a partition and heal, or a clock fault and
/// its repair.
fn episode(
    servers: usize,
    duration: SimDuration,
    index: usize,
) -> impl Strategy<Value = [TimedFault; 2]> {
    let end_ns = duration.as_nanos().max(2);
    let node = 0..servers as u32;
    let times = (0..end_ns - 1).prop_flat_map(move |start| (Just(start), start + 1..end_ns));
    let kind = prop_oneof![
        node.clone()
            .prop_map(|n| (FaultAction::Crash(id(n)), FaultAction::Restart(Some(id(n))))),
        node.clone()
            .prop_map(|n| (FaultAction::Pause(id(n)), FaultAction::Resume(Some(id(n))))),
        (node.clone(), any::<bool>()).prop_map(move |(n, one_way)| {
            let name = format!("p{index}");
            let start = FaultAction::Partition {
                name: name.clone(),
                shape: Shape::Isolate(id(n)),
                one_way,
            };
            (start, FaultAction::Heal(Some(name)))
        }),
        Just(()).prop_map(move |_| {
            let name = format!("p{index}");
            let start = FaultAction::Partition {
                name: name.clone(),
                shape: Shape::Split(None),
                one_way: false,
            };
            (start, FaultAction::Heal(Some(name)))
        }),
        (node, -500_000_000i64..500_000_000, -100_000i64..100_000).prop_map(
            |(n, offset_ns, drift_ppm)| {
                (
                    FaultAction::Clock {
                        node: id(n),
                        offset_ns,
                        drift_ppm,
                    },
                    FaultAction::Clock {
                        node: id(n),
                        offset_ns: 0,
                        drift_ppm: 0,
                    },
                )
            }
        ),
    ];
    (times, kind).prop_map(|((a, b), (start, end))| {
        [
            TimedFault {
                at: SimTime::from_nanos(a),
                action: start,
            },
            TimedFault {
                at: SimTime::from_nanos(b),
                action: end,
            },
        ]
    })
}

fn id(n: u32) -> NodeRef {
    NodeRef::Id(NodeId(n))
}

/// Fault schedules of up to `max_episodes` episodes on `servers` nodes within `duration`.
pub fn fault_schedules(
    servers: usize,
    duration: SimDuration,
    max_episodes: usize,
) -> impl Strategy<Value = Vec<TimedFault>> {
    let episodes: Vec<_> = (0..max_episodes)
        .map(|i| episode(servers, duration, i))
        .collect();
    (0..=max_episodes, episodes).prop_map(|(n, eps)| {
        let mut faults: Vec<TimedFault> = eps.into_iter().take(n).flatten().collect();
        faults.sort_by_key(|f| f.at);
        faults
    })
}

/// Whole cases: any seed, a network with up to 20% loss and 10%
/// duplication, and up to 6 fault episodes.
pub fn cases(servers: usize, duration: SimDuration) -> impl Strategy<Value = Case> {
    (
        seeds(),
        networks(0.2, 0.1),
        fault_schedules(servers, duration, 6),
    )
        .prop_map(|(seed, network, faults)| Case {
            seed,
            network,
            faults,
        })
}

/// The engine configuration of `case` on top of `base` (duration, settle,
/// workload and checks come from `base`).
pub fn config_of(base: &SimConfig, case: &Case) -> SimConfig {
    SimConfig {
        seed: case.seed,
        network: case.network.clone(),
        faults: case.faults.clone(),
        ..base.clone()
    }
}

/// Runs the protocol `make` builds under `case`; fails the proptest case
/// with the check, the seed and the schedule when any check is violated.
pub fn check_case<P: Protocol>(
    make: impl Fn() -> P,
    base: &SimConfig,
    case: &Case,
) -> Result<RunResult, TestCaseError> {
    let result = Simulation::new(make(), config_of(base, case)).run();
    match result.violations.first() {
        None => Ok(result),
        Some(v) => Err(TestCaseError::fail(format!(
            "{} violated at {}: {}\n{}",
            v.check,
            v.time,
            v.message,
            describe(case)
        ))),
    }
}

/// The seed and schedule of `case`, in the form of a scenario file's sections.
pub fn describe(case: &Case) -> String {
    let mut text = format!("replay: seed = {}\n", case.seed);
    let link = &case.network.default;
    let _ = writeln!(
        text,
        "[network] latency {}, loss = {:.4}, duplicate = {:.4}",
        link.latency, link.loss, link.duplicate
    );
    for f in &case.faults {
        let _ = writeln!(text, "  at {:>12}  {}", f.at.to_string(), f.action);
    }
    text
}
