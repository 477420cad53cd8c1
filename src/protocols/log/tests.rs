//! Unit tests of the log's processes, each driven by hand: replication
//! (the high watermark, ISR shrink, leader-epoch truncation), the
//! idempotent producer, polls below the high watermark, the controller's
//! elections, and the sink committing with the effect.

use super::{Acks, Broker, Controller, Entry, Layout, LogNode, LogOptions, Msg, Note};
use super::{PartitionState, ProduceError, Sink, Timer};
use crate::process::{Effect, Harness, NodeId, TimerId};
use crate::time::{SimDuration, SimTime};

const LAYOUT: Layout = Layout {
    brokers: 3,
    servers: 6,
};
const CONTROLLER: NodeId = NodeId(3);
const PRODUCER: NodeId = NodeId(6);

/// One partition on all three brokers (0 its preferred leader).
fn options() -> LogOptions {
    LogOptions {
        partitions: 1,
        ..LogOptions::default()
    }
}

fn harness(node: LogNode, me: NodeId) -> Harness<LogNode> {
    let servers = (0..6).map(NodeId).collect();
    let mut h = Harness::new(node, me, servers, 1);
    h.start();
    h
}

fn broker(options: &LogOptions, me: u32) -> Harness<LogNode> {
    harness(
        LogNode::Broker(Broker::new(options, LAYOUT, NodeId(me))),
        NodeId(me),
    )
}

fn sent(effects: &[Effect<LogNode>]) -> Vec<(NodeId, Msg)> {
    Effect::sends(effects)
}

fn notes(effects: &[Effect<LogNode>]) -> Vec<Note> {
    Effect::notes(effects)
}

fn state(leader: u32, epoch: u64, isr: &[u32], version: u64) -> PartitionState {
    PartitionState {
        leader: Some(leader),
        epoch,
        isr: isr.to_vec(),
        version,
    }
}

/// Tells a broker the controller's word on partition 0.
fn tell(h: &mut Harness<LogNode>, s: PartitionState) -> Vec<Effect<LogNode>> {
    h.deliver(CONTROLLER, Msg::States(vec![(0, s)]))
}

fn produce(h: &mut Harness<LogNode>, req: u64, value: u64, acks: Acks) -> Vec<(NodeId, Msg)> {
    produce_as(h, req, value, (0, 0), acks)
}

fn produce_as(
    h: &mut Harness<LogNode>,
    req: u64,
    value: u64,
    (producer, seq): (u64, u64),
    acks: Acks,
) -> Vec<(NodeId, Msg)> {
    let msg = Msg::Produce {
        req,
        partition: 0,
        value,
        producer,
        seq,
        time_ns: 0,
        acks,
    };
    sent(&h.deliver(PRODUCER, msg))
}

fn fetch(h: &mut Harness<LogNode>, from: u32, epoch: u64, offset: u64, last_epoch: u64) -> Msg {
    let msg = Msg::Fetch {
        partition: 0,
        epoch,
        offset,
        last_epoch,
        seq: 1,
    };
    let out = sent(&h.deliver(NodeId(from), msg));
    assert_eq!(out.len(), 1, "{out:?}");
    out[0].1.clone()
}

fn log_values(h: &Harness<LogNode>) -> (Vec<u64>, u64) {
    let LogNode::Broker(b) = &h.node else {
        unreachable!()
    };
    let r = b.replica(0).expect("hosted");
    (r.log().iter().map(|e| e.value).collect(), r.hw())
}

#[test]
fn acks_all_waits_for_every_in_sync_replica_and_acks_1_does_not() {
    let mut leader = broker(&options(), 0);
    tell(&mut leader, state(0, 1, &[0, 1, 2], 1));
    assert!(
        matches!(
            produce(&mut leader, 7, 70, Acks::Leader)[..],
            [(PRODUCER, Msg::ProduceOk { req: 7, offset: 0 })]
        ),
        "acks = 1: at once"
    );
    assert!(
        produce(&mut leader, 8, 80, Acks::All).is_empty(),
        "acks = all: not yet"
    );
    assert_eq!(leader.disk.unsynced(), 0, "synced before anything is said");
    // Follower 1 has both; follower 2 only the first: the high watermark
    // is the least log end of the ISR.
    fetch(&mut leader, 1, 1, 2, 1);
    assert_eq!(log_values(&leader).1, 0);
    let out = sent(&leader.deliver(
        NodeId(2),
        Msg::Fetch {
            partition: 0,
            epoch: 1,
            offset: 1,
            last_epoch: 1,
            seq: 1,
        },
    ));
    assert_eq!(log_values(&leader).1, 1);
    assert!(
        !out.iter().any(|(to, _)| *to == PRODUCER),
        "offset 1 is not committed yet"
    );
    let out = sent(&leader.deliver(
        NodeId(2),
        Msg::Fetch {
            partition: 0,
            epoch: 1,
            offset: 2,
            last_epoch: 1,
            seq: 2,
        },
    ));
    assert!(
        out.iter()
            .any(|m| matches!(m, (PRODUCER, Msg::ProduceOk { req: 8, offset: 1 }))),
        "{out:?}"
    );
}

#[test]
fn a_leader_refuses_acks_all_while_its_isr_is_below_min_insync_replicas() {
    let mut leader = broker(&options(), 0);
    tell(&mut leader, state(0, 1, &[0], 2));
    let out = produce(&mut leader, 1, 10, Acks::All);
    let refused = Msg::ProduceRefused {
        req: 1,
        error: ProduceError::NotEnoughReplicas,
    };
    assert!(
        matches!(&out[..], [(PRODUCER, m)] if format!("{m:?}") == format!("{refused:?}")),
        "{out:?}"
    );
    assert!(log_values(&leader).0.is_empty(), "nothing appended");
    let mut follower = broker(&options(), 1);
    tell(&mut follower, state(0, 1, &[0, 1, 2], 1));
    let out = produce(&mut follower, 2, 20, Acks::Leader);
    assert!(
        matches!(
            &out[..],
            [(
                PRODUCER,
                Msg::ProduceRefused {
                    error: ProduceError::NotLeader,
                    ..
                }
            )]
        ),
        "{out:?}"
    );
}

#[test]
fn an_idempotent_producers_retry_is_answered_with_the_first_offset_not_appended_again() {
    let mut leader = broker(&options(), 0);
    tell(&mut leader, state(0, 1, &[0, 1, 2], 1));
    produce_as(&mut leader, 1, 10, (42, 1), Acks::Leader);
    let again = produce_as(&mut leader, 2, 10, (42, 1), Acks::Leader);
    assert!(
        matches!(again[..], [(_, Msg::ProduceOk { req: 2, offset: 0 })]),
        "{again:?}"
    );
    produce(&mut leader, 3, 11, Acks::Leader);
    produce(&mut leader, 4, 11, Acks::Leader);
    assert_eq!(
        log_values(&leader).0,
        [10, 11, 11],
        "without an id a retry appends again"
    );
}

#[test]
fn a_follower_cuts_its_log_where_it_diverges_from_the_new_leaders_s5_kip_101() {
    // The new leader (epoch 3) has [e1, e1, e2]; the follower [e1, e1, e1, e1]:
    // records 2 and 3 of epoch 1 were never committed.
    let mut leader = broker(&options(), 1);
    let seq = fetch_seq(&tell(&mut leader, state(0, 1, &[0, 1, 2], 1)));
    leader.deliver(
        NodeId(0),
        Msg::Fetched {
            partition: 0,
            seq,
            offset: 0,
            entries: vec![entry(1, 1), entry(1, 2)],
            hw: 0,
        },
    );
    tell(&mut leader, state(1, 2, &[1, 2], 2));
    produce(&mut leader, 1, 3, Acks::Leader);
    tell(&mut leader, state(1, 3, &[1, 2], 3));
    assert_eq!(log_values(&leader).0, [1, 2, 3]);
    let answer = fetch(&mut leader, 2, 3, 4, 1);
    let Msg::Diverging { epoch, end, .. } = answer else {
        panic!("{answer:?}")
    };
    assert_eq!((epoch, end), (1, 2), "its epoch-1 records end at 2");
    let mut follower = broker(&options(), 2);
    let seq = fetch_seq(&tell(&mut follower, state(0, 1, &[0, 1, 2], 1)));
    follower.deliver(
        NodeId(0),
        Msg::Fetched {
            partition: 0,
            seq,
            offset: 0,
            entries: (1..=4).map(|v| entry(1, v)).collect(),
            hw: 2,
        },
    );
    let seq = fetch_seq(&tell(&mut follower, state(1, 3, &[1, 2], 3)));
    let cut = follower.deliver(
        NodeId(1),
        Msg::Diverging {
            partition: 0,
            seq,
            epoch: 1,
            end: 2,
        },
    );
    assert_eq!(log_values(&follower).0, [1, 2]);
    assert_eq!(
        notes(&cut),
        [Note::Truncated {
            partition: 0,
            count: 2,
            committed: 0
        }]
    );
    assert!(sent(&cut).iter().any(|(_, m)| matches!(
        m,
        Msg::Fetch {
            offset: 2,
            last_epoch: 1,
            ..
        }
    )));
}

/// The sequence number of the fetch among `effects`.
fn fetch_seq(effects: &[Effect<LogNode>]) -> u64 {
    let found = sent(effects).iter().find_map(|(_, m)| match m {
        Msg::Fetch { seq, .. } => Some(*seq),
        _ => None,
    });
    found.unwrap_or_else(|| panic!("no fetch in {effects:?}"))
}

fn entry(epoch: u64, value: u64) -> Entry {
    Entry {
        epoch,
        value,
        producer: 0,
        seq: 0,
        time_ns: 0,
    }
}

#[test]
fn a_lagging_follower_is_proposed_out_of_the_isr_and_counts_until_the_controller_agrees() {
    let mut leader = broker(&options(), 0);
    tell(&mut leader, state(0, 1, &[0, 1, 2], 1));
    produce(&mut leader, 1, 10, Acks::All);
    fetch(&mut leader, 1, 1, 1, 1);
    leader.now = SimTime::ZERO + SimDuration::from_secs(1);
    fetch(&mut leader, 1, 1, 1, 1);
    let out = sent(&leader.fire(TimerId(0), Timer::IsrCheck));
    assert!(
        out.iter().any(|(to, m)| *to == CONTROLLER
            && matches!(m, Msg::AlterIsr { isr, version: 1, .. } if isr == &[0, 1])),
        "{out:?}"
    );
    assert_eq!(
        log_values(&leader).1,
        0,
        "2 still counts: the controller has not agreed"
    );
    let answered = sent(&tell(&mut leader, state(0, 1, &[0, 1], 2)));
    assert_eq!(log_values(&leader).1, 1);
    assert!(answered
        .iter()
        .any(|m| matches!(m, (PRODUCER, Msg::ProduceOk { req: 1, .. }))));
    // Caught up again, follower 2 is proposed back in.
    let out = sent(&leader.deliver(
        NodeId(2),
        Msg::Fetch {
            partition: 0,
            epoch: 1,
            offset: 1,
            last_epoch: 1,
            seq: 9,
        },
    ));
    assert!(
        out.iter()
            .any(|(_, m)| matches!(m, Msg::AlterIsr { isr, .. } if isr == &[0, 1, 2])),
        "{out:?}"
    );
}

#[test]
fn consumers_read_only_committed_records_and_are_told_to_reset_past_the_log_end() {
    let mut leader = broker(&options(), 0);
    tell(&mut leader, state(0, 1, &[0, 1], 1));
    produce(&mut leader, 1, 10, Acks::Leader);
    produce(&mut leader, 2, 11, Acks::Leader);
    fetch(&mut leader, 1, 1, 1, 1);
    let poll = |h: &mut Harness<LogNode>, offset| {
        sent(&h.deliver(
            NodeId(5),
            Msg::Poll {
                partition: 0,
                offset,
                seq: 3,
            },
        ))
    };
    let out = poll(&mut leader, 0);
    assert!(
        matches!(&out[..], [(_, Msg::Records { values, .. })] if values == &[10]),
        "{out:?}"
    );
    let out = poll(&mut leader, 9);
    assert!(
        matches!(
            &out[..],
            [(
                _,
                Msg::PollRefused {
                    error: super::PollError::OutOfRange(1),
                    ..
                }
            )]
        ),
        "{out:?}"
    );
}

fn controller(options: &LogOptions) -> Harness<LogNode> {
    harness(
        LogNode::Controller(Controller::new(options, LAYOUT)),
        CONTROLLER,
    )
}

fn states(h: &Harness<LogNode>) -> PartitionState {
    let LogNode::Controller(c) = &h.node else {
        unreachable!()
    };
    c.states()[0].clone()
}

fn heartbeat(h: &mut Harness<LogNode>, b: u32, incarnation: u64) -> Vec<Effect<LogNode>> {
    h.deliver(NodeId(b), Msg::Heartbeat { incarnation })
}

fn sweep_at(h: &mut Harness<LogNode>, ms: u64) -> Vec<Effect<LogNode>> {
    h.now = SimTime::ZERO + SimDuration::from_millis(ms);
    h.fire(TimerId(0), Timer::Sweep)
}

#[test]
fn a_silent_leader_loses_its_partition_to_an_in_sync_replica_and_the_last_member_stays() {
    let mut c = controller(&options());
    assert_eq!(states(&c), state(0, 1, &[0, 1, 2], 1));
    c.now = SimTime::ZERO + SimDuration::from_millis(500);
    heartbeat(&mut c, 1, 1);
    heartbeat(&mut c, 2, 1);
    let out = sweep_at(&mut c, 700);
    let elections = notes(&out)
        .into_iter()
        .filter(|n| matches!(n, Note::Elected { .. }))
        .count();
    assert_eq!(elections, 1, "{out:?}");
    let s = states(&c);
    assert_eq!((s.leader, s.epoch, s.isr.clone()), (Some(1), 2, vec![1, 2]));
    c.now = SimTime::ZERO + SimDuration::from_millis(1000);
    heartbeat(&mut c, 2, 1);
    sweep_at(&mut c, 1400);
    let s = states(&c);
    assert_eq!((s.leader, s.isr.clone()), (Some(2), vec![2]));
    sweep_at(&mut c, 2100);
    let s = states(&c);
    assert_eq!(
        (s.leader, s.isr),
        (None, vec![2]),
        "offline, 2 kept as the last member"
    );
    let back = heartbeat(&mut c, 2, 2);
    assert_eq!(
        states(&c).leader,
        Some(2),
        "its return brings the partition back"
    );
    assert!(notes(&back)
        .iter()
        .any(|n| matches!(n, Note::Elected { unclean: false, .. })));
}

#[test]
fn with_unclean_election_an_out_of_sync_replica_takes_over_and_becomes_the_whole_isr() {
    let options = LogOptions {
        unclean_leader_election: true,
        ..options()
    };
    let mut c = controller(&options);
    // Followers gone first: 0 is the last in-sync replica.
    c.now = SimTime::ZERO + SimDuration::from_millis(500);
    heartbeat(&mut c, 0, 1);
    sweep_at(&mut c, 700);
    assert_eq!(states(&c).isr, [0]);
    c.now = SimTime::ZERO + SimDuration::from_millis(1000);
    heartbeat(&mut c, 1, 1);
    let out = sweep_at(&mut c, 1400);
    let s = states(&c);
    assert_eq!((s.leader, s.isr), (Some(1), vec![1]));
    assert!(notes(&out)
        .iter()
        .any(|n| matches!(n, Note::Elected { unclean: true, .. })));
}

#[test]
fn a_broker_back_with_a_new_incarnation_is_a_failure_and_an_isr_change_needs_the_current_version() {
    let mut c = controller(&options());
    heartbeat(&mut c, 0, 1);
    heartbeat(&mut c, 0, 2);
    let s = states(&c);
    assert_eq!(
        (s.leader, s.isr.clone()),
        (Some(1), vec![1, 2]),
        "it restarted: out"
    );
    let stale = Msg::AlterIsr {
        partition: 0,
        epoch: 2,
        version: 1,
        isr: vec![1],
    };
    let out = sent(&c.deliver(NodeId(1), stale));
    assert_eq!(states(&c).isr, [1, 2], "based on an old version: refused");
    assert!(
        matches!(&out[..], [(NodeId(1), Msg::States(_))]),
        "answered with the current state"
    );
    let current = Msg::AlterIsr {
        partition: 0,
        epoch: 2,
        version: s.version,
        isr: vec![0, 1, 2],
    };
    c.deliver(NodeId(1), current);
    assert_eq!(states(&c).isr, [0, 1, 2]);
}

#[test]
fn committing_with_the_effect_the_sink_applies_each_offset_once() {
    let options = LogOptions {
        commit: super::CommitWhen::WithEffect,
        ..options()
    };
    let mut sink = harness(LogNode::Sink(Sink::new(&options)), NodeId(4));
    let apply = |offset, values: &[u64]| Msg::Apply {
        partition: 0,
        offset,
        values: values.to_vec(),
        times: vec![0; values.len()],
    };
    let first = sink.deliver(NodeId(5), apply(0, &[10, 11]));
    assert_eq!(
        notes(&first),
        [Note::Applied { value: 10 }, Note::Applied { value: 11 }]
    );
    assert_eq!(
        sink.disk.unsynced(),
        0,
        "position and effect durable together"
    );
    let again = sink.deliver(NodeId(5), apply(1, &[11, 12]));
    assert_eq!(
        notes(&again),
        [Note::Deduplicated, Note::Applied { value: 12 }]
    );
    assert!(matches!(
        sent(&again)[..],
        [(_, Msg::Applied { offset: 3, .. })]
    ));
    let restarted = sink.crash_and_restart(LogNode::Sink(Sink::new(&options)));
    assert!(notes(&restarted).is_empty());
    let out = sent(&sink.deliver(NodeId(5), Msg::FetchPositions(vec![0])));
    assert!(
        matches!(&out[..], [(_, Msg::Positions(p))] if p == &[(0, 3)]),
        "{out:?}"
    );
}

#[test]
fn a_projection_answers_at_its_snapshot_and_a_restart_sends_consumers_back_to_it() {
    let options = LogOptions {
        commit: super::CommitWhen::WithEffect,
        projection: true,
        ..options()
    };
    let fresh = || LogNode::Sink(Sink::new(&options));
    let mut sink = harness(fresh(), NodeId(4));
    let apply = |offset, values: &[u64]| Msg::Apply {
        partition: 0,
        offset,
        values: values.to_vec(),
        times: vec![0; values.len()],
    };
    let first = sink.deliver(NodeId(5), apply(0, &[3, 11]));
    assert!(
        sent(&first).is_empty() && notes(&first).is_empty(),
        "held for the snapshot"
    );
    let snap = sink.fire(TimerId(0), Timer::Snapshot);
    assert_eq!(
        notes(&snap),
        [Note::Applied { value: 3 }, Note::Applied { value: 11 }]
    );
    assert!(matches!(
        sent(&snap)[..],
        [(_, Msg::Applied { offset: 2, .. })]
    ));
    // Applied after the snapshot, then a crash: the restart keeps the
    // snapshot only, and a batch past it is answered with its position.
    sink.deliver(NodeId(5), apply(2, &[7]));
    let asked = sent(&sink.deliver(NodeId(5), Msg::FetchPositions(vec![0])));
    assert!(
        matches!(&asked[..], [(_, Msg::Positions(p))] if p == &[(0, 2)]),
        "only what the snapshot holds: {asked:?}"
    );
    sink.crash_and_restart(fresh());
    let LogNode::Sink(s) = &sink.node else {
        unreachable!()
    };
    let (live, snapshot) = s.projection().expect("a projection");
    assert_eq!(live, snapshot);
    assert_eq!(live.balances.get(&3), Some(&14), "3 and 11 are account 3's");
    let gap = sink.deliver(NodeId(5), apply(3, &[9]));
    assert!(notes(&gap).is_empty(), "nothing applied past a gap");
    let answers = sent(&sink.fire(TimerId(0), Timer::Snapshot));
    assert!(
        matches!(answers[..], [(_, Msg::Applied { offset: 2, .. })]),
        "{answers:?}"
    );
}

#[test]
fn a_lapsed_consumers_partitions_move_and_its_old_generation_cannot_commit() {
    let options = LogOptions {
        partitions: 4,
        ..LogOptions::default()
    };
    let layout = Layout {
        brokers: 3,
        servers: 7,
    };
    let mut c = harness(
        LogNode::Controller(Controller::new(&options, layout)),
        CONTROLLER,
    );
    let assignment = |effects: &[Effect<LogNode>]| match &sent(effects)[..] {
        [(
            _,
            Msg::Assignment {
                generation,
                partitions,
            },
        )] => (*generation, partitions.clone()),
        other => panic!("{other:?}"),
    };
    let (first, mine) = assignment(&c.deliver(NodeId(5), Msg::GroupHeartbeat));
    assert_eq!(mine, [0, 2], "the first of two live consumers");
    let commit = |generation| Msg::Commit {
        generation,
        partition: 0,
        offset: 7,
    };
    c.deliver(NodeId(5), commit(first));
    // Consumer 6 goes silent; after its session, 5 owns everything, in a
    // new generation, and a commit of the old one is refused.
    c.now = SimTime::ZERO + SimDuration::from_millis(500);
    c.deliver(NodeId(5), Msg::GroupHeartbeat);
    sweep_at(&mut c, 700);
    let (second, mine) = assignment(&c.deliver(NodeId(5), Msg::GroupHeartbeat));
    assert!(second > first);
    assert_eq!(mine, [0, 1, 2, 3]);
    let mut stale = commit(first);
    if let Msg::Commit { offset, .. } = &mut stale {
        *offset = 9;
    }
    c.deliver(NodeId(6), stale);
    let asked = sent(&c.deliver(NodeId(5), Msg::FetchPositions(vec![0])));
    assert!(
        matches!(&asked[..], [(_, Msg::Positions(p))] if p == &[(0, 7)]),
        "the old generation's commit of 9 was refused: {asked:?}"
    );
}
