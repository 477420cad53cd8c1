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

fn get(h: &mut Harness<CacheNode>, key: u64) -> Vec<String> {
    sent(&h.deliver(CLIENT, Msg::Get { op: 1, key }))
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
        ["2 Miss { op: 1, lease: None, wait: false }"]
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
        ["2 Miss { op: 1, lease: Some(1), wait: false }"]
    );
    assert_eq!(
        get(&mut c, 7),
        ["2 Miss { op: 1, lease: None, wait: true }"],
        "another client fills it"
    );
    c.deliver(CLIENT, Msg::Delete { key: 7, version: 1 });
    let refused = fill(&mut c, 7, 1, Some(1));
    assert!(
        refused
            .iter()
            .any(|e| matches!(e, Effect::Note(Note::FillRefused))),
        "the race's stale fill"
    );
    assert_eq!(
        get(&mut c, 7),
        ["2 Miss { op: 1, lease: Some(2), wait: false }"]
    );
    assert!(
        fill(&mut c, 7, 2, Some(2)).is_empty(),
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
        ["1 Fill { key: 3, value: 8, version: 2, lease: Some(4) }"]
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
