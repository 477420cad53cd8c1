//! The data every report view shares: fault windows (a fault and the
//! repair that ends it, paired from the typed effects the engine logs;
//! skipped faults open no window); client operations are the run's
//! [`crate::history::Record`]s.

use crate::sim::{AppliedFault, FaultEffect};
use std::collections::BTreeMap;

/// A span of time during which a fault was in force.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// When it began.
    pub start_ns: u64,
    /// When it was repaired (or the run ended).
    pub end_ns: u64,
    /// What it was, e.g. `partition split` or `n2 down`.
    pub label: String,
}

/// Pairs faults with their repairs (from their typed effects); windows
/// still open at `end_ns` close there.
pub fn fault_windows(faults: &[AppliedFault], end_ns: u64) -> Vec<Window> {
    let mut open: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut windows = Vec::new();
    let mut close = |key: &str, at: u64, open: &mut BTreeMap<String, (u64, String)>| {
        if let Some((start_ns, label)) = open.remove(key) {
            windows.push(Window {
                start_ns,
                end_ns: at,
                label,
            });
        }
    };
    let node_key = |prefix: &str, n: u32| format!("{prefix}:n{n}");
    for f in faults {
        let t = f.time_ns;
        match &f.effect {
            FaultEffect::Partitioned { name, .. } => {
                open.insert(format!("p:{name}"), (t, format!("partition {name}")));
            }
            FaultEffect::Healed { names } => {
                names
                    .iter()
                    .for_each(|n| close(&format!("p:{n}"), t, &mut open));
            }
            FaultEffect::Crashed { nodes } => {
                for &n in nodes {
                    open.insert(node_key("d", n), (t, format!("n{n} down")));
                }
            }
            FaultEffect::Paused { nodes } => {
                for &n in nodes {
                    open.insert(node_key("z", n), (t, format!("n{n} paused")));
                }
            }
            FaultEffect::Restarted { nodes } => {
                nodes
                    .iter()
                    .for_each(|&n| close(&node_key("d", n), t, &mut open));
            }
            FaultEffect::Resumed { nodes } => {
                nodes
                    .iter()
                    .for_each(|&n| close(&node_key("z", n), t, &mut open));
            }
            FaultEffect::LivenessPhase { .. } => {
                let keys: Vec<String> = open.keys().cloned().collect();
                keys.iter().for_each(|k| close(k, t, &mut open));
            }
            FaultEffect::ClockSet { .. } | FaultEffect::Armed { .. } | FaultEffect::Skipped => {}
        }
    }
    let keys: Vec<String> = open.keys().cloned().collect();
    keys.iter().for_each(|k| close(k, end_ns, &mut open));
    windows.sort_by_key(|w| (w.start_ns, w.end_ns));
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(t: u64, effect: FaultEffect) -> AppliedFault {
        AppliedFault {
            time_ns: t,
            description: String::new(),
            effect,
        }
    }

    #[test]
    fn pairs_faults_with_their_repairs() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let faults = [
            fault(
                1,
                FaultEffect::Partitioned {
                    name: "split".into(),
                    groups: vec![vec![0, 1], vec![2, 3, 4]],
                    one_way: false,
                },
            ),
            fault(2, FaultEffect::Crashed { nodes: vec![3] }),
            fault(3, FaultEffect::Crashed { nodes: vec![4] }),
            fault(
                4,
                FaultEffect::Healed {
                    names: names(&["split"]),
                },
            ),
            fault(5, FaultEffect::Restarted { nodes: vec![3, 4] }),
            fault(6, FaultEffect::Paused { nodes: vec![1] }),
            fault(7, FaultEffect::Skipped),
            fault(
                8,
                FaultEffect::Partitioned {
                    name: "lonely".into(),
                    groups: vec![vec![4], vec![0, 1, 2, 3]],
                    one_way: true,
                },
            ),
            fault(
                9,
                FaultEffect::LivenessPhase {
                    healed: names(&["lonely"]),
                    resumed: vec![1],
                    restarted: vec![],
                },
            ),
        ];
        let w = fault_windows(&faults, 10);
        let spans: Vec<(u64, u64, &str)> = w
            .iter()
            .map(|w| (w.start_ns, w.end_ns, w.label.as_str()))
            .collect();
        assert_eq!(
            spans,
            vec![
                (1, 4, "partition split"),
                (2, 5, "n3 down"),
                (3, 5, "n4 down"),
                (6, 9, "n1 paused"),
                (8, 9, "partition lonely")
            ]
        );
    }
}
