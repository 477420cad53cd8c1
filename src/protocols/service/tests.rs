//! Unit tests of the service's server and client, one process driven by
//! hand through a harness.

use super::client::Client;
use super::load::Load;
use super::options::{Discipline, ServiceTime};
use super::policy::{BreakerOptions, BreakerState, BudgetOptions, RetryPolicy};
use super::server::Server;
use super::{Job, Msg, Note, Outcome, ServiceNode, ServiceOptions, Status, Timer};
use crate::process::{Effect, Harness, NodeId, RequestId, TimerId};
use crate::time::{SimDuration, SimTime};

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn options() -> ServiceOptions {
    let mut o = ServiceOptions::default();
    o.server.concurrency = 1;
    o.server.queue = 2;
    o.server.service_time = ServiceTime::Constant { value: ms(10) };
    o
}

fn server(o: &ServiceOptions) -> Harness<ServiceNode> {
    let node = ServiceNode::Server(Server::new(o, NodeId(0), 2));
    let mut h = Harness::new(node, NodeId(0), vec![NodeId(0), NodeId(1)], 1);
    h.start();
    h
}

fn client(o: &ServiceOptions) -> Harness<ServiceNode> {
    let load = Load {
        rate: 0.0,
        phases: Vec::new(),
        until: SimTime::ZERO,
    };
    let node = ServiceNode::Client(Box::new(Client::new(o, 2, None, load)));
    let mut h = Harness::new(node, NodeId(2), vec![NodeId(0), NodeId(1)], 1);
    h.start();
    h
}

fn request(id: u64, budget: SimDuration) -> Msg {
    Msg::Request {
        id,
        attempt: 0,
        budget,
    }
}

/// The jobs a server's effects start serving.
fn started(effects: &[Effect<ServiceNode>]) -> Vec<Job> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetTimer {
                timer: Timer::Served(job),
                ..
            } => Some(*job),
            _ => None,
        })
        .collect()
}

/// The replies among effects: `(request, status)`.
fn replies(effects: &[Effect<ServiceNode>]) -> Vec<(u64, Status)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send {
                msg: Msg::Reply { id, status, .. },
                ..
            } => Some((*id, *status)),
            _ => None,
        })
        .collect()
}

fn notes(effects: &[Effect<ServiceNode>]) -> Vec<Note> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Note(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

/// The attempts a client's effects send: `(to, request, attempt)`, and the
/// timers they set.
fn attempts(effects: &[Effect<ServiceNode>]) -> Vec<(u32, u64, u32)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send {
                to,
                msg: Msg::Request { id, attempt, .. },
            } => Some((to.0, *id, *attempt)),
            _ => None,
        })
        .collect()
}

fn timers(effects: &[Effect<ServiceNode>]) -> Vec<(TimerId, SimDuration, Timer)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetTimer { id, after, timer } => Some((*id, *after, timer.clone())),
            _ => None,
        })
        .collect()
}

fn reply(
    h: &mut Harness<ServiceNode>,
    from: u32,
    id: u64,
    attempt: u32,
    status: Status,
) -> Vec<Effect<ServiceNode>> {
    h.deliver(
        NodeId(from),
        Msg::Reply {
            id,
            attempt,
            status,
        },
    )
}

#[test]
fn a_server_queues_past_its_workers_rejects_past_its_queue_and_serves_in_order() {
    let o = options();
    let mut s = server(&o);
    let first = s.deliver(NodeId(1), request(1, ms(500)));
    assert_eq!(started(&first).len(), 1, "a free worker starts at once");
    for id in [2, 3] {
        assert!(started(&s.deliver(NodeId(1), request(id, ms(500)))).is_empty());
    }
    let full = s.deliver(NodeId(1), request(4, ms(500)));
    assert_eq!(replies(&full), [(4, Status::Rejected)]);
    assert_eq!(
        notes(&full),
        [Note::Refused {
            status: Status::Rejected
        }]
    );
    s.now = SimTime::ZERO + ms(10);
    let done = s.fire(TimerId(0), Timer::Served(started(&first)[0]));
    assert_eq!(replies(&done), [(1, Status::Ok)]);
    assert_eq!(notes(&done), [Note::Served { wasted: false }]);
    assert_eq!(started(&done)[0].id, 2, "first in, first out");
}

#[test]
fn a_lifo_server_serves_the_newest_waiting_request_first() {
    let mut o = options();
    o.server.discipline = Discipline::Lifo;
    let mut s = server(&o);
    let first = started(&s.deliver(NodeId(1), request(1, ms(500))))[0];
    s.deliver(NodeId(1), request(2, ms(500)));
    s.deliver(NodeId(1), request(3, ms(500)));
    let done = s.fire(TimerId(0), Timer::Served(first));
    assert_eq!(started(&done)[0].id, 3);
}

#[test]
fn work_finished_after_the_propagated_deadline_is_wasted_unless_dropped_first() {
    let o = options();
    let mut s = server(&o);
    let first = started(&s.deliver(NodeId(1), request(1, ms(5))))[0];
    s.deliver(NodeId(1), request(2, ms(5)));
    s.now = SimTime::ZERO + ms(10);
    let done = s.fire(TimerId(0), Timer::Served(first));
    assert_eq!(notes(&done)[0], Note::Served { wasted: true });
    assert_eq!(
        started(&done).len(),
        1,
        "the expired request is served anyway"
    );

    let mut o = options();
    o.server.drop_expired = true;
    let mut s = server(&o);
    let first = started(&s.deliver(NodeId(1), request(1, ms(500))))[0];
    s.deliver(NodeId(1), request(2, ms(5)));
    s.deliver(NodeId(1), request(3, ms(500)));
    s.now = SimTime::ZERO + ms(10);
    let done = s.fire(TimerId(0), Timer::Served(first));
    assert!(notes(&done).contains(&Note::Dropped));
    assert_eq!(
        started(&done)[0].id,
        3,
        "the expired one is skipped without work"
    );
}

#[test]
fn admission_control_sheds_a_request_that_waited_too_long() {
    let mut o = options();
    o.server.shed_after = Some(ms(5));
    let mut s = server(&o);
    let first = started(&s.deliver(NodeId(1), request(1, ms(500))))[0];
    s.deliver(NodeId(1), request(2, ms(500)));
    s.now = SimTime::ZERO + ms(10);
    let done = s.fire(TimerId(0), Timer::Served(first));
    assert_eq!(replies(&done), [(1, Status::Ok), (2, Status::Shed)]);
}

#[test]
fn a_slow_window_and_load_stretch_the_service_time() {
    let mut o = options();
    o.server.concurrency = 2;
    o.server.slowdown = 1.0;
    o.slow = vec![super::options::SlowWindow {
        node: 0,
        at: ms(100),
        length: ms(100),
        factor: 4.0,
    }];
    let mut s = server(&o);
    let alone = s.deliver(NodeId(1), request(1, ms(500)));
    let after = |e: &[Effect<ServiceNode>]| timers(e)[0].1;
    assert_eq!(
        after(&alone),
        ms(10),
        "nothing held yet: the distribution's time"
    );
    let second = s.deliver(NodeId(1), request(2, ms(500)));
    assert_eq!(after(&second), ms(15), "one of two workers busy: 1.5x");
    s.now = SimTime::ZERO + ms(150);
    s.fire(TimerId(0), Timer::Served(started(&alone)[0]));
    let slow = s.deliver(NodeId(1), request(3, ms(500)));
    assert_eq!(after(&slow), ms(60), "4x slow, 1.5x loaded");
}

#[test]
fn a_client_retries_a_failed_attempt_at_once_without_backoff_and_gives_up_after_its_retries() {
    let mut o = options();
    o.retry = RetryPolicy {
        retries: 1,
        ..RetryPolicy::default()
    };
    let mut c = client(&o);
    let first = c.request(RequestId(7), super::Call);
    let sent = attempts(&first);
    assert_eq!(sent.len(), 1);
    let (to, id, _) = sent[0];
    let retry = reply(&mut c, to, id, 0, Status::Error);
    let resent = attempts(&retry);
    assert_eq!(resent.len(), 1, "one retry, sent at once");
    assert_eq!(resent[0].2, 1);
    assert_ne!(resent[0].0, to, "round-robin moves on");
    let late = reply(&mut c, to, id, 0, Status::Ok);
    assert!(late.is_empty(), "an answer to the old attempt is ignored");
    let end = reply(&mut c, resent[0].0, id, 1, Status::Rejected);
    assert!(end.iter().any(|e| matches!(
        e,
        Effect::Reply {
            req: RequestId(7),
            ok: false,
            res: Outcome::Exhausted
        }
    )));
    assert!(notes(&end).contains(&Note::Finished {
        outcome: Outcome::Exhausted,
        latency: SimDuration::ZERO,
        attempts: 2
    }));
}

#[test]
fn a_client_times_out_an_attempt_backs_off_and_succeeds() {
    let mut o = options();
    o.deadline = ms(1000);
    o.attempt_timeout = Some(ms(100));
    o.retry = RetryPolicy {
        retries: 3,
        base: ms(20),
        ..RetryPolicy::default()
    };
    let mut c = client(&o);
    let first = c.request(RequestId(1), super::Call);
    let (_, id, _) = attempts(&first)[0];
    let (tid, after, timeout) = timers(&first)[0].clone();
    assert_eq!(after, ms(100));
    c.now = SimTime::ZERO + ms(100);
    let backoff = c.fire(tid, timeout);
    assert!(attempts(&backoff).is_empty(), "waits out the backoff");
    let (rid, delay, retry) = timers(&backoff)[0].clone();
    assert_eq!(delay, ms(20));
    c.now = SimTime::ZERO + ms(120);
    let again = c.fire(rid, retry);
    let (to, _, attempt) = attempts(&again)[0];
    c.now = SimTime::ZERO + ms(130);
    let ok = reply(&mut c, to, id, attempt, Status::Ok);
    assert!(
        ok.iter().any(|e| matches!(e, Effect::CancelTimer(_))),
        "the attempt's timeout is cancelled"
    );
    assert!(notes(&ok).contains(&Note::Finished {
        outcome: Outcome::Ok,
        latency: ms(130),
        attempts: 2
    }));
}

#[test]
fn an_attempt_never_waits_past_the_deadline_and_a_retry_that_cannot_make_it_is_not_sent() {
    let mut o = options();
    o.deadline = ms(100);
    o.attempt_timeout = Some(ms(80));
    o.retry = RetryPolicy {
        retries: 3,
        base: ms(30),
        ..RetryPolicy::default()
    };
    let mut c = client(&o);
    let first = c.request(RequestId(1), super::Call);
    let (tid, _, timeout) = timers(&first)[0].clone();
    c.now = SimTime::ZERO + ms(80);
    let end = c.fire(tid, timeout);
    assert!(attempts(&end).is_empty() && timers(&end).is_empty());
    assert!(matches!(
        notes(&end)[..],
        [Note::Finished {
            outcome: Outcome::TimedOut,
            ..
        }]
    ));
}

#[test]
fn an_empty_budget_stops_retries_and_an_open_breaker_fails_fast() {
    let mut o = options();
    o.retry = RetryPolicy {
        retries: 5,
        ..RetryPolicy::default()
    };
    o.budget = Some(BudgetOptions {
        ratio: 0.0,
        cap: 1.0,
    });
    let mut c = client(&o);
    let (to, id, _) = attempts(&c.request(RequestId(1), super::Call))[0];
    let retry = reply(&mut c, to, id, 0, Status::Error);
    let (to, _, _) = attempts(&retry)[0];
    let denied = reply(&mut c, to, id, 1, Status::Error);
    assert!(matches!(
        notes(&denied)[..],
        [Note::Finished {
            outcome: Outcome::BudgetDenied,
            attempts: 2,
            ..
        }]
    ));

    let mut o = options();
    o.breaker = Some(BreakerOptions {
        failures: 1,
        open_for: ms(500),
        ..BreakerOptions::default()
    });
    let mut c = client(&o);
    let (to, id, _) = attempts(&c.request(RequestId(1), super::Call))[0];
    let opened = reply(&mut c, to, id, 0, Status::Error);
    assert!(notes(&opened).iter().any(opened_breaker));
    let fast = c.request(RequestId(2), super::Call);
    assert!(attempts(&fast).is_empty(), "no call while open");
    assert!(matches!(
        notes(&fast)[..],
        [Note::Finished {
            outcome: Outcome::BreakerOpen,
            attempts: 0,
            ..
        }]
    ));
    c.now = SimTime::ZERO + ms(500);
    assert_eq!(
        attempts(&c.request(RequestId(3), super::Call)).len(),
        1,
        "a probe once half-open"
    );
}

#[test]
fn a_breaker_per_endpoint_takes_only_the_failing_replica_out() {
    let mut o = options();
    o.breaker = Some(BreakerOptions {
        failures: 1,
        open_for: ms(500),
        per_endpoint: true,
        ..BreakerOptions::default()
    });
    let mut c = client(&o);
    let (to, id, _) = attempts(&c.request(RequestId(1), super::Call))[0];
    let opened = reply(&mut c, to, id, 0, Status::Error);
    assert!(notes(&opened).iter().any(opened_breaker));
    let mut last = (0, 0);
    for k in 2..6 {
        let sent = attempts(&c.request(RequestId(k), super::Call));
        assert_eq!(
            sent.len(),
            1,
            "no fast failure while another replica is closed"
        );
        assert_ne!(sent[0].0, to, "the replica whose breaker is open is out");
        last = (sent[0].0, sent[0].1);
        if k < 5 {
            reply(&mut c, last.0, last.1, 0, Status::Ok);
        }
    }
    let second = reply(&mut c, last.0, last.1, 0, Status::Error);
    assert!(notes(&second).iter().any(opened_breaker));
    let all_open = c.request(RequestId(9), super::Call);
    assert!(
        matches!(
            notes(&all_open)[..],
            [Note::Finished {
                outcome: Outcome::BreakerOpen,
                ..
            }]
        ),
        "both open: fail fast"
    );
}

#[test]
fn a_probe_unanswered_by_the_next_round_failed_even_if_its_timeout_is_longer() {
    let mut o = options();
    o.health = Some(super::health::HealthOptions {
        interval: ms(100),
        timeout: ms(500),
        unhealthy: 2,
        healthy: 2,
    });
    let mut c = client(&o);
    let first = timers(&c.start());
    let (id, _, probe) = first
        .iter()
        .find(|(_, _, t)| matches!(t, Timer::Probe))
        .cloned()
        .unwrap_or_else(|| panic!("{first:?}"));
    c.fire(id, probe.clone());
    c.deliver(NodeId(0), Msg::ProbeReply { seq: 1 });
    c.fire(id, probe.clone());
    c.deliver(NodeId(0), Msg::ProbeReply { seq: 2 });
    let third = c.fire(id, probe);
    assert!(
        notes(&third).contains(&Note::Health {
            replica: 1,
            change: super::health::Change::MarkedDown
        }),
        "replica 1 missed two rounds: {:?}",
        notes(&third)
    );
}

/// Whether `note` says a breaker opened.
fn opened_breaker(note: &Note) -> bool {
    matches!(
        note,
        Note::Breaker {
            state: BreakerState::Open { .. },
            ..
        }
    )
}

/// A proxy (node 3) over replicas 0..3.
fn proxy(o: &ServiceOptions) -> Harness<ServiceNode> {
    let node = ServiceNode::Proxy(Box::new(super::proxy::Proxy::new(o, 3)));
    let servers = (0..4).map(NodeId).collect();
    let mut h = Harness::new(node, NodeId(3), servers, 1);
    h.start();
    h
}

/// The replies `effects` send: `(to, request, attempt, status)`.
fn relayed(effects: &[Effect<ServiceNode>]) -> Vec<(u32, u64, u32, Status)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send {
                to,
                msg:
                    Msg::Reply {
                        id,
                        attempt,
                        status,
                    },
            } => Some((to.0, *id, *attempt, *status)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_proxy_forwards_each_attempt_to_a_replica_and_relays_the_answer() {
    let mut p = proxy(&options());
    let client = NodeId(7);
    let first = p.deliver(
        client,
        Msg::Request {
            id: 41,
            attempt: 2,
            budget: ms(300),
        },
    );
    let sent = attempts(&first);
    assert_eq!(sent.len(), 1);
    let (replica, fwd, attempt) = sent[0];
    assert!(replica < 3, "to a replica");
    assert_eq!(attempt, 0);
    assert!(notes(&first).contains(&Note::Forwarded { replica }));
    assert!(
        timers(&first)
            .iter()
            .any(|(_, after, t)| *after == ms(300) && matches!(t, Timer::Forwarded { .. })),
        "given up when the client's budget runs out"
    );
    let wrong = reply(&mut p, (replica + 1) % 3, fwd, 0, Status::Ok);
    assert!(
        relayed(&wrong).is_empty(),
        "only the replica forwarded to answers"
    );
    let answered = reply(&mut p, replica, fwd, 0, Status::Error);
    assert_eq!(relayed(&answered), [(7, 41, 2, Status::Error)]);
    assert!(
        relayed(&reply(&mut p, replica, fwd, 0, Status::Ok)).is_empty(),
        "one answer per forward"
    );
}

#[test]
fn a_proxy_balances_with_every_clients_attempts_in_view() {
    let mut o = options();
    o.balance = super::balancer::Balance::LeastOutstanding;
    let mut p = proxy(&o);
    // Three clients, one attempt each: least-outstanding at the proxy
    // spreads them over the three replicas, where three client-side
    // balancers, each seeing nothing outstanding, could pick one replica.
    let forwards: Vec<(u32, u64, u32)> = (0..3)
        .map(|c| attempts(&p.deliver(NodeId(4 + c), request(c.into(), ms(300))))[0])
        .collect();
    let mut picked: Vec<u32> = forwards.iter().map(|f| f.0).collect();
    picked.sort();
    assert_eq!(picked, [0, 1, 2]);
    // The forward to one replica is given up: that frees it, and it is
    // the next pick, the others still holding one each.
    let (replica, fwd, _) = forwards[1];
    let freed = p.fire(TimerId(0), Timer::Forwarded { id: fwd });
    assert!(
        relayed(&freed).is_empty(),
        "the client times out on its own"
    );
    let ServiceNode::Proxy(inner) = &p.node else {
        panic!("not the proxy")
    };
    assert_eq!(inner.in_flight(), 2, "two forwards still in flight");
    let next = attempts(&p.deliver(NodeId(7), request(9, ms(300))))[0].0;
    assert_eq!(next, replica, "the replica whose forward was given up");
}

#[test]
fn a_proxy_needs_a_replica_and_refuses_breakers_per_endpoint() {
    let mut o = options();
    o.proxy = Some(super::proxy::ProxyOptions::default());
    let twenty = SimDuration::from_secs(20);
    assert!(o.problem(2, twenty).is_none(), "a replica and the proxy");
    assert_eq!(o.problem(1, twenty).map(|p| p.0), Some("proxy"));
    assert_eq!(o.proxy_node(5), Some(NodeId(4)), "the last node");
    assert_eq!(o.replicas(5), 4);
    o.breaker = Some(BreakerOptions {
        per_endpoint: true,
        ..BreakerOptions::default()
    });
    assert_eq!(o.problem(5, twenty).map(|p| p.0), Some("breaker"));
}
