//! From rw-register transactions to a dependency graph, as Elle infers it
//! for Jepsen's rw-register workload. Every value is written at most once
//! per key, so a read names the write it saw (`wr` edges). The version
//! order is known only in part: nil (the initial state) comes before every
//! write, and a transaction that read version `a` of a key and then wrote
//! `b` to it puts `a` before `b` (writes follow reads: a transaction
//! installs its write after the version it read, in every model that
//! installs writes at commit). From each such pair come a `ww` edge
//! (`a`'s writer to `b`'s) and `rw` edges (each reader of `a` to `b`'s
//! writer). The anomalies that need no cycle: aborted reads (G1a),
//! intermediate reads (G1b), values nobody wrote, reads that contradict
//! the transaction's own earlier read or write of the key (internal), and
//! lost updates (two committed transactions read the same version of a
//! key and both wrote it).
use super::graph::{add_order, writers, Dep, Finding, Inferred, Order};
use super::parse::{Mop, Status, Txn};
use std::collections::BTreeMap;

/// A version of a register: the initial nil, or a written value.
type Version = Option<i64>;

/// Infers the graph over `txns` (with the edges of `order`), of at most
/// `edges_max` data edges.
pub fn infer(txns: &[Txn], order: Order, edges_max: usize) -> Inferred {
    let mut out = Inferred::new(txns.len(), edges_max);
    let (writer, final_write) = writers(txns);
    // Per key: who read each version from outside (the first access of the
    // key in a committed transaction), and the versions known to follow
    // each version (with the transaction that wrote them).
    let mut readers: BTreeMap<(&str, Version), Vec<usize>> = BTreeMap::new();
    let mut after: BTreeMap<(&str, Version), Vec<(usize, i64)>> = BTreeMap::new();
    let mut has_before: std::collections::BTreeSet<(&str, i64)> = Default::default();
    for (t, txn) in txns.iter().enumerate() {
        if txn.status != Status::Committed {
            continue;
        }
        check_internal(t, txn, &mut out.findings);
        for (key, read) in external_reads(txn) {
            readers.entry((key, read)).or_default().push(t);
            check_read(txns, &writer, &final_write, t, key, read, &mut out.findings);
            if let Some(&written) = final_write.get(&(t, key)) {
                after.entry((key, read)).or_default().push((t, written));
                has_before.insert((key, written));
            }
        }
    }
    lost_updates(&after, &mut out.findings);
    // A value nobody is known to follow follows nil.
    for (&(key, value), &w) in &writer {
        if !has_before.contains(&(key, value)) {
            after.entry((key, None)).or_default().push((w, value));
        }
    }
    let live = |w: usize| txns[w].status != Status::Aborted;
    for (&(key, before), nexts) in &after {
        for &(w, next) in nexts {
            if !live(w) {
                continue;
            }
            if let Some(&v) = before.and_then(|b| writer.get(&(key, b))) {
                if live(v) {
                    out.add(v, w, Dep::Ww, key, next);
                }
            }
            for &r in readers.get(&(key, before)).into_iter().flatten() {
                out.add(r, w, Dep::Rw, key, next);
            }
        }
    }
    for (&(key, version), rs) in &readers {
        let Some(value) = version else { continue };
        if let Some(&w) = writer.get(&(key, value)).filter(|&&w| live(w)) {
            for &r in rs {
                out.add(w, r, Dep::Wr, key, value);
            }
        }
    }
    add_order(txns, order, &mut out.edges);
    out
}

/// The reads of a transaction that see other transactions' state: the
/// first micro-op on each key, when it is a known read.
fn external_reads(txn: &Txn) -> Vec<(&str, Version)> {
    let mut touched = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for m in &txn.mops {
        if !touched.insert(m.key()) {
            continue;
        }
        if let Mop::ReadRegister {
            key,
            value: Some(v),
        } = m
        {
            out.push((key.as_str(), *v));
        }
    }
    out
}

/// Whether a transaction's later reads of a key agree with its own
/// earlier read or write of it.
fn check_internal(t: usize, txn: &Txn, findings: &mut Vec<Finding>) {
    let mut known: BTreeMap<&str, Version> = BTreeMap::new();
    for m in &txn.mops {
        match m {
            Mop::Write { key, value } => {
                known.insert(key, Some(*value));
            }
            Mop::ReadRegister {
                key,
                value: Some(read),
            } => {
                if let Some(&expected) = known.get(key.as_str()) {
                    if expected != *read {
                        findings.push(Finding {
                            class: "internal",
                            txns: vec![t],
                            explanation: format!(
                                "T{t} read {} from key {key} after its own read or write of {}",
                                show(*read),
                                show(expected)
                            ),
                        });
                    }
                }
                known.insert(key, *read);
            }
            _ => {}
        }
    }
}

/// G1a, G1b and garbage for one external read.
fn check_read(
    txns: &[Txn],
    writer: &BTreeMap<(&str, i64), usize>,
    final_write: &BTreeMap<(usize, &str), i64>,
    t: usize,
    key: &str,
    read: Version,
    findings: &mut Vec<Finding>,
) {
    let Some(v) = read else { return };
    match writer.get(&(key, v)) {
        None => findings.push(Finding {
            class: "garbage-read",
            txns: vec![t],
            explanation: format!("T{t} read {v} from key {key}, which no transaction wrote"),
        }),
        Some(&w) if txns[w].status == Status::Aborted => findings.push(Finding {
            class: "G1a",
            txns: vec![w, t],
            explanation: format!("T{t} read {v} from key {key}, written by T{w}, which aborted"),
        }),
        Some(&w) => {
            let last = final_write[&(w, key)];
            if w != t && last != v {
                findings.push(Finding {
                    class: "G1b",
                    txns: vec![w, t],
                    explanation: format!(
                        "T{t} read {v} from key {key}, an intermediate write of T{w}, which went on to write {last}"
                    ),
                });
            }
        }
    }
}

/// Two committed transactions that read the same version of a key and
/// both wrote it: one overwrote the other without seeing it.
fn lost_updates(after: &BTreeMap<(&str, Version), Vec<(usize, i64)>>, findings: &mut Vec<Finding>) {
    for (&(key, version), nexts) in after {
        if nexts.len() < 2 {
            continue;
        }
        let writers: Vec<usize> = nexts.iter().map(|&(t, _)| t).collect();
        findings.push(Finding {
            class: "lost-update",
            txns: writers.clone(),
            explanation: format!(
                "{} each read {} from key {key} and wrote it ({}): all but one update is lost",
                writers
                    .iter()
                    .map(|t| format!("T{t}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                show(version),
                nexts
                    .iter()
                    .map(|(_, v)| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
}

fn show(v: Version) -> String {
    v.map_or("nil".to_string(), |v| v.to_string())
}
