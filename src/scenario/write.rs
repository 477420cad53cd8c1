//! Writing scenarios back out: a derived scenario (e.g. a shrunk one) as a
//! standalone TOML file. It starts from the original file's document, so
//! every section it does not change (protocol options, latency, links,
//! checks) is kept, and replaces the parts the engine configuration now
//! fixes: the seed, duration, the explicit fault schedule (random faults
//! written out as timed ones), the default link's loss and duplication, and
//! the workload's size. Durations are written exactly (`exact()`), so
//! reading the file back gives the same configuration.

use super::Scenario;
use crate::process::NodeId;
use crate::sim::{FaultAction, GroupSize, NodeRef, Shape, SimConfig, TimedFault};
use crate::time::SimDuration;
use toml::{Table, Value};

/// The TOML text of `scenario` changed to run exactly `config`, named `name`,
/// opening with the comment lines of `header`.
pub fn derived_toml(scenario: &Scenario, config: &SimConfig, name: &str, header: &str) -> String {
    let mut doc = scenario.document.clone();
    doc.insert("name".into(), Value::String(name.into()));
    doc.insert("seed".into(), Value::Integer(config.seed as i64));
    doc.insert("duration".into(), duration(config.duration));
    doc.remove("nemesis");
    doc.remove("swarm");
    // A swarm mix may have turned buggify on: write the probability out.
    if config.buggify > 0.0 {
        let buggify = table(&mut doc, "buggify");
        buggify.insert("fire".into(), Value::Float(config.buggify));
    } else {
        doc.remove("buggify");
    }
    // So may its crashes after sends (written out as they were drawn).
    if let Some(c) = &config.crash_after_send {
        let mut t = Table::new();
        t.insert("probability".into(), Value::Float(c.probability));
        if !c.kinds.is_empty() {
            let kinds = c.kinds.iter().map(|k| Value::String(k.clone())).collect();
            t.insert("kinds".into(), Value::Array(kinds));
        }
        t.insert(
            "down".into(),
            Value::Array(vec![duration(c.down_min), duration(c.down_max)]),
        );
        let nemesis = table(&mut doc, "nemesis");
        nemesis.insert(
            "start".into(),
            duration(c.start.saturating_since(crate::time::SimTime::ZERO)),
        );
        nemesis.insert("crash_after_send".into(), Value::Table(t));
    }
    let faults: Vec<Value> = config
        .faults
        .iter()
        .map(|f| Value::Table(fault(f)))
        .collect();
    if faults.is_empty() {
        doc.remove("faults");
    } else {
        doc.insert("faults".into(), Value::Array(faults));
    }
    let network = table(&mut doc, "network");
    network.insert("loss".into(), Value::Float(config.network.default.loss));
    network.insert(
        "duplicate".into(),
        Value::Float(config.network.default.duplicate),
    );
    let workload = table(&mut doc, "workload");
    workload.insert(
        "clients".into(),
        Value::Integer(config.workload.clients as i64),
    );
    match config.workload.max_ops {
        Some(n) => workload.insert("max_ops".into(), Value::Integer(n as i64)),
        None => workload.remove("max_ops"),
    };
    let body = toml::to_string(&doc).unwrap_or_default();
    let comments: String = header.lines().map(|l| format!("# {l}\n")).collect();
    format!("{comments}{body}")
}

fn table<'a>(doc: &'a mut Table, key: &str) -> &'a mut Table {
    let entry = doc
        .entry(key.to_string())
        .or_insert_with(|| Value::Table(Table::new()));
    if !entry.is_table() {
        *entry = Value::Table(Table::new());
    }
    match entry {
        Value::Table(t) => t,
        _ => unreachable!("just made a table"),
    }
}

fn duration(d: SimDuration) -> Value {
    Value::String(d.exact())
}

fn node_ref(r: &NodeRef) -> Value {
    match r {
        NodeRef::Id(id) => Value::Integer(i64::from(id.0)),
        NodeRef::Role(role) => Value::String(role.clone()),
        NodeRef::Any => Value::String("any".into()),
        NodeRef::Named { of, .. } => node_ref(of),
        NodeRef::HitBy(name) => Value::String(format!("hit:{name}")),
        NodeRef::Tag(tag) => Value::String(format!("tag:{tag}")),
    }
}

fn ids(list: &[NodeId]) -> Value {
    Value::Array(
        list.iter()
            .map(|n| Value::Integer(i64::from(n.0)))
            .collect(),
    )
}

fn signed(ns: i64) -> Value {
    let magnitude = SimDuration::from_nanos(ns.unsigned_abs()).exact();
    Value::String(if ns < 0 {
        format!("-{magnitude}")
    } else {
        magnitude
    })
}

fn group_size(size: GroupSize) -> Value {
    match size {
        GroupSize::Count(n) => Value::Integer(n as i64),
        GroupSize::Minority => Value::String("minority".into()),
        GroupSize::Majority => Value::String("majority".into()),
    }
}

/// `node`, and `name` when the fault remembers the node it hits.
fn put_named(put: &mut impl FnMut(&str, Value), r: &NodeRef) {
    if let NodeRef::Named { name, .. } = r {
        put("name", name.as_str().into());
    }
    put("node", node_ref(r));
}

/// One `[[faults]]` entry.
fn fault(f: &TimedFault) -> Table {
    let mut t = Table::new();
    t.insert(
        "at".into(),
        duration(f.at.saturating_since(crate::time::SimTime::ZERO)),
    );
    let mut put = |k: &str, v: Value| {
        t.insert(k.into(), v);
    };
    match &f.action {
        FaultAction::Partition {
            name,
            shape,
            one_way,
        } => {
            put("action", "partition".into());
            put("name", name.as_str().into());
            match shape {
                Shape::Isolate(r) => {
                    put("shape", "isolate".into());
                    put("node", node_ref(r));
                }
                Shape::Split(minority) => {
                    put("shape", "split".into());
                    if let Some(m) = minority {
                        put("minority", ids(m));
                    }
                }
                Shape::Bridge(r) => {
                    put("shape", "bridge".into());
                    put("node", node_ref(r));
                }
                Shape::Ring => put("shape", "ring".into()),
                Shape::Around { node, size } => {
                    put("shape", "around".into());
                    put("node", node_ref(node));
                    put("size", group_size(*size));
                }
                Shape::Groups(groups) => {
                    put("shape", "groups".into());
                    put(
                        "groups",
                        Value::Array(groups.iter().map(|g| ids(g)).collect()),
                    );
                }
            }
            if *one_way {
                put("one_way", Value::Boolean(true));
            }
        }
        FaultAction::Heal(name) => {
            put("action", "heal".into());
            if let Some(n) = name {
                put("name", n.as_str().into());
            }
        }
        FaultAction::Crash(r) => {
            put("action", "crash".into());
            put_named(&mut put, r);
        }
        FaultAction::CrashAfterSend { node, kind } => {
            put("action", "crash".into());
            put_named(&mut put, node);
            put("after_send", kind.as_deref().unwrap_or("any").into());
        }
        FaultAction::Pause(r) => {
            put("action", "pause".into());
            put_named(&mut put, r);
        }
        FaultAction::Restart(r) => {
            put("action", "restart".into());
            if let Some(r) = r {
                put("node", node_ref(r));
            }
        }
        FaultAction::Resume(r) => {
            put("action", "resume".into());
            if let Some(r) = r {
                put("node", node_ref(r));
            }
        }
        FaultAction::Clock {
            node,
            offset_ns,
            drift_ppm,
        } => {
            put("action", "clock".into());
            put_named(&mut put, node);
            put("offset", signed(*offset_ns));
            put("drift_ppm", Value::Integer(*drift_ppm));
        }
    }
    t
}
