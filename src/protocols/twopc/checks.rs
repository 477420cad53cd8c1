//! The checks of two-phase commit, fed by the nodes' notes (true time).
//!
//! As the run goes: `twopc.atomicity` (no transaction commits anywhere and
//! aborts anywhere else), `twopc.decision-final` (no node ever changes a
//! vote or an outcome, crashes included), `twopc.unanimous-commit` (the
//! coordinator commits only once every participant voted yes) and
//! `twopc.conservation` (each commit writes exactly its transfer, and the
//! total is unchanged whenever no committed transaction is half applied).
//! At the end, after the liveness phase: `twopc.liveness` (nobody is still
//! in doubt: every transaction is decided everywhere) and the balances the
//! participants hold add up to the opening total; and
//! `twopc.serializable`: the transactions, recorded as reads and writes of
//! account versions (each vote's read, each transfer's writes), are
//! strictly serializable by the transaction checker (after Elle), as
//! strict two-phase locking promises. A violation names the anomaly class
//! and its cycle.

use super::msg::{Note, Outcome, Transfer, TxnId};
use super::{TwoPcNode, TwoPcOptions};
use crate::check::txn::Consistency;
use crate::process::{
    CheckInfo, EndState, Interval, Invariants, Lifecycle, NodeId, Undecided, Violation,
};
use crate::protocols::txncheck::{TxnJudgement, TxnRecorder};
use crate::stats::quantile;
use crate::time::SimTime;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Check names.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo::always("twopc.atomicity"),
    CheckInfo::always("twopc.decision-final"),
    CheckInfo::always("twopc.unanimous-commit"),
    CheckInfo::always("twopc.conservation"),
    CheckInfo::eventually("twopc.liveness"),
    CheckInfo::at_end("twopc.serializable"),
];

/// The isolation `twopc.serializable` holds the transactions to.
pub const ISOLATION: Consistency = Consistency::StrictSerializable;

/// What the checks know of one transaction.
#[derive(Debug)]
struct Txn {
    participants: Vec<NodeId>,
    transfer: Transfer,
    begun: SimTime,
    votes: BTreeMap<NodeId, bool>,
    decision: Option<Outcome>,
    outcomes: BTreeMap<NodeId, Outcome>,
}

/// The 2PC checks and metrics.
#[derive(Debug, Default)]
pub struct TwoPcChecks {
    accounts: i64,
    total: i64,
    initial: i64,
    accounts_per_shard: u64,
    txns: BTreeMap<TxnId, Txn>,
    /// Every account's balance as the participants report it.
    balances: BTreeMap<u64, i64>,
    /// The sum of `balances` (kept as it changes: a sum per commit would
    /// cost time in proportion to the accounts touched).
    balances_sum: i64,
    /// Committed transactions applied at some participants but not all.
    half_applied: BTreeSet<TxnId>,
    /// (txn, participant) in doubt since.
    in_doubt: BTreeMap<(TxnId, NodeId), SimTime>,
    blocking_ns: Vec<u64>,
    /// Closed in-doubt periods, for the report's interval chart (bounded).
    doubt_spans: Vec<Interval>,
    /// The end of the run, once `at_end` has run (closes open periods).
    end_ns: u64,
    latency_ns: Vec<u64>,
    commits: u64,
    aborts: u64,
    /// Coordinator crashes that found a transaction with every vote yes
    /// and no decision, and ones that found a commit not yet applied
    /// everywhere: proof that a scenario's crash hit the moment it claims.
    crashes_before_decision: u64,
    crashes_mid_commit: u64,
    /// Every transaction's reads and writes of account versions.
    recorder: TxnRecorder,
    /// The verdict of `twopc.serializable`, once judged.
    isolation: Option<TxnJudgement>,
}

impl TwoPcChecks {
    /// Checks for a bank of `options.bank()` over `shards` participants.
    pub fn new(options: &TwoPcOptions, shards: usize) -> Self {
        TwoPcChecks {
            accounts: (shards as u64 * options.bank().accounts_per_shard) as i64,
            total: options.bank().total(shards),
            initial: options.bank().initial_balance as i64,
            accounts_per_shard: options.bank().accounts_per_shard,
            ..TwoPcChecks::default()
        }
    }

    fn balance(&self, account: u64) -> i64 {
        self.balances.get(&account).copied().unwrap_or(self.initial)
    }

    fn decided(&mut self, at: SimTime, txn: TxnId, outcome: Outcome) -> Result<(), Violation> {
        let Some(t) = self.txns.get_mut(&txn) else {
            return Ok(());
        };
        if let Some(before) = t.decision.replace(outcome) {
            if before != outcome {
                let m =
                    format!("the coordinator decided {before:?} for txn {txn}, then {outcome:?}");
                return Err(
                    Violation::new("twopc.decision-final", at, m).with_kind("decision-changed")
                );
            }
            return Ok(());
        }
        self.recorder.end(txn, at, outcome == Outcome::Commit);
        self.latency_ns
            .push(at.saturating_since(t.begun).as_nanos());
        match outcome {
            Outcome::Abort => self.aborts += 1,
            Outcome::Commit => self.commits += 1,
        }
        if outcome == Outcome::Commit {
            let missing: Vec<String> = t
                .participants
                .iter()
                .filter(|p| t.votes.get(p) != Some(&true))
                .map(|p| p.to_string())
                .collect();
            if !missing.is_empty() {
                let m = format!(
                    "txn {txn} committed before {} voted yes",
                    missing.join(", ")
                );
                return Err(Violation::new("twopc.unanimous-commit", at, m));
            }
        }
        agree(at, txn, t, outcome, "the coordinator")
    }

    fn voted(&mut self, at: SimTime, node: NodeId, txn: TxnId, yes: bool) -> Result<(), Violation> {
        let Some(t) = self.txns.get_mut(&txn) else {
            return Ok(());
        };
        if let Some(before) = t.votes.insert(node, yes) {
            if before != yes {
                let m = format!("{node} voted {before} on txn {txn}, then {yes}");
                return Err(Violation::new("twopc.decision-final", at, m).with_kind("vote-changed"));
            }
        }
        if yes {
            self.in_doubt.entry((txn, node)).or_insert(at);
        }
        Ok(())
    }

    fn applied(
        &mut self,
        at: SimTime,
        node: NodeId,
        txn: TxnId,
        outcome: Outcome,
        balances: &[(u64, i64)],
    ) -> Result<(), Violation> {
        if let Some(since) = self.in_doubt.remove(&(txn, node)) {
            self.blocking_ns.push(at.saturating_since(since).as_nanos());
            if self.doubt_spans.len() < MAX_SPANS {
                self.doubt_spans
                    .push(doubt_span(node, since, at.as_nanos(), txn));
            }
        }
        let Some(t) = self.txns.get_mut(&txn) else {
            return Ok(());
        };
        if let Some(before) = t.outcomes.insert(node, outcome) {
            let m = format!("{node} applied {before:?} to txn {txn}, then {outcome:?}");
            return Err(Violation::new("twopc.decision-final", at, m).with_kind("outcome-changed"));
        }
        agree(at, txn, t, outcome, &node.to_string())?;
        if outcome == Outcome::Commit {
            self.commit_applied(at, node, txn, balances)?;
        }
        Ok(())
    }

    fn commit_applied(
        &mut self,
        at: SimTime,
        node: NodeId,
        txn: TxnId,
        balances: &[(u64, i64)],
    ) -> Result<(), Violation> {
        let t = &self.txns[&txn];
        let transfer = t.transfer;
        let done = t
            .outcomes
            .values()
            .filter(|o| **o == Outcome::Commit)
            .count();
        let all = done == t.participants.len();
        for &(account, balance) in balances {
            let delta = if account == transfer.from {
                -(transfer.amount as i64)
            } else if account == transfer.to {
                transfer.amount as i64
            } else {
                0
            };
            let expected = self.balance(account) + delta;
            if balance != expected || delta == 0 {
                let m = format!("{node} committed txn {txn} ({transfer:?}) leaving account {account} at {balance}, expected {expected}");
                return Err(Violation::new("twopc.conservation", at, m).with_kind("balance"));
            }
            let before = self.balances.insert(account, balance);
            self.balances_sum += balance - before.unwrap_or(0);
        }
        if all {
            self.half_applied.remove(&txn);
        } else {
            self.half_applied.insert(txn);
        }
        let sum = self.sum();
        if self.half_applied.is_empty() && sum != self.total {
            let m = format!("after txn {txn} every commit is fully applied, but the accounts hold {sum}, not {}", self.total);
            return Err(Violation::new("twopc.conservation", at, m).with_kind("total"));
        }
        Ok(())
    }

    /// The bank's total as reported: accounts never written hold the opening balance.
    fn sum(&self) -> i64 {
        let untouched = self.accounts - self.balances.len() as i64;
        debug_assert_eq!(self.balances_sum, self.balances.values().sum::<i64>());
        self.balances_sum + untouched * self.initial
    }

    fn coordinator_crashed(&mut self) {
        let prepared_undecided = self.txns.values().any(|t| {
            t.decision.is_none() && t.participants.iter().all(|p| t.votes.get(p) == Some(&true))
        });
        let mid_commit = self.txns.values().any(|t| {
            t.decision == Some(Outcome::Commit) && t.outcomes.len() < t.participants.len()
        });
        self.crashes_before_decision += u64::from(prepared_undecided);
        self.crashes_mid_commit += u64::from(mid_commit);
    }

    fn end_balances(&self, end: &EndState<'_, TwoPcNode>) -> Option<Violation> {
        let mut sum = 0;
        for node in end.nodes.iter().take(end.servers).flatten() {
            if let TwoPcNode::Participant(p) = node {
                sum += p.total(self.accounts_per_shard);
            }
        }
        (sum != self.total).then(|| {
            let m = format!(
                "after the liveness phase the participants hold {sum}, not {}",
                self.total
            );
            Violation::new("twopc.conservation", end.time, m).with_kind("total-at-end")
        })
    }
}

/// `outcome` at `who` must agree with every outcome already known for `txn`.
fn agree(at: SimTime, txn: TxnId, t: &Txn, outcome: Outcome, who: &str) -> Result<(), Violation> {
    let mut known: Vec<(String, Outcome)> = t
        .outcomes
        .iter()
        .map(|(n, o)| (n.to_string(), *o))
        .collect();
    if let Some(d) = t.decision {
        known.push(("the coordinator".into(), d));
    }
    match known.into_iter().find(|(_, o)| *o != outcome) {
        Some((other, o)) => {
            let m = format!("txn {txn}: {who} has {outcome:?} but {other} has {o:?}");
            Err(Violation::new("twopc.atomicity", at, m))
        }
        None => Ok(()),
    }
}

impl Invariants<TwoPcNode> for TwoPcChecks {
    fn names(&self) -> &'static [CheckInfo] {
        CHECKS
    }

    fn on_note(&mut self, at: SimTime, node: NodeId, note: &Note) -> Result<(), Violation> {
        match note {
            Note::Begin {
                txn,
                participants,
                transfer,
            } => {
                let t = Txn {
                    participants: participants.clone(),
                    transfer: *transfer,
                    begun: at,
                    votes: BTreeMap::new(),
                    decision: None,
                    outcomes: BTreeMap::new(),
                };
                self.txns.insert(*txn, t);
                if self.recorder.begin(*txn, at) && transfer.amount > 0 {
                    // A transaction writes the version named by its id.
                    self.recorder.write(*txn, transfer.from, *txn);
                    self.recorder.write(*txn, transfer.to, *txn);
                }
                Ok(())
            }
            Note::Voted { txn, yes, read } => {
                for &(account, version) in read {
                    self.recorder.read(*txn, account, version);
                }
                self.voted(at, node, *txn, *yes)
            }
            Note::Decided { txn, outcome } => self.decided(at, *txn, *outcome),
            Note::Applied {
                txn,
                outcome,
                balances,
            } => self.applied(at, node, *txn, *outcome, balances),
        }
    }

    fn on_lifecycle(&mut self, _at: SimTime, node: NodeId, event: Lifecycle) {
        if node == NodeId(0) && event == Lifecycle::Crashed {
            self.coordinator_crashed();
        }
    }

    fn at_end(&mut self, end: &EndState<'_, TwoPcNode>) -> Vec<Violation> {
        self.end_ns = end.time.as_nanos();
        let mut out = Vec::new();
        if let Some(((txn, node), since)) = self.in_doubt.iter().next() {
            let m = format!(
                "after the liveness phase {} participant(s) are still in doubt, e.g. {node} about txn {txn} since {since}",
                self.in_doubt.len()
            );
            out.push(Violation::new("twopc.liveness", end.time, m));
        }
        out.extend(self.end_balances(end));
        if end.is_enabled("twopc.serializable") {
            let judged = self
                .recorder
                .judge("twopc.serializable", ISOLATION, end.budget, end.time);
            out.extend(judged.violation.clone());
            self.isolation = Some(judged);
        }
        out
    }

    fn undecided(&self) -> Vec<Undecided> {
        self.isolation
            .iter()
            .filter_map(|j| j.undecided.clone())
            .collect()
    }

    /// Every participant's in-doubt periods (holding locks, waiting for the
    /// decision); those still open end at the end of the run.
    fn intervals(&self) -> Vec<Interval> {
        let open = self
            .in_doubt
            .iter()
            .map(|((txn, node), since)| doubt_span(*node, *since, self.end_ns, *txn));
        self.doubt_spans
            .iter()
            .cloned()
            .chain(open)
            .take(MAX_SPANS)
            .collect()
    }

    fn metrics(&self) -> BTreeMap<String, Value> {
        let mut latency = self.latency_ns.clone();
        let blocking_max = self.blocking_ns.iter().max().copied().unwrap_or(0);
        let undecided = self.txns.values().filter(|t| t.decision.is_none()).count();
        let isolation = self
            .isolation
            .as_ref()
            .map(|j| j.metrics("isolation"))
            .unwrap_or_default();
        let mut metrics = BTreeMap::from([
            ("commits".to_string(), json!(self.commits)),
            ("aborts".to_string(), json!(self.aborts)),
            ("undecided_by_coordinator".to_string(), json!(undecided)),
            (
                "txn_latency_ns_p50".to_string(),
                json!(quantile(&mut latency, 0.5)),
            ),
            (
                "txn_latency_ns_p99".to_string(),
                json!(quantile(&mut latency, 0.99)),
            ),
            ("blocking_ns_max".to_string(), json!(blocking_max)),
            (
                "blocking_ns_total".to_string(),
                json!(self.blocking_ns.iter().sum::<u64>()),
            ),
            (
                "in_doubt_episodes".to_string(),
                json!(self.blocking_ns.len()),
            ),
            (
                "coordinator_crashes_before_decision".to_string(),
                json!(self.crashes_before_decision),
            ),
            (
                "coordinator_crashes_mid_commit".to_string(),
                json!(self.crashes_mid_commit),
            ),
        ]);
        metrics.extend(isolation);
        metrics
    }
}

/// Most in-doubt periods kept for the chart.
const MAX_SPANS: usize = 5_000;

fn doubt_span(node: NodeId, since: SimTime, end_ns: u64, txn: TxnId) -> Interval {
    Interval {
        node: node.0,
        start_ns: since.as_nanos(),
        end_ns,
        label: format!("in doubt (txn {txn})"),
    }
}
