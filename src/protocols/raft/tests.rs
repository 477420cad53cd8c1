//! Unit tests of the Raft server by paper section, driving one node by hand
//! through [`crate::process::Harness`]: deliver a message or fire a timer,
//! look at what it sent and what it made durable.

use super::kv::KvOp;
use super::log::{Command, Entry};
use super::messages::{Msg, Stored, Timer};
use super::server::{Role, Server};
use super::{RaftNode, ServerOptions};
use crate::process::{DiskKey, Effect, Harness, Invariants, NodeId, TimerId};
use crate::time::SimDuration;
use std::rc::Rc;

const N: usize = 5;

fn opts(pre_vote: bool) -> ServerOptions {
    ServerOptions {
        pre_vote,
        check_quorum: false,
        snapshot_every: 0,
        ..ServerOptions::default()
    }
}

fn server(me: u32, options: &ServerOptions) -> RaftNode {
    RaftNode::Server(Box::new(Server::new(options.clone(), NodeId(me), N)))
}

/// A harness for server `me` whose disk holds `term` and a log of `terms`.
fn node(
    me: u32,
    term: u64,
    terms: &[u64],
    options: &ServerOptions,
) -> (Harness<RaftNode>, TimerId) {
    let servers = (0..N as u32).map(NodeId).collect();
    let mut h = Harness::new(server(me, options), NodeId(me), servers, 7);
    h.disk.write(DiskKey::single("term"), Stored::Term(term));
    for (i, &t) in terms.iter().enumerate() {
        let e = Entry::new(t, Command::Noop);
        h.disk
            .write(DiskKey::new("log", i as u64 + 1), Stored::Entry(e));
    }
    h.disk.sync();
    let effects = h.start();
    let timer = election_timer(&effects).unwrap_or(TimerId(u64::MAX));
    (h, timer)
}

fn election_timer(effects: &[Effect<RaftNode>]) -> Option<TimerId> {
    effects.iter().rev().find_map(|e| match e {
        Effect::SetTimer {
            id,
            timer: Timer::Election,
            ..
        } => Some(*id),
        _ => None,
    })
}

/// Lets the election timeout pass on the node's clock, then fires `timer`.
fn time_out(h: &mut Harness<RaftNode>, timer: TimerId) -> Vec<Effect<RaftNode>> {
    h.now = h.now + SimDuration::from_secs(1);
    h.fire(timer, Timer::Election)
}

fn sent(effects: Vec<Effect<RaftNode>>) -> Vec<(NodeId, Msg)> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Send { to, msg } => Some((to, msg)),
            _ => None,
        })
        .collect()
}

fn srv(h: &Harness<RaftNode>) -> &Server {
    match h.node.server() {
        Some(s) => s,
        None => panic!("not a server"),
    }
}

fn log_terms(h: &Harness<RaftNode>) -> Vec<u64> {
    let log = srv(h).log();
    (1..=log.last_index())
        .filter_map(|i| log.term_at(i))
        .collect()
}

fn vote_reply(term: u64, granted: bool) -> Msg {
    Msg::VoteReply {
        term,
        granted,
        pre_vote: false,
    }
}

/// Elects `h` (pre_vote off) with votes from nodes 1 and 2.
fn elect(h: &mut Harness<RaftNode>, timer: TimerId) -> Vec<(NodeId, Msg)> {
    time_out(h, timer);
    let term = srv(h).term();
    h.deliver(NodeId(1), vote_reply(term, true));
    let out = sent(h.deliver(NodeId(2), vote_reply(term, true)));
    assert_eq!(srv(h).role(), Role::Leader);
    out
}

fn durable_term(h: &Harness<RaftNode>) -> Option<u64> {
    match h.disk.get(DiskKey::single("term")) {
        Some(Stored::Term(t)) => Some(*t),
        _ => None,
    }
}

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

// ----- §5.4.2: committing entries from previous terms -----------------------------------

fn success(term: u64, match_index: u64) -> Msg {
    Msg::AppendReply {
        term,
        success: true,
        match_index,
        conflict_term: None,
    }
}

/// §5.4.2, Figure 8: a leader does not commit an entry of an earlier term
/// by counting replicas, only with (and through) an entry of its own term.
#[test]
fn s5_4_2_old_term_entries_are_not_committed_by_counting() {
    let (mut h, timer) = node(0, 3, &[1, 2], &opts(false));
    elect(&mut h, timer);
    assert_eq!(srv(&h).term(), 4);
    h.deliver(NodeId(1), success(4, 2));
    h.deliver(NodeId(2), success(4, 2));
    assert_eq!(
        srv(&h).commit_index(),
        0,
        "entry 2 (term 2) is on a majority but is not of term 4"
    );
    h.deliver(NodeId(1), success(4, 3));
    h.deliver(NodeId(2), success(4, 3));
    assert_eq!(
        srv(&h).commit_index(),
        3,
        "the term-4 entry commits, and 2 with it"
    );
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

/// Figure 2: everything a restart needs (term, vote, log) is synced before
/// the node answers, and a restart recovers it from the disk alone.
#[test]
fn persistence_restart_recovers_from_disk_only() {
    let o = opts(false);
    let (mut h, _) = node(1, 1, &[1], &o);
    let entries = vec![Entry::new(2, Command::Noop)];
    let out = sent(h.deliver(
        NodeId(0),
        Msg::Append {
            term: 2,
            prev_index: 1,
            prev_term: 1,
            entries,
            commit: 0,
        },
    ));
    assert!(matches!(
        out[0].1,
        Msg::AppendReply {
            success: true,
            match_index: 2,
            ..
        }
    ));
    assert_eq!(h.disk.unsynced(), 0, "the reply went out after the sync");
    h.crash_and_restart(server(1, &o));
    assert_eq!(srv(&h).term(), 2);
    assert_eq!(log_terms(&h), vec![1, 2]);
}

// ----- Figure 8, scripted across five nodes and the checks ------------------------------

/// Five harness nodes, the messages between them, and the run's checks.
struct Cluster {
    nodes: Vec<Harness<RaftNode>>,
    up: Vec<bool>,
    /// Which nodes messages may reach now (the others are cut off).
    reachable: Vec<bool>,
    checks: super::checks::RaftChecks,
    violations: Vec<String>,
    queue: std::collections::VecDeque<(NodeId, NodeId, Msg)>,
    /// Each node's latest election timer.
    timers: Vec<TimerId>,
}

impl Cluster {
    /// Nodes with these (term, log terms); index 1 is committed everywhere.
    fn new(states: &[(u64, &[u64])], options: &ServerOptions) -> Self {
        let mut checks = super::checks::RaftChecks::new(
            SimDuration::ZERO,
            1,
            states.len(),
            crate::time::SimTime::MAX,
        );
        let mut nodes = Vec::new();
        let mut timers = Vec::new();
        for (i, &(term, terms)) in states.iter().enumerate() {
            let (h, timer) = node(i as u32, term, terms, options);
            timers.push(timer);
            let entries = terms.iter().map(|&t| (t, 0)).collect();
            let logged = super::messages::Note::Logged { first: 1, entries };
            assert!(checks.on_note(h.now, NodeId(i as u32), &logged).is_ok());
            nodes.push(h);
        }
        let committed = super::messages::Note::Committed { index: 1 };
        assert!(checks.on_note(nodes[0].now, NodeId(0), &committed).is_ok());
        let n = states.len();
        Cluster {
            nodes,
            up: vec![true; n],
            reachable: vec![true; n],
            checks,
            violations: Vec::new(),
            queue: Default::default(),
            timers,
        }
    }

    fn absorb(&mut self, from: NodeId, effects: Vec<Effect<RaftNode>>) {
        let now = self.nodes[from.index()].now;
        for e in effects {
            match e {
                Effect::Send { to, msg } => self.queue.push_back((from, to, msg)),
                Effect::SetTimer {
                    id,
                    timer: Timer::Election,
                    ..
                } => self.timers[from.index()] = id,
                Effect::Note(note) => {
                    if let Err(v) = self.checks.on_note(now, from, &note) {
                        self.violations.push(format!("{}: {}", v.check, v.message));
                    }
                }
                _ => {}
            }
        }
    }

    fn time_out(&mut self, i: usize) {
        let timer = self.timers[i];
        let h = &mut self.nodes[i];
        h.now = h.now + SimDuration::from_secs(1);
        let effects = h.fire(timer, Timer::Election);
        self.absorb(NodeId(i as u32), effects);
        self.settle();
    }

    /// Delivers queued messages among up, reachable nodes until none are left.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            let Some((from, to, msg)) = self.queue.pop_front() else {
                return;
            };
            let (f, t) = (from.index(), to.index());
            if !(self.up[f] && self.up[t] && self.reachable[f] && self.reachable[t]) {
                continue;
            }
            let effects = self.nodes[t].deliver(from, msg);
            self.absorb(to, effects);
        }
        panic!("the cluster did not settle");
    }
}

/// §5.4.2, Figure 8 (c)-(d), scripted: S1 (n0) is re-elected in term 4 and
/// replicates x (index 2, term 2) to a majority, then crashes; S5 (n4),
/// whose log ends in term 3, is elected by S2-S4 and overwrites x. With
/// the own-term rule x was never committed, so this is safe; a leader that
/// committed x by counting would have made the checks report
/// `raft.leader-completeness` (x committed, then a leader without it).
#[test]
fn s5_4_2_figure_8_is_safe_and_the_checks_would_see_the_bug() {
    let o = ServerOptions {
        leader_noop: false,
        batch_max: 1,
        ..opts(false)
    };
    let states: [(u64, &[u64]); 5] = [
        (3, &[1, 2]), // S1: will be elected in term 4
        (2, &[1, 2]), // S2
        (3, &[1]),    // S3
        (3, &[1]),    // S4
        (3, &[1, 3]), // S5: the term-3 leader whose entry went nowhere
    ];
    let mut c = Cluster::new(&states, &o);
    c.reachable[3] = false;
    c.reachable[4] = false;
    c.time_out(0); // (c): S1 leads term 4 with S2 and S3, x reaches S3
    assert_eq!(srv(&c.nodes[0]).role(), Role::Leader);
    assert_eq!(srv(&c.nodes[0]).term(), 4);
    assert_eq!(log_terms(&c.nodes[2]), vec![1, 2], "x is on a majority");
    assert_eq!(
        srv(&c.nodes[0]).commit_index(),
        0,
        "but not committed (§5.4.2)"
    );
    c.up[0] = false; // (d): S1 crashes; S5 comes back
    c.reachable[3] = true;
    c.reachable[4] = true;
    c.time_out(4);
    if srv(&c.nodes[4]).role() != Role::Leader {
        c.time_out(4); // the first term may be taken; the next one wins
    }
    assert_eq!(srv(&c.nodes[4]).role(), Role::Leader);
    assert_eq!(
        log_terms(&c.nodes[1])[..2],
        [1, 3],
        "x is overwritten on S2"
    );
    assert!(c.violations.is_empty(), "{:?}", c.violations);
}

// ----- invariants asserted after every handler ---------------------------------------

/// A disk whose log has an entry of a term later than its durable term
/// (the term was not synced before the entries, a persistence bug) fails
/// the server's invariant as soon as it starts.
#[test]
#[should_panic(expected = "n0: the log holds an entry of term 3 in term 1")]
fn a_log_ahead_of_the_durable_term_fails_the_server_invariant() {
    node(0, 1, &[1, 3], &opts(true));
}

#[test]
fn a_consistent_disk_passes_the_server_invariant() {
    let (h, _) = node(0, 3, &[1, 3], &opts(true));
    h.node.server().expect("a server").assert_invariants();
}
