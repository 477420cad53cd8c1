//! Unit tests of the 2PC state machines, one node driven by hand.

use super::msg::{Msg, Outcome, Stored, Timer, Transfer, Write};
use super::participant::Participant;
use super::{Bug, TwoPcNode, TwoPcOptions};
use crate::process::{DiskKey, Effect, Harness, NodeId, RequestId, TimerId};

fn coordinator(options: TwoPcOptions) -> Harness<TwoPcNode> {
    let node = TwoPcNode::Coordinator(super::Coordinator::new(options));
    let mut h = Harness::new(node, NodeId(0), (0..3).map(NodeId).collect(), 7);
    h.start();
    h
}

fn participant(me: u32) -> Harness<TwoPcNode> {
    let node = TwoPcNode::Participant(Participant::new(TwoPcOptions::default()));
    let mut h = Harness::new(node, NodeId(me), (0..3).map(NodeId).collect(), 7);
    h.start();
    h
}

/// The messages among `effects`, as `(to, Debug of the message)`.
fn sent(effects: &[Effect<TwoPcNode>]) -> Vec<(u32, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to, msg } => Some((to.0, format!("{msg:?}"))),
            _ => None,
        })
        .collect()
}

fn replies(effects: &[Effect<TwoPcNode>]) -> Vec<bool> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Reply { ok, .. } => Some(*ok),
            _ => None,
        })
        .collect()
}

fn prepare(txn: u64, account: u64, delta: i64) -> Msg {
    Msg::Prepare {
        txn,
        writes: vec![Write { account, delta }],
        participants: vec![NodeId(1), NodeId(2)],
    }
}

fn balance(h: &Harness<TwoPcNode>, account: u64) -> i64 {
    match &h.node {
        TwoPcNode::Participant(p) => p.balance(account),
        TwoPcNode::Coordinator(_) => panic!("not a participant"),
    }
}

const TRANSFER: Transfer = Transfer {
    from: 0,
    to: 4,
    amount: 5,
};

#[test]
fn coordinator_commits_after_all_yes_with_the_record_synced_first() {
    let mut h = coordinator(TwoPcOptions::default());
    let effects = h.request(RequestId(9), TRANSFER);
    let prepares = sent(&effects);
    assert_eq!(prepares.len(), 2);
    assert!(prepares[0].1.starts_with("Prepare { txn: 9"));
    assert!(sent(&h.deliver(NodeId(1), Msg::Vote { txn: 9, yes: true })).is_empty());
    let effects = h.deliver(NodeId(2), Msg::Vote { txn: 9, yes: true });
    assert!(
        h.disk.get(DiskKey::new("commit", 9)).is_some(),
        "COMMIT synced"
    );
    assert_eq!(h.disk.unsynced(), 0);
    assert_eq!(sent(&effects).len(), 2);
    assert_eq!(replies(&effects), vec![true]);
}

#[test]
fn coordinator_aborts_on_a_no_vote_without_logging() {
    let mut h = coordinator(TwoPcOptions::default());
    h.request(RequestId(3), TRANSFER);
    let effects = h.deliver(NodeId(1), Msg::Vote { txn: 3, yes: false });
    assert_eq!(replies(&effects), vec![false]);
    assert!(h.disk.is_empty(), "presumed abort logs nothing");
    // A late yes vote is answered with ABORT, never counted.
    let effects = h.deliver(NodeId(2), Msg::Vote { txn: 3, yes: true });
    assert_eq!(
        sent(&effects),
        vec![(2, "Decision { txn: 3, outcome: Abort }".to_string())]
    );
}

#[test]
fn coordinator_recovers_commit_and_presumes_abort_for_the_rest() {
    let mut h = coordinator(TwoPcOptions::default());
    h.request(RequestId(1), TRANSFER);
    h.deliver(NodeId(1), Msg::Vote { txn: 1, yes: true });
    h.deliver(NodeId(2), Msg::Vote { txn: 1, yes: true });
    h.request(RequestId(2), TRANSFER);
    h.deliver(NodeId(1), Msg::Vote { txn: 2, yes: true });
    let fresh = TwoPcNode::Coordinator(super::Coordinator::new(TwoPcOptions::default()));
    h.crash_and_restart(fresh);
    let effects = h.fire(TimerId(99), Timer::Retransmit);
    assert_eq!(
        sent(&effects).len(),
        2,
        "COMMIT resent to both after restart"
    );
    let effects = h.deliver(NodeId(1), Msg::Inquire { txn: 2 });
    assert_eq!(
        sent(&effects),
        vec![(1, "Decision { txn: 2, outcome: Abort }".to_string())]
    );
    h.deliver(NodeId(1), Msg::Ack { txn: 1 });
    h.deliver(NodeId(2), Msg::Ack { txn: 1 });
    assert!(sent(&h.fire(TimerId(100), Timer::Retransmit)).is_empty());
}

#[test]
fn commit_on_first_yes_bug_commits_early() {
    let options = TwoPcOptions {
        bug: Some(Bug::CommitOnFirstYes),
        ..TwoPcOptions::default()
    };
    let mut h = coordinator(options);
    h.request(RequestId(1), TRANSFER);
    let effects = h.deliver(NodeId(1), Msg::Vote { txn: 1, yes: true });
    assert_eq!(replies(&effects), vec![true]);
}

#[test]
fn participant_syncs_prepared_before_voting_and_recovers_in_doubt() {
    let mut h = participant(1);
    let effects = h.deliver(NodeId(0), prepare(5, 0, -10));
    assert_eq!(
        sent(&effects),
        vec![(0, "Vote { txn: 5, yes: true }".to_string())]
    );
    assert!(matches!(
        h.disk.get(DiskKey::new("prepared", 5)),
        Some(Stored::Prepared { .. })
    ));
    let fresh = TwoPcNode::Participant(Participant::new(TwoPcOptions::default()));
    h.crash_and_restart(fresh);
    let in_doubt: Vec<u64> = match &h.node {
        TwoPcNode::Participant(p) => p.in_doubt().collect(),
        TwoPcNode::Coordinator(_) => Vec::new(),
    };
    assert_eq!(in_doubt, vec![5], "still in doubt after a restart");
    // It asks the coordinator and its peer.
    let asked = sent(&h.fire(TimerId(50), Timer::Inquire));
    assert_eq!(asked.len(), 2);
    // The lock is held again: a second transaction on the account waits.
    assert!(sent(&h.deliver(NodeId(0), prepare(6, 0, -1))).is_empty());
    let effects = h.deliver(
        NodeId(0),
        Msg::Decision {
            txn: 5,
            outcome: Outcome::Commit,
        },
    );
    assert_eq!(balance(&h, 0), 90);
    let msgs = sent(&effects);
    assert!(msgs.contains(&(0, "Ack { txn: 5 }".to_string())));
    assert!(
        msgs.contains(&(0, "Vote { txn: 6, yes: true }".to_string())),
        "waiter granted"
    );
    // A duplicate COMMIT is acknowledged and changes nothing.
    let effects = h.deliver(
        NodeId(0),
        Msg::Decision {
            txn: 5,
            outcome: Outcome::Commit,
        },
    );
    assert_eq!(sent(&effects), vec![(0, "Ack { txn: 5 }".to_string())]);
    assert_eq!(balance(&h, 0), 90);
}

#[test]
fn participant_not_voted_aborts_alone_durably() {
    let mut h = participant(1);
    h.deliver(NodeId(0), prepare(1, 0, -1));
    assert!(sent(&h.deliver(NodeId(0), prepare(2, 0, -1))).is_empty());
    let effects = h.fire(TimerId(1), Timer::LockWait(2));
    assert_eq!(
        sent(&effects),
        vec![(0, "Vote { txn: 2, yes: false }".to_string())]
    );
    let fresh = TwoPcNode::Participant(Participant::new(TwoPcOptions::default()));
    h.crash_and_restart(fresh);
    let effects = h.deliver(NodeId(0), prepare(2, 0, -1));
    assert_eq!(
        sent(&effects),
        vec![(0, "Vote { txn: 2, yes: false }".to_string())]
    );
}

#[test]
fn participant_refuses_an_overdraft() {
    let mut h = participant(1);
    let effects = h.deliver(NodeId(0), prepare(1, 0, -1000));
    assert_eq!(
        sent(&effects),
        vec![(0, "Vote { txn: 1, yes: false }".to_string())]
    );
}

#[test]
fn cooperative_termination_peer_answers_or_aborts_alone() {
    let mut h = participant(2);
    // Never asked to prepare: it aborts alone and says so.
    let effects = h.deliver(NodeId(1), Msg::Inquire { txn: 8 });
    let msgs = sent(&effects);
    assert!(msgs.contains(&(1, "Decision { txn: 8, outcome: Abort }".to_string())));
    // In doubt itself: no answer.
    h.deliver(NodeId(0), prepare(9, 4, 3));
    assert!(sent(&h.deliver(NodeId(1), Msg::Inquire { txn: 9 })).is_empty());
    h.deliver(
        NodeId(0),
        Msg::Decision {
            txn: 9,
            outcome: Outcome::Commit,
        },
    );
    let msgs = sent(&h.deliver(NodeId(1), Msg::Inquire { txn: 9 }));
    assert_eq!(
        msgs,
        vec![(1, "Decision { txn: 9, outcome: Commit }".to_string())]
    );
    assert_eq!(balance(&h, 4), 103);
}
