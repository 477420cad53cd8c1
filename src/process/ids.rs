//! Identifiers a process sees: nodes, timers and client requests.

use crate::trace::{TraceHash, TraceHasher};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A simulated process (server node or client), by index from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The index of this node in per-node vectors.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Its name in a run with `servers` servers: `n0`, `n1`, ... for
    /// servers, then `c0`, `c1`, ... for the workload clients that are
    /// processes of their own (client `c` is process `servers + c`). Fault
    /// descriptions, charts and traces all name processes this way.
    pub fn name(self, servers: usize) -> String {
        match self.index().checked_sub(servers) {
            Some(c) => format!("c{c}"),
            None => format!("n{}", self.0),
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A timer set through [`crate::process::Ctx::set_timer`]; unique within a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TimerId(pub u64);

/// A client request handed to [`crate::process::Process::on_request`];
/// answered with [`crate::process::Ctx::reply_ok`] or `reply_fail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RequestId(pub u64);

macro_rules! id_trace_hash {
    ($($t:ty),+) => {$(
        impl TraceHash for $t {
            #[inline]
            fn trace_hash(&self, h: &mut TraceHasher) {
                self.0.trace_hash(h);
            }
        }
    )+};
}
id_trace_hash!(NodeId, TimerId, RequestId);
