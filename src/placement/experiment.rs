//! The placement experiment (`faultline shards`): for each strategy and
//! node count N, the share of keys that change owner when a node joins
//! (N → N + 1; ideal 1 / (N + 1): only the new node's share) or leaves
//! (N → N − 1, the last node, the one jump hash can lose; ideal 1 / N),
//! and the load imbalance at N (most keys on one node over the mean).
//! Each configuration runs over several salts (hash seeds); the runs are
//! independent and run in parallel.

use super::{Placement, Strategy};
use crate::experiment::mean;
use rayon::prelude::*;
use serde::Serialize;
use std::fmt::Write;

/// The strategies compared: mod N, consistent hashing with 1, 16 and 256
/// virtual nodes, rendezvous and jump.
pub const STRATEGIES: [Strategy; 6] = [
    Strategy::ModN,
    Strategy::Consistent { vnodes: 1 },
    Strategy::Consistent { vnodes: 16 },
    Strategy::Consistent { vnodes: 256 },
    Strategy::Rendezvous,
    Strategy::Jump,
];

/// The experiment's parameters.
#[derive(Clone, Debug)]
pub struct ShardsPlan {
    /// Keys placed (`0..keys`).
    pub keys: u64,
    /// Node counts N (each at least 2, so that one can leave).
    pub nodes: Vec<u32>,
    /// Salts per configuration (`0..salts`).
    pub salts: u64,
}

/// What one (strategy, N, salt) measured.
#[derive(Clone, Debug, Serialize)]
pub struct ShardsRow {
    /// The strategy ([`Strategy`]'s display).
    pub strategy: String,
    /// Nodes before the change.
    pub nodes: u32,
    /// The hash seed.
    pub salt: u64,
    /// Share of keys whose owner changed when node N joined.
    pub moved_on_join: f64,
    /// Share of keys whose owner changed when node N − 1 left.
    pub moved_on_leave: f64,
    /// Most keys on one node over the mean, with N nodes.
    pub imbalance: f64,
}

/// Owners of keys `0..keys` under `p`.
fn owners(p: &Placement, keys: u64) -> Vec<u32> {
    (0..keys).map(|k| p.owner(k)).collect()
}

/// Share of positions where `a` and `b` differ.
fn changed(a: &[u32], b: &[u32]) -> f64 {
    let moved = a.iter().zip(b).filter(|(x, y)| x != y).count();
    moved as f64 / a.len().max(1) as f64
}

/// Most keys on one node of `n` (numbered `0..n`) over the mean.
fn imbalance(owners: &[u32], n: u32) -> f64 {
    let mut loads = vec![0u64; n as usize];
    for &o in owners {
        loads[o as usize] += 1;
    }
    let max = loads.iter().copied().max().unwrap_or(0) as f64;
    max / (owners.len() as f64 / f64::from(n))
}

/// Measures one configuration.
pub fn measure(strategy: Strategy, n: u32, keys: u64, salt: u64) -> ShardsRow {
    assert!(n >= 2 && keys >= 1, "N = {n} and {keys} keys");
    let at = |count: u32| {
        let nodes: Vec<u32> = (0..count).collect();
        owners(&Placement::new(strategy, &nodes, salt), keys)
    };
    let (before, joined, left) = (at(n), at(n + 1), at(n - 1));
    ShardsRow {
        strategy: strategy.to_string(),
        nodes: n,
        salt,
        moved_on_join: changed(&before, &joined),
        moved_on_leave: changed(&before, &left),
        imbalance: imbalance(&before, n),
    }
}

/// Runs every strategy, node count and salt (in parallel), in a fixed order.
pub fn experiment(plan: &ShardsPlan) -> Vec<ShardsRow> {
    let mut configs = Vec::new();
    for strategy in STRATEGIES {
        for &n in &plan.nodes {
            for salt in 0..plan.salts {
                configs.push((strategy, n, salt));
            }
        }
    }
    configs
        .par_iter()
        .map(|&(strategy, n, salt)| measure(strategy, n, plan.keys, salt))
        .collect()
}

/// A measure over salts: mean, least and most.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Spread {
    /// The mean.
    pub mean: f64,
    /// The least.
    pub min: f64,
    /// The most.
    pub max: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Spread {
        Spread {
            mean: mean(values.iter().copied()),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// One strategy at one N, over its salts.
#[derive(Clone, Debug, Serialize)]
pub struct ShardsSummary {
    /// The strategy.
    pub strategy: String,
    /// N.
    pub nodes: u32,
    /// Salts summarized.
    pub salts: usize,
    /// Share of keys moved on a join.
    pub moved_on_join: Spread,
    /// The ideal: 1 / (N + 1).
    pub ideal_join: f64,
    /// Share of keys moved on a leave.
    pub moved_on_leave: Spread,
    /// The ideal: 1 / N.
    pub ideal_leave: f64,
    /// Most keys on one node over the mean.
    pub imbalance: Spread,
}

/// Summarizes the rows per strategy and N, in the rows' order.
pub fn summarize(rows: &[ShardsRow]) -> Vec<ShardsSummary> {
    let mut out: Vec<ShardsSummary> = Vec::new();
    let mut seen: Vec<(&str, u32)> = Vec::new();
    for r in rows {
        if seen.contains(&(r.strategy.as_str(), r.nodes)) {
            continue;
        }
        seen.push((&r.strategy, r.nodes));
        let group: Vec<&ShardsRow> = rows
            .iter()
            .filter(|o| o.strategy == r.strategy && o.nodes == r.nodes)
            .collect();
        let spread =
            |f: fn(&ShardsRow) -> f64| Spread::of(&group.iter().map(|r| f(r)).collect::<Vec<_>>());
        out.push(ShardsSummary {
            strategy: r.strategy.clone(),
            nodes: r.nodes,
            salts: group.len(),
            moved_on_join: spread(|r| r.moved_on_join),
            ideal_join: 1.0 / f64::from(r.nodes + 1),
            moved_on_leave: spread(|r| r.moved_on_leave),
            ideal_leave: 1.0 / f64::from(r.nodes),
            imbalance: spread(|r| r.imbalance),
        });
    }
    out
}

fn pct(s: Spread) -> String {
    format!(
        "{:.1}% ({:.1}-{:.1})",
        s.mean * 100.0,
        s.min * 100.0,
        s.max * 100.0
    )
}

/// The summary as a Markdown table.
pub fn markdown(summary: &[ShardsSummary], plan: &ShardsPlan, command: &str) -> String {
    let mut md = String::from("# Placement: keys moved and load balance, by strategy\n\n");
    let _ = writeln!(md, "Regenerate with `{command}`. {} keys, {} salts (hash seeds) per row: the mean and, in brackets, the least and most over salts. A join adds node N; a leave removes node N - 1 (the only node jump hash can lose). Imbalance is the most keys on one node over the mean, with N nodes (1.00 is perfect).\n", plan.keys, plan.salts);
    md += "| strategy | N | keys moved N → N+1 | ideal | keys moved N → N−1 | ideal | imbalance (max / mean) |\n";
    md += "|---|---:|---:|---:|---:|---:|---:|\n";
    for s in summary {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.1}% | {} | {:.1}% | {:.2} ({:.2}-{:.2}) |",
            s.strategy,
            s.nodes,
            pct(s.moved_on_join),
            s.ideal_join * 100.0,
            pct(s.moved_on_leave),
            s.ideal_leave * 100.0,
            s.imbalance.mean,
            s.imbalance.min,
            s.imbalance.max
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistent_strategies_move_the_ideal_share_and_mod_n_nearly_all() {
        let rows = experiment(&ShardsPlan {
            keys: 20_000,
            nodes: vec![4],
            salts: 4,
        });
        let summary = summarize(&rows);
        assert_eq!(summary.len(), STRATEGIES.len());
        for s in &summary {
            let join = s.moved_on_join.mean;
            if s.strategy == "hash mod N" {
                // 4 of 5 keys change owner going from 4 to 5 nodes.
                assert!((0.75..0.85).contains(&join), "{s:?}");
            } else if s.strategy != "consistent, V=1" {
                assert!((join - s.ideal_join).abs() < 0.05, "{s:?}");
                assert!(
                    (s.moved_on_leave.mean - s.ideal_leave).abs() < 0.05,
                    "{s:?}"
                );
            }
            assert!(s.imbalance.min >= 1.0, "{s:?}");
        }
        let v1 = &summary[1];
        let v256 = &summary[3];
        assert!(
            v1.imbalance.mean > v256.imbalance.mean + 0.3,
            "{v1:?} {v256:?}"
        );
        let md = markdown(
            &summary,
            &ShardsPlan {
                keys: 20_000,
                nodes: vec![4],
                salts: 4,
            },
            "x",
        );
        assert_eq!(md.matches("\n| ").count(), STRATEGIES.len() + 1, "{md}");
    }

    #[test]
    fn the_measures_count_what_they_say() {
        assert_eq!(changed(&[0, 1, 2, 3], &[0, 1, 4, 4]), 0.5);
        // Loads 3 and 1: the mean is 2, the most 3.
        assert_eq!(imbalance(&[0, 0, 0, 1], 2), 1.5);
    }
}
