//! The built-in protocols. Each is a [`crate::process::Process`] plus a
//! [`crate::process::Protocol`] bundle (workload and checks) in a folder of
//! its own, and reaches the rest of the program through one entry of the
//! [`registry`]; each is also a worked example of implementing them.

pub mod broadcast;
pub mod lincheck;
pub mod raft;
pub mod registry;
pub mod saga;
pub mod store;
pub mod twopc;

pub use registry::{ProtocolDef, Registry, Setup};

/// Checks the engine itself reports, whatever the protocol.
pub const ENGINE_CHECKS: &[&str] = &[
    "engine.max-events",
    "engine.max-pending",
    "engine.max-history",
    "engine.panic",
];
