//! The dependency graph (Adya's, as Elle infers it) and its inference from
//! list-append transactions (rw-register's is in [`super::register`]): each
//! key's version order is its longest read (every other
//! read must be a prefix of it), and between transactions that committed
//! (or may have, and were seen) it draws write-write (`ww`: appended the
//! next element), write-read (`wr`: appended the last element a read saw)
//! and read-write (`rw`: read a prefix the other extended) edges. The
//! anomalies that need no cycle are found on the way: aborted reads (G1a),
//! intermediate reads (G1b), committed appends on top of aborted ones
//! (dirty updates), elements read that nobody appended, elements
//! read twice, reads that are not prefixes of one order, and reads that
//! contradict the transaction's own appends (internal).
use super::parse::{Mop, Status, Txn};
use std::collections::BTreeMap;

/// The kind of a dependency edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dep {
    /// The target appended the element after the source's.
    Ww,
    /// The target read the source's append.
    Wr,
    /// The target appended the element after the last one the source read.
    Rw,
    /// The source completed before the target was invoked.
    Realtime,
    /// The source completed before the target was invoked, by the same
    /// process (session order).
    Process,
}

impl Dep {
    /// The short name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Dep::Ww => "ww",
            Dep::Wr => "wr",
            Dep::Rw => "rw",
            Dep::Realtime => "realtime",
            Dep::Process => "process",
        }
    }
}

/// One edge, with the key and element that explain it (none for realtime).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The target transaction.
    pub to: usize,
    /// Its kind.
    pub dep: Dep,
    /// The key (by its index in [`Inferred::keys`]) and element behind it.
    pub why: Option<(u32, i64)>,
}

/// A non-cyclic anomaly, with the transactions involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Elle's name: `G1a`, `G1b`, `dirty-update`, `internal`,
    /// `garbage-read`, `duplicate-elements`, `incompatible-order`.
    pub class: &'static str,
    /// The transactions involved (indices into the transaction list).
    pub txns: Vec<usize>,
    /// What happened, in words.
    pub explanation: String,
}

/// The graph and what was found building it.
#[derive(Debug, Default)]
pub struct Inferred {
    /// Outgoing edges per node: the transactions first, then (with
    /// realtime) one node per distinct completion time.
    pub edges: Vec<Vec<Edge>>,
    /// The non-cyclic anomalies.
    pub findings: Vec<Finding>,
    /// The names of the keys edges name, in the order first named (an
    /// index per edge instead of a copy of the name: a graph holds
    /// millions of edges).
    pub keys: Vec<String>,
    key_ids: BTreeMap<String, u32>,
    /// Data edges allowed (a memory bound); past it edges are dropped and
    /// `overflowed` is set: the graph no longer decides anything.
    edges_max: usize,
    edges_added: usize,
    /// Whether an edge was dropped for the bound.
    pub overflowed: bool,
}

impl Inferred {
    /// An empty graph over `txns` transactions, of at most `edges_max`
    /// data edges.
    pub fn new(txns: usize, edges_max: usize) -> Self {
        Inferred {
            edges: vec![Vec::new(); txns],
            edges_max,
            ..Inferred::default()
        }
    }

    /// Adds the edge `from -dep(key, value)-> to`, unless it is a loop or
    /// the graph is full.
    pub fn add(&mut self, from: usize, to: usize, dep: Dep, key: &str, value: i64) {
        if from == to {
            return;
        }
        if self.edges_added >= self.edges_max {
            self.overflowed = true;
            return;
        }
        self.edges_added += 1;
        let id = match self.key_ids.get(key) {
            Some(&id) => id,
            None => {
                // Past 2^32 keys the graph is full, as past its edge bound.
                let Ok(id) = u32::try_from(self.keys.len()) else {
                    self.overflowed = true;
                    return;
                };
                self.keys.push(key.to_string());
                self.key_ids.insert(key.to_string(), id);
                id
            }
        };
        self.edges[from].push(Edge {
            to,
            dep,
            why: Some((id, value)),
        });
    }
}

/// Who wrote (appended) each value of each key, and each transaction's
/// last write per key: the tables both workloads infer from.
pub(super) type Writers<'a> = (
    BTreeMap<(&'a str, i64), usize>,
    BTreeMap<(usize, &'a str), i64>,
);

/// The [`Writers`] of `txns`.
pub(super) fn writers(txns: &[Txn]) -> Writers<'_> {
    let mut writer = BTreeMap::new();
    let mut last = BTreeMap::new();
    for (t, txn) in txns.iter().enumerate() {
        for m in &txn.mops {
            if let Some(value) = m.written() {
                writer.insert((m.key(), value), t);
                last.insert((t, m.key()), value);
            }
        }
    }
    (writer, last)
}

/// Which order between transactions, besides their data, a model needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// None: serializability and weaker.
    Data,
    /// Each process's transactions in the order it ran them (strong
    /// session models).
    Process,
    /// Real time (strict serializability).
    Realtime,
}

impl Order {
    /// The edge kind that carries the order, if any.
    pub fn dep(self) -> Option<Dep> {
        match self {
            Order::Data => None,
            Order::Process => Some(Dep::Process),
            Order::Realtime => Some(Dep::Realtime),
        }
    }
}

/// Adds the edges of `order` to a graph over `txns`.
pub(super) fn add_order(txns: &[Txn], order: Order, edges: &mut Vec<Vec<Edge>>) {
    match order {
        Order::Data => {}
        Order::Process => add_process(txns, edges),
        Order::Realtime => add_realtime(txns, edges),
    }
}

/// Infers the graph over `txns` (with the edges of `order`), of at most
/// `edges_max` data edges.
pub fn infer(txns: &[Txn], order: Order, edges_max: usize) -> Inferred {
    let mut out = Inferred::new(txns.len(), edges_max);
    let (writer, last_append) = writers(txns);
    // External reads of committed transactions: (txn, key, list).
    let mut reads: Vec<(usize, &str, &[i64])> = Vec::new();
    for (t, txn) in txns.iter().enumerate() {
        if txn.status != Status::Committed {
            continue;
        }
        check_internal(t, txn, &mut out.findings);
        for m in &txn.mops {
            if let Mop::Read {
                key,
                list: Some(list),
            } = m
            {
                reads.push((t, key.as_str(), list.as_slice()));
            }
        }
    }
    // Each key's version order: its longest read, and who read it.
    let mut orders: BTreeMap<&str, (&[i64], usize)> = BTreeMap::new();
    for &(t, key, list) in &reads {
        check_elements(txns, &writer, &last_append, t, key, list, &mut out.findings);
        let longest = orders.entry(key).or_insert((list, t));
        if list.len() > longest.0.len() {
            *longest = (list, t);
        }
    }
    for &(t, key, list) in &reads {
        let (order, by) = orders[key];
        if !order.starts_with(list) {
            out.findings.push(Finding {
                class: "incompatible-order",
                txns: vec![t, by],
                explanation: format!(
                    "key {key}: T{t} read {list:?} and T{by} read {order:?}; neither extends the other"
                ),
            });
        }
    }
    for (&key, &(order, _)) in &orders {
        check_dirty_updates(txns, &writer, key, order, &mut out.findings);
    }
    let committed = |w: usize| txns[w].status != Status::Aborted;
    for (&key, &(order, _)) in &orders {
        let owners: Vec<Option<usize>> = order
            .iter()
            .map(|v| writer.get(&(key, *v)).copied().filter(|&w| committed(w)))
            .collect();
        for (i, pair) in owners.windows(2).enumerate() {
            if let [Some(a), Some(b)] = *pair {
                out.add(a, b, Dep::Ww, key, order[i + 1]);
            }
        }
    }
    for &(t, key, list) in &reads {
        let (order, _) = orders[key];
        if !order.starts_with(list) {
            continue;
        }
        if let Some(&last) = list.last() {
            if let Some(w) = writer.get(&(key, last)).copied().filter(|&w| committed(w)) {
                out.add(w, t, Dep::Wr, key, last);
            }
        }
        if let Some(&next) = order.get(list.len()) {
            if let Some(w) = writer.get(&(key, next)).copied().filter(|&w| committed(w)) {
                out.add(t, w, Dep::Rw, key, next);
            }
        }
    }
    add_order(txns, order, &mut out.edges);
    out
}

/// Whether a transaction's reads agree with what it did itself: a read
/// after the transaction's own appends to a key ends with them, in order,
/// and after an earlier read of the key it is that read plus them (Elle's
/// internal consistency).
fn check_internal(t: usize, txn: &Txn, findings: &mut Vec<Finding>) {
    // Per key: the earlier read, if any, and the appends since.
    let mut state: BTreeMap<&str, (Option<&[i64]>, Vec<i64>)> = BTreeMap::new();
    for m in &txn.mops {
        match m {
            Mop::Append { key, value } => state.entry(key).or_default().1.push(*value),
            Mop::Read {
                key,
                list: Some(list),
            } => {
                let (before, own) = state.entry(key).or_default();
                let fits = match before {
                    Some(b) => list.len() == b.len() + own.len() && list.starts_with(b),
                    None => true,
                } && list.ends_with(own);
                if !fits {
                    findings.push(Finding {
                        class: "internal",
                        txns: vec![t],
                        explanation: format!(
                            "T{t} read {list:?} in key {key}, which does not follow from its own earlier read {before:?} and appends {own:?}"
                        ),
                    });
                }
                *before = Some(list);
                own.clear();
            }
            Mop::Read { list: None, .. } | Mop::Write { .. } | Mop::ReadRegister { .. } => {}
        }
    }
}

/// Dirty updates in one key's version order (Elle's, beyond Adya's G1a):
/// a committed transaction appended on top of an aborted one's append,
/// so the aborted write is part of state a committed write built on.
/// Appends of transactions that may have committed say nothing either
/// way: they neither clear nor start a run after an aborted one.
fn check_dirty_updates(
    txns: &[Txn],
    writer: &BTreeMap<(&str, i64), usize>,
    key: &str,
    order: &[i64],
    findings: &mut Vec<Finding>,
) {
    // The aborted append since the latest committed one, if any.
    let mut aborted: Option<(usize, i64)> = None;
    for &v in order {
        let Some(&w) = writer.get(&(key, v)) else {
            continue;
        };
        match txns[w].status {
            Status::Unknown => {}
            Status::Aborted => aborted = Some((w, v)),
            Status::Committed => {
                if let Some((a, aborted_value)) = aborted.take() {
                    findings.push(Finding {
                        class: "dirty-update",
                        txns: vec![a, w],
                        explanation: format!(
                            "key {key}: T{w} appended {v} after T{a}'s append of {aborted_value}, and T{a} aborted"
                        ),
                    });
                }
            }
        }
    }
}

/// G1a, G1b, garbage and duplicate elements in one read.
fn check_elements(
    txns: &[Txn],
    writer: &BTreeMap<(&str, i64), usize>,
    last_append: &BTreeMap<(usize, &str), i64>,
    t: usize,
    key: &str,
    list: &[i64],
    findings: &mut Vec<Finding>,
) {
    let mut seen = std::collections::BTreeSet::new();
    for &v in list {
        if !seen.insert(v) {
            findings.push(Finding {
                class: "duplicate-elements",
                txns: vec![t],
                explanation: format!("T{t} read {v} twice in key {key}: {list:?}"),
            });
        }
        match writer.get(&(key, v)) {
            None => findings.push(Finding {
                class: "garbage-read",
                txns: vec![t],
                explanation: format!("T{t} read {v} in key {key}, which no transaction appended"),
            }),
            Some(&w) if txns[w].status == Status::Aborted => findings.push(Finding {
                class: "G1a",
                txns: vec![w, t],
                explanation: format!("T{t} read {v} in key {key}, appended by T{w}, which aborted"),
            }),
            Some(_) => {}
        }
    }
    if let Some(&v) = list.last() {
        if let Some(&w) = writer.get(&(key, v)) {
            let final_value = last_append[&(w, key)];
            if w != t && final_value != v {
                findings.push(Finding {
                    class: "G1b",
                    txns: vec![w, t],
                    explanation: format!(
                        "T{t} read key {key} ending in {v}, an intermediate append of T{w}, which went on to append {final_value}"
                    ),
                });
            }
        }
    }
}

/// Realtime order without the quadratic set of pairs: one node per
/// distinct completion time, chained in time order; a committed
/// transaction points at its completion's node, and each node points at
/// the transactions invoked after it and before the next one. So `a`
/// reaches `b` through the chain exactly when `a` completed before `b`
/// was invoked. Appends the nodes after the transactions' own.
fn add_realtime(txns: &[Txn], edges: &mut Vec<Vec<Edge>>) {
    let mut times: Vec<u64> = txns
        .iter()
        .filter(|t| t.status == Status::Committed)
        .filter_map(|t| t.return_time)
        .collect();
    times.sort_unstable();
    times.dedup();
    let first = edges.len();
    edges.resize(first + times.len(), Vec::new());
    let realtime = |to| Edge {
        to,
        dep: Dep::Realtime,
        why: None,
    };
    for p in 1..times.len() {
        edges[first + p - 1].push(realtime(first + p));
    }
    for (i, t) in txns.iter().enumerate() {
        if t.status == Status::Aborted {
            continue;
        }
        if let Some(done) = t.return_time.filter(|_| t.status == Status::Committed) {
            let p = times.partition_point(|&x| x < done);
            edges[i].push(realtime(first + p));
        }
        // The latest completion strictly before this invocation.
        let before = times.partition_point(|&x| x < t.call_time);
        if before > 0 {
            edges[first + before - 1].push(realtime(i));
        }
    }
}

/// Process order: each transaction follows its process's latest committed
/// one (an unknown transaction may have taken effect after its successor
/// began, so none starts an edge; aborted ones are left out).
fn add_process(txns: &[Txn], edges: &mut [Vec<Edge>]) {
    let mut last_committed: BTreeMap<i64, usize> = BTreeMap::new();
    // Committed and unknown transactions come first, in invocation order.
    for (i, t) in txns.iter().enumerate() {
        if t.status == Status::Aborted {
            continue;
        }
        if let Some(&prev) = last_committed.get(&t.process) {
            edges[prev].push(Edge {
                to: i,
                dep: Dep::Process,
                why: None,
            });
        }
        if t.status == Status::Committed {
            last_committed.insert(t.process, i);
        }
    }
}
