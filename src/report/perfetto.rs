//! `trace.json` in the Chrome trace event format, which Perfetto
//! (ui.perfetto.dev) and chrome://tracing open: one track per process, a
//! short slice per send, delivery and timer, messages as flow arrows from
//! the send to the delivery, and faults and client operations as instant
//! events on a "cluster" track. Bounded to `limit` records. Processes are
//! named as the charts name them ([`process_name`]): servers `n0`, `n1`,
//! ..., client processes `c0`, `c1`, ...

use super::charts::process_name;
use crate::sim::TraceRecord;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const PID: u32 = 1;
/// The track of cluster-wide events (faults).
const CLUSTER_TID: u32 = 100_000;

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

fn slice(name: &str, ts_ns: u64, tid: u32, detail: &str) -> Value {
    json!({"name": name, "ph": "X", "ts": us(ts_ns), "dur": 1.0, "pid": PID, "tid": tid, "args": {"detail": detail}})
}

/// The trace of a run with `processes` processes, of which those from
/// `servers` on are workload clients.
pub fn trace_json(trace: &[TraceRecord], processes: usize, servers: usize, limit: usize) -> Value {
    let name = |p: u32| process_name(p as usize, servers);
    let mut events =
        vec![json!({"name": "process_name", "ph": "M", "pid": PID, "args": {"name": "faultline"}})];
    for p in 0..processes as u32 {
        events.push(json!({"name": "thread_name", "ph": "M", "pid": PID, "tid": p, "args": {"name": name(p)}}));
    }
    events.push(json!({"name": "thread_name", "ph": "M", "pid": PID, "tid": CLUSTER_TID, "args": {"name": "cluster (faults)"}}));
    // Sends waiting for their delivery, by (from, to, sent time): flow ids.
    let mut sends: BTreeMap<(u32, u32, u64), Vec<usize>> = BTreeMap::new();
    for (i, r) in trace.iter().take(limit).enumerate() {
        let node = r.node.unwrap_or(0);
        let label = r
            .detail
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or("")
            .to_string();
        match r.kind {
            "send" => {
                let to = r.peer.unwrap_or(0);
                events.push(slice(&format!("send {label} to {}", name(to)), r.time_ns, node, &r.detail));
                sends.entry((node, to, r.time_ns)).or_default().push(i);
                events.push(json!({"name": "message", "cat": "message", "ph": "s", "id": i, "ts": us(r.time_ns), "pid": PID, "tid": node}));
            }
            "deliver" => {
                let from = r.peer.unwrap_or(0);
                events.push(slice(&format!("deliver {label} from {}", name(from)), r.time_ns, node, &r.detail));
                let flow = sends.get_mut(&(from, node, r.sent_ns.unwrap_or(0))).and_then(|ids| (!ids.is_empty()).then(|| ids.remove(0)));
                if let Some(id) = flow {
                    events.push(json!({"name": "message", "cat": "message", "ph": "f", "bp": "e", "id": id, "ts": us(r.time_ns), "pid": PID, "tid": node}));
                }
            }
            "fault" => events.push(json!({"name": r.detail, "ph": "i", "s": "g", "ts": us(r.time_ns), "pid": PID, "tid": CLUSTER_TID})),
            kind => events.push(slice(&format!("{kind} {label}"), r.time_ns, node, &r.detail)),
        }
    }
    json!({"traceEvents": events, "displayTimeUnit": "ms"})
}
