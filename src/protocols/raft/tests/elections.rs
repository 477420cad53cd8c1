//! Terms (§5.1), leader election (§5.2), the election restriction
//! (§5.4.1), and PreVote (thesis §9.6).

use super::*;

// ----- §5.1: terms ----------------------------------------------------------------------

/// §5.1: a server that sees a higher term adopts it (durably) and becomes a follower.
#[test]
fn s5_1_higher_term_makes_a_leader_step_down() {
    let (mut h, timer) = node(0, 2, &[1], &opts(false));
    elect(&mut h, timer);
    let reply = Msg::AppendReply {
        term: 9,
        success: false,
        match_index: 0,
        conflict_term: None,
    };
    h.deliver(NodeId(3), reply);
    assert_eq!(srv(&h).role(), Role::Follower);
    assert_eq!(srv(&h).term(), 9);
    assert_eq!(durable_term(&h), Some(9));
    assert_eq!(h.disk.unsynced(), 0);
}

/// §5.1: a request with a stale term is rejected and changes nothing.
#[test]
fn s5_1_stale_term_append_is_rejected() {
    let (mut h, _) = node(1, 5, &[1, 5], &opts(false));
    let out = sent(h.deliver(
        NodeId(0),
        Msg::Append {
            term: 4,
            prev_index: 2,
            prev_term: 5,
            entries: Vec::new(),
            commit: 2,
        },
    ));
    assert!(matches!(
        out.as_slice(),
        [(
            NodeId(0),
            Msg::AppendReply {
                term: 5,
                success: false,
                ..
            }
        )]
    ));
    assert_eq!(srv(&h).commit_index(), 0);
    assert_eq!(srv(&h).leader(), None);
}

// ----- §5.2: elections ------------------------------------------------------------------

/// §5.2: an election timeout starts an election: new term, vote for self,
/// both synced before RequestVote goes out to every peer.
#[test]
fn s5_2_timeout_starts_an_election() {
    let (mut h, timer) = node(0, 3, &[1, 3], &opts(false));
    let out = sent(time_out(&mut h, timer));
    assert_eq!(srv(&h).term(), 4);
    assert_eq!(srv(&h).role(), Role::Candidate);
    assert_eq!(durable_term(&h), Some(4));
    assert_eq!(h.disk.unsynced(), 0);
    assert_eq!(out.len(), N - 1);
    for (_, m) in out {
        assert!(matches!(
            m,
            Msg::Vote {
                term: 4,
                last_index: 2,
                last_term: 3,
                pre_vote: false
            }
        ));
    }
}

/// §5.2: votes from a majority make a leader, which asserts itself at once.
#[test]
fn s5_2_majority_elects_and_leader_sends_appends() {
    let (mut h, timer) = node(0, 0, &[], &opts(false));
    time_out(&mut h, timer);
    h.deliver(NodeId(1), vote_reply(1, true));
    assert_eq!(
        srv(&h).role(),
        Role::Candidate,
        "two of five is no majority"
    );
    let out = sent(h.deliver(NodeId(2), vote_reply(1, true)));
    assert_eq!(srv(&h).role(), Role::Leader);
    assert!(out
        .iter()
        .all(|(_, m)| matches!(m, Msg::Append { term: 1, .. })));
    assert_eq!(out.len(), N - 1);
}

/// §5.2: at most one vote per term, and the vote survives a crash.
#[test]
fn s5_2_one_vote_per_term_even_across_a_restart() {
    let o = opts(false);
    let (mut h, _) = node(3, 1, &[1], &o);
    let ask = |term| Msg::Vote {
        term,
        last_index: 1,
        last_term: 1,
        pre_vote: false,
    };
    let first = sent(h.deliver(NodeId(1), ask(2)));
    assert!(matches!(first[0].1, Msg::VoteReply { granted: true, .. }));
    h.crash_and_restart(server(3, &o));
    assert_eq!(srv(&h).voted_for(), Some(NodeId(1)));
    let second = sent(h.deliver(NodeId(2), ask(2)));
    assert!(matches!(
        second[0].1,
        Msg::VoteReply {
            granted: false,
            term: 2,
            ..
        }
    ));
}

/// Thesis §9.6: with PreVote a timeout only probes; the term does not move.
#[test]
fn s9_6_pre_vote_probes_without_changing_the_term() {
    let (mut h, timer) = node(0, 3, &[3], &opts(true));
    let out = sent(time_out(&mut h, timer));
    assert_eq!(srv(&h).term(), 3);
    assert_eq!(srv(&h).role(), Role::PreCandidate);
    assert!(out.iter().all(|(_, m)| matches!(
        m,
        Msg::Vote {
            term: 4,
            pre_vote: true,
            ..
        }
    )));
    let pre = |granted| Msg::VoteReply {
        term: 4,
        granted,
        pre_vote: true,
    };
    h.deliver(NodeId(1), pre(true));
    let out = sent(h.deliver(NodeId(2), pre(true)));
    assert_eq!(
        srv(&h).term(),
        4,
        "a PreVote majority starts the real election"
    );
    assert!(out.iter().all(|(_, m)| matches!(
        m,
        Msg::Vote {
            pre_vote: false,
            ..
        }
    )));
}

// ----- §5.4.1: the election restriction -------------------------------------------------

/// §5.4.1: a vote goes only to a candidate whose log is at least as up to
/// date: a later last term wins; with equal last terms, the longer log.
#[test]
fn s5_4_1_vote_table() {
    // voter's log: [1, 2, 2] (last index 3, last term 2)
    let table: [(u64, u64, bool); 7] = [
        (3, 2, true),  // identical
        (4, 2, true),  // same term, longer
        (2, 2, false), // same term, shorter
        (1, 3, true),  // later term, shorter
        (9, 1, false), // earlier term, longer
        (3, 1, false), // earlier term, same length
        (0, 0, false), // empty log
    ];
    let o = opts(false);
    for (last_index, last_term, want) in table {
        let (mut h, _) = node(1, 2, &[1, 2, 2], &o);
        let out = sent(h.deliver(
            NodeId(0),
            Msg::Vote {
                term: 5,
                last_index,
                last_term,
                pre_vote: false,
            },
        ));
        let granted = matches!(out[0].1, Msg::VoteReply { granted: true, .. });
        assert_eq!(granted, want, "candidate last ({last_index}, {last_term})");
        assert_eq!(srv(&h).term(), 5, "the term is adopted either way");
    }
}
