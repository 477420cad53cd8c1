//! Unit tests of the cache-aside processes, one driven by hand.

use super::node::{CacheNode, CacheOptions};
use super::{CacheOp, CacheRes, Msg, Note, Timer, CACHE, DATABASE};
use crate::process::{Effect, Harness, NodeId, RequestId};
use crate::time::{SimDuration, SimTime};

const CLIENT: NodeId = NodeId(2);

fn harness(options: &CacheOptions, id: NodeId) -> Harness<CacheNode> {
    let mut h = Harness::new(CacheNode::new(options, id), id, vec![DATABASE, CACHE], 1);
    h.start();
    h
}

fn sent(effects: &[Effect<CacheNode>]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to, msg } => Some(format!("{} {msg:?}", to.0)),
            _ => None,
        })
        .collect()
}

/// The cache's incarnation number.
fn incarnation(h: &Harness<CacheNode>) -> u64 {
    match &h.node {
        CacheNode::Cache(c) => c.incarnation(),
        other => panic!("not the cache: {other:?}"),
    }
}

/// Lease `n` of the cache's incarnation.
fn lease(h: &Harness<CacheNode>, n: u64) -> u64 {
    (incarnation(h) << 32) | n
}

/// What the cache sent, its incarnation written `I` and its lease `n`
/// written `Ln`.
fn said(h: &Harness<CacheNode>, effects: &[Effect<CacheNode>]) -> Vec<String> {
    let i = incarnation(h);
    sent(effects)
        .into_iter()
        .map(|m| {
            let mut m = m.replace(&format!("incarnation: {i}"), "incarnation: I");
            for n in 1..10 {
                m = m.replace(&format!("Some({})", lease(h, n)), &format!("Some(L{n})"));
            }
            m
        })
        .collect()
}

fn get(h: &mut Harness<CacheNode>, key: u64) -> Vec<String> {
    get_by(h, CLIENT, 1, key)
}

fn get_by(h: &mut Harness<CacheNode>, client: NodeId, op: u64, key: u64) -> Vec<String> {
    let effects = h.deliver(client, Msg::Get { op, key });
    said(h, &effects)
}

fn fill(
    h: &mut Harness<CacheNode>,
    key: u64,
    version: u64,
    lease: Option<u64>,
) -> Vec<Effect<CacheNode>> {
    let msg = Msg::Fill {
        key,
        value: 10 * version,
        version,
        lease,
        incarnation: incarnation(h),
    };
    h.deliver(CLIENT, msg)
}

#[test]
fn the_cache_serves_a_fill_until_its_ttl_and_evicts_the_least_recently_used() {
    let options = CacheOptions {
        ttl: SimDuration::from_millis(100),
        capacity: 2,
        ..CacheOptions::default()
    };
    let mut c = harness(&options, CACHE);
    assert_eq!(
        get(&mut c, 1),
        ["2 Miss { op: 1, lease: None, wait: false, incarnation: I }"]
    );
    fill(&mut c, 1, 3, None);
    assert_eq!(get(&mut c, 1), ["2 Hit { op: 1, value: 30, version: 3 }"]);
    fill(&mut c, 2, 1, None);
    get(&mut c, 1); // 1 is now more recent than 2
    fill(&mut c, 3, 1, None);
    assert!(
        get(&mut c, 2)[0].contains("Miss"),
        "the least recently used went"
    );
    assert!(get(&mut c, 1)[0].contains("Hit"));
    c.now = SimTime::ZERO + SimDuration::from_millis(100);
    assert!(get(&mut c, 1)[0].contains("Miss"), "expired at its TTL");
    c.deliver(CLIENT, Msg::Delete { key: 3, version: 2 });
    assert!(get(&mut c, 3)[0].contains("Miss"), "deleted");
}

#[test]
fn a_lease_is_handed_to_one_miss_and_a_delete_invalidates_it() {
    let options = CacheOptions {
        leases: true,
        ..CacheOptions::default()
    };
    let mut c = harness(&options, CACHE);
    assert_eq!(
        get(&mut c, 7),
        ["2 Miss { op: 1, lease: Some(L1), wait: false, incarnation: I }"]
    );
    assert_eq!(
        get(&mut c, 7),
        ["2 Miss { op: 1, lease: None, wait: true, incarnation: I }"],
        "another client fills it"
    );
    c.deliver(CLIENT, Msg::Delete { key: 7, version: 1 });
    let first = lease(&c, 1);
    let refused = fill(&mut c, 7, 1, Some(first));
    assert!(
        refused
            .iter()
            .any(|e| matches!(e, Effect::Note(Note::FillRefused))),
        "the race's stale fill"
    );
    assert_eq!(
        get(&mut c, 7),
        ["2 Miss { op: 1, lease: Some(L2), wait: false, incarnation: I }"]
    );
    assert!(
        {
            let second = lease(&c, 2);
            fill(&mut c, 7, 2, Some(second)).is_empty()
        },
        "a valid lease fills"
    );
    assert_eq!(get(&mut c, 7), ["2 Hit { op: 1, value: 20, version: 2 }"]);
    let unleased = fill(&mut c, 8, 1, None);
    assert!(
        unleased
            .iter()
            .any(|e| matches!(e, Effect::Note(Note::FillRefused))),
        "no lease, no fill"
    );
}

#[test]
fn the_database_numbers_each_keys_writes_and_keeps_them_across_a_restart() {
    let options = CacheOptions::default();
    let mut db = harness(&options, DATABASE);
    for value in [5, 6] {
        db.deliver(
            CLIENT,
            Msg::DbWrite {
                op: value,
                key: 4,
                value,
            },
        );
    }
    let fresh = CacheNode::new(&options, DATABASE);
    db.crash_and_restart(fresh);
    let read = db.deliver(CLIENT, Msg::DbRead { op: 9, key: 4 });
    assert_eq!(sent(&read), ["2 DbValue { op: 9, value: 6, version: 2 }"]);
    assert!(read.iter().any(|e| matches!(e, Effect::Note(Note::DbRead))));
    let never = db.deliver(CLIENT, Msg::DbRead { op: 1, key: 99 });
    assert_eq!(sent(&never), ["2 DbValue { op: 1, value: 0, version: 0 }"]);
}

#[test]
fn a_client_reads_through_on_a_miss_and_deletes_after_a_write() {
    let options = CacheOptions::default();
    let mut cl = harness(&options, CLIENT);
    let start = sent(&cl.request(RequestId(1), CacheOp::Read { key: 3 }));
    assert_eq!(start.len(), 1);
    let op = start[0]
        .split("op: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{start:?}"));
    let miss = cl.deliver(
        CACHE,
        Msg::Miss {
            op,
            lease: Some(4),
            wait: false,
            incarnation: 6,
        },
    );
    assert_eq!(sent(&miss), [format!("0 DbRead {{ op: {op}, key: 3 }}")]);
    let value = cl.deliver(
        DATABASE,
        Msg::DbValue {
            op,
            value: 8,
            version: 2,
        },
    );
    assert_eq!(
        sent(&value),
        ["1 Fill { key: 3, value: 8, version: 2, lease: Some(4), incarnation: 6 }"]
    );
    assert!(value.iter().any(|e| matches!(
        e,
        Effect::Reply {
            req: RequestId(1),
            ok: true,
            res: CacheRes::Read {
                value: 8,
                version: 2,
                hit: false
            }
        }
    )));
    let write = sent(&cl.request(RequestId(2), CacheOp::Write { key: 3, value: 9 }));
    assert!(write[0].starts_with("0 DbWrite"));
    let op2 = op + 1;
    let done = cl.deliver(
        DATABASE,
        Msg::DbWritten {
            op: op2,
            version: 3,
        },
    );
    assert_eq!(sent(&done), ["1 Delete { key: 3, version: 3 }"]);
    let wait = cl.request(RequestId(3), CacheOp::Read { key: 3 });
    let again = cl.deliver(
        CACHE,
        Msg::Miss {
            op: op2 + 1,
            lease: None,
            wait: true,
            incarnation: 6,
        },
    );
    assert!(again.iter().any(|e| matches!(
        e,
        Effect::SetTimer {
            timer: Timer::Again { .. },
            ..
        }
    )));
    assert_eq!(sent(&wait).len(), 1);
}

#[test]
fn a_versioned_cache_refuses_what_is_older_than_a_version_it_has_seen() {
    let options = CacheOptions {
        versioned: true,
        ..CacheOptions::default()
    };
    let mut c = harness(&options, CACHE);
    c.deliver(CLIENT, Msg::Delete { key: 2, version: 5 });
    let stale = fill(&mut c, 2, 4, None);
    assert!(
        stale
            .iter()
            .any(|e| matches!(e, Effect::Note(Note::OlderRefused))),
        "the race's fill"
    );
    assert!(
        fill(&mut c, 2, 5, None).is_empty(),
        "the version the delete named may fill"
    );
    let set = c.deliver(
        CLIENT,
        Msg::Set {
            key: 2,
            value: 1,
            version: 3,
        },
    );
    assert!(
        set.iter()
            .any(|e| matches!(e, Effect::Note(Note::OlderRefused))),
        "an older writer's set"
    );
    assert!(c
        .deliver(
            CLIENT,
            Msg::Set {
                key: 2,
                value: 60,
                version: 6
            }
        )
        .is_empty());
    assert_eq!(get(&mut c, 2), ["2 Hit { op: 1, value: 60, version: 6 }"]);
    let plain = CacheOptions::default();
    let mut p = harness(&plain, CACHE);
    p.deliver(CLIENT, Msg::Delete { key: 2, version: 5 });
    assert!(
        fill(&mut p, 2, 4, None).is_empty(),
        "without versions the stale fill goes in"
    );
}

/// The lease-expiry timers `effects` armed.
fn expiries(effects: &[Effect<CacheNode>]) -> Vec<Timer> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetTimer { timer, .. } if matches!(timer, Timer::LeaseExpired { .. }) => {
                Some(timer.clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn an_unfilled_lease_expires_and_the_next_miss_takes_a_new_one() {
    let options = CacheOptions {
        leases: true,
        ..CacheOptions::default()
    };
    let mut c = harness(&options, CACHE);
    let first = c.deliver(CLIENT, Msg::Get { op: 1, key: 7 });
    let armed = expiries(&first);
    assert_eq!(armed.len(), 1, "a lease comes with its expiry");
    assert!(get(&mut c, 7)[0].contains("wait: true"));
    c.fire(crate::process::TimerId(0), armed[0].clone());
    assert_eq!(
        get(&mut c, 7),
        ["2 Miss { op: 1, lease: Some(L2), wait: false, incarnation: I }"],
        "the holder never filled: the key is free again"
    );
    let late = lease(&c, 1);
    let refused = fill(&mut c, 7, 1, Some(late));
    assert!(
        refused
            .iter()
            .any(|e| matches!(e, Effect::Note(Note::FillRefused))),
        "the expired lease's late fill"
    );
    c.fire(crate::process::TimerId(0), armed[0].clone());
    assert!(
        get(&mut c, 7)[0].contains("wait: true"),
        "an old lease's expiry leaves the new lease alone"
    );
}

#[test]
fn coalescing_holds_the_misses_behind_a_fill_and_answers_them_with_it() {
    let options = CacheOptions {
        leases: true,
        coalesce: true,
        ..CacheOptions::default()
    };
    let mut c = harness(&options, CACHE);
    assert!(get(&mut c, 7)[0].contains("Some(L1)"));
    assert!(
        get_by(&mut c, NodeId(3), 5, 7).is_empty(),
        "held, not told to wait"
    );
    assert!(get_by(&mut c, NodeId(4), 6, 7).is_empty());
    let held = lease(&c, 1);
    let filled = fill(&mut c, 7, 2, Some(held));
    let answered = said(&c, &filled);
    assert_eq!(
        answered,
        [
            "3 Hit { op: 5, value: 20, version: 2 }",
            "4 Hit { op: 6, value: 20, version: 2 }"
        ]
    );
    // A delete while reads are held: the first gets a new lease to
    // fill with, the other stays held behind it.
    assert!(get(&mut c, 8)[0].contains("Some(L2)"));
    get_by(&mut c, NodeId(3), 7, 8);
    get_by(&mut c, NodeId(4), 8, 8);
    let deleted = c.deliver(CLIENT, Msg::Delete { key: 8, version: 3 });
    assert_eq!(
        said(&c, &deleted),
        ["3 Miss { op: 7, lease: Some(L3), wait: false, incarnation: I }"]
    );
    let refilled = lease(&c, 3);
    let filled = fill(&mut c, 8, 3, Some(refilled));
    assert_eq!(
        said(&c, &filled),
        ["4 Hit { op: 8, value: 30, version: 3 }"]
    );
}

/// The lease the cache's answer in `effects` handed out, if any.
fn granted(effects: &[Effect<CacheNode>]) -> Option<u64> {
    effects.iter().find_map(|e| match e {
        Effect::Send {
            msg: Msg::Miss { lease, .. },
            ..
        } => *lease,
        _ => None,
    })
}

#[test]
fn a_restarted_cache_takes_no_fill_read_before_its_restart() {
    for (leases, versioned) in [(true, false), (false, true)] {
        let options = CacheOptions {
            leases,
            versioned,
            ..CacheOptions::default()
        };
        let mut c = harness(&options, CACHE);
        let old_lease = granted(&c.deliver(CLIENT, Msg::Get { op: 1, key: 7 }));
        let before = incarnation(&c);
        c.crash_and_restart(CacheNode::new(&options, CACHE));
        assert_ne!(incarnation(&c), before, "a new incarnation");
        // The same key's first miss after the restart: its lease must not
        // be the one handed out before.
        let new_lease = granted(&c.deliver(CLIENT, Msg::Get { op: 2, key: 7 }));
        assert_eq!(new_lease.is_some(), leases);
        let late = Msg::Fill {
            key: 7,
            value: 1,
            version: 1,
            lease: old_lease,
            incarnation: before,
        };
        let refused = c.deliver(CLIENT, late);
        assert!(
            refused
                .iter()
                .any(|e| matches!(e, Effect::Note(Note::FillRefused))),
            "leases {leases}, versioned {versioned}: a fill read before the restart"
        );
    }
}

#[test]
fn a_held_read_its_client_gave_up_on_is_not_handed_a_lease() {
    let options = CacheOptions {
        leases: true,
        coalesce: true,
        ..CacheOptions::default()
    };
    let mut c = harness(&options, CACHE);
    assert!(get(&mut c, 7)[0].contains("Some(L1)"));
    assert!(get_by(&mut c, NodeId(3), 5, 7).is_empty(), "held at 0 s");
    c.now = SimTime::ZERO + SimDuration::from_millis(1500);
    assert!(get_by(&mut c, NodeId(4), 6, 7).is_empty(), "held at 1.5 s");
    let deleted = c.deliver(CLIENT, Msg::Delete { key: 7, version: 2 });
    assert_eq!(
        said(&c, &deleted),
        ["4 Miss { op: 6, lease: Some(L2), wait: false, incarnation: I }"],
        "client 3 gave its read up after 1 s: client 4 is next"
    );
    c.now = SimTime::ZERO + SimDuration::from_millis(1600);
    assert!(get_by(&mut c, NodeId(5), 7, 7).is_empty(), "held behind L2");
    c.now = SimTime::ZERO + SimDuration::from_secs(5);
    let late = c.deliver(CLIENT, Msg::Delete { key: 7, version: 3 });
    assert!(
        said(&c, &late).is_empty(),
        "client 5's read, held at 1.6 s, was given up long ago"
    );
}
