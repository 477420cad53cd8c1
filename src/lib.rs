//! faultline: a deterministic simulator for distributed systems.
pub mod check;
