//! The built-in protocols. Each is a [`crate::process::Process`] plus a
//! [`crate::process::Protocol`] bundle (workload and checks), and each is
//! also a worked example of implementing them.

pub mod broadcast;
pub mod lincheck;
pub mod raft;
pub mod saga;
pub mod store;
pub mod twopc;

/// What a scenario needs to know about a built-in protocol before running it.
#[derive(Clone, Copy, Debug)]
pub struct ProtocolInfo {
    /// The name a scenario's `protocol` field takes.
    pub name: &'static str,
    /// Roles a fault may target (e.g. `"leader"`).
    pub roles: &'static [&'static str],
    /// Checks the protocol reports.
    pub checks: &'static [&'static str],
}

/// Checks the engine itself reports, whatever the protocol.
pub const ENGINE_CHECKS: &[&str] = &[
    "engine.max-events",
    "engine.max-pending",
    "engine.max-history",
    "engine.panic",
];

/// Every built-in protocol.
pub const ALL: &[ProtocolInfo] = &[
    ProtocolInfo {
        name: "broadcast",
        roles: &[],
        checks: broadcast::CHECKS,
    },
    ProtocolInfo {
        name: "quorum",
        roles: &[],
        checks: store::checks::CHECKS,
    },
    ProtocolInfo {
        name: "eventual",
        roles: &[],
        checks: store::checks::CHECKS,
    },
    ProtocolInfo {
        name: "twopc",
        roles: twopc::ROLES,
        checks: twopc::CHECKS,
    },
    ProtocolInfo {
        name: "saga",
        roles: saga::ROLES,
        checks: saga::CHECKS,
    },
    ProtocolInfo {
        name: "raft",
        roles: raft::ROLES,
        checks: raft::CHECKS,
    },
];

/// The built-in protocol called `name`.
pub fn find(name: &str) -> Option<&'static ProtocolInfo> {
    ALL.iter().find(|p| p.name == name)
}
