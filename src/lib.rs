//! faultline: a deterministic simulator for distributed systems.
//!
//! One seed and one scenario fix a whole run: every message delay, dropped
//! packet, crash and client request. The layers, top to bottom (data flows
//! down, never back up):
//!
//! * [`scenario`]: TOML scenario files → a validated [`scenario::Scenario`];
//! * [`explore`]: many seeds in parallel, sharding and merging of sweeps;
//! * [`run`]: runs a scenario's protocol for one seed and summarises it;
//! * [`sim`]: the engine (virtual clock, event queue, faults, workload, trace hash);
//! * [`net`]: the virtual network (latency, loss, duplication, partitions);
//! * [`process`]: the [`process::Process`] trait protocols implement;
//! * [`protocols`]: the built-in protocols, each with its checks;
//! * [`cap`]: the CAP experiment (quorum vs eventual stores under partitions);
//! * [`placement`]: which node owns a key (hash mod N, consistent, rendezvous,
//!   jump hashing) and the placement experiment;
//! * [`consensus`]: Raft vs Multi-Paxos (latency, messages, recovery after
//!   a leader crash, availability per partition shape);
//! * [`resilience`]: the resilience experiment (retry, balancing and jitter
//!   policies of the `service` protocol);
//! * [`check`]: linearizability checking of histories;
//! * `testing` (feature `testing`): proptest strategies for property-testing
//!   your own protocol;
//! * [`time`], [`rng`], [`trace`], [`history`]: the foundations.
pub mod cap;
pub mod check;
pub mod cli;
pub mod clip;
pub mod consensus;
pub mod durability;
pub mod experiment;
pub mod explore;
pub mod history;
pub mod net;
pub mod placement;
pub mod process;
pub mod protocols;
pub mod report;
pub mod resilience;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod sim;
pub mod stats;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod trace;
