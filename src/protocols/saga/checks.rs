//! The checks of sagas, fed by the notes of the orchestrator and the
//! services (true time).
//!
//! As the run goes: `saga.outcome` (a step takes effect at most once and
//! never after its compensation; a compensation undoes a step at most once
//! and only after every later completed step was undone; a saga reported
//! completed did every step, one reported compensated undid every step
//! that took effect) and `saga.no-phantom-compensation` (nothing is undone
//! that never took effect). At quiescence (the end of the liveness phase):
//! `saga.outcome` (every saga completed or compensated; stuck ones are
//! named) and `saga.conservation` (every service's counters equal their
//! opening values plus the changes of the steps that took effect and were
//! not compensated; for the transfer flow, the bank's total is unchanged).
//!
//! Isolation anomalies are classified, not failed (sagas give up isolation
//! by design): each saga is recorded as one transaction of Jepsen's
//! rw-register workload (a step's read of a counter, and its change as a
//! new version of the counter), committed when the saga completes and
//! aborted when it is compensated; its compensations are a second,
//! committed transaction. At the end the transaction checker (after Elle)
//! names what the run shows: `G1a` when a step read a change that was
//! later compensated (the `anomalies` metric counts these), and the
//! cycles of sagas that interleaved (`G1c`, `G-single`, `G2`, ...).

use super::msg::{Note, SagaId, Step};
use super::{Flow, SagaNode, SagaOptions};
use crate::check::txn::Consistency;
use crate::process::{CheckInfo, EndState, Invariants, Lifecycle, NodeId, Violation};
use crate::protocols::txncheck::{TxnJudgement, TxnRecorder};
use crate::time::SimTime;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Check names.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo::always("saga.outcome"),
    CheckInfo::always("saga.no-phantom-compensation"),
    CheckInfo::at_end("saga.conservation"),
];

/// How a saga ended, as the orchestrator reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Completed,
    Compensated,
}

/// What the checks know of one saga.
#[derive(Debug, Default)]
struct Track {
    plan: Vec<Step>,
    effects: BTreeMap<u32, (Option<u64>, i64)>,
    undone: BTreeSet<u32>,
    tombstones: BTreeSet<u32>,
    end: Option<End>,
    stuck: bool,
    compensating: bool,
}

type Resource = (NodeId, u64);

/// The saga checks and metrics.
#[derive(Debug, Default)]
pub struct SagaChecks {
    flow: Option<Flow>,
    /// Each service's opening counters, by node.
    initial: BTreeMap<NodeId, super::Opening>,
    sagas: BTreeMap<SagaId, Track>,
    /// Net change per counter by effects not compensated.
    changes: BTreeMap<Resource, i64>,
    /// Each counter's version: the last change's number (ghost state,
    /// mirrored from the services' notes; absent: the opening value).
    versions: BTreeMap<Resource, u64>,
    /// Versions handed out so far.
    versions_made: u64,
    /// The sagas as transactions (forward steps, and compensations apart).
    recorder: TxnRecorder,
    /// The checker's classification, once judged at the end.
    isolation: Option<TxnJudgement>,
    completed: u64,
    compensated: u64,
    stuck: u64,
    /// Orchestrator crashes that found a saga moving forward, and ones that
    /// found a saga part-way through its compensations.
    crashes_mid_saga: u64,
    crashes_mid_compensation: u64,
}

/// A `saga.outcome` violation of `kind`.
fn outcome(at: SimTime, kind: &str, message: String) -> Result<(), Violation> {
    Err(Violation::new("saga.outcome", at, message).with_kind(kind))
}

impl SagaChecks {
    /// Checks for `options` over `servers` nodes.
    pub fn new(options: &SagaOptions, servers: usize) -> Self {
        let initial = (1..servers as u32)
            .map(|n| {
                (
                    NodeId(n),
                    super::opening_counters(options, NodeId(n), servers),
                )
            })
            .collect();
        SagaChecks {
            flow: Some(options.flow),
            initial,
            ..SagaChecks::default()
        }
    }

    fn effect(
        &mut self,
        at: SimTime,
        node: NodeId,
        saga: SagaId,
        step: u32,
        key: Option<u64>,
        delta: i64,
    ) -> Result<(), Violation> {
        let t = self.sagas.entry(saga).or_default();
        if t.effects.insert(step, (key, delta)).is_some() {
            return outcome(
                at,
                "took-effect-twice",
                format!("saga {saga}: step {step} took effect twice"),
            );
        }
        if t.undone.contains(&step) || t.tombstones.contains(&step) {
            return outcome(
                at,
                "took-effect-after-compensation",
                format!("saga {saga}: step {step} took effect after its compensation"),
            );
        }
        if let Some(key) = key {
            *self.changes.entry((node, key)).or_default() += delta;
            let version = self.new_version((node, key));
            self.recorder
                .write(forward(saga), resource_name((node, key)), version);
        }
        Ok(())
    }

    /// A new version of counter `r`, now its current one.
    fn new_version(&mut self, r: Resource) -> u64 {
        self.versions_made += 1;
        self.versions.insert(r, self.versions_made);
        self.versions_made
    }

    fn compensation(
        &mut self,
        at: SimTime,
        node: NodeId,
        saga: SagaId,
        step: u32,
        undid: bool,
    ) -> Result<(), Violation> {
        let t = self.sagas.entry(saga).or_default();
        let later: Vec<u32> = t
            .effects
            .keys()
            .copied()
            .filter(|&j| j > step && !t.undone.contains(&j))
            .filter(|&j| {
                t.plan
                    .get(j as usize)
                    .is_some_and(|s| s.action.compensable())
            })
            .collect();
        if !later.is_empty() {
            return outcome(
                at,
                "compensated-out-of-order",
                format!("saga {saga}: step {step} compensated before later step(s) {later:?}"),
            );
        }
        if !undid {
            t.tombstones.insert(step);
            return Ok(());
        }
        let Some(&(key, delta)) = t.effects.get(&step) else {
            let m = format!("saga {saga}: {node} compensated step {step}, which never took effect");
            return Err(Violation::new("saga.no-phantom-compensation", at, m));
        };
        if !t.undone.insert(step) {
            return outcome(
                at,
                "compensated-twice",
                format!("saga {saga}: step {step} compensated twice"),
            );
        }
        if let Some(key) = key {
            let r = (node, key);
            *self.changes.entry(r).or_default() -= delta;
            let version = self.new_version(r);
            self.recorder.begin(compensation(saga), at);
            self.recorder
                .write(compensation(saga), resource_name(r), version);
        }
        Ok(())
    }

    fn read(&mut self, node: NodeId, saga: SagaId, key: u64) {
        let r = (node, key);
        let version = self.versions.get(&r).copied();
        self.recorder.read(forward(saga), resource_name(r), version);
    }

    fn ended(&mut self, at: SimTime, saga: SagaId, end: End) -> Result<(), Violation> {
        let t = self.sagas.entry(saga).or_default();
        if let Some(before) = t.end.replace(end) {
            if before != end {
                return outcome(
                    at,
                    "outcome-changed",
                    format!("saga {saga} reported {before:?}, then {end:?}"),
                );
            }
        }
        match end {
            End::Completed => self.recorder.end(forward(saga), at, true),
            End::Compensated => {
                self.recorder.end(forward(saga), at, false);
                self.recorder.end(compensation(saga), at, true);
            }
        }
        match end {
            End::Completed => {
                self.completed += 1;
                let missing = (0..t.plan.len() as u32)
                    .filter(|s| !t.effects.contains_key(s) || t.undone.contains(s))
                    .count();
                if missing > 0 {
                    return outcome(
                        at,
                        "completed-but-not-in-effect",
                        format!(
                            "saga {saga} reported completed with {missing} step(s) not in effect"
                        ),
                    );
                }
            }
            End::Compensated => {
                self.compensated += 1;
                let left: Vec<u32> = t
                    .effects
                    .keys()
                    .copied()
                    .filter(|&s| {
                        t.plan
                            .get(s as usize)
                            .is_some_and(|p| p.action.compensable())
                            && !t.undone.contains(&s)
                    })
                    .collect();
                if !left.is_empty() {
                    return outcome(at, "compensated-but-in-effect", format!("saga {saga} reported compensated, but step(s) {left:?} are still in effect"));
                }
            }
        }
        Ok(())
    }

    fn orchestrator_crashed(&mut self) {
        let open = || {
            self.sagas
                .values()
                .filter(|t| t.end.is_none() && !t.plan.is_empty())
        };
        let compensating = |t: &&Track| t.compensating;
        let mid_compensation = open().any(|t| compensating(&t));
        let mid_saga = open().any(|t| !compensating(&t));
        self.crashes_mid_compensation += u64::from(mid_compensation);
        self.crashes_mid_saga += u64::from(mid_saga);
    }

    fn unfinished(&self, end: SimTime) -> Option<Violation> {
        let open: Vec<(&SagaId, &Track)> = self
            .sagas
            .iter()
            .filter(|(_, t)| t.end.is_none() && !t.plan.is_empty())
            .collect();
        let (saga, t) = open.first()?;
        let stuck = open.iter().filter(|(_, t)| t.stuck).count();
        let m = format!(
            "after the liveness phase {} saga(s) neither completed nor compensated ({stuck} reported stuck), e.g. saga {saga} with steps {:?} in effect and {:?} undone",
            open.len(),
            t.effects.keys().collect::<Vec<_>>(),
            t.undone
        );
        Some(Violation::new("saga.outcome", end, m).with_kind("stuck"))
    }

    /// Every counter equals its opening value plus the changes in effect,
    /// and (for transfers) the bank's total is what it opened with. Costs
    /// the counters written and changed, not the size of the tables.
    fn conservation(&self, end: &EndState<'_, SagaNode>) -> Vec<Violation> {
        let mut out = Vec::new();
        let mut total = 0;
        for (i, node) in end.nodes.iter().enumerate().take(end.servers) {
            let Some(SagaNode::Service(s)) = node else {
                continue;
            };
            let n = NodeId(i as u32);
            let opening = s.opening();
            let written = s.written();
            let untouched = (opening.keys.end - opening.keys.start) as i64
                - written.keys().filter(|k| opening.keys.contains(k)).count() as i64;
            total += written.values().sum::<i64>() + untouched * opening.value;
            let changed = self
                .changes
                .range((n, 0)..=(n, u64::MAX))
                .map(|((_, k), _)| *k);
            let keys: BTreeSet<u64> = written.keys().copied().chain(changed).collect();
            for key in keys {
                let value = s.counter(key);
                let expected = self.initial.get(&n).map_or(0, |o| o.of(key))
                    + self.changes.get(&(n, key)).copied().unwrap_or(0);
                if value != expected && out.is_empty() {
                    let m = format!("{n} counter {key} holds {value}, but its opening value and the steps in effect make {expected}");
                    out.push(Violation::new("saga.conservation", end.time, m).with_kind("counter"));
                }
            }
        }
        let opening: i64 = self.initial.values().map(super::Opening::total).sum();
        if self.flow == Some(Flow::Transfer) && out.is_empty() && total != opening {
            let m = format!("the bank holds {total} after the liveness phase, not {opening}");
            out.push(Violation::new("saga.conservation", end.time, m).with_kind("bank-total"));
        }
        out
    }
}

impl Invariants<SagaNode> for SagaChecks {
    fn names(&self) -> &'static [CheckInfo] {
        CHECKS
    }

    fn on_note(&mut self, at: SimTime, node: NodeId, note: &Note) -> Result<(), Violation> {
        match note {
            Note::Started { saga, plan } => {
                self.sagas.entry(*saga).or_default().plan = plan.clone();
                self.recorder.begin(forward(*saga), at);
                Ok(())
            }
            Note::Compensating(saga) => {
                self.sagas.entry(*saga).or_default().compensating = true;
                Ok(())
            }
            Note::Completed(saga) => self.ended(at, *saga, End::Completed),
            Note::Compensated(saga) => self.ended(at, *saga, End::Compensated),
            Note::Stuck(saga) => {
                self.stuck += 1;
                self.sagas.entry(*saga).or_default().stuck = true;
                Ok(())
            }
            Note::Read { saga, key } => {
                self.read(node, *saga, *key);
                Ok(())
            }
            Note::Effect {
                saga,
                step,
                key,
                delta,
            } => self.effect(at, node, *saga, *step, *key, *delta),
            Note::Undone { saga, step } => self.compensation(at, node, *saga, *step, true),
            Note::Tombstone { saga, step } => self.compensation(at, node, *saga, *step, false),
        }
    }

    fn on_lifecycle(&mut self, _at: SimTime, node: NodeId, event: Lifecycle) {
        if node == NodeId(0) && event == Lifecycle::Crashed {
            self.orchestrator_crashed();
        }
    }

    fn at_end(&mut self, end: &EndState<'_, SagaNode>) -> Vec<Violation> {
        let mut out: Vec<Violation> = self.unfinished(end.time).into_iter().collect();
        out.extend(self.conservation(end));
        // A classification, not a check: its violation never fails the run.
        self.isolation = Some(self.recorder.judge(
            "saga.isolation",
            Consistency::Serializable,
            end.budget,
            end.time,
        ));
        out
    }

    fn metrics(&self) -> BTreeMap<String, Value> {
        let aborted_reads = self.isolation.as_ref().map_or(0, |j| j.count("G1a"));
        let mut metrics = BTreeMap::from([
            ("sagas_completed".to_string(), json!(self.completed)),
            ("sagas_compensated".to_string(), json!(self.compensated)),
            ("sagas_reported_stuck".to_string(), json!(self.stuck)),
            ("anomalies".to_string(), json!(aborted_reads)),
            (
                "orchestrator_crashes_mid_saga".to_string(),
                json!(self.crashes_mid_saga),
            ),
            (
                "orchestrator_crashes_mid_compensation".to_string(),
                json!(self.crashes_mid_compensation),
            ),
        ]);
        if let Some(j) = &self.isolation {
            metrics.extend(j.metrics("isolation"));
        }
        metrics
    }
}

/// The forward transaction of `saga`: its steps.
fn forward(saga: SagaId) -> u64 {
    saga * 2
}

/// The compensating transaction of `saga`: its compensations, a
/// transaction of their own that commits when the saga is compensated.
fn compensation(saga: SagaId) -> u64 {
    saga * 2 + 1
}

/// A counter as the transaction checker names it: `n2/5`.
fn resource_name((node, key): Resource) -> String {
    format!("{node}/{key}")
}
