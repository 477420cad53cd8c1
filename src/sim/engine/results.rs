//! Checks and results: violations (enabled or ignored), the event record
//! for reports, and the end of a run: end-of-run checks, metrics and the
//! exported history.

use super::*;

impl<P: Protocol> Simulation<P> {
    pub(super) fn is_enabled(&self, check: &str) -> bool {
        match &self.config.enabled_checks {
            None => true,
            Some(list) => list.iter().any(|c| c == check),
        }
    }

    pub(super) fn record_violation(&mut self, v: Violation) {
        if self.is_enabled(&v.check) {
            self.violations.push(v);
            self.stopped = Some(EndReason::Violation);
        } else {
            self.ignored.push(v);
        }
    }

    pub(super) fn record(
        &mut self,
        kind: &'static str,
        node: Option<NodeId>,
        peer: Option<NodeId>,
        sent: Option<SimTime>,
        detail: String,
    ) {
        if self.trace.len() >= self.config.max_trace_records {
            self.trace_dropped += 1;
            return;
        }
        self.trace.push(TraceRecord {
            time_ns: self.now.as_nanos(),
            kind,
            node: node.map(|n| n.0),
            peer: peer.map(|n| n.0),
            sent_ns: sent.map(|t| t.as_nanos()),
            detail,
        });
    }

    pub(super) fn finish(mut self, completed: bool) -> RunResult {
        if completed {
            let end = EndState {
                time: self.now,
                nodes: self.slots.iter().map(|s| s.process.as_ref()).collect(),
                servers: self.servers.len(),
                history: &self.history,
                completed,
                budget: self.config.check_budget,
                enabled_checks: self.config.enabled_checks.as_deref(),
            };
            let invariants = &mut self.invariants;
            let mut found = Vec::new();
            if let Some(message) = panics::catching(|| found = invariants.at_end(&end)) {
                found.push(Violation::new("engine.panic", self.now, message));
            }
            for v in found {
                self.record_violation(v);
            }
            // engine.progress and engine.quiescence: judged only when the
            // run reached its end.
            if let WorkVerdict::Violated(v) = self.work.verdict(self.now) {
                self.record_violation(v);
            }
            if self.config.quiescent {
                if let Some(v) = self.work.quiescence(self.now) {
                    self.record_violation(v);
                }
            }
        }
        let undecided: Vec<Undecided> = self
            .invariants
            .undecided()
            .into_iter()
            .filter(|u| self.is_enabled(&u.check))
            .collect();
        self.hasher.event(EventTag::End, self.now.as_nanos());
        self.hasher.word(self.events);
        let end_reason = self.stopped.unwrap_or(EndReason::Completed);
        let end_reason = if completed {
            EndReason::Completed
        } else {
            end_reason
        };
        let metrics = self.metrics();
        let coverage = match self.coverage.take() {
            Some(mut c) => {
                for (name, value) in &metrics {
                    if let Some(v) = value.as_u64() {
                        c.metric(name, v);
                    }
                }
                c.into_sorted()
            }
            None => Vec::new(),
        };
        RunResult {
            seed: self.config.seed,
            trace_hash: self.hasher.hex(),
            events: self.events,
            sim_time: self.now,
            end_reason,
            metrics,
            history: if self.config.export_history {
                self.export_history()
            } else {
                Vec::new()
            },
            violations: self.violations,
            ignored_violations: self.ignored,
            undecided,
            faults: self.applied,
            net: self.net.stats,
            trace: self.trace,
            trace_dropped: self.trace_dropped,
            roles: self.roles,
            intervals: {
                let mut intervals = self.invariants.intervals();
                intervals.truncate(MAX_INTERVALS);
                intervals
            },
            swarm: None,
            coverage,
            crashes_after_send: self.crashes_after_send,
        }
    }

    pub(super) fn metrics(&self) -> BTreeMap<String, Value> {
        let mut m = BTreeMap::new();
        let stats = &self.net.stats;
        let ops = &self.history.ops;
        let (mut ok, mut fail, mut unknown) = (0u64, 0u64, 0u64);
        for o in ops {
            match o.outcome {
                Outcome::Ok(_) => ok += 1,
                Outcome::Fail(_) => fail += 1,
                Outcome::Unknown => unknown += 1,
            }
        }
        let mut latencies: Vec<u64> = ops
            .iter()
            .filter(|o| !matches!(o.outcome, Outcome::Unknown))
            .filter_map(|o| {
                o.completed
                    .map(|c| c.saturating_since(o.invoked).as_nanos())
            })
            .collect();
        let entries: [(&str, Value); 17] = [
            ("messages_sent", json!(stats.sent)),
            ("messages_delivered", json!(stats.delivered)),
            ("messages_dropped", json!(stats.dropped())),
            ("messages_duplicated", json!(stats.duplicated)),
            ("dropped_loss", json!(stats.dropped_loss)),
            ("dropped_partition", json!(stats.dropped_partition)),
            ("dropped_node_down", json!(stats.dropped_node)),
            ("timers_fired", json!(self.counters.timers_fired)),
            ("faults_applied", json!(self.applied.len())),
            ("ops_invoked", json!(ops.len())),
            ("ops_ok", json!(ok)),
            ("ops_fail", json!(fail)),
            ("ops_unknown", json!(unknown)),
            ("late_replies", json!(self.counters.late_replies)),
            ("requests_to_down_nodes", json!(self.counters.requests_lost)),
            ("op_latency_ns_p50", json!(quantile(&mut latencies, 0.5))),
            ("op_latency_ns_p99", json!(quantile(&mut latencies, 0.99))),
        ];
        for (k, v) in entries {
            m.insert(k.to_string(), v);
        }
        let syncs: u64 = self.slots.iter().map(|s| s.disk.syncs()).sum();
        m.insert("disk_syncs".into(), json!(syncs));
        m.insert("ignored_violations".into(), json!(self.ignored.len()));
        m.insert(
            "pending_events_max".into(),
            json!(self.counters.pending_max),
        );
        m.insert("trace_records_dropped".into(), json!(self.trace_dropped));
        m.insert(
            "work_last_window_events".into(),
            json!(self.work.last_window()),
        );
        m.insert(
            "work_last_window_messages".into(),
            json!(self.work.last_window_messages()),
        );
        m.insert(
            "work_baseline_window_events".into(),
            json!(self.work.baseline_window()),
        );
        if let Some(s) = &self.storage {
            m.insert("storage_syncs_lost".into(), json!(s.syncs_lost));
            m.insert("storage_syncs_failed".into(), json!(s.syncs_failed));
            m.insert("storage_crashes_torn".into(), json!(s.crashes_torn));
        }
        if let Some(b) = &self.buggify {
            m.insert("buggify_fired".into(), json!(b.fired()));
        }
        m.extend(self.invariants.metrics());
        m
    }

    /// The history as protocol-independent records, in invocation order.
    pub(super) fn export_history(&self) -> Vec<Record> {
        self.history
            .ops
            .iter()
            .map(|o| {
                let fields = self.protocol.op_fields(&o.op);
                let outcome = match (&o.outcome, o.completed) {
                    (Outcome::Ok(r), _) => RecordOutcome::Ok(self.protocol.result_value(&o.op, r)),
                    (Outcome::Fail(r), _) => {
                        RecordOutcome::Fail(self.protocol.result_value(&o.op, r))
                    }
                    (Outcome::Unknown, Some(_)) => RecordOutcome::Info,
                    (Outcome::Unknown, None) => RecordOutcome::Open,
                };
                Record {
                    process: o.process,
                    client: o.client,
                    f: fields.f,
                    key: fields.key,
                    input: fields.value,
                    invoked_ns: o.invoked.as_nanos(),
                    completed_ns: o.completed.map(SimTime::as_nanos),
                    outcome,
                }
            })
            .collect()
    }
}
