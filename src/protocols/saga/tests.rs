//! Unit tests of the saga state machines, one node driven by hand.

use super::msg::{Action, Kind, Msg, Reply, Step, Timer};
use super::orchestrator::compensations;
use super::{plan, Orchestrator, SagaBug, SagaNode, SagaOp, SagaOptions, Service};
use crate::process::{Effect, Harness, NodeId, RequestId, TimerId};

const ORDER: SagaOp = SagaOp::Order {
    user: 1,
    item: 0,
    qty: 2,
    price: 20,
};

fn order_plan() -> Vec<Step> {
    plan(ORDER, SagaOptions::default().bank())
}

fn orchestrator(options: SagaOptions) -> Harness<SagaNode> {
    let mut h = Harness::new(
        SagaNode::Orchestrator(Orchestrator::new(options)),
        NodeId(0),
        (0..6).map(NodeId).collect(),
        3,
    );
    h.start();
    h
}

/// A service whose counters `0..keys` open at `value`.
fn service(options: SagaOptions, keys: u64, value: i64) -> Harness<SagaNode> {
    let opening = super::Opening {
        keys: 0..keys,
        value,
    };
    let node = SagaNode::Service(Service::new(options, opening));
    let mut h = Harness::new(node, NodeId(2), (0..6).map(NodeId).collect(), 3);
    h.start();
    h
}

/// The messages among `effects`, as `(to, Debug of the message)`.
fn sent(effects: &[Effect<SagaNode>]) -> Vec<(u32, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to, msg } => Some((to.0, format!("{msg:?}"))),
            _ => None,
        })
        .collect()
}

/// The requests among `effects`, as `(step, kind)`.
fn requests(effects: &[Effect<SagaNode>]) -> Vec<(u32, Kind)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send {
                msg: Msg::Request { step, kind, .. },
                ..
            } => Some((*step, *kind)),
            _ => None,
        })
        .collect()
}

fn timers(effects: &[Effect<SagaNode>]) -> Vec<(TimerId, u64)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetTimer {
                id,
                after,
                timer: Timer::Retry(_),
            } => Some((*id, after.as_nanos())),
            _ => None,
        })
        .collect()
}

fn replies(effects: &[Effect<SagaNode>]) -> Vec<bool> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Reply { ok, .. } => Some(*ok),
            _ => None,
        })
        .collect()
}

fn respond(
    h: &mut Harness<SagaNode>,
    step: u32,
    kind: Kind,
    reply: Reply,
) -> Vec<Effect<SagaNode>> {
    let service = order_plan()[step as usize].service;
    h.deliver(
        service,
        Msg::Response {
            saga: 7,
            step,
            kind,
            reply,
        },
    )
}

fn counter(h: &Harness<SagaNode>, key: u64) -> i64 {
    match &h.node {
        SagaNode::Service(s) => s.counter(key),
        SagaNode::Orchestrator(_) => panic!("not a service"),
    }
}

fn request(step: u32, kind: Kind, saga: u64) -> Msg {
    Msg::Request {
        saga,
        step,
        kind,
        what: order_plan()[step as usize],
    }
}

#[test]
fn compensations_run_last_first_and_include_an_unknown_step() {
    let plan = order_plan();
    assert_eq!(compensations(&plan, 3, false, None), vec![2, 1]);
    assert_eq!(compensations(&plan, 3, true, None), vec![3, 2, 1]);
    assert_eq!(compensations(&plan, 1, false, None), Vec::<u32>::new());
    assert_eq!(
        compensations(&plan, 3, false, Some(SagaBug::CompensateForward)),
        vec![1, 2]
    );
}

#[test]
fn orchestrator_logs_each_step_before_the_next_and_completes() {
    let mut h = orchestrator(SagaOptions::default());
    let effects = h.request(RequestId(7), ORDER);
    assert_eq!(requests(&effects), vec![(0, Kind::Do)]);
    assert_eq!(
        h.disk.unsynced(),
        0,
        "Started synced before the first request"
    );
    for step in 0..4 {
        let effects = respond(&mut h, step, Kind::Do, Reply::Done);
        assert_eq!(requests(&effects), vec![(step + 1, Kind::Do)]);
        assert_eq!(h.disk.unsynced(), 0);
    }
    assert_eq!(
        replies(&respond(&mut h, 4, Kind::Do, Reply::Done)),
        vec![true]
    );
    // A duplicate response changes nothing.
    assert!(respond(&mut h, 4, Kind::Do, Reply::Done).is_empty());
}

#[test]
fn orchestrator_crash_mid_saga_resends_the_current_step_only() {
    let mut h = orchestrator(SagaOptions::default());
    h.request(RequestId(7), ORDER);
    respond(&mut h, 0, Kind::Do, Reply::Done);
    respond(&mut h, 1, Kind::Do, Reply::Done);
    let effects = h.crash_and_restart(SagaNode::Orchestrator(Orchestrator::new(
        SagaOptions::default(),
    )));
    assert_eq!(
        requests(&effects),
        vec![(2, Kind::Do)],
        "neither skipped nor repeated"
    );
}

#[test]
fn orchestrator_crash_mid_compensation_resumes_it_in_reverse_order() {
    let mut h = orchestrator(SagaOptions::default());
    h.request(RequestId(7), ORDER);
    for step in 0..3 {
        respond(&mut h, step, Kind::Do, Reply::Done);
    }
    let effects = respond(&mut h, 3, Kind::Do, Reply::Failed);
    assert_eq!(requests(&effects), vec![(2, Kind::Undo)]);
    let effects = respond(&mut h, 2, Kind::Undo, Reply::Done);
    assert_eq!(requests(&effects), vec![(1, Kind::Undo)]);
    let effects = h.crash_and_restart(SagaNode::Orchestrator(Orchestrator::new(
        SagaOptions::default(),
    )));
    assert_eq!(requests(&effects), vec![(1, Kind::Undo)]);
    assert_eq!(
        replies(&respond(&mut h, 1, Kind::Undo, Reply::Done)),
        vec![false]
    );
}

#[test]
fn retries_back_off_exponentially_and_give_up_on_a_step() {
    let options = SagaOptions {
        max_attempts: 4,
        ..SagaOptions::default()
    };
    let mut h = orchestrator(options);
    let mut effects = h.request(RequestId(7), ORDER);
    let mut delays = Vec::new();
    for _ in 0..3 {
        let (id, after) = timers(&effects)[0];
        delays.push(after);
        effects = h.fire(id, Timer::Retry(7));
        assert_eq!(
            requests(&effects),
            vec![(0, Kind::Do)],
            "same idempotency key"
        );
    }
    // Attempt k waits uniformly in [d/2, d], d = 50 ms * 2^k.
    for (k, &after) in delays.iter().enumerate() {
        let d = 50_000_000u64 << k;
        assert!((d / 2..=d).contains(&after), "attempt {k}: {delays:?}");
    }
    let (id, _) = timers(&effects)[0];
    let effects = h.fire(id, Timer::Retry(7));
    // Validation has no compensation: the saga ends compensated at once.
    assert_eq!(replies(&effects), vec![false]);
}

#[test]
fn a_compensation_that_keeps_failing_is_reported_stuck_and_retried() {
    let options = SagaOptions {
        stuck_after: 2,
        ..SagaOptions::default()
    };
    let mut h = orchestrator(options);
    h.request(RequestId(7), ORDER);
    respond(&mut h, 0, Kind::Do, Reply::Done);
    respond(&mut h, 1, Kind::Do, Reply::Done);
    let mut effects = respond(&mut h, 2, Kind::Do, Reply::Failed);
    let mut stuck = 0;
    for _ in 0..5 {
        let (id, _) = timers(&effects)[0];
        effects = h.fire(id, Timer::Retry(7));
        stuck += effects
            .iter()
            .filter(|e| matches!(e, Effect::Note(super::msg::Note::Stuck(_))))
            .count();
        assert_eq!(requests(&effects), vec![(1, Kind::Undo)]);
        assert!(
            replies(&effects).is_empty(),
            "never reported as compensated"
        );
    }
    assert_eq!(stuck, 1);
}

#[test]
fn service_applies_each_key_once() {
    let mut h = service(SagaOptions::default(), 1, 10);
    let first = sent(&h.deliver(NodeId(0), request(1, Kind::Do, 7)));
    let again = sent(&h.deliver(NodeId(0), request(1, Kind::Do, 7)));
    assert_eq!(first, again);
    assert!(first[0].1.contains("reply: Done"));
    assert_eq!(counter(&h, 0), 8);
    h.deliver(NodeId(0), request(1, Kind::Undo, 7));
    h.deliver(NodeId(0), request(1, Kind::Undo, 7));
    assert_eq!(counter(&h, 0), 10);
    // After a crash the answers are still known.
    h.crash_and_restart(SagaNode::Service(Service::new(
        SagaOptions::default(),
        super::Opening {
            keys: 0..1,
            value: 10,
        },
    )));
    let after = sent(&h.deliver(NodeId(0), request(1, Kind::Do, 7)));
    assert_eq!(after, first);
    assert_eq!(counter(&h, 0), 10);
}

#[test]
fn a_compensation_before_its_step_leaves_a_tombstone() {
    let mut h = service(SagaOptions::default(), 1, 10);
    let undo = sent(&h.deliver(NodeId(0), request(1, Kind::Undo, 7)));
    assert!(undo[0].1.contains("reply: Done"));
    let late = sent(&h.deliver(NodeId(0), request(1, Kind::Do, 7)));
    assert!(late[0].1.contains("reply: Failed"));
    assert_eq!(counter(&h, 0), 10);
}

#[test]
fn service_refuses_to_go_below_zero() {
    let mut h = service(SagaOptions::default(), 1, 1);
    let r = sent(&h.deliver(NodeId(0), request(1, Kind::Do, 7)));
    assert!(r[0].1.contains("reply: Failed"));
}

#[test]
fn semantic_lock_holds_a_pending_change_until_finalized() {
    let options = SagaOptions {
        semantic_lock: true,
        ..SagaOptions::default()
    };
    let mut h = service(options, 1, 10);
    h.deliver(NodeId(0), request(1, Kind::Do, 7));
    let other = sent(&h.deliver(NodeId(0), request(1, Kind::Do, 8)));
    assert!(other[0].1.contains("reply: Retry"));
    h.deliver(NodeId(0), Msg::Finalize { saga: 7 });
    let other = sent(&h.deliver(NodeId(0), request(1, Kind::Do, 8)));
    assert!(other[0].1.contains("reply: Done"));
    assert_eq!(counter(&h, 0), 6);
}

#[test]
fn plans_compensate_only_what_can_be() {
    let plan = order_plan();
    let compensable: Vec<&str> = plan
        .iter()
        .filter(|s| s.action.compensable())
        .map(|s| s.name)
        .collect();
    assert_eq!(compensable, vec!["reserve", "charge", "create-order"]);
    assert!(matches!(
        plan[1].action,
        Action::Adjust { key: 0, delta: -2 }
    ));
}
