//! Committing entries from previous terms (§5.4.2): the own-term rule, and
//! Figure 8 scripted across five nodes with the run's checks watching.

use super::*;
use crate::protocols::raft::checks::RaftChecks;
use crate::protocols::raft::messages::Note;

// ----- §5.4.2: committing entries from previous terms -----------------------------------

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

// ----- Figure 8, scripted across five nodes and the checks ------------------------------

/// Five harness nodes, the messages between them, and the run's checks.
struct Cluster {
    nodes: Vec<Harness<RaftNode>>,
    up: Vec<bool>,
    /// Which nodes messages may reach now (the others are cut off).
    reachable: Vec<bool>,
    checks: RaftChecks,
    violations: Vec<String>,
    queue: std::collections::VecDeque<(NodeId, NodeId, Msg)>,
    /// Each node's latest election timer.
    timers: Vec<TimerId>,
    /// Each node's latest heartbeat timer, once it led.
    heartbeats: Vec<Option<TimerId>>,
}

impl Cluster {
    /// Nodes with these (term, log terms); index 1 is committed everywhere.
    fn new(states: &[(u64, &[u64])], options: &ServerOptions) -> Self {
        Self::with_liveness(
            states,
            options,
            crate::time::SimTime::MAX,
            SimDuration::ZERO,
        )
    }

    /// The same, with the checks' liveness phase starting at `start` and
    /// a stable leader due within `bound` of it.
    fn with_liveness(
        states: &[(u64, &[u64])],
        options: &ServerOptions,
        start: crate::time::SimTime,
        bound: SimDuration,
    ) -> Self {
        let mut checks = RaftChecks::new(bound, 1, states.len(), start);
        let mut nodes = Vec::new();
        let mut timers = Vec::new();
        for (i, &(term, terms)) in states.iter().enumerate() {
            let (h, timer) = node(i as u32, term, terms, options);
            timers.push(timer);
            let entries = terms.iter().map(|&t| (t, 0)).collect();
            let logged = Note::Logged { first: 1, entries };
            assert!(checks.on_note(h.now, NodeId(i as u32), &logged).is_ok());
            nodes.push(h);
        }
        let committed = Note::Committed { index: 1 };
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
            heartbeats: vec![None; n],
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
                Effect::SetTimer {
                    id,
                    timer: Timer::Heartbeat,
                    ..
                } => self.heartbeats[from.index()] = Some(id),
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

    /// Fires node `i`'s heartbeat (it leads) and delivers what follows.
    fn heartbeat(&mut self, i: usize) {
        let Some(timer) = self.heartbeats[i] else {
            panic!("n{i} has no heartbeat timer: it never led");
        };
        let h = &mut self.nodes[i];
        h.now = h.now + SimDuration::from_millis(50);
        let effects = h.fire(timer, Timer::Heartbeat);
        self.absorb(NodeId(i as u32), effects);
        self.settle();
    }

    /// The end-of-run violations of `check` with the run ending at `end`.
    fn at_end(&mut self, end: crate::time::SimTime, check: &str) -> Vec<String> {
        let history = crate::history::History::default();
        let state = crate::process::EndState {
            time: end,
            nodes: self.nodes.iter().map(|h| Some(&h.node)).collect(),
            servers: self.nodes.len(),
            history: &history,
            completed: true,
            budget: crate::process::CheckBudget::default(),
            enabled_checks: None,
        };
        self.checks
            .at_end(&state)
            .into_iter()
            .filter(|v| v.check == check)
            .map(|v| v.message)
            .collect()
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

/// `raft.convergence`: a follower that never learns what the cluster
/// committed (here, cut off when the leader's commit went out) fails it at
/// the end of the run; once the leader's next heartbeat reaches it, it holds.
#[test]
fn a_replica_that_never_catches_up_fails_convergence() {
    let states: [(u64, &[u64]); 5] = [(1, &[1]); 5];
    let start = crate::time::SimTime::ZERO + SimDuration::from_secs(10);
    let end = start + SimDuration::from_secs(5);
    let mut c = Cluster::with_liveness(&states, &opts(false), start, SimDuration::ZERO);
    c.time_out(0); // n0 leads term 2; its no-op (index 2) commits on the leader
    assert_eq!(srv(&c.nodes[0]).commit_index(), 2);
    c.reachable[4] = false;
    c.heartbeat(0); // n1..n3 learn the commit index, n4 does not
    assert_eq!(srv(&c.nodes[1]).commit_index(), 2);
    let behind = c.at_end(end, "raft.convergence");
    assert_eq!(behind.len(), 1, "{behind:?}");
    assert!(
        behind[0].contains("n4 (holds them; log length 2, commit index 0)"),
        "{}",
        behind[0]
    );
    c.reachable[4] = true;
    c.heartbeat(0);
    assert!(c.at_end(end, "raft.convergence").is_empty());
}

/// `raft.convergence` in a liveness phase shorter than the liveness bound
/// (raft-calm's): the cut is half-way through the phase. What was
/// committed by then must reach every replica; what was committed later
/// need not yet. (The harness nodes start with commit index 0, so n4 is
/// behind on index 1 either way: the message says how much was due.)
#[test]
fn convergence_cuts_a_short_liveness_phase_in_half() {
    let states: [(u64, &[u64]); 5] = [(1, &[1]); 5];
    let start = crate::time::SimTime::ZERO + SimDuration::from_millis(1500);
    let bound = SimDuration::from_secs(10);
    let mut c = Cluster::with_liveness(&states, &opts(false), start, bound);
    // One clock: n0's election timeout takes it to 2s, where the others are.
    for (i, h) in c.nodes.iter_mut().enumerate() {
        h.now = crate::time::SimTime::ZERO + SimDuration::from_secs(if i == 0 { 1 } else { 2 });
    }
    c.time_out(0); // at 2s: n0 leads term 2, its no-op (index 2) commits
    c.reachable[4] = false;
    c.heartbeat(0); // n4 never learns it
    let end = start + SimDuration::from_secs(4); // cut at 3.5s
    let behind = c.at_end(end, "raft.convergence");
    assert_eq!(behind.len(), 1, "{behind:?}");
    assert!(
        behind[0].contains("committed 2 entries by 3.5s"),
        "{}",
        behind[0]
    );
    // Cut at 1.9s: only index 1 (committed before the run) is due.
    let early = start + SimDuration::from_millis(800);
    let behind = c.at_end(early, "raft.convergence");
    assert!(
        behind[0].contains("committed 1 entries by 1.9s"),
        "{}",
        behind[0]
    );
}

// ----- Leader Completeness counts what was committed before the leader's term -----------

/// §5.4: an entry committed in term 3 must be in the log of every leader
/// of a later term, not of an earlier one: a leader of term 2 whose votes
/// waited in its inbox while it was paused comes into office behind, and
/// that is no violation (its appends are refused by the newer terms).
#[test]
fn leader_completeness_asks_only_for_entries_committed_in_earlier_terms() {
    let run = |late_term: u64| {
        let mut checks = RaftChecks::new(SimDuration::ZERO, 1, 3, crate::time::SimTime::MAX);
        let t = |ms: u64| crate::time::SimTime::ZERO + SimDuration::from_millis(ms);
        let mut note = |ms, node: u32, n: Note| checks.on_note(t(ms), NodeId(node), &n);
        for node in 0..3 {
            let logged = Note::Logged {
                first: 1,
                entries: vec![(1, 10)],
            };
            note(1, node, logged).expect("a first entry");
        }
        note(2, 0, Note::Term { term: 3 }).expect("n0 in term 3");
        note(3, 0, Note::Leader { term: 3 }).expect("n0 leads term 3");
        for node in 0..2 {
            let logged = Note::Logged {
                first: 2,
                entries: vec![(3, 11)],
            };
            note(4, node, logged).expect("entry 2 on n0 and n1");
        }
        note(5, 0, Note::Committed { index: 2 }).expect("a majority holds it");
        // n2 never got entry 2.
        note(6, 2, Note::Term { term: late_term }).expect("n2's term");
        note(7, 2, Note::Leader { term: late_term })
    };
    assert!(run(2).is_ok(), "a leader of an earlier term may be behind");
    let v = run(4).expect_err("a leader of a later term must hold entry 2");
    assert_eq!(v.check, "raft.leader-completeness");
    assert!(
        v.message
            .contains("committed through index 2 in earlier terms"),
        "{}",
        v.message
    );
}

/// The commit-time half of Leader Completeness: a commit is safe only if
/// every server without the committed entry is behind a majority (§5.4.1).
/// n2 holds a later term's entry at index 1 instead of n0's and n1's, so
/// when n0 commits index 1 by counting, n2 could still win every vote.
#[test]
fn a_commit_that_leaves_a_server_without_it_electable_is_reported() {
    let run = |n2_term: u64| {
        let mut checks = RaftChecks::new(SimDuration::ZERO, 1, 3, crate::time::SimTime::MAX);
        let t = |ms: u64| crate::time::SimTime::ZERO + SimDuration::from_millis(ms);
        let mut note = |ms, node: u32, n: Note| checks.on_note(t(ms), NodeId(node), &n);
        for node in 0..2 {
            let logged = Note::Logged {
                first: 1,
                entries: vec![(2, 10)],
            };
            note(1, node, logged).expect("entry 1 on n0 and n1");
        }
        let other = Note::Logged {
            first: 1,
            entries: vec![(n2_term, 11)],
        };
        note(2, 2, other).expect("n2's own entry 1");
        note(3, 0, Note::Term { term: 4 }).expect("n0 in term 4");
        note(4, 0, Note::Committed { index: 1 })
    };
    assert!(run(1).is_ok(), "n2's log is behind a majority's");
    let v = run(3).expect_err("n2's later term wins it every vote");
    assert_eq!(v.check, "raft.leader-completeness");
    assert_eq!(v.kind.as_deref(), Some("electable-without-committed"));
    assert!(v.message.contains("n2, whose log lacks"), "{}", v.message);
}
