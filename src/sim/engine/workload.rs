//! The client workload: each client keeps one operation open, invokes the
//! next one `interval` after a completion or a timeout, and times out an
//! operation after `timeout` (going on as a new process, since the old
//! operation may still take effect). Records the history.

use super::*;

impl<P: Protocol> Simulation<P> {
    pub(super) fn invoke(&mut self, client: usize) {
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
        let target = self.place(client, target);
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

    /// The server `[workload] placement` sends client `client`'s next
    /// request to (`target` when the protocol decides, or when `target` is
    /// a client process: that process places its own requests).
    fn place(&mut self, client: usize, target: NodeId) -> NodeId {
        if target.index() >= self.servers.len() {
            return target;
        }
        let w = &self.config.workload;
        let k = self.clients[client].issued;
        self.clients[client].issued += 1;
        let n = if w.targets.is_empty() {
            self.servers.len()
        } else {
            w.targets.len()
        };
        let Some(pick) = w.placement.pick(client, k, n, &mut self.workload_rng) else {
            return target;
        };
        match self.config.workload.targets.get(pick) {
            Some(&t) => t,
            None => self.servers[pick],
        }
    }

    pub(super) fn request(&mut self, target: NodeId, req: RequestId, op: Op<P>) {
        let slot = &mut self.slots[target.index()];
        match slot.status {
            Status::Up => self.handle(target, |p, ctx| p.on_request(ctx, req, op)),
            Status::Paused => slot.inbox.push(Deferred::Request { req, op }),
            Status::Crashed => self.counters.requests_lost += 1,
        }
    }

    pub(super) fn complete(&mut self, req: RequestId, ok: bool, res: Res<P>) {
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

    pub(super) fn arm_timeout(&mut self, client: usize, at: SimTime) {
        self.clients[client].timeout_armed = Some(at);
        self.queue.push(at, Event::Timeout(client));
    }

    /// A client's timeout event: times out its open operation if that is
    /// due, or waits for the deadline of the operation open now.
    pub(super) fn timeout(&mut self, client: usize) {
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
}
