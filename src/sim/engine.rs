//! The event loop. One `Simulation` is one run: it owns every node, the
//! network, the queue and the random streams, and is consumed by `run`.

use super::clock::NodeClock;
use super::fault::{FaultAction, NodeRef, Shape, TimedFault};
use super::queue::EventQueue;
use super::{
    nemesis, panics, AppliedFault, EndReason, RoleChange, RunResult, SimConfig, TraceRecord,
    MAX_INTERVALS, MAX_ROLE_CHANGES,
};
use crate::history::{History, Operation, Outcome, Record, RecordOutcome};
use crate::net::partition::shapes;
use crate::net::{Cut, DropReason, Fate, Network};
use crate::process::{
    Ctx, Disk, Effect, EndState, Invariants, Lifecycle, NodeId, Process, Protocol, RequestId,
    TimerId, Undecided, Violation,
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

struct Client {
    process: u64,
    open: Option<usize>,
    /// When this client's pending `Timeout` event fires, if one is queued.
    /// One event per client, re-armed when it finds a younger operation
    /// open, keeps the queue small (one per client, not one per operation).
    timeout_armed: Option<SimTime>,
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
            })
            .collect();
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
    fn handle(&mut self, node: NodeId, f: impl FnOnce(&mut Node<P>, &mut Ctx<'_, Node<P>>)) {
        let slot = &mut self.slots[node.index()];
        let Some(process) = slot.process.as_mut() else {
            return;
        };
        let mut ctx = Ctx {
            me: node,
            now: slot.clock.local(self.now),
            servers: &self.servers,
            rng: &mut slot.rng,
            disk: &mut slot.disk,
            effects: &mut self.effects,
            next_timer: &mut self.next_timer,
        };
        f(process, &mut ctx);
        let role = process.role();
        if !same_role(role, slot.role) {
            slot.role = role;
            if self.roles.len() < MAX_ROLE_CHANGES {
                self.roles.push(RoleChange {
                    time_ns: self.now.as_nanos(),
                    node: node.0,
                    role: role.map(str::to_string),
                });
            }
        }
        self.apply_effects(node);
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

    // ----- messages and timers ------------------------------------------------------

    fn send(&mut self, from: NodeId, to: NodeId, msg: Msg<P>) {
        assert!(
            to.index() < self.slots.len(),
            "{from} sent a message to {to}, which does not exist"
        );
        self.invariants.on_send(from, to, &msg);
        if self.config.record_trace {
            self.record("send", Some(from), Some(to), None, format!("{msg:?}"));
        }
        match self.net.route(from, to) {
            Fate::Dropped(reason) => self.hash_drop(from, to, reason),
            Fate::Once(delay) => {
                let sent = self.now;
                self.queue.push(
                    self.now + delay,
                    Event::Deliver {
                        from,
                        to,
                        sent,
                        msg,
                    },
                );
            }
            Fate::Twice(first, second) => {
                let sent = self.now;
                let copy = msg.clone();
                self.queue.push(
                    self.now + first,
                    Event::Deliver {
                        from,
                        to,
                        sent,
                        msg,
                    },
                );
                self.queue.push(
                    self.now + second,
                    Event::Deliver {
                        from,
                        to,
                        sent,
                        msg: copy,
                    },
                );
            }
        }
    }

    fn hash_drop(&mut self, from: NodeId, to: NodeId, reason: DropReason) {
        self.hasher.event(EventTag::Drop, self.now.as_nanos());
        self.hasher.word(u64::from(from.0));
        self.hasher.word(u64::from(to.0));
        self.hasher.value(&reason);
        if self.config.record_trace {
            self.record("drop", Some(to), Some(from), None, format!("{reason:?}"));
        }
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, sent: SimTime, msg: Msg<P>) {
        if self.net.partitions.is_cut(from, to) {
            self.net.stats.dropped_partition += 1;
            return self.hash_drop(from, to, DropReason::Partition);
        }
        let slot = &mut self.slots[to.index()];
        match slot.status {
            Status::Crashed => {
                self.net.stats.count_drop(DropReason::NodeDown);
                self.hash_drop(from, to, DropReason::NodeDown);
            }
            Status::Paused if self.config.pause_drops_messages => {
                self.net.stats.count_drop(DropReason::Paused);
                self.hash_drop(from, to, DropReason::Paused);
            }
            Status::Paused => slot.inbox.push(Deferred::Deliver { from, sent, msg }),
            Status::Up => self.deliver_now(from, to, sent, msg),
        }
    }

    fn deliver_now(&mut self, from: NodeId, to: NodeId, sent: SimTime, msg: Msg<P>) {
        self.net.stats.delivered += 1;
        self.hasher.event(EventTag::Deliver, self.now.as_nanos());
        self.hasher.word(u64::from(from.0));
        self.hasher.word(u64::from(to.0));
        self.hasher.value(&msg);
        if self.config.record_trace {
            self.record(
                "deliver",
                Some(to),
                Some(from),
                Some(sent),
                format!("{msg:?}"),
            );
        }
        self.handle(to, |p, ctx| p.on_message(ctx, from, msg));
    }

    fn fire_timer(
        &mut self,
        node: NodeId,
        incarnation: u32,
        id: TimerId,
        timer: <Node<P> as Process>::Timer,
    ) {
        let slot = &mut self.slots[node.index()];
        if slot.incarnation != incarnation || slot.status == Status::Crashed {
            return;
        }
        if slot.status == Status::Paused {
            slot.inbox.push(Deferred::Timer { id, timer });
            return;
        }
        if slot.live_timers.remove(&id.0) {
            self.fire_now(node, id, timer);
        }
    }

    fn fire_now(&mut self, node: NodeId, id: TimerId, timer: <Node<P> as Process>::Timer) {
        self.counters.timers_fired += 1;
        self.hasher.event(EventTag::Timer, self.now.as_nanos());
        self.hasher.word(u64::from(node.0));
        self.hasher.word(id.0);
        self.hasher.value(&timer);
        if self.config.record_trace {
            self.record("timer", Some(node), None, None, format!("{timer:?}"));
        }
        self.handle(node, |p, ctx| p.on_timer(ctx, id, timer));
    }

    // ----- the client workload ------------------------------------------------------

    fn invoke(&mut self, client: usize) {
        let issued = self.history.ops.len() as u64;
        let exhausted = self
            .config
            .workload
            .max_ops
            .is_some_and(|max| issued >= max);
        if self.now >= self.fault_end || exhausted {
            return;
        }
        if self.history.ops.len() as u64 >= self.config.max_history_ops {
            return self.stop_at_bound(EndReason::HistoryLimit);
        }
        let (target, op) = self.protocol.next_op(client, &mut self.workload_rng);
        assert!(
            target.index() < self.slots.len(),
            "workload sent an operation to {target}, which does not exist"
        );
        let index = self.history.ops.len();
        let process = self.clients[client].process;
        self.hasher.event(EventTag::Invoke, self.now.as_nanos());
        self.hasher.word(process);
        self.hasher.word(u64::from(target.0));
        self.hasher.value(&op);
        if self.config.record_trace {
            self.record(
                "invoke",
                Some(target),
                None,
                None,
                format!("client {client} (process {process}): {op:?}"),
            );
        }
        self.history.ops.push(Operation {
            process,
            client,
            target,
            op: op.clone(),
            invoked: self.now,
            completed: None,
            outcome: Outcome::Unknown,
        });
        self.clients[client].open = Some(index);
        if self.clients[client].timeout_armed.is_none() {
            self.arm_timeout(client, self.now + self.config.workload.timeout);
        }
        self.request(target, RequestId(index as u64), op);
    }

    fn request(&mut self, target: NodeId, req: RequestId, op: Op<P>) {
        let slot = &mut self.slots[target.index()];
        match slot.status {
            Status::Up => self.handle(target, |p, ctx| p.on_request(ctx, req, op)),
            Status::Paused => slot.inbox.push(Deferred::Request { req, op }),
            Status::Crashed => self.counters.requests_lost += 1,
        }
    }

    fn complete(&mut self, req: RequestId, ok: bool, res: Res<P>) {
        let now = self.now;
        let Some(op) = self.history.ops.get_mut(req.0 as usize) else {
            panic!("a process replied to request {req:?}, which was never issued");
        };
        if op.completed.is_some() {
            self.counters.late_replies += 1;
            return;
        }
        self.hasher.event(EventTag::Complete, now.as_nanos());
        self.hasher.word(req.0);
        self.hasher.word(u64::from(ok));
        self.hasher.value(&res);
        op.completed = Some(now);
        let (client, target) = (op.client, op.target);
        if self.config.record_trace {
            let detail = format!("request {} ok={ok}: {res:?}", req.0);
            self.record("complete", Some(target), None, None, detail);
        }
        let op = &mut self.history.ops[req.0 as usize];
        op.outcome = if ok {
            Outcome::Ok(res)
        } else {
            Outcome::Fail(res)
        };
        self.clients[client].open = None;
        self.queue
            .push(now + self.config.workload.interval, Event::Invoke(client));
    }

    fn arm_timeout(&mut self, client: usize, at: SimTime) {
        self.clients[client].timeout_armed = Some(at);
        self.queue.push(at, Event::Timeout(client));
    }

    /// A client's timeout event: times out its open operation if that is
    /// due, or waits for the deadline of the operation open now.
    fn timeout(&mut self, client: usize) {
        self.clients[client].timeout_armed = None;
        let Some(index) = self.clients[client].open else {
            return;
        };
        let op = &mut self.history.ops[index];
        assert!(op.completed.is_none(), "an open operation is completed");
        let deadline = op.invoked + self.config.workload.timeout;
        if deadline > self.now {
            return self.arm_timeout(client, deadline);
        }
        op.completed = Some(self.now);
        self.hasher.event(EventTag::Timeout, self.now.as_nanos());
        self.hasher.word(index as u64);
        if self.config.record_trace {
            self.record("timeout", None, None, None, format!("request {index}"));
        }
        // The old operation may still take effect: go on as a new process.
        self.clients[client].open = None;
        self.clients[client].process = self.next_process;
        self.next_process += 1;
        self.queue.push(
            self.now + self.config.workload.interval,
            Event::Invoke(client),
        );
    }

    // ----- faults -------------------------------------------------------------------

    fn apply_fault(&mut self, index: usize) {
        let action = self.faults[index].action.clone();
        let description = self.perform(&action);
        self.log_fault(description);
    }

    fn log_fault(&mut self, description: String) {
        self.hasher.event(EventTag::Fault, self.now.as_nanos());
        self.hasher.bytes(description.as_bytes());
        if self.config.record_trace {
            self.record("fault", None, None, None, description.clone());
        }
        self.applied.push(AppliedFault {
            time_ns: self.now.as_nanos(),
            description,
        });
    }

    fn perform(&mut self, action: &FaultAction) -> String {
        match action {
            FaultAction::Partition {
                name,
                shape,
                one_way,
            } => self.partition(name, shape, *one_way),
            FaultAction::Heal(Some(name)) => match self.net.partitions.heal(name) {
                true => format!("heal {name}"),
                false => format!("heal {name}: skipped, no such partition is active"),
            },
            FaultAction::Heal(None) => {
                format!("heal all ({} partitions)", self.net.partitions.heal_all())
            }
            FaultAction::Crash(r) => self.on_one(r, "crash", Status::Up, |s, n| s.crash_node(n)),
            FaultAction::Pause(r) => self.on_one(r, "pause", Status::Up, |s, n| {
                s.slots[n.index()].status = Status::Paused
            }),
            FaultAction::Restart(Some(r)) => {
                self.on_one(r, "restart", Status::Crashed, |s, n| s.restart_node(n))
            }
            FaultAction::Restart(None) => {
                self.on_all("restart", Status::Crashed, |s, n| s.restart_node(n))
            }
            FaultAction::Resume(Some(r)) => {
                self.on_one(r, "resume", Status::Paused, |s, n| s.resume_node(n))
            }
            FaultAction::Resume(None) => {
                self.on_all("resume", Status::Paused, |s, n| s.resume_node(n))
            }
            FaultAction::Clock {
                node,
                offset_ns,
                drift_ppm,
            } => {
                let (offset, drift) = (*offset_ns, *drift_ppm);
                let what = format!("clock offset {offset}ns drift {drift}ppm");
                self.on_one_any_status(node, &what, |s, n| {
                    s.slots[n.index()].clock.set(s.now, offset, drift)
                })
            }
        }
    }

    /// Resolves `r` among servers in `status` and applies `f` to it.
    fn on_one(
        &mut self,
        r: &NodeRef,
        verb: &str,
        status: Status,
        f: impl FnOnce(&mut Self, NodeId),
    ) -> String {
        match self.resolve(r, Some(status)) {
            Some(node) => {
                f(self, node);
                format!("{verb} {node}")
            }
            None => format!(
                "{verb} {r}: skipped, no such node is {}",
                status_word(status)
            ),
        }
    }

    fn on_one_any_status(
        &mut self,
        r: &NodeRef,
        what: &str,
        f: impl FnOnce(&mut Self, NodeId),
    ) -> String {
        match self.resolve(r, None) {
            Some(node) => {
                f(self, node);
                format!("{what} on {node}")
            }
            None => format!("{what} on {r}: skipped, no such node"),
        }
    }

    fn on_all(
        &mut self,
        verb: &str,
        status: Status,
        mut f: impl FnMut(&mut Self, NodeId),
    ) -> String {
        let targets: Vec<NodeId> = (0..self.slots.len() as u32)
            .map(NodeId)
            .filter(|n| self.slots[n.index()].status == status)
            .collect();
        for &node in &targets {
            f(self, node);
        }
        let names: Vec<String> = targets.iter().map(|n| n.to_string()).collect();
        format!("{verb} all {}: [{}]", status_word(status), names.join(","))
    }

    /// The node `r` names now, if it is in `status` (any status when `None`).
    fn resolve(&mut self, r: &NodeRef, status: Option<Status>) -> Option<NodeId> {
        let fits = |slot: &Slot<Node<P>>| status.is_none_or(|s| slot.status == s);
        match r {
            NodeRef::Id(id) => fits(&self.slots[id.index()]).then_some(*id),
            NodeRef::Role(role) => self.servers.iter().copied().find(|n| {
                let slot = &self.slots[n.index()];
                fits(slot) && slot.process.as_ref().and_then(|p| p.role()) == Some(role.as_str())
            }),
            NodeRef::Any => {
                let candidates: Vec<NodeId> = self
                    .servers
                    .iter()
                    .copied()
                    .filter(|n| fits(&self.slots[n.index()]))
                    .collect();
                (!candidates.is_empty())
                    .then(|| candidates[self.nemesis_rng.index(candidates.len())])
            }
        }
    }

    fn partition(&mut self, name: &str, shape: &Shape, one_way: bool) -> String {
        let servers = self.servers.len();
        let cut = match shape {
            Shape::Isolate(r) => match self.resolve(r, None) {
                Some(node) => shapes::isolate(node, servers, one_way),
                None => return format!("partition {name}: skipped, no node is {r}"),
            },
            Shape::Split(minority) => {
                let minority = minority.clone().unwrap_or_else(|| self.random_minority());
                shapes::split(&minority, servers, one_way)
            }
            Shape::Bridge(r) => match self.resolve(r, None) {
                Some(node) => shapes::bridge(node, servers),
                None => return format!("partition {name}: skipped, no node is {r}"),
            },
            Shape::Ring => {
                self.net
                    .partitions
                    .start_links(name.to_string(), shapes::ring_links(servers));
                return format!("partition {name}: ring");
            }
            Shape::Groups(groups) => Cut {
                groups: groups.clone(),
                one_way,
            },
        };
        self.net.partitions.start(name.to_string(), &cut);
        let way = if cut.one_way { " one-way" } else { "" };
        let groups: Vec<String> = cut
            .groups
            .iter()
            .map(|g| {
                format!(
                    "[{}]",
                    g.iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            })
            .collect();
        let kind = match shape {
            Shape::Isolate(_) => "isolate",
            Shape::Split(_) => "split",
            Shape::Bridge(_) => "bridge (the node in no group reaches both)",
            Shape::Ring | Shape::Groups(_) => "groups",
        };
        format!("partition {name}{way}: {kind} {}", groups.join(" | "))
    }

    fn random_minority(&mut self) -> Vec<NodeId> {
        let mut ids = self.servers.clone();
        self.nemesis_rng.shuffle(&mut ids);
        let mut minority = ids[..(ids.len().saturating_sub(1)) / 2].to_vec();
        minority.sort();
        minority
    }

    fn crash_node(&mut self, node: NodeId) {
        let slot = &mut self.slots[node.index()];
        slot.process = None;
        slot.status = Status::Crashed;
        slot.disk.crash();
        slot.incarnation += 1;
        slot.live_timers.clear();
        slot.inbox.clear();
        if slot.role.take().is_some() && self.roles.len() < MAX_ROLE_CHANGES {
            self.roles.push(RoleChange {
                time_ns: self.now.as_nanos(),
                node: node.0,
                role: None,
            });
        }
        self.invariants
            .on_lifecycle(self.now, node, Lifecycle::Crashed);
    }

    fn restart_node(&mut self, node: NodeId) {
        let fresh = self.protocol.new_process(node);
        let slot = &mut self.slots[node.index()];
        assert_eq!(
            slot.status,
            Status::Crashed,
            "restart of a node that is not down"
        );
        slot.process = Some(fresh);
        slot.status = Status::Up;
        self.invariants
            .on_lifecycle(self.now, node, Lifecycle::Restarted);
        self.start_node(node);
    }

    fn resume_node(&mut self, node: NodeId) {
        let slot = &mut self.slots[node.index()];
        slot.status = Status::Up;
        let waiting = std::mem::take(&mut slot.inbox);
        for deferred in waiting {
            if self.slots[node.index()].status != Status::Up {
                break;
            }
            match deferred {
                Deferred::Start => self.start_node(node),
                Deferred::Deliver { from, sent, msg } => self.deliver_now(from, node, sent, msg),
                Deferred::Timer { id, timer } => {
                    if self.slots[node.index()].live_timers.remove(&id.0) {
                        self.fire_now(node, id, timer);
                    }
                }
                Deferred::Request { req, op } => {
                    self.handle(node, |p, ctx| p.on_request(ctx, req, op))
                }
            }
        }
    }

    fn begin_liveness(&mut self) {
        let healed = self.net.partitions.heal_all();
        let resumed = self.perform(&FaultAction::Resume(None));
        let restarted = self.perform(&FaultAction::Restart(None));
        self.log_fault(format!(
            "liveness phase begins: healed {healed} partitions, {resumed}, {restarted}"
        ));
    }

    // ----- checks and results -------------------------------------------------------

    fn is_enabled(&self, check: &str) -> bool {
        match &self.config.enabled_checks {
            None => true,
            Some(list) => list.iter().any(|c| c == check),
        }
    }

    fn record_violation(&mut self, v: Violation) {
        if self.is_enabled(&v.check) {
            self.violations.push(v);
            self.stopped = Some(EndReason::Violation);
        } else {
            self.ignored.push(v);
        }
    }

    fn record(
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

    fn finish(mut self, completed: bool) -> RunResult {
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
        RunResult {
            seed: self.config.seed,
            trace_hash: self.hasher.hex(),
            events: self.events,
            sim_time: self.now,
            end_reason,
            metrics: self.metrics(),
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
        }
    }

    fn metrics(&self) -> BTreeMap<String, Value> {
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
        m.extend(self.invariants.metrics());
        m
    }

    /// The history as protocol-independent records, in invocation order.
    fn export_history(&self) -> Vec<Record> {
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

/// Whether two roles are the same; roles are `&'static str`s, so equal
/// pointers (the usual case) answer without comparing text.
fn same_role(a: Option<&'static str>, b: Option<&'static str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => std::ptr::eq(a, b) || a == b,
        (None, None) => true,
        _ => false,
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Up => "up",
        Status::Paused => "paused",
        Status::Crashed => "crashed",
    }
}
