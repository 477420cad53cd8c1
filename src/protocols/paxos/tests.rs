//! Unit tests of a Multi-Paxos server, driven by hand on the harness: the
//! acceptor's promises (kept across a crash, never below), the probe that
//! keeps a follower of a live leader from deposing it, a new leader
//! re-proposing the highest-ballot value a promise reported, and a leader
//! answering a client once its command is chosen.

use super::{Ballot, Cmd, Msg, Note, PaxosNode, PaxosOptions, Replica, Timer};
use crate::process::{Effect, Harness, NodeId, Process, TimerId};
use crate::protocols::raft::kv::{KvOp, KvRes};
use crate::protocols::raft::messages::Answer;
use crate::time::{SimDuration, SimTime};
use std::rc::Rc;

const CLIENT: NodeId = NodeId(3);

fn server(me: u32) -> PaxosNode {
    PaxosNode::Server(Box::new(Replica::new(
        PaxosOptions::default(),
        NodeId(me),
        3,
    )))
}

/// Server `me` of three, started.
fn harness(me: u32) -> Harness<PaxosNode> {
    let servers = (0..3).map(NodeId).collect();
    let mut h = Harness::new(server(me), NodeId(me), servers, 1);
    h.start();
    h
}

fn sent(effects: &[Effect<PaxosNode>]) -> Vec<(NodeId, Msg)> {
    Effect::sends(effects)
}

fn ballot(round: u64, node: u32) -> Ballot {
    Ballot { round, node }
}

fn put(value: &str) -> Cmd {
    Cmd::Op {
        session: 7,
        seq: 1,
        op: Rc::new(KvOp::Put {
            key: "k".into(),
            value: value.into(),
        }),
    }
}

/// Ticks `h` at `ms` milliseconds.
fn tick(h: &mut Harness<PaxosNode>, ms: u64) -> Vec<Effect<PaxosNode>> {
    h.now = SimTime::ZERO + SimDuration::from_millis(ms);
    h.fire(TimerId(0), Timer::Tick)
}

#[test]
fn a_promise_survives_a_crash_and_lower_ballots_are_refused() {
    let mut h = harness(1);
    let out = h.deliver(
        NodeId(0),
        Msg::Prepare {
            ballot: ballot(5, 0),
            from: 0,
        },
    );
    assert!(matches!(sent(&out)[..], [(_, Msg::Promise { .. })]));
    h.crash_and_restart(server(1));
    for (from, msg) in [
        (
            NodeId(2),
            Msg::Prepare {
                ballot: ballot(4, 2),
                from: 0,
            },
        ),
        (
            NodeId(2),
            Msg::Accept {
                ballot: ballot(4, 2),
                entries: vec![(0, Cmd::Noop)],
                chosen: 0,
            },
        ),
    ] {
        let out = h.deliver(from, msg);
        assert_eq!(
            sent(&out),
            vec![(
                NodeId(2),
                Msg::Nack {
                    promised: ballot(5, 0)
                }
            )]
        );
    }
}

#[test]
fn an_accepted_value_is_synced_and_reported_to_a_later_prepare() {
    let mut h = harness(1);
    let out = h.deliver(
        NodeId(0),
        Msg::Accept {
            ballot: ballot(2, 0),
            entries: vec![(3, put("a"))],
            chosen: 0,
        },
    );
    assert!(Effect::notes(&out)
        .iter()
        .any(|n| matches!(n, Note::Accepted { slot: 3, .. })));
    h.crash_and_restart(server(1));
    let out = h.deliver(
        NodeId(2),
        Msg::Prepare {
            ballot: ballot(3, 2),
            from: 0,
        },
    );
    assert_eq!(
        sent(&out),
        vec![(
            NodeId(2),
            Msg::Promise {
                ballot: ballot(3, 2),
                accepted: vec![(3, ballot(2, 0), put("a"))],
                snapshot: None,
            }
        )]
    );
}

/// `h` hears a heartbeat from leader 0 (ballot (1, 0)) at 100 ms; the
/// clock is then at 120 ms.
fn hear_leader_0(h: &mut Harness<PaxosNode>) {
    h.now = SimTime::ZERO + SimDuration::from_millis(100);
    h.deliver(
        NodeId(0),
        Msg::Heartbeat {
            ballot: ballot(1, 0),
            chosen: 0,
        },
    );
    h.now = SimTime::ZERO + SimDuration::from_millis(120);
}

#[test]
fn a_follower_of_a_live_leader_ignores_probes_and_prepares() {
    let mut h = harness(1);
    hear_leader_0(&mut h);
    for msg in [
        Msg::Probe {
            ballot: ballot(2, 2),
        },
        Msg::Prepare {
            ballot: ballot(2, 2),
            from: 0,
        },
    ] {
        assert!(sent(&h.deliver(NodeId(2), msg)).is_empty());
    }
    // Once the leader has been silent for an election timeout, it answers.
    h.now = SimTime::ZERO + SimDuration::from_millis(400);
    let out = h.deliver(
        NodeId(2),
        Msg::Probe {
            ballot: ballot(2, 2),
        },
    );
    assert_eq!(
        sent(&out),
        vec![(
            NodeId(2),
            Msg::ProbeOk {
                ballot: ballot(2, 2)
            }
        )]
    );
}

#[test]
fn without_the_probe_a_follower_of_a_live_leader_promises_and_a_timeout_prepares() {
    let options = PaxosOptions {
        probe: false,
        ..PaxosOptions::default()
    };
    let node = PaxosNode::Server(Box::new(Replica::new(options, NodeId(1), 3)));
    let mut h = Harness::new(node, NodeId(1), (0..3).map(NodeId).collect(), 1);
    h.start();
    hear_leader_0(&mut h);
    let out = sent(&h.deliver(
        NodeId(2),
        Msg::Prepare {
            ballot: ballot(2, 2),
            from: 0,
        },
    ));
    assert!(
        matches!(&out[..], [(NodeId(2), Msg::Promise { ballot: b, .. })] if *b == ballot(2, 2)),
        "{out:?}"
    );
    // Silent past its election timeout, it prepares a higher ballot at
    // once: no probe.
    let out = sent(&tick(&mut h, 1000));
    assert!(!out.is_empty());
    assert!(
        out.iter()
            .all(|(_, m)| matches!(m, Msg::Prepare { ballot: b, .. } if *b == ballot(3, 1))),
        "{out:?}"
    );
}

/// Drives server 0 to phase 1: it accepted `accepted` (slot 0) from
/// server 1 earlier, then times out, probes, and server 1 says yes.
fn preparing(accepted: Option<(Ballot, Cmd)>) -> (Harness<PaxosNode>, Ballot) {
    let mut h = harness(0);
    if let Some((b, cmd)) = accepted {
        h.deliver(
            NodeId(1),
            Msg::Accept {
                ballot: b,
                entries: vec![(0, cmd)],
                chosen: 0,
            },
        );
    }
    let out = tick(&mut h, 1000);
    let probe = sent(&out)
        .into_iter()
        .find_map(|(_, m)| match m {
            Msg::Probe { ballot } => Some(ballot),
            _ => None,
        })
        .expect("a server that hears no leader probes");
    let out = h.deliver(NodeId(1), Msg::ProbeOk { ballot: probe });
    assert!(sent(&out)
        .iter()
        .any(|(_, m)| matches!(m, Msg::Prepare { ballot, from: 0 } if *ballot == probe)));
    (h, probe)
}

#[test]
fn a_new_leader_reproposes_the_highest_ballot_value_and_fills_gaps() {
    // Its own acceptor has "low" in slot 0 from ballot (1, 1); server 1
    // reports "high" there from the later (1, 2), and "x" in slot 2.
    let (mut h, b) = preparing(Some((ballot(1, 1), put("low"))));
    let out = h.deliver(
        NodeId(1),
        Msg::Promise {
            ballot: b,
            accepted: vec![(0, ballot(1, 2), put("high")), (2, ballot(1, 1), put("x"))],
            snapshot: None,
        },
    );
    assert_eq!(h.node.role(), Some("leader"));
    let accepts: Vec<(u64, Cmd)> = sent(&out)
        .into_iter()
        .filter(|(to, _)| *to == NodeId(1))
        .flat_map(|(_, m)| match m {
            Msg::Accept { entries, .. } => entries,
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(
        accepts,
        vec![(0, put("high")), (1, Cmd::Noop), (2, put("x"))],
        "slot 0 takes the highest ballot's value, slot 2 what was accepted, slot 1 is a gap"
    );
}

#[test]
fn a_leader_answers_a_client_once_a_majority_accepted() {
    let (mut h, b) = preparing(None);
    h.deliver(
        NodeId(1),
        Msg::Promise {
            ballot: b,
            accepted: vec![],
            snapshot: None,
        },
    );
    let op = Rc::new(KvOp::Put {
        key: "k".into(),
        value: "v".into(),
    });
    let out = h.deliver(
        CLIENT,
        Msg::Request {
            session: 9,
            seq: 1,
            op,
        },
    );
    assert!(sent(&out).iter().all(|(to, _)| *to != CLIENT));
    let out = h.deliver(
        NodeId(2),
        Msg::Accepted {
            ballot: b,
            slots: vec![0],
        },
    );
    assert!(sent(&out).contains(&(
        CLIENT,
        Msg::Response {
            seq: 1,
            outcome: Answer::Applied(KvRes::Done)
        }
    )));
}

#[test]
fn a_snapshot_replaces_compacted_slots_in_promises_and_catch_up() {
    let options = PaxosOptions {
        snapshot_every: 2,
        ..PaxosOptions::default()
    };
    let node = PaxosNode::Server(Box::new(Replica::new(options, NodeId(1), 3)));
    let mut h = Harness::new(node, NodeId(1), (0..3).map(NodeId).collect(), 1);
    h.start();
    let out = h.deliver(
        NodeId(0),
        Msg::Accept {
            ballot: ballot(1, 0),
            entries: vec![(0, put("a")), (1, Cmd::Noop)],
            chosen: 2,
        },
    );
    assert!(Effect::notes(&out)
        .iter()
        .any(|n| matches!(n, Note::Snapshotted { slot: 2 })));
    h.crash_and_restart(server(1));
    h.now = SimTime::ZERO + SimDuration::from_secs(5);
    let out = h.deliver(
        NodeId(2),
        Msg::Prepare {
            ballot: ballot(2, 2),
            from: 0,
        },
    );
    let promise = sent(&out).into_iter().find_map(|(_, m)| match m {
        Msg::Promise {
            accepted, snapshot, ..
        } => Some((accepted, snapshot)),
        _ => None,
    });
    let (accepted, snapshot) = promise.expect("a promise");
    assert!(
        accepted.is_empty(),
        "compacted slots are not reported one by one"
    );
    let (slot, kv) = snapshot.expect("the snapshot instead");
    assert_eq!((slot, kv.get("k")), (2, "a"));
    let out = h.deliver(NodeId(2), Msg::Learn { from: 0 });
    assert!(matches!(
        &sent(&out)[..],
        [(_, Msg::Snapshot { slot: 2, .. })]
    ));
}
