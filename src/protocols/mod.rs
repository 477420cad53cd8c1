//! The built-in protocols. Each is a [`crate::process::Process`] plus a
//! [`crate::process::Protocol`] bundle (workload and checks) in a folder of
//! its own, and reaches the rest of the program through one entry of the
//! [`registry`]; each is also a worked example of implementing them.

pub mod broadcast;
pub mod cache;
pub mod lincheck;
pub mod log;
pub mod paxos;
pub mod queue;
pub mod raft;
pub mod registry;
pub mod report_section;
pub mod saga;
pub mod service;
pub mod shardkv;
pub mod store;
pub mod twopc;
pub mod txncheck;

pub use registry::{ProtocolDef, Registry, Setup};
pub use report_section::{ReportRow, ReportSection, SeriesChart};

use crate::process::CheckInfo;

/// Checks the engine itself reports, whatever the protocol: its bounds,
/// a panic inside the run (a broken assertion: a bug), and work out of
/// proportion after the faults were repaired (a livelock: `sim::work`).
pub const ENGINE_CHECKS: &[CheckInfo] = &[
    CheckInfo::bound("engine.max-events"),
    CheckInfo::bound("engine.max-pending"),
    CheckInfo::bound("engine.max-history"),
    CheckInfo::always("engine.panic"),
    CheckInfo::eventually("engine.progress"),
];

/// The engine's check for protocols that go quiet
/// ([`ProtocolDef::quiescent`]): messages still sent at the very end.
pub const QUIESCENCE_CHECK: CheckInfo = CheckInfo::eventually("engine.quiescence");

/// The engine's checks of a protocol that goes quiet (`quiescent`) or not.
pub fn engine_checks(quiescent: bool) -> impl Iterator<Item = &'static CheckInfo> {
    ENGINE_CHECKS
        .iter()
        .chain(quiescent.then_some(&QUIESCENCE_CHECK))
}
