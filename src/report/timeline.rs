//! The data every report view shares: fault windows (a fault and the
//! repair that ends it, paired from the engine's fault log); client
//! operations are the run's [`crate::history::Record`]s.
//!
//! Fault descriptions are the engine's own, fixed format (`partition NAME:
//! ...`, `heal NAME`, `heal all (...)`, `crash nX`, `restart nX`, `restart
//! all crashed: [n1,n2]`, `pause nX`, `resume nX`, `resume all paused: [...]`,
//! `liveness phase begins: ...`); skipped faults open no window.

use crate::sim::AppliedFault;
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

/// Pairs faults with their repairs; windows still open at `end_ns` close there.
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
    for f in faults {
        let d = f.description.as_str();
        if d.contains("skipped") {
            continue;
        }
        let words: Vec<&str> = d.split_whitespace().collect();
        let t = f.time_ns;
        match words.as_slice() {
            ["liveness", ..] => {
                let keys: Vec<String> = open.keys().cloned().collect();
                keys.iter().for_each(|k| close(k, t, &mut open));
            }
            ["partition", name, ..] => {
                let name = name.trim_end_matches(':');
                open.insert(format!("p:{name}"), (t, format!("partition {name}")));
            }
            ["heal", "all", ..] => {
                let keys: Vec<String> = open
                    .keys()
                    .filter(|k| k.starts_with("p:"))
                    .cloned()
                    .collect();
                keys.iter().for_each(|k| close(k, t, &mut open));
            }
            ["heal", name] => close(&format!("p:{name}"), t, &mut open),
            ["crash", node] => {
                open.insert(format!("d:{node}"), (t, format!("{node} down")));
            }
            ["pause", node] => {
                open.insert(format!("z:{node}"), (t, format!("{node} paused")));
            }
            ["restart", "all", ..] | ["resume", "all", ..] => {
                let prefix = if words[0] == "restart" { "d:" } else { "z:" };
                for node in listed_nodes(d) {
                    close(&format!("{prefix}{node}"), t, &mut open);
                }
            }
            ["restart", node] => close(&format!("d:{node}"), t, &mut open),
            ["resume", node] => close(&format!("z:{node}"), t, &mut open),
            _ => {}
        }
    }
    let keys: Vec<String> = open.keys().cloned().collect();
    keys.iter().for_each(|k| close(k, end_ns, &mut open));
    windows.sort_by_key(|w| (w.start_ns, w.end_ns));
    windows
}

/// The node names in the `[n1,n2]` list of a description.
fn listed_nodes(description: &str) -> Vec<String> {
    let inner = description
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map_or("", |(list, _)| list);
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// A client operation as the reports show it: the run's own record.
pub type ClientOp = crate::history::Record;

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(t: u64, d: &str) -> AppliedFault {
        AppliedFault {
            time_ns: t,
            description: d.into(),
        }
    }

    #[test]
    fn pairs_faults_with_their_repairs() {
        let faults = [
            fault(1, "partition split: [n0,n1] | [n2,n3,n4]"),
            fault(2, "crash n3"),
            fault(3, "crash n4"),
            fault(4, "heal split"),
            fault(5, "restart all crashed: [n3,n4]"),
            fault(6, "pause n1"),
            fault(7, "crash n0: skipped, no such node is up"),
            fault(8, "partition lonely one-way: [n4] | [n0,n1,n2,n3]"),
            fault(9, "liveness phase begins: healed 1 partitions, resume all paused: [n1], restart all crashed: []"),
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
