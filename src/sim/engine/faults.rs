//! Fault application: partitions, heals, crashes and restarts, pauses and
//! resumes, clock faults, and the liveness phase that repairs them all.
//! Nodes named by role or at random are resolved when the fault fires;
//! each applied fault is logged with its typed effect for the reports.

use super::*;

/// How long a node that halted stays down before its supervisor restarts it.
pub const HALT_RESTART: crate::time::SimDuration = crate::time::SimDuration::from_millis(10);

impl<P: Protocol> Simulation<P> {
    pub(super) fn apply_fault(&mut self, index: usize) {
        let action = self.faults[index].action.clone();
        self.fault_target_role = None;
        // A handler the fault runs (a restart's on_start, a resume's
        // backlog) may itself end in a crash: log that after the fault.
        self.crashes_in_fault = Some(Vec::new());
        let (description, effect) = self.perform(&action);
        if let Some(c) = &mut self.coverage {
            c.fault(std::mem::discriminant(&effect), self.fault_target_role);
        }
        self.log_fault(description, effect);
        for (text, effect) in self.crashes_in_fault.take().unwrap_or_default() {
            self.log_fault(text, effect);
        }
        self.assert_slots_consistent();
    }

    /// Logs a crash a handler ended in (a halt, a crash after a send), with
    /// its coverage: after the fault being applied, if one is.
    fn log_handler_crash(&mut self, text: String, node: NodeId, role: Option<&'static str>) {
        let effect = FaultEffect::Crashed {
            nodes: vec![node.0],
        };
        if let Some(c) = &mut self.coverage {
            c.fault(std::mem::discriminant(&effect), role);
        }
        match &mut self.crashes_in_fault {
            Some(pending) => pending.push((text, effect)),
            None => self.log_fault(text, effect),
        }
    }

    /// Asserts every slot's invariants. Only faults (and the liveness
    /// phase) crash, restart, pause or resume nodes, so they are checked
    /// after each of those; a handler cannot break them.
    fn assert_slots_consistent(&self) {
        for (i, slot) in self.slots.iter().enumerate() {
            slot.assert_consistent(NodeId(i as u32));
        }
    }

    /// Logs an applied fault: the trace hash folds its description (so the
    /// hash of a run does not depend on how effects are typed).
    pub(super) fn log_fault(&mut self, description: String, effect: FaultEffect) {
        self.hasher.event(EventTag::Fault, self.now.as_nanos());
        self.hasher.bytes(description.as_bytes());
        if self.config.record_trace {
            self.record("fault", None, None, None, description.clone());
        }
        self.applied.push(AppliedFault {
            time_ns: self.now.as_nanos(),
            description,
            effect,
        });
    }

    /// Carries out `action`: what happened, in words and typed.
    pub(super) fn perform(&mut self, action: &FaultAction) -> (String, FaultEffect) {
        let nodes = |targets: &[NodeId]| targets.iter().map(|n| n.0).collect::<Vec<u32>>();
        match action {
            FaultAction::Partition {
                name,
                shape,
                one_way,
            } => self.partition(name, shape, *one_way),
            FaultAction::Heal(Some(name)) => match self.net.partitions.heal(name) {
                true => (
                    format!("heal {name}"),
                    FaultEffect::Healed {
                        names: vec![name.clone()],
                    },
                ),
                false => (
                    format!("heal {name}: skipped, no such partition is active"),
                    FaultEffect::Skipped,
                ),
            },
            FaultAction::Heal(None) => {
                let names = self.net.partitions.heal_all();
                let text = format!("heal all ({} partitions)", names.len());
                (text, FaultEffect::Healed { names })
            }
            FaultAction::Crash(r) => {
                let (text, done) = self.on_one(r, "crash", Status::Up, |s, n| s.crash_node(n));
                (
                    text,
                    typed(done, |n| FaultEffect::Crashed { nodes: nodes(&n) }),
                )
            }
            FaultAction::CrashAfterSend { node, kind } => {
                let what = match kind {
                    Some(k) => format!("arm a crash right after the next send of {k}"),
                    None => "arm a crash right after the next send".to_string(),
                };
                // Armed whatever the node's state: a paused node's next
                // send may come as it resumes.
                let kind = kind.clone();
                let (text, done) = self.on_one_any_status(node, &what, |s, n| {
                    s.armed.insert(n, kind);
                });
                (text, typed(done, |n| FaultEffect::Armed { node: n[0].0 }))
            }
            FaultAction::Pause(r) => {
                let (text, done) = self.on_one(r, "pause", Status::Up, |s, n| {
                    s.slots[n.index()].status = Status::Paused
                });
                (
                    text,
                    typed(done, |n| FaultEffect::Paused { nodes: nodes(&n) }),
                )
            }
            FaultAction::Restart(Some(r)) => {
                let (text, done) =
                    self.on_one(r, "restart", Status::Crashed, |s, n| s.restart_node(n));
                (
                    text,
                    typed(done, |n| FaultEffect::Restarted { nodes: nodes(&n) }),
                )
            }
            FaultAction::Restart(None) => {
                let (text, done) =
                    self.on_all("restart", Status::Crashed, |s, n| s.restart_node(n));
                let effect = FaultEffect::Restarted {
                    nodes: nodes(&done),
                };
                (text, effect)
            }
            FaultAction::Resume(Some(r)) => {
                let (text, done) =
                    self.on_one(r, "resume", Status::Paused, |s, n| s.resume_node(n));
                (
                    text,
                    typed(done, |n| FaultEffect::Resumed { nodes: nodes(&n) }),
                )
            }
            FaultAction::Resume(None) => {
                let (text, done) = self.on_all("resume", Status::Paused, |s, n| s.resume_node(n));
                (
                    text,
                    FaultEffect::Resumed {
                        nodes: nodes(&done),
                    },
                )
            }
            FaultAction::Clock {
                node,
                offset_ns,
                drift_ppm,
            } => {
                let (offset, drift) = (*offset_ns, *drift_ppm);
                let what = format!("clock offset {offset}ns drift {drift}ppm");
                let (text, done) = self.on_one_any_status(node, &what, |s, n| {
                    s.slots[n.index()].clock.set(s.now, offset, drift)
                });
                let effect = typed(done, |n| FaultEffect::ClockSet {
                    node: n[0].0,
                    offset_ns: offset,
                    drift_ppm: drift,
                });
                (text, effect)
            }
        }
    }

    /// Process `node`'s name in fault descriptions: `n<i>` for a server,
    /// `c<j>` for client process `j` (see [`NodeId::name`]).
    fn name(&self, node: NodeId) -> String {
        node.name(self.servers.len())
    }

    /// Resolves `r` among servers in `status` and applies `f` to it; the
    /// node acted on, if one was.
    pub(super) fn on_one(
        &mut self,
        r: &NodeRef,
        verb: &str,
        status: Status,
        f: impl FnOnce(&mut Self, NodeId),
    ) -> (String, Option<NodeId>) {
        match self.resolve(r, Some(status)) {
            Some(node) => {
                f(self, node);
                (format!("{verb} {}", self.name(node)), Some(node))
            }
            None => (
                format!(
                    "{verb} {r}: skipped, no such node is {}",
                    status_word(status)
                ),
                None,
            ),
        }
    }

    pub(super) fn on_one_any_status(
        &mut self,
        r: &NodeRef,
        what: &str,
        f: impl FnOnce(&mut Self, NodeId),
    ) -> (String, Option<NodeId>) {
        match self.resolve(r, None) {
            Some(node) => {
                f(self, node);
                (format!("{what} on {}", self.name(node)), Some(node))
            }
            None => (format!("{what} on {r}: skipped, no such node"), None),
        }
    }

    /// Applies `f` to every process in `status`; the ones acted on.
    pub(super) fn on_all(
        &mut self,
        verb: &str,
        status: Status,
        mut f: impl FnMut(&mut Self, NodeId),
    ) -> (String, Vec<NodeId>) {
        let targets: Vec<NodeId> = (0..self.slots.len() as u32)
            .map(NodeId)
            .filter(|n| self.slots[n.index()].status == status)
            .collect();
        for &node in &targets {
            f(self, node);
        }
        let names: Vec<String> = targets.iter().map(|&n| self.name(n)).collect();
        let text = format!("{verb} all {}: [{}]", status_word(status), names.join(","));
        (text, targets)
    }

    /// The node `r` names now, if it is in `status` (any status when `None`).
    pub(super) fn resolve(&mut self, r: &NodeRef, status: Option<Status>) -> Option<NodeId> {
        let fits = |slot: &Slot<Node<P>>| status.is_none_or(|s| slot.status == s);
        match r {
            NodeRef::Named { name, of } => {
                let node = self.resolve(of, status);
                match node {
                    Some(n) => self.hits.insert(name.clone(), n),
                    None => self.hits.remove(name),
                };
                node
            }
            NodeRef::HitBy(name) => {
                let node = *self.hits.get(name)?;
                fits(&self.slots[node.index()]).then_some(node)
            }
            NodeRef::Id(id) => {
                let node = fits(&self.slots[id.index()]).then_some(*id);
                if let Some(n) = node {
                    self.fault_target_role = self.slots[n.index()].role;
                }
                node
            }
            NodeRef::Role(role) => {
                let node = self.servers.iter().copied().find(|n| {
                    let slot = &self.slots[n.index()];
                    fits(slot)
                        && slot.process.as_ref().and_then(|p| p.role()) == Some(role.as_str())
                });
                if let Some(n) = node {
                    self.fault_target_role = self.slots[n.index()].role;
                }
                node
            }
            NodeRef::Tag(tag) => {
                let live: Vec<Option<&Node<P>>> = self.slots[..self.servers.len()]
                    .iter()
                    .map(|s| s.process.as_ref())
                    .collect();
                let mut candidates = self.protocol.tagged(tag, &live);
                candidates
                    .retain(|n| n.index() < self.servers.len() && fits(&self.slots[n.index()]));
                candidates.sort();
                candidates.dedup();
                let node = (!candidates.is_empty())
                    .then(|| candidates[self.nemesis_rng.index(candidates.len())]);
                if let Some(n) = node {
                    self.fault_target_role = self.slots[n.index()].role;
                }
                node
            }
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

    pub(super) fn partition(
        &mut self,
        name: &str,
        shape: &Shape,
        one_way: bool,
    ) -> (String, FaultEffect) {
        let servers = self.servers.len();
        let skipped = |r: &NodeRef| {
            let text = format!("partition {name}: skipped, no node is {r}");
            (text, FaultEffect::Skipped)
        };
        let cut = match shape {
            Shape::Isolate(r) => match self.resolve(r, None) {
                Some(node) => shapes::isolate(node, servers, one_way),
                None => return skipped(r),
            },
            Shape::Split(minority) => {
                let minority = minority.clone().unwrap_or_else(|| self.random_minority());
                shapes::split(&minority, servers, one_way)
            }
            Shape::Bridge(r) => match self.resolve(r, None) {
                Some(node) => shapes::bridge(node, servers),
                None => return skipped(r),
            },
            Shape::Ring => {
                self.net
                    .partitions
                    .start_links(name.to_string(), shapes::ring_links(servers));
                let effect = FaultEffect::Partitioned {
                    name: name.to_string(),
                    groups: Vec::new(),
                    one_way: false,
                };
                return (format!("partition {name}: ring"), effect);
            }
            Shape::Groups(groups) => Cut {
                groups: groups.clone(),
                one_way,
            },
            Shape::Around { node, size } => match self.resolve(node, None) {
                Some(node) => {
                    let group = self.group_around(node, size.of(servers));
                    shapes::split(&group, servers, one_way)
                }
                None => return skipped(node),
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
                        .map(|&n| self.name(n))
                        .collect::<Vec<_>>()
                        .join(",")
                )
            })
            .collect();
        let kind = match shape {
            Shape::Isolate(_) => "isolate",
            Shape::Split(_) => "split",
            Shape::Bridge(_) => "bridge (the node in no group reaches both)",
            Shape::Around { .. } => "around",
            Shape::Ring | Shape::Groups(_) => "groups",
        };
        let text = format!("partition {name}{way}: {kind} {}", groups.join(" | "));
        let effect = FaultEffect::Partitioned {
            name: name.to_string(),
            groups: cut
                .groups
                .iter()
                .map(|g| g.iter().map(|n| n.0).collect())
                .collect(),
            one_way: cut.one_way,
        };
        (text, effect)
    }

    /// `node` and `size - 1` other servers drawn from the nemesis stream,
    /// in id order.
    fn group_around(&mut self, node: NodeId, size: usize) -> Vec<NodeId> {
        let mut others: Vec<NodeId> = self
            .servers
            .iter()
            .copied()
            .filter(|&n| n != node)
            .collect();
        self.nemesis_rng.shuffle(&mut others);
        others.truncate(size.saturating_sub(1));
        others.push(node);
        others.sort();
        others
    }

    pub(super) fn random_minority(&mut self) -> Vec<NodeId> {
        let mut ids = self.servers.clone();
        self.nemesis_rng.shuffle(&mut ids);
        let mut minority = ids[..(ids.len().saturating_sub(1)) / 2].to_vec();
        minority.sort();
        minority
    }

    /// `node` halted in the handler it just ran (a failed sync, or
    /// `Ctx::halt`): it goes down as in a crash, and its supervisor starts
    /// it again [`HALT_RESTART`] later, in either phase of the run.
    pub(super) fn halt_node(&mut self, node: NodeId, why: &str) {
        let role = self.slots[node.index()].role;
        self.crash_node(node);
        let text = format!("crash {}: it halted ({why})", self.name(node));
        self.log_handler_crash(text, node, role);
        let at = self.now + HALT_RESTART;
        self.queue.push(at, Event::Fault(self.faults.len()));
        self.faults.push(TimedFault {
            at,
            action: FaultAction::Restart(Some(NodeRef::Id(node))),
        });
    }

    /// Ends the handler `node` just ran in a crash, if the fault fires
    /// (`crash_after_send`): its sends are out, its unsynced state is
    /// gone. It restarts after the drawn downtime, or at the liveness
    /// phase if that comes first.
    pub(super) fn maybe_crash_after_send(&mut self, node: NodeId, kind: &'static str, armed: bool) {
        let down = match (armed, &mut self.crash_after_send) {
            (true, _) => {
                self.armed.remove(&node);
                None
            }
            (false, Some(c)) => match c.fires(self.now, self.fault_end) {
                Some(down) => Some(down),
                None => return,
            },
            (false, None) => return,
        };
        assert_eq!(
            self.slots[node.index()].status,
            Status::Up,
            "a handler ran on a node that is not up"
        );
        let role = self.slots[node.index()].role;
        self.crash_node(node);
        let text = format!("crash {} right after it sent {kind}", self.name(node));
        self.log_handler_crash(text, node, role);
        // An armed crash's restart is a fault of its own; a drawn one's is
        // drawn with it.
        let Some(down) = down else { return };
        let at = self.now + down;
        if self.crashes_after_send.len() < MAX_CRASHES_AFTER_SEND {
            self.crashes_after_send.push(CrashAfterSendRecord {
                time_ns: self.now.as_nanos(),
                node: node.0,
                kind,
                down_ns: down.as_nanos(),
            });
        }
        if at < self.fault_end {
            self.queue.push(at, Event::Fault(self.faults.len()));
            self.faults.push(TimedFault {
                at,
                action: FaultAction::Restart(Some(NodeRef::Id(node))),
            });
        }
    }

    pub(super) fn crash_node(&mut self, node: NodeId) {
        let slot = &mut self.slots[node.index()];
        slot.process = None;
        slot.status = Status::Crashed;
        match self.storage.as_mut() {
            Some(faulter) => faulter.crash(&mut slot.disk),
            None => slot.disk.crash(),
        }
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

    pub(super) fn restart_node(&mut self, node: NodeId) {
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

    pub(super) fn resume_node(&mut self, node: NodeId) {
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

    pub(super) fn begin_liveness(&mut self) {
        self.armed.clear();
        if let Some(storage) = &mut self.storage {
            storage.stop_failing_syncs();
        }
        let healed = self.net.partitions.heal_all();
        let (resumed, resumed_nodes) =
            self.on_all("resume", Status::Paused, |s, n| s.resume_node(n));
        let (restarted, restarted_nodes) =
            self.on_all("restart", Status::Crashed, |s, n| s.restart_node(n));
        let text = format!(
            "liveness phase begins: healed {} partitions, {resumed}, {restarted}",
            healed.len()
        );
        let effect = FaultEffect::LivenessPhase {
            healed,
            resumed: resumed_nodes.iter().map(|n| n.0).collect(),
            restarted: restarted_nodes.iter().map(|n| n.0).collect(),
        };
        self.log_fault(text, effect);
        self.assert_slots_consistent();
    }
}

/// The effect of acting on `done` (if a node was acted on), else `Skipped`.
fn typed(done: Option<NodeId>, effect: impl FnOnce(Vec<NodeId>) -> FaultEffect) -> FaultEffect {
    match done {
        Some(node) => effect(vec![node]),
        None => FaultEffect::Skipped,
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Up => "up",
        Status::Paused => "paused",
        Status::Crashed => "crashed",
    }
}
