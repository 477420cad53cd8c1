//! The event loop. One `Simulation` is one run: it owns every node, the
//! network, the queue and the random streams, and is consumed by `run`.
//! This file holds the loop, its bounds and the running of handlers; the
//! rest of the run's jobs live beside it: `network` (messages and timers),
//! `workload` (client operations and the history), `faults` (fault
//! application) and `results` (checks, metrics and the result).

mod faults;
mod network;
mod results;
mod workload;

use super::buggify::Buggify;
use super::clock::NodeClock;
use super::coverage::Coverage;
use super::crash_after_send::CrashAfterSendState;
use super::fault::{FaultAction, NodeRef, Shape, TimedFault};
use super::queue::EventQueue;
use super::storage::{FaultyDisk, StorageFaulter};
use super::work::{WorkMeter, WorkVerdict};
use super::{
    nemesis, panics, AppliedFault, CrashAfterSendRecord, EndReason, FaultEffect, RoleChange,
    RunResult, SimConfig, TraceRecord, MAX_CRASHES_AFTER_SEND, MAX_INTERVALS, MAX_ROLE_CHANGES,
};
use crate::history::{History, Operation, Outcome, Record, RecordOutcome};
use crate::net::partition::shapes;
use crate::net::{Cut, DropReason, Fate, Network};
use crate::process::{
    Ctx, Disk, Effect, EndState, Invariants, Lifecycle, NodeId, Process, Protocol, RequestId,
    Storage, TimerId, Undecided, Violation,
};
use crate::rng::{SimRng, Stream};
use crate::stats::quantile;
use crate::time::SimTime;
use crate::trace::{EventTag, TraceHasher};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

type Node<P> = <P as Protocol>::Node;
type Msg<P> = <Node<P> as Process>::Msg;
type Op<P> = <Node<P> as Process>::Op;
type Res<P> = <Node<P> as Process>::Res;
type Stored<P> = <Node<P> as Process>::Stored;

enum Event<N: Process> {
    Start(NodeId),
    Deliver {
        from: NodeId,
        to: NodeId,
        sent: SimTime,
        msg: N::Msg,
    },
    Timer {
        node: NodeId,
        incarnation: u32,
        id: TimerId,
        timer: N::Timer,
    },
    Fault(usize),
    Invoke(usize),
    /// A client's timeout check (one pending per client at most).
    Timeout(usize),
    Liveness,
}

/// An event that reached a paused node and waits for it to resume.
enum Deferred<N: Process> {
    Start,
    Deliver {
        from: NodeId,
        sent: SimTime,
        msg: N::Msg,
    },
    Timer {
        id: TimerId,
        timer: N::Timer,
    },
    Request {
        req: RequestId,
        op: N::Op,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Up,
    Paused,
    Crashed,
}

/// A node's place in the run. Invariant: `process.is_some()` iff `status != Crashed`.
struct Slot<N: Process> {
    process: Option<N>,
    status: Status,
    disk: Disk<N::Stored>,
    rng: SimRng,
    clock: NodeClock,
    incarnation: u32,
    live_timers: BTreeSet<u64>,
    inbox: Vec<Deferred<N>>,
    /// The role last reported by the process (for the role timeline).
    role: Option<&'static str>,
}

impl<N: Process> Slot<N> {
    /// Asserts the slot's invariants: a process exactly while the node is
    /// not crashed; a crashed node holds no timers, deferred events or
    /// unsynced writes; events wait in the inbox only while it is paused.
    #[inline]
    fn assert_consistent(&self, node: NodeId) {
        let crashed = self.status == Status::Crashed;
        assert_eq!(
            self.process.is_some(),
            !crashed,
            "{node}: has a process iff it is not crashed ({:?})",
            self.status
        );
        assert!(
            !crashed || (self.live_timers.is_empty() && self.disk.unsynced() == 0),
            "{node}: crashed with live timers or unsynced writes"
        );
        assert!(
            self.inbox.is_empty() || self.status == Status::Paused,
            "{node}: deferred events while {:?}",
            self.status
        );
    }
}

struct Client {
    process: u64,
    open: Option<usize>,
    /// When this client's pending `Timeout` event fires, if one is queued.
    /// One event per client, re-armed when it finds a younger operation
    /// open, keeps the queue small (one per client, not one per operation).
    timeout_armed: Option<SimTime>,
    /// Requests this client has issued (for round-robin placement).
    issued: u64,
}

#[derive(Default)]
struct Counters {
    timers_fired: u64,
    pending_max: u64,
    late_replies: u64,
    requests_lost: u64,
}

/// One deterministic run of a protocol.
pub struct Simulation<P: Protocol> {
    protocol: P,
    config: SimConfig,
    faults: Vec<TimedFault>,
    now: SimTime,
    fault_end: SimTime,
    end: SimTime,
    queue: EventQueue<Event<Node<P>>>,
    slots: Vec<Slot<Node<P>>>,
    servers: Vec<NodeId>,
    net: Network,
    workload_rng: SimRng,
    nemesis_rng: SimRng,
    clients: Vec<Client>,
    next_process: u64,
    history: History<Op<P>, Res<P>>,
    invariants: P::Invariants,
    hasher: TraceHasher,
    effects: Vec<Effect<Node<P>>>,
    next_timer: u64,
    events: u64,
    violations: Vec<Violation>,
    ignored: Vec<Violation>,
    stopped: Option<EndReason>,
    applied: Vec<AppliedFault>,
    trace: Vec<TraceRecord>,
    trace_dropped: u64,
    roles: Vec<RoleChange>,
    counters: Counters,
    progress: Option<Progress>,
    work: WorkMeter,
    /// The node each named fault acted on (`NodeRef::Named`), for the
    /// faults that refer back to it (`NodeRef::HitBy`).
    hits: BTreeMap<String, NodeId>,
    /// The run's code-level fault points (`None`: buggify off).
    buggify: Option<Buggify>,
    /// Behaviour coverage (`None`: not collected).
    coverage: Option<Coverage>,
    /// The role of the node the current fault resolved, for coverage.
    fault_target_role: Option<&'static str>,
    /// Storage faults (`None`: none configured).
    storage: Option<StorageFaulter>,
    /// Crashes right after a send (`None`: not configured).
    crash_after_send: Option<CrashAfterSendState>,
    /// The first eligible kind the running handler sent, if any, and
    /// whether an armed crash waits for it: the handler may end in a crash
    /// (`crash_after_send`, `FaultAction::CrashAfterSend`).
    sent_eligible: Option<(&'static str, bool)>,
    /// Crashes armed for a node's next send (of a kind, if named).
    armed: BTreeMap<NodeId, Option<String>>,
    /// The crashes `crash_after_send` drew.
    crashes_after_send: Vec<CrashAfterSendRecord>,
    /// While a fault is applied: crashes its handlers ended in, logged
    /// after it.
    crashes_in_fault: Option<Vec<(String, FaultEffect)>>,
}

/// A callback told `(now, end)` of simulated time every [`PROGRESS_EVERY`]
/// events, for a progress display. It observes; it cannot change the run.
pub type Progress = Box<dyn FnMut(SimTime, SimTime)>;

/// Events between two progress callbacks.
const PROGRESS_EVERY: u64 = 1 << 16;

impl<P: Protocol> Simulation<P> {
    /// Prepares a run of `protocol` under `config`. The random fault schedule
    /// is drawn now, so it is fixed before the first event.
    pub fn new(protocol: P, config: SimConfig) -> Self {
        let processes = protocol.process_count();
        let servers = protocol.server_count();
        assert!(servers <= processes, "more servers than processes");
        let fault_end = SimTime::ZERO + config.duration;
        let mut faults = config.faults.clone();
        faults.extend(nemesis::schedule(
            &config.nemesis,
            config.seed,
            servers,
            fault_end,
        ));
        faults.sort_by_key(|f| f.at); // stable: scheduled faults first on ties
        let slots = (0..processes as u32)
            .map(|i| Slot {
                process: Some(protocol.new_process(NodeId(i))),
                status: Status::Up,
                disk: Disk::default(),
                rng: SimRng::new(config.seed, Stream::Node(i)),
                clock: NodeClock::default(),
                incarnation: 0,
                live_timers: BTreeSet::new(),
                inbox: Vec::new(),
                role: None,
            })
            .collect();
        let clients = (0..config.workload.clients)
            .map(|c| Client {
                process: c as u64,
                open: None,
                timeout_armed: None,
                issued: 0,
            })
            .collect();
        let coverage = config.coverage;
        let storage = config
            .storage
            .any()
            .then(|| StorageFaulter::new(config.seed, config.storage));
        let buggify = (config.buggify > 0.0).then(|| Buggify::new(config.seed, config.buggify));
        let crash_after_send = config
            .crash_after_send
            .clone()
            .map(|c| CrashAfterSendState::new(c, config.seed));
        let work = WorkMeter::new(
            config.work_bound.clone(),
            fault_end,
            fault_end + config.settle,
        )
        .with_floor(processes as u64);
        Simulation {
            invariants: protocol.invariants(),
            net: Network::new(
                processes,
                &config.network,
                SimRng::new(config.seed, Stream::Network),
            ),
            workload_rng: SimRng::new(config.seed, Stream::Workload),
            nemesis_rng: SimRng::new(config.seed, Stream::Nemesis(u32::MAX)),
            servers: (0..servers as u32).map(NodeId).collect(),
            next_process: config.workload.clients as u64,
            end: fault_end + config.settle,
            fault_end,
            faults,
            slots,
            clients,
            protocol,
            config,
            now: SimTime::ZERO,
            queue: EventQueue::default(),
            history: History::default(),
            hasher: TraceHasher::default(),
            effects: Vec::new(),
            next_timer: 0,
            events: 0,
            violations: Vec::new(),
            ignored: Vec::new(),
            stopped: None,
            applied: Vec::new(),
            trace: Vec::new(),
            trace_dropped: 0,
            roles: Vec::new(),
            counters: Counters::default(),
            progress: None,
            work,
            hits: BTreeMap::new(),
            buggify,
            coverage: coverage.then(|| Coverage::new(processes)),
            fault_target_role: None,
            storage,
            crash_after_send,
            sent_eligible: None,
            armed: BTreeMap::new(),
            crashes_after_send: Vec::new(),
            crashes_in_fault: None,
        }
    }

    /// This simulation, telling `progress` how far it got as it runs.
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Runs to the end (or to the first violation, or the event bound).
    pub fn run(mut self) -> RunResult {
        self.hasher.word(self.config.seed);
        self.schedule_initial_events();
        if let Some(message) = panics::catching(|| self.run_events()) {
            self.violations
                .push(Violation::new("engine.panic", self.now, message));
            self.stopped = Some(EndReason::Panic);
        }
        let completed = self.stopped.is_none();
        if completed {
            self.now = self.end;
        }
        self.finish(completed)
    }

    /// The event loop: until the end, a violation or the event bound.
    fn run_events(&mut self) {
        while self.stopped.is_none() {
            match self.queue.peek_time() {
                Some(t) if t <= self.end => {}
                _ => break,
            }
            if self.events >= self.config.max_events {
                self.stop_at_bound(EndReason::EventLimit);
                break;
            }
            let Some((time, event)) = self.queue.pop() else {
                break;
            };
            assert!(
                time >= self.now,
                "time went backwards: {time} < {}",
                self.now
            );
            self.now = time;
            self.events += 1;
            self.work.event(time);
            if self.events % PROGRESS_EVERY == 0 {
                if let Some(progress) = &mut self.progress {
                    progress(self.now, self.end);
                }
            }
            self.dispatch(event);
            let pending = self.queue.len() as u64;
            self.counters.pending_max = self.counters.pending_max.max(pending);
            if pending > self.config.max_pending_events && self.stopped.is_none() {
                self.stop_at_bound(EndReason::PendingLimit);
            }
        }
    }

    /// Ends the run at one of its bounds, with the bound's named check.
    fn stop_at_bound(&mut self, reason: EndReason) {
        let (check, message) = match reason {
            EndReason::PendingLimit => ("engine.max-pending", format!(
                "{} events were pending at once, more than max_pending_events = {}: look for a message or timer storm, or raise max_pending_events",
                self.queue.len(), self.config.max_pending_events
            )),
            EndReason::HistoryLimit => ("engine.max-history", format!(
                "the client history reached max_history_ops = {} operations before the run's end at {}: shorten the run, slow the workload or raise max_history_ops (about 1 KB of memory per operation)",
                self.config.max_history_ops, self.end
            )),
            _ => ("engine.max-events", format!(
                "the run processed {} events before reaching its end at {}: raise max_events or look for a message storm",
                self.events, self.end
            )),
        };
        self.violations
            .push(Violation::new(check, self.now, message));
        self.stopped = Some(reason);
    }

    fn schedule_initial_events(&mut self) {
        // Faults at time 0 come first, so a clock skewed or a node crashed
        // "from the start" is so before the node's first handler runs.
        for (i, fault) in self.faults.iter().enumerate() {
            self.queue.push(fault.at, Event::Fault(i));
        }
        for i in 0..self.slots.len() {
            self.queue
                .push(SimTime::ZERO, Event::Start(NodeId(i as u32)));
        }
        if self.config.settle.as_nanos() > 0 {
            self.queue.push(self.fault_end, Event::Liveness);
        }
        let interval = self.config.workload.interval.as_nanos();
        for c in 0..self.clients.len() {
            let first = SimTime::from_nanos(self.workload_rng.between(0, interval));
            self.queue.push(first, Event::Invoke(c));
        }
    }

    // The per-event path (dispatch, deliver, deliver_now, send, handle) is
    // forced inline: split across the engine's files, LLVM kept these out
    // of line and passed events and messages by copy, which cost the
    // engine benchmark 10-15% (reports/BENCHMARKS.md, issue 12).
    #[inline(always)]
    fn dispatch(&mut self, event: Event<Node<P>>) {
        match event {
            Event::Start(node) => self.initial_start(node),
            Event::Deliver {
                from,
                to,
                sent,
                msg,
            } => self.deliver(from, to, sent, msg),
            Event::Timer {
                node,
                incarnation,
                id,
                timer,
            } => self.fire_timer(node, incarnation, id, timer),
            Event::Fault(i) => self.apply_fault(i),
            Event::Invoke(client) => self.invoke(client),
            Event::Timeout(op) => self.timeout(op),
            Event::Liveness => self.begin_liveness(),
        }
    }

    // ----- running process handlers -------------------------------------------------

    /// Runs one handler of `node` with a fresh context, then carries out its effects.
    #[inline(always)]
    fn handle(&mut self, node: NodeId, f: impl FnOnce(&mut Node<P>, &mut Ctx<'_, Node<P>>)) {
        let slot = &mut self.slots[node.index()];
        let Some(process) = slot.process.as_mut() else {
            return;
        };
        let mut faulty;
        // Storage faults strike servers, not the workload's client processes.
        let faulter = match node.index() < self.servers.len() {
            true => self.storage.as_mut(),
            false => None,
        };
        let storage: &mut dyn Storage<Stored<P>> = match faulter {
            Some(faulter) => {
                faulty = FaultyDisk {
                    disk: &mut slot.disk,
                    faulter,
                };
                &mut faulty
            }
            None => &mut slot.disk,
        };
        let mut ctx = Ctx {
            me: node,
            now: slot.clock.local(self.now),
            servers: &self.servers,
            rng: &mut slot.rng,
            storage,
            effects: &mut self.effects,
            next_timer: &mut self.next_timer,
            buggify: self.buggify.as_mut(),
            halted: None,
        };
        f(process, &mut ctx);
        let halted = ctx.halted;
        if let Some((at, _)) = halted {
            // What it did before the failed sync (sends, replies, notes
            // about what earlier syncs made durable: protocols note after
            // they sync) took effect; nothing after it did.
            self.effects.truncate(at);
        }
        // A halted process goes down with this handler: what role it
        // thought it had is not recorded.
        let role = match halted {
            Some(_) => slot.role,
            None => process.role(),
        };
        if !same_role(role, slot.role) {
            let before = slot.role;
            slot.role = role;
            if self.coverage.is_some() {
                self.cover_role_change(before, role);
            }
            if self.roles.len() < MAX_ROLE_CHANGES {
                self.roles.push(RoleChange {
                    time_ns: self.now.as_nanos(),
                    node: node.0,
                    role: role.map(str::to_string),
                });
            }
        }
        self.apply_effects(node);
        let sent_eligible = self.sent_eligible.take();
        if let Some((_, reason)) = halted {
            self.halt_node(node, reason);
        } else if let Some((kind, armed)) = sent_eligible {
            self.maybe_crash_after_send(node, kind, armed);
        }
    }

    fn apply_effects(&mut self, node: NodeId) {
        let mut effects = std::mem::take(&mut self.effects);
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { to, msg } => self.send(node, to, msg),
                Effect::SetTimer { id, after, timer } => {
                    let slot = &mut self.slots[node.index()];
                    slot.live_timers.insert(id.0);
                    let at = self.now + slot.clock.true_delay(after);
                    let incarnation = slot.incarnation;
                    self.queue.push(
                        at,
                        Event::Timer {
                            node,
                            incarnation,
                            id,
                            timer,
                        },
                    );
                }
                Effect::CancelTimer(id) => {
                    self.slots[node.index()].live_timers.remove(&id.0);
                }
                Effect::Reply { req, ok, res } => self.complete(req, ok, res),
                Effect::Note(note) => {
                    if let Some(c) = &mut self.coverage {
                        c.note(self.slots[node.index()].role, std::mem::discriminant(&note));
                    }
                    if let Err(v) = self.invariants.on_note(self.now, node, &note) {
                        self.record_violation(v);
                    }
                }
            }
        }
        self.effects = effects;
    }

    /// The first start of a node, unless a fault at time 0 crashed or paused it.
    fn initial_start(&mut self, node: NodeId) {
        let slot = &mut self.slots[node.index()];
        match slot.status {
            Status::Up => self.start_node(node),
            Status::Paused => slot.inbox.push(Deferred::Start),
            Status::Crashed => {}
        }
    }

    fn start_node(&mut self, node: NodeId) {
        let slot = &self.slots[node.index()];
        self.hasher.event(EventTag::Start, self.now.as_nanos());
        self.hasher.word(u64::from(node.0));
        self.hasher.word(u64::from(slot.incarnation));
        let disk = slot.disk.clone();
        self.handle(node, |p, ctx| p.on_start(ctx, &disk));
    }
}

impl<P: Protocol> Simulation<P> {
    /// Coverage of a role change: the transition, and how many processes
    /// hold each role now.
    fn cover_role_change(&mut self, before: Option<&'static str>, after: Option<&'static str>) {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for slot in &self.slots {
            if let Some(role) = slot.role {
                *counts.entry(role).or_default() += 1;
            }
        }
        let counts: Vec<(&str, usize)> = counts.into_iter().collect();
        if let Some(c) = &mut self.coverage {
            c.role_change(before, after, &counts);
        }
    }
}

/// Whether two roles are the same; roles are `&'static str`s, so equal
/// pointers (the usual case) answer without comparing text.
fn same_role(a: Option<&'static str>, b: Option<&'static str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => std::ptr::eq(a, b) || a == b,
        (None, None) => true,
        _ => false,
    }
}
