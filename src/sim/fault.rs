//! Faults as the engine applies them: a timed schedule of actions, with
//! nodes named by id, by role (resolved when the fault fires) or at random
//! (drawn from the nemesis stream when it fires).

use crate::process::NodeId;
use crate::time::SimTime;
use std::fmt;

/// A node a fault targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeRef {
    /// This process.
    Id(NodeId),
    /// The lowest-id live server whose process reports this role when the fault fires.
    Role(String),
    /// A server drawn from the nemesis stream when the fault fires, among
    /// those the action applies to (e.g. a crashed one for `restart`).
    Any,
    /// A server the protocol tags so when the fault fires (`Protocol::tagged`:
    /// "behind"), drawn from the nemesis stream if several are.
    Tag(String),
    /// The node `of` names when the fault fires, remembered as `name` so a
    /// later fault can act on the same node ([`NodeRef::HitBy`]): "crash
    /// the leader, and restart that node 2 s later".
    Named {
        /// The name later faults refer to.
        name: String,
        /// The node, resolved when the fault fires.
        of: Box<NodeRef>,
    },
    /// The node the fault with [`NodeRef::Named`] `name` acted on (none if
    /// that fault has not fired or found no node).
    HitBy(String),
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeRef::Id(id) => write!(f, "{id}"),
            NodeRef::Role(role) => write!(f, "the {role}"),
            NodeRef::Any => write!(f, "any node"),
            NodeRef::Tag(tag) => write!(f, "a node tagged {tag}"),
            NodeRef::Named { name, of } => write!(f, "{of} (as {name})"),
            NodeRef::HitBy(name) => write!(f, "the node {name} hit"),
        }
    }
}

/// The shape of a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One node against the rest.
    Isolate(NodeRef),
    /// A minority against the majority; the minority drawn at random when
    /// not given.
    Split(Option<Vec<NodeId>>),
    /// Two halves joined only through one node.
    Bridge(NodeRef),
    /// Each server reaches only its ring neighbours.
    Ring,
    /// Explicit groups; nodes in no group keep every link.
    Groups(Vec<Vec<NodeId>>),
    /// `node` and other servers drawn when the fault fires, `size` servers
    /// in all, against the rest: "the leader plus one follower", "a
    /// minority containing the leader".
    Around {
        /// The node the group is built around.
        node: NodeRef,
        /// How many servers its side holds, itself included.
        size: GroupSize,
    },
}

/// How many servers a side of a partition holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupSize {
    /// Exactly this many (at least 1, fewer than all servers).
    Count(usize),
    /// The largest minority: `(servers - 1) / 2`.
    Minority,
    /// The smallest majority: `servers / 2 + 1`.
    Majority,
}

impl GroupSize {
    /// The number of servers, of `servers`, this size means.
    pub fn of(self, servers: usize) -> usize {
        match self {
            GroupSize::Count(n) => n,
            GroupSize::Minority => (servers.saturating_sub(1) / 2).max(1),
            GroupSize::Majority => servers / 2 + 1,
        }
    }
}

impl fmt::Display for GroupSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupSize::Count(n) => write!(f, "{n}"),
            GroupSize::Minority => write!(f, "a minority"),
            GroupSize::Majority => write!(f, "a majority"),
        }
    }
}

/// One fault action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Start partition `name`.
    Partition {
        /// The name a `Heal` can refer to.
        name: String,
        /// Where to cut.
        shape: Shape,
        /// Cut only messages from the first group (the isolated node, the
        /// minority) to the others.
        one_way: bool,
    },
    /// Heal the named partition, or all of them.
    Heal(Option<String>),
    /// Crash a node: volatile state and unsynced writes are lost.
    Crash(NodeRef),
    /// Crash a node right after the next handler in which it sends a
    /// message of `kind` (any kind when `None`): the messages go out, the
    /// unsynced state is lost. What shrinking writes a crash after a send
    /// (`crash_after_send`) out as.
    CrashAfterSend {
        /// The node.
        node: NodeRef,
        /// The message kind that sets it off.
        kind: Option<String>,
    },
    /// Restart a crashed node (`None`: every crashed node).
    Restart(Option<NodeRef>),
    /// Pause a node: its messages and timers wait.
    Pause(NodeRef),
    /// Resume a paused node (`None`: every paused node).
    Resume(Option<NodeRef>),
    /// Set a node's clock: `offset_ns` from true time now, drifting at `drift_ppm`.
    Clock {
        /// The node.
        node: NodeRef,
        /// Offset from true time, in ns (may be negative).
        offset_ns: i64,
        /// Rate error in parts per million (may be negative).
        drift_ppm: i64,
    },
}

/// A fault at a point in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedFault {
    /// When it fires.
    pub at: SimTime,
    /// What it does.
    pub action: FaultAction,
}

impl fmt::Display for FaultAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultAction::Partition {
                name,
                shape,
                one_way,
            } => {
                let way = if *one_way { " one-way" } else { "" };
                write!(f, "partition {name}{way}: {shape}")
            }
            FaultAction::Heal(Some(name)) => write!(f, "heal {name}"),
            FaultAction::Heal(None) => write!(f, "heal all"),
            FaultAction::Crash(n) => write!(f, "crash {n}"),
            FaultAction::CrashAfterSend { node, kind } => match kind {
                Some(kind) => write!(f, "crash {node} right after it next sends {kind}"),
                None => write!(f, "crash {node} right after it next sends"),
            },
            FaultAction::Restart(Some(n)) => write!(f, "restart {n}"),
            FaultAction::Restart(None) => write!(f, "restart all crashed"),
            FaultAction::Pause(n) => write!(f, "pause {n}"),
            FaultAction::Resume(Some(n)) => write!(f, "resume {n}"),
            FaultAction::Resume(None) => write!(f, "resume all paused"),
            FaultAction::Clock {
                node,
                offset_ns,
                drift_ppm,
            } => {
                write!(
                    f,
                    "clock of {node}: offset {offset_ns}ns, drift {drift_ppm}ppm"
                )
            }
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |ids: &[NodeId]| {
            ids.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Shape::Isolate(n) => write!(f, "isolate {n}"),
            Shape::Split(Some(m)) => write!(f, "split, minority [{}]", list(m)),
            Shape::Split(None) => write!(f, "split, random minority"),
            Shape::Bridge(n) => write!(f, "bridge through {n}"),
            Shape::Ring => write!(f, "ring"),
            Shape::Groups(groups) => {
                let parts: Vec<String> = groups.iter().map(|g| format!("[{}]", list(g))).collect();
                write!(f, "groups {}", parts.join(" | "))
            }
            Shape::Around { node, size } => write!(f, "{node} in a group of {size}"),
        }
    }
}
