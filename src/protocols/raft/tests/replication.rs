//! Log replication (§5.3): Figure 7's follower logs brought to the
//! leader's, the back-off hint, and the flow control that keeps one
//! AppendEntries in flight per follower (or pipelines them).

use super::*;

// ----- §5.3: replication ----------------------------------------------------------------

/// Runs the exchange between `leader` and `follower` until it is quiet.
fn pump(
    leader: &mut Harness<RaftNode>,
    follower: &mut Harness<RaftNode>,
    first: Vec<(NodeId, Msg)>,
) {
    let (lid, fid) = (leader.me, follower.me);
    let mut to_follower: Vec<Msg> = first
        .into_iter()
        .filter(|(to, _)| *to == fid)
        .map(|(_, m)| m)
        .collect();
    for _ in 0..100 {
        if to_follower.is_empty() {
            return;
        }
        let mut to_leader = Vec::new();
        for m in to_follower.drain(..) {
            to_leader.extend(sent(follower.deliver(lid, m)).into_iter().map(|(_, m)| m));
        }
        for m in to_leader {
            let out = sent(leader.deliver(fid, m));
            to_follower.extend(out.into_iter().filter(|(to, _)| *to == fid).map(|(_, m)| m));
        }
    }
    panic!("the exchange did not settle");
}

/// §5.3, Figure 7: a new leader of term 8 brings each of the follower logs
/// (a)-(f) to its own, deleting the extraneous entries and filling the
/// missing ones, through the consistency check and the back-off hint.
#[test]
fn s5_3_figure_7_follower_logs_converge() {
    let leader_log = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    let followers: [(&str, u64, &[u64]); 6] = [
        ("a", 6, &[1, 1, 1, 4, 4, 5, 5, 6, 6]),
        ("b", 4, &[1, 1, 1, 4]),
        ("c", 6, &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6]),
        ("d", 7, &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7]),
        ("e", 4, &[1, 1, 1, 4, 4, 4, 4]),
        ("f", 3, &[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]),
    ];
    let o = opts(false);
    for (name, term, log) in followers {
        let (mut leader, timer) = node(0, 7, &leader_log, &o);
        let first = elect(&mut leader, timer);
        assert_eq!(srv(&leader).term(), 8);
        let (mut follower, _) = node(1, term, log, &o);
        pump(&mut leader, &mut follower, first);
        let mut want = leader_log.to_vec();
        want.push(8);
        assert_eq!(log_terms(&follower), want, "follower ({name})");
        assert_eq!(log_terms(&leader), want, "the leader's log is append-only");
        assert_eq!(
            srv(&follower).commit_index(),
            0,
            "one follower is no majority"
        );
    }
}

/// §5.3: the fast back-off hint names the conflicting term and its first index.
#[test]
fn s5_3_conflict_reply_carries_the_back_off_hint() {
    let (mut h, _) = node(1, 3, &[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], &opts(false));
    let out = sent(h.deliver(
        NodeId(0),
        Msg::Append {
            term: 8,
            prev_index: 10,
            prev_term: 6,
            entries: Vec::new(),
            commit: 0,
        },
    ));
    assert!(matches!(
        out.as_slice(),
        [(
            _,
            Msg::AppendReply {
                success: false,
                match_index: 7,
                conflict_term: Some(3),
                ..
            }
        )]
    ));
}

// ----- replication flow control (`pipeline` off, the default) ----------------------------

/// The heartbeat timer armed among `effects`, if any.
fn heartbeat_timer(effects: &[Effect<RaftNode>]) -> Option<TimerId> {
    effects.iter().find_map(|e| match e {
        Effect::SetTimer {
            id,
            timer: Timer::Heartbeat,
            ..
        } => Some(*id),
        _ => None,
    })
}

/// Elects `h` (pre_vote off) with votes from 1 and 2; returns what it sent
/// and its heartbeat timer.
fn elect_with_heartbeat(
    h: &mut Harness<RaftNode>,
    timer: TimerId,
) -> (Vec<(NodeId, Msg)>, TimerId) {
    time_out(h, timer);
    let term = srv(h).term();
    h.deliver(NodeId(1), vote_reply(term, true));
    let effects = h.deliver(NodeId(2), vote_reply(term, true));
    let heartbeat = heartbeat_timer(&effects);
    let Some(heartbeat) = heartbeat else {
        panic!("a new leader arms its heartbeat");
    };
    (sent(effects), heartbeat)
}

/// A client command from client process 5 (session 5, sequence `seq`).
fn client_put(seq: u64) -> Msg {
    Msg::Request {
        session: 5,
        seq,
        op: Rc::new(KvOp::Put {
            key: "k".into(),
            value: format!("v{seq}").into(),
        }),
    }
}

/// The (prev_index, number of entries) of every AppendEntries to `to`.
fn appends_to(out: &[(NodeId, Msg)], to: u32) -> Vec<(u64, usize)> {
    out.iter()
        .filter_map(|(n, m)| match m {
            Msg::Append {
                prev_index,
                entries,
                ..
            } if n.0 == to => Some((*prev_index, entries.len())),
            _ => None,
        })
        .collect()
}

/// A follower with an AppendEntries in flight gets no more until it answers;
/// its answer releases what accumulated, in one message.
#[test]
fn flow_control_keeps_one_append_in_flight_per_follower() {
    let (mut h, timer) = node(0, 1, &[1], &opts(false));
    let (out, _) = elect_with_heartbeat(&mut h, timer);
    assert_eq!(appends_to(&out, 1), vec![(1, 1)], "the no-op at index 2");
    let out = sent(h.deliver(NodeId(5), client_put(1)));
    let out2 = sent(h.deliver(NodeId(5), client_put(2)));
    assert!(
        out.is_empty() && out2.is_empty(),
        "every follower has one in flight"
    );
    let term = srv(&h).term();
    let out = sent(h.deliver(NodeId(1), success(term, 2)));
    assert_eq!(
        appends_to(&out, 1),
        vec![(2, 2)],
        "indices 3 and 4 together"
    );
    assert!(
        appends_to(&out, 2).is_empty(),
        "follower 2 has not answered"
    );
}

/// With `pipeline`, every new entry goes to every follower at once.
#[test]
fn pipeline_sends_each_entry_at_once() {
    let o = ServerOptions {
        pipeline: true,
        ..opts(false)
    };
    let (mut h, timer) = node(0, 1, &[1], &o);
    elect_with_heartbeat(&mut h, timer);
    let out = sent(h.deliver(NodeId(5), client_put(1)));
    for peer in 1..N as u32 {
        assert_eq!(appends_to(&out, peer), vec![(2, 1)]);
    }
}

/// A heartbeat to a follower with entries in flight checks at its match
/// index (so it cannot overtake them and be rejected); one unanswered for
/// a heartbeat interval is presumed lost and resent from the match index.
#[test]
fn heartbeats_do_not_overtake_and_resend_what_was_lost() {
    let (mut h, timer) = node(0, 1, &[1], &opts(false));
    let (_, heartbeat) = elect_with_heartbeat(&mut h, timer);
    let term = srv(&h).term();
    h.deliver(NodeId(1), success(term, 2));
    h.now = h.now + SimDuration::from_millis(10);
    let effects = h.fire(heartbeat, Timer::Heartbeat);
    let next = heartbeat_timer(&effects);
    let out = sent(effects);
    assert_eq!(
        appends_to(&out, 1),
        vec![(2, 0)],
        "caught up: a plain heartbeat"
    );
    assert_eq!(
        appends_to(&out, 2),
        vec![(0, 0)],
        "in flight: checks at match index 0"
    );
    h.now = h.now + SimDuration::from_millis(50);
    let Some(next) = next else {
        panic!("the heartbeat re-arms");
    };
    let out = sent(h.fire(next, Timer::Heartbeat));
    assert_eq!(
        appends_to(&out, 2),
        vec![(0, 2)],
        "presumed lost: resent from index 1"
    );
    assert_eq!(appends_to(&out, 1), vec![(2, 0)]);
}
