//! Raft's options. Scenario files write them in one flat `[raft]` table
//! ([`RaftTable`], the file format); the code keeps apart what they
//! configure: the server ([`ServerOptions`], all a Raft server needs, on
//! the simulator or a real network), the workload and its clients
//! ([`WorkloadOptions`]) and the liveness check.

use crate::time::SimDuration;
use serde::Deserialize;

/// What a Raft server is configured with.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerOptions {
    /// The leader's heartbeat interval.
    pub heartbeat: SimDuration,
    /// The shortest election timeout.
    pub election_min: SimDuration,
    /// The longest election timeout (each is drawn in `election_min..=election_max`).
    pub election_max: SimDuration,
    /// PreVote (thesis §9.6): probe before starting an election.
    pub pre_vote: bool,
    /// CheckQuorum (thesis §9.6): a leader that does not hear a majority
    /// for an election timeout steps down, and followers that hear a leader
    /// ignore vote requests.
    pub check_quorum: bool,
    /// A new leader appends a no-op entry of its term at once (§8), so it
    /// commits (and learns the commit index) without waiting for a client.
    /// Off, the §5.4.2 commit rule is all that keeps Figure 8 safe.
    pub leader_noop: bool,
    /// Take a snapshot every this many applied entries (0: never).
    pub snapshot_every: u64,
    /// At most this many entries per AppendEntries.
    pub batch_max: usize,
    /// Send every new entry to every follower at once, without waiting for
    /// the follower to acknowledge the previous AppendEntries. Off (the
    /// default), a leader keeps one AppendEntries in flight per follower
    /// and sends what accumulated when it is acknowledged: fewer, larger
    /// messages, and no rejections from AppendEntries overtaking each other
    /// on a reordering network; a commit may wait up to one extra round trip.
    pub pipeline: bool,
}

/// The client workload: what it asks and how its client processes retry.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadOptions {
    /// Number of keys the workload uses.
    pub keys: usize,
    /// A client resends a command after this long without an answer.
    pub client_retry: SimDuration,
    /// Issue only gets and puts, half each (the CAP experiment's workload,
    /// shared with the quorum and eventual stores) instead of the default
    /// mix of get, put, append and cas.
    pub get_put_only: bool,
}

/// Raft's options, as its registry entry reads them from `[raft]`.
#[derive(Clone, Debug, PartialEq)]
pub struct RaftOptions {
    /// The servers'.
    pub server: ServerOptions,
    /// The workload's and its clients'.
    pub workload: WorkloadOptions,
    /// The liveness check: after the liveness phase begins, a stable
    /// leader must be elected within this many (longest) election timeouts.
    pub liveness_election_timeouts: u64,
}

impl Default for RaftOptions {
    fn default() -> Self {
        RaftTable::default().into()
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        RaftOptions::default().server
    }
}

impl RaftOptions {
    /// How soon after the liveness phase begins a stable leader must be
    /// elected: `liveness_election_timeouts` longest election timeouts.
    pub fn liveness_bound(&self) -> SimDuration {
        SimDuration::from_nanos(
            self.server.election_max.as_nanos() * self.liveness_election_timeouts,
        )
    }

    /// What is wrong with these options, if anything.
    pub fn problem(&self) -> Option<String> {
        let zero = SimDuration::ZERO;
        let s = &self.server;
        if s.heartbeat == zero || s.election_min == zero || self.workload.client_retry == zero {
            return Some("expected heartbeat, election_min and client_retry above 0".into());
        }
        if s.election_max < s.election_min {
            return Some("expected election_max >= election_min".into());
        }
        if s.heartbeat >= s.election_min {
            return Some(
                "expected heartbeat below election_min, or followers time out between heartbeats"
                    .into(),
            );
        }
        if s.batch_max == 0 || self.workload.keys == 0 || self.liveness_election_timeouts == 0 {
            return Some(
                "expected batch_max, keys and liveness_election_timeouts of at least 1".into(),
            );
        }
        None
    }
}

/// The `[raft]` table as scenario files write it: every key at one level,
/// each one documented in `docs/scenarios.md#raft`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RaftTable {
    heartbeat: SimDuration,
    election_min: SimDuration,
    election_max: SimDuration,
    pre_vote: bool,
    check_quorum: bool,
    leader_noop: bool,
    snapshot_every: u64,
    batch_max: usize,
    pipeline: bool,
    keys: usize,
    client_retry: SimDuration,
    liveness_election_timeouts: u64,
    /// No longer accepted: the end-of-run linearizability check's budget
    /// counts work, not wall time (`[checks] linearizability_steps`). Kept
    /// so that an old scenario gets an error that says so.
    pub(super) linearizability_budget_ms: Option<u64>,
    get_put_only: bool,
}

impl Default for RaftTable {
    fn default() -> Self {
        RaftTable {
            heartbeat: SimDuration::from_millis(50),
            election_min: SimDuration::from_millis(150),
            election_max: SimDuration::from_millis(300),
            pre_vote: true,
            check_quorum: true,
            leader_noop: true,
            snapshot_every: 1000,
            batch_max: 64,
            pipeline: false,
            keys: 3,
            client_retry: SimDuration::from_millis(200),
            liveness_election_timeouts: 10,
            linearizability_budget_ms: None,
            get_put_only: false,
        }
    }
}

impl From<RaftTable> for RaftOptions {
    fn from(t: RaftTable) -> Self {
        RaftOptions {
            server: ServerOptions {
                heartbeat: t.heartbeat,
                election_min: t.election_min,
                election_max: t.election_max,
                pre_vote: t.pre_vote,
                check_quorum: t.check_quorum,
                leader_noop: t.leader_noop,
                snapshot_every: t.snapshot_every,
                batch_max: t.batch_max,
                pipeline: t.pipeline,
            },
            workload: WorkloadOptions {
                keys: t.keys,
                client_retry: t.client_retry,
                get_put_only: t.get_put_only,
            },
            liveness_election_timeouts: t.liveness_election_timeouts,
        }
    }
}
