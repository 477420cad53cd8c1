//! The checks of Raft: the paper's safety properties as the run goes (from
//! notes, ghost state only), and liveness and linearizability at its end.
//!
//! Ghost state: each server's durable log as its notes describe it (full,
//! never compacted), with a hash chain per entry so that comparing two
//! prefixes costs one comparison; the committed prefix as the cluster has
//! learned it; who led which term. Invariant: `committed` is a prefix of
//! the ghost log of every node that noted a commit at or beyond its end.

use super::messages::{Msg, MsgKind, Note};
use super::server::Role;
use super::RaftNode;
use crate::process::{CheckInfo, EndState, Invariants, Lifecycle, NodeId, Undecided, Violation};
use crate::protocols::lincheck::{judge_kv, kv_check_history, Judgement};
use crate::stats::quantile;
use crate::time::{SimDuration, SimTime};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};

mod end;

/// Check names.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo::always("raft.election-safety"),
    CheckInfo::always("raft.leader-append-only"),
    CheckInfo::always("raft.log-matching"),
    CheckInfo::always("raft.leader-completeness"),
    CheckInfo::always("raft.state-machine-safety"),
    CheckInfo::at_end("raft.acked-write-lost"),
    CheckInfo::eventually("raft.liveness"),
    CheckInfo::eventually("raft.convergence"),
    CheckInfo::at_end("raft.linearizable"),
];

/// One entry of a ghost log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ghost {
    term: u64,
    digest: u64,
    /// A hash of this entry and every one before it.
    chain: u64,
}

/// One server's durable log as its notes describe it. The entries before
/// `base` are known to equal the committed prefix (the server committed
/// through them and its hash chain matched), so they are read from the
/// committed prefix and not kept twice. Invariant: `base <= committed.len()`.
#[derive(Clone, Debug, Default)]
struct GhostLog {
    base: usize,
    tail: VecDeque<Ghost>,
}

impl GhostLog {
    /// Number of entries.
    fn len(&self) -> usize {
        self.base + self.tail.len()
    }

    /// The entry at position `k` (index `k + 1`).
    fn get(&self, k: usize, committed: &[Ghost]) -> Option<Ghost> {
        if k < self.base {
            committed.get(k).copied()
        } else {
            self.tail.get(k - self.base).copied()
        }
    }

    /// Keeps the first `len` entries.
    fn truncate(&mut self, len: usize) {
        if len <= self.base {
            self.base = len;
            self.tail.clear();
        } else {
            self.tail.truncate(len - self.base);
        }
    }

    /// Forgets the entries before position `upto`, now known to equal the
    /// committed prefix.
    fn settle(&mut self, upto: usize) {
        while self.base < upto && self.tail.pop_front().is_some() {
            self.base += 1;
        }
    }

    /// The log is exactly the first `len` committed entries.
    fn reset_to_committed(&mut self, len: usize) {
        self.base = len;
        self.tail.clear();
    }
}

/// The first holder of each (index, term) and its chain, for Log
/// Matching: a slot per index for the first term seen there, and a map for
/// the rare later terms at an index already taken.
#[derive(Default)]
struct FirstHolders {
    /// Index 1 at position 0: (term, chain, holder).
    by_index: Vec<Option<(u64, u64, NodeId)>>,
    others: BTreeMap<(u64, u64), (u64, NodeId)>,
}

impl FirstHolders {
    /// The chain and holder first recorded for (`index`, `term`), recording
    /// (`chain`, `node`) if there were none.
    fn first_or_insert(
        &mut self,
        index: u64,
        term: u64,
        chain: u64,
        node: NodeId,
    ) -> (u64, NodeId) {
        let i = (index - 1) as usize;
        if self.by_index.len() <= i {
            self.by_index.resize(i + 1, None);
        }
        match self.by_index[i] {
            None => {
                self.by_index[i] = Some((term, chain, node));
                (chain, node)
            }
            Some((t, c, holder)) if t == term => (c, holder),
            Some(_) => *self.others.entry((index, term)).or_insert((chain, node)),
        }
    }
}

/// One leader's time in office.
#[derive(Clone, Copy, Debug)]
struct Reign {
    node: NodeId,
    elected: SimTime,
    ended: Option<SimTime>,
}

fn chain(prev: u64, term: u64, digest: u64) -> u64 {
    let mut z = prev ^ term.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ digest.rotate_left(29);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The Raft checks of one run.
pub struct RaftChecks {
    servers: usize,
    liveness_start: SimTime,
    liveness_bound: SimDuration,
    liveness_timeouts: u64,
    /// Each server's durable log, index 1 at position 0.
    logs: Vec<GhostLog>,
    /// First holder of each (index, term) with its chain (Log Matching).
    chains: FirstHolders,
    /// The committed prefix.
    committed: Vec<Ghost>,
    /// The term each stretch of the committed prefix was first committed
    /// in (the committing server's term then), as (first position, term),
    /// one pair per change of term.
    commit_terms: Vec<(usize, u64)>,
    /// Each server's current term, as its notes tell.
    terms: Vec<u64>,
    /// Each term's leader: who, elected when, and when it stopped leading.
    leaders: BTreeMap<u64, Reign>,
    /// The term each server leads now, if it does.
    leading: Vec<Option<u64>>,
    /// Acknowledged client commands: (index, term, digest).
    acked: Vec<(u64, u64, u64)>,
    /// When the current leader proposed each uncommitted index, in index order.
    proposed: VecDeque<(u64, SimTime)>,
    commit_latency_ns: Vec<u64>,
    leaderless_since: Option<SimTime>,
    leaderless_ns: u64,
    /// How many entries were committed when the liveness phase began.
    committed_at_liveness: usize,
    /// The committed prefix's length after each commit in the liveness
    /// phase, with its time (`raft.convergence` picks its cut from these;
    /// no client operation starts then, so they are few).
    liveness_commits: Vec<(SimTime, usize)>,
    max_term: u64,
    sent: [u64; MsgKind::ALL.len()],
    snapshots_taken: u64,
    snapshots_installed: u64,
    /// The end-of-run linearizability check's outcome and figures.
    linearizability: Judgement,
}

impl RaftChecks {
    /// Fresh checks for `servers` servers whose liveness phase starts at
    /// `liveness_start`: a stable leader must be elected within
    /// `liveness_bound` of it (`liveness_timeouts` longest election timeouts).
    pub fn new(
        liveness_bound: SimDuration,
        liveness_timeouts: u64,
        servers: usize,
        liveness_start: SimTime,
    ) -> Self {
        RaftChecks {
            servers,
            liveness_start,
            liveness_bound,
            liveness_timeouts,
            logs: vec![GhostLog::default(); servers],
            chains: FirstHolders::default(),
            committed: Vec::new(),
            commit_terms: Vec::new(),
            terms: vec![0; servers],
            leaders: BTreeMap::new(),
            leading: vec![None; servers],
            acked: Vec::new(),
            proposed: VecDeque::new(),
            commit_latency_ns: Vec::new(),
            leaderless_since: Some(SimTime::ZERO),
            leaderless_ns: 0,
            committed_at_liveness: 0,
            liveness_commits: Vec::new(),
            max_term: 0,
            sent: [0; MsgKind::ALL.len()],
            snapshots_taken: 0,
            snapshots_installed: 0,
            linearizability: Judgement::skipped(),
        }
    }

    fn on_logged(
        &mut self,
        at: SimTime,
        node: NodeId,
        first: u64,
        entries: &[(u64, u64)],
    ) -> Result<(), Violation> {
        let n = node.index();
        let len = self.logs[n].len() as u64;
        if first == 0 || first > len + 1 {
            let msg = format!("{node} logged entries from index {first} but its log ends at {len}");
            return Err(Violation::new("raft.log-matching", at, msg).with_kind("gap"));
        }
        if let Some(term) = self.leading[n] {
            if first <= len {
                let msg = format!("{node}, leader of term {term}, overwrote its log from index {first} (it held {len} entries)");
                return Err(Violation::new("raft.leader-append-only", at, msg));
            }
            for i in 0..entries.len() as u64 {
                self.proposed.push_back((first + i, at));
            }
        }
        let log = &mut self.logs[n];
        log.truncate((first - 1) as usize);
        let mut prev = match log.len() {
            0 => 0,
            len => log.get(len - 1, &self.committed).map_or(0, |g| g.chain),
        };
        for (i, &(term, digest)) in entries.iter().enumerate() {
            let index = first + i as u64;
            let g = Ghost {
                term,
                digest,
                chain: chain(prev, term, digest),
            };
            log.tail.push_back(g);
            prev = g.chain;
            let (c, other) = self.chains.first_or_insert(index, term, g.chain, node);
            if c != g.chain {
                let msg = format!("{node} and {other} both hold an entry of term {term} at index {index}, but their logs differ up to it");
                return Err(Violation::new("raft.log-matching", at, msg).with_kind("logs-differ"));
            }
        }
        Ok(())
    }

    fn on_snapshot_installed(
        &mut self,
        at: SimTime,
        node: NodeId,
        index: u64,
        term: u64,
    ) -> Result<(), Violation> {
        self.snapshots_installed += 1;
        let i = index as usize;
        let held = self.logs[node.index()]
            .get(i.wrapping_sub(1), &self.committed)
            .map(|g| g.term);
        if index == 0 || held == Some(term) {
            return Ok(());
        }
        if self.committed.len() < i || self.committed[i - 1].term != term {
            let msg = format!("{node} installed a snapshot through index {index} of term {term}, which is not the committed entry there ({} committed)", self.committed.len());
            return Err(Violation::new("raft.state-machine-safety", at, msg)
                .with_kind("snapshot-not-committed"));
        }
        self.logs[node.index()].reset_to_committed(i);
        Ok(())
    }

    fn on_leader(&mut self, at: SimTime, node: NodeId, term: u64) -> Result<(), Violation> {
        if let Some(&Reign { node: other, .. }) = self.leaders.get(&term) {
            if other != node {
                let msg = format!("{node} and {other} were both elected leader of term {term}");
                return Err(Violation::new("raft.election-safety", at, msg));
            }
        }
        let reign = Reign {
            node,
            elected: at,
            ended: None,
        };
        self.leaders.insert(term, reign);
        self.terms[node.index()] = self.terms[node.index()].max(term);
        let log = &self.logs[node.index()];
        // Leader Completeness (paper §5.4): an entry committed in an
        // earlier term is in every later leader's log. Entries committed
        // in this term or later (a leader elected while it was paused, its
        // votes waiting in its inbox, comes into office behind) are not.
        let c = self.committed_before_term(term);
        if c > 0
            && log.get(c - 1, &self.committed).map(|g| g.chain) != Some(self.committed[c - 1].chain)
        {
            let msg = format!("{node} became leader of term {term} without every entry committed before it (committed through index {c} in earlier terms, its log has {})", log.len());
            return Err(Violation::new("raft.leader-completeness", at, msg));
        }
        self.set_leading(at, node, Some(term));
        self.proposed.clear();
        Ok(())
    }

    /// How many entries of the committed prefix were committed in terms
    /// before `term`.
    fn committed_before_term(&self, term: u64) -> usize {
        let ends = self
            .commit_terms
            .iter()
            .skip(1)
            .map(|&(next, _)| next)
            .chain([self.committed.len()]);
        self.commit_terms
            .iter()
            .zip(ends)
            .filter(|((_, t), _)| *t < term)
            .map(|(_, end)| end)
            .max()
            .unwrap_or(0)
    }

    fn set_leading(&mut self, at: SimTime, node: NodeId, term: Option<u64>) {
        let before = std::mem::replace(&mut self.leading[node.index()], term);
        if let Some(reign) = before.and_then(|t| self.leaders.get_mut(&t)) {
            reign.ended.get_or_insert(at);
        }
        let any = self.leading.iter().any(Option::is_some);
        match (any, self.leaderless_since) {
            (true, Some(since)) => {
                self.leaderless_ns += at.saturating_since(since).as_nanos();
                self.leaderless_since = None;
            }
            (false, None) => self.leaderless_since = Some(at),
            _ => {}
        }
    }

    fn on_committed(&mut self, at: SimTime, node: NodeId, index: u64) -> Result<(), Violation> {
        let i = index as usize;
        let log = &self.logs[node.index()];
        if log.len() < i {
            let msg = format!(
                "{node} committed index {index} but its log ends at {}",
                log.len()
            );
            return Err(
                Violation::new("raft.state-machine-safety", at, msg).with_kind("commit-beyond-log")
            );
        }
        let c = self.committed.len().min(i);
        if c > 0 {
            let held = log.get(c - 1, &self.committed);
            let agreed = self.committed[c - 1];
            if held.map(|g| g.chain) != Some(agreed.chain) {
                let term = held.map_or(0, |g| g.term);
                let msg = format!("{node} committed through index {index}, but its entries up to index {c} differ from those committed before (term {term} there, committed term {})", agreed.term);
                return Err(Violation::new("raft.state-machine-safety", at, msg)
                    .with_kind("committed-prefix-differs"));
            }
        }
        let log = &mut self.logs[node.index()];
        let before = self.committed.len();
        for k in self.committed.len()..i {
            // k >= committed.len() >= base: the entry is in the tail.
            if let Some(g) = log.tail.get(k - log.base) {
                self.committed.push(*g);
            }
        }
        let term = self.terms[node.index()];
        if self.committed.len() > before && self.commit_terms.last().map(|&(_, t)| t) != Some(term)
        {
            self.commit_terms.push((before, term));
        }
        log.settle(i);
        if self.committed.len() > before {
            self.electable_without_committed(at, node)?;
        }
        if at < self.liveness_start {
            self.committed_at_liveness = self.committed.len();
        } else if self.liveness_commits.last().map(|&(_, n)| n) != Some(self.committed.len()) {
            self.liveness_commits.push((at, self.committed.len()));
        }
        if self.leading[node.index()].is_some() {
            while let Some(&(proposed, proposed_at)) = self.proposed.front() {
                if proposed > index {
                    break;
                }
                self.proposed.pop_front();
                self.commit_latency_ns
                    .push(at.saturating_since(proposed_at).as_nanos());
            }
        }
        Ok(())
    }

    /// Why a commit is safe (§5.4.3): a majority holds the committed entry
    /// in a log that is more up-to-date (§5.4.1) than that of any server
    /// without it, so each of those is refused a vote by a majority and no
    /// later leader lacks the entry. Checked when the committed prefix
    /// grows: a commit that leaves a server without the entry able to win
    /// a majority of votes (an older term's entry counted on a majority
    /// while a server holds a later term's, §5.4.2 and Figure 8) is a
    /// Leader Completeness violation that needs only an election to
    /// happen. Vote grants are judged on logs alone (terms and votes
    /// already cast are left out), so the check never misses a server that
    /// could be elected; the argument above holds for every server a
    /// correct leader's commit leaves out.
    fn electable_without_committed(&self, at: SimTime, node: NodeId) -> Result<(), Violation> {
        let c = self.committed.len();
        let entry = self.committed[c - 1];
        let last = |s: usize| {
            let log = &self.logs[s];
            let len = log.len();
            let term = len
                .checked_sub(1)
                .and_then(|k| log.get(k, &self.committed))
                .map_or(0, |g| g.term);
            (term, len)
        };
        let lacks = |s: usize| {
            self.logs[s].get(c - 1, &self.committed).map(|g| g.chain) != Some(entry.chain)
        };
        let majority = self.servers / 2 + 1;
        for candidate in (0..self.servers).filter(|&s| lacks(s)) {
            let mine = last(candidate);
            let grants = (0..self.servers).filter(|&v| mine >= last(v)).count();
            if grants >= majority {
                let (term, len) = mine;
                let msg = format!("{node} committed through index {c} (term {}), but {}, whose log lacks that entry (length {len}, last term {term}), is up-to-date enough to win the votes of {grants} of {} servers", entry.term, NodeId(candidate as u32), self.servers);
                return Err(Violation::new("raft.leader-completeness", at, msg)
                    .with_kind("electable-without-committed"));
            }
        }
        Ok(())
    }

    fn on_applied(
        &self,
        at: SimTime,
        node: NodeId,
        index: u64,
        term: u64,
        digest: u64,
    ) -> Result<(), Violation> {
        let fits = self
            .committed
            .get((index as usize).wrapping_sub(1))
            .is_some_and(|g| g.term == term && g.digest == digest);
        if fits {
            return Ok(());
        }
        let msg = format!("{node} applied the entry of term {term} at index {index}, which is not the committed entry there ({} committed)", self.committed.len());
        Err(Violation::new("raft.state-machine-safety", at, msg).with_kind("applied-not-committed"))
    }

    fn on_acknowledged(
        &mut self,
        at: SimTime,
        node: NodeId,
        index: u64,
        term: u64,
        digest: u64,
    ) -> Result<(), Violation> {
        let i = (index as usize).wrapping_sub(1);
        let holds = |s: &usize| {
            self.logs[*s]
                .get(i, &self.committed)
                .is_some_and(|g| g.term == term && g.digest == digest)
        };
        if (0..self.servers).filter(holds).count() < self.servers / 2 + 1 {
            let holders: Vec<usize> = (0..self.servers).filter(holds).collect();
            let msg = format!("{node} acknowledged the write at index {index} (term {term}) while only servers {holders:?} held it durably: a crash of those loses it");
            return Err(
                Violation::new("raft.acked-write-lost", at, msg).with_kind("acked-before-majority")
            );
        }
        self.acked.push((index, term, digest));
        Ok(())
    }
}

/// The run's history as the checker reads it (`fail` ops left out).
impl Invariants<RaftNode> for RaftChecks {
    fn names(&self) -> &'static [CheckInfo] {
        CHECKS
    }

    fn on_note(&mut self, at: SimTime, node: NodeId, note: &Note) -> Result<(), Violation> {
        match note {
            Note::Logged { first, entries } => self.on_logged(at, node, *first, entries),
            Note::SnapshotInstalled { index, term } => {
                self.on_snapshot_installed(at, node, *index, *term)
            }
            Note::SnapshotTaken { .. } => {
                self.snapshots_taken += 1;
                Ok(())
            }
            Note::Leader { term } => self.on_leader(at, node, *term),
            Note::SteppedDown { .. } => {
                self.set_leading(at, node, None);
                Ok(())
            }
            Note::Term { term } => {
                self.max_term = self.max_term.max(*term);
                self.terms[node.index()] = *term;
                Ok(())
            }
            Note::Committed { index } => self.on_committed(at, node, *index),
            Note::Applied { first, entries } => {
                for (i, &(term, digest)) in entries.iter().enumerate() {
                    self.on_applied(at, node, first + i as u64, term, digest)?;
                }
                Ok(())
            }
            Note::Acknowledged {
                index,
                term,
                digest,
            } => self.on_acknowledged(at, node, *index, *term, *digest),
        }
    }

    fn on_send(&mut self, _from: NodeId, _to: NodeId, msg: &Msg) {
        self.sent[msg.kind() as usize] += 1;
    }

    fn on_lifecycle(&mut self, at: SimTime, node: NodeId, event: Lifecycle) {
        if event == Lifecycle::Crashed && node.index() < self.servers {
            self.set_leading(at, node, None);
        }
    }

    fn at_end(&mut self, end: &EndState<'_, RaftNode>) -> Vec<Violation> {
        if let Some(s) = self.leaderless_since.take() {
            self.leaderless_ns += end.time.saturating_since(s).as_nanos();
        }
        let mut found = Vec::new();
        found.extend(self.lost_writes(end));
        found.extend(self.linearizable(end));
        if end.completed {
            found.extend(self.liveness(end));
            found.extend(self.convergence(end));
        }
        found
    }

    fn undecided(&self) -> Vec<Undecided> {
        self.linearizability.undecided().into_iter().collect()
    }

    fn metrics(&self) -> BTreeMap<String, Value> {
        let mut latency = self.commit_latency_ns.clone();
        let by_type: BTreeMap<&str, u64> = MsgKind::ALL
            .iter()
            .map(|k| (k.name(), self.sent[*k as usize]))
            .collect();
        let mut metrics = self.linearizability.metrics("raft_linearizability");
        metrics.extend([
            ("raft_leader_changes".to_string(), json!(self.leaders.len())),
            ("raft_max_term".to_string(), json!(self.max_term)),
            ("raft_leaderless_ns".to_string(), json!(self.leaderless_ns)),
            ("raft_committed".to_string(), json!(self.committed.len())),
            (
                "raft_commit_latency_ns_p50".to_string(),
                json!(quantile(&mut latency, 0.5)),
            ),
            (
                "raft_commit_latency_ns_p99".to_string(),
                json!(quantile(&mut latency, 0.99)),
            ),
            ("raft_messages_by_type".to_string(), json!(by_type)),
            (
                "raft_snapshots_taken".to_string(),
                json!(self.snapshots_taken),
            ),
            (
                "raft_snapshots_installed".to_string(),
                json!(self.snapshots_installed),
            ),
        ]);
        metrics
    }
}
