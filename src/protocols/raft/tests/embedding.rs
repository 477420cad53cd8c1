//! Embedding: a server replicating a state machine other than the
//! key-value store, inside processes other than [`RaftNode`] — a
//! [`Replica`] taking `Request` messages, and a process of its own that
//! puts commands in the log with [`Server::propose`].

use super::*;
use crate::process::{Ctx, Disk, Process, RequestId};
use crate::protocols::raft::machine::StateMachine;
use crate::protocols::raft::messages::{Answer, Note};
use crate::protocols::raft::Replica;
use serde::{Deserialize, Serialize};

/// A running total; a session's command applies once (a retry gets the
/// total again, an older command 0, which the leader does not answer).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Counter {
    total: u64,
    last_seq: std::collections::BTreeMap<u64, u64>,
}

impl StateMachine for Counter {
    type Op = u64;
    type Res = u64;

    fn apply(&mut self, session: u64, seq: u64, op: &u64) -> u64 {
        let last = self.last_seq.entry(session).or_insert(0);
        if seq < *last {
            return 0;
        }
        if seq > *last {
            *last = seq;
            self.total += op;
        }
        self.total
    }

    fn answers(res: &u64) -> bool {
        *res != 0
    }
}

/// A process that runs a server and proposes each workload request to it.
struct Proposer {
    server: Server<Counter>,
    /// What each `propose` returned.
    proposed: Vec<bool>,
}

impl Process for Proposer {
    type Msg = Msg<Counter>;
    type Timer = Timer;
    type Op = u64;
    type Res = u64;
    type Stored = Stored<Counter>;
    type Note = Note;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<Stored<Counter>>) {
        self.server.start(ctx, disk);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg<Counter>) {
        self.server.on_message(ctx, from, msg);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, id: TimerId, timer: Timer) {
        self.server.on_timer(ctx, id, timer);
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: u64) {
        let me = ctx.me();
        let ok = self.server.propose(ctx, me, 1, req.0, op);
        self.proposed.push(ok);
    }
}

const GROUP: usize = 3;

fn harness<P: Process>(node: P) -> Harness<P> {
    let servers = (0..GROUP as u32).map(NodeId).collect();
    Harness::new(node, NodeId(0), servers, 7)
}

/// Starts `h`, returning its election timer.
fn start<P: Process<Timer = Timer>>(h: &mut Harness<P>) -> TimerId {
    let timer = h.start().iter().rev().find_map(|e| match e {
        Effect::SetTimer {
            id,
            timer: Timer::Election,
            ..
        } => Some(*id),
        _ => None,
    });
    timer.expect("an election timer")
}

/// Lets `h`'s election timeout pass and has node 1 vote for it: it leads
/// a group of three, its no-op at index 1.
fn lead<P: Process<Msg = Msg<Counter>, Timer = Timer>>(h: &mut Harness<P>, timer: TimerId) {
    h.now = h.now + SimDuration::from_secs(1);
    h.fire(timer, Timer::Election);
    let granted = Msg::VoteReply {
        term: 1,
        granted: true,
        pre_vote: false,
    };
    h.deliver(NodeId(1), granted);
}

fn replicated(index: u64) -> Msg<Counter> {
    Msg::AppendReply {
        term: 1,
        success: true,
        match_index: index,
        conflict_term: None,
    }
}

#[test]
fn a_replica_applies_requests_to_its_own_machine_and_answers_them() {
    let mut h = harness(Replica(Server::<Counter>::new(
        opts(false),
        NodeId(0),
        GROUP,
    )));
    let timer = start(&mut h);
    lead(&mut h, timer);
    assert_eq!(h.node.0.role(), Role::Leader);
    h.deliver(NodeId(1), replicated(1));
    for (seq, op) in [(1, 5), (2, 7)] {
        let request = Msg::Request {
            session: 9,
            seq,
            op: Rc::new(op),
        };
        h.deliver(NodeId(2), request);
    }
    let mut out = Effect::sends(&h.deliver(NodeId(1), replicated(2)));
    out.extend(Effect::sends(&h.deliver(NodeId(1), replicated(3))));
    let answers: Vec<_> = out
        .iter()
        .filter_map(|(to, m)| match m {
            Msg::Response {
                seq,
                outcome: Answer::Applied(total),
            } => Some((*to, *seq, *total)),
            _ => None,
        })
        .collect();
    assert_eq!(answers, vec![(NodeId(2), 1, 5), (NodeId(2), 2, 12)]);
    assert_eq!(h.node.0.state().total, 12);
    assert_eq!(h.node.0.applied_index(), 3);
}

#[test]
fn propose_appends_on_the_leader_only() {
    let proposer = Proposer {
        server: Server::new(opts(false), NodeId(0), GROUP),
        proposed: Vec::new(),
    };
    let mut h = harness(proposer);
    let timer = start(&mut h);
    h.request(RequestId(1), 4);
    assert_eq!(h.node.proposed, vec![false], "a follower does not propose");
    assert_eq!(h.node.server.log().last_index(), 0);
    lead(&mut h, timer);
    h.deliver(NodeId(1), replicated(1));
    let out = Effect::sends(&h.request(RequestId(2), 4));
    assert_eq!(h.node.proposed, vec![false, true]);
    assert_eq!(h.node.server.log().last_index(), 2);
    assert!(out
        .iter()
        .any(|(_, m)| matches!(m, Msg::Append { entries, .. } if entries.len() == 1)));
    h.deliver(NodeId(1), replicated(2));
    assert_eq!(h.node.server.state().total, 4);
    assert_eq!(h.node.server.me(), NodeId(0));
    assert_eq!(h.node.server.group_size(), GROUP);
}
