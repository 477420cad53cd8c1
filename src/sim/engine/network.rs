//! Messages and timers: a send goes through the network (dropped, delayed,
//! duplicated), a delivery reaches its node unless a partition cut the link
//! meanwhile or the node is down or paused, and a timer fires only in the
//! incarnation that set it. Every one is folded into the trace hash.

use super::*;

impl<P: Protocol> Simulation<P> {
    #[inline(always)]
    pub(super) fn send(&mut self, from: NodeId, to: NodeId, msg: Msg<P>) {
        assert!(
            to.index() < self.slots.len(),
            "{from} sent a message to {to}, which does not exist"
        );
        self.invariants.on_send(from, to, &msg);
        self.work.message(self.now);
        if self.crash_after_send.is_some() || !self.armed.is_empty() {
            self.note_eligible_send(from, &msg);
        }
        if self.config.record_trace {
            self.record("send", Some(from), Some(to), None, format!("{msg:?}"));
        }
        let may_be_slow = self
            .net
            .slow_kind(|| <Node<P> as Process>::message_kind(&msg));
        match self.net.route(from, to, may_be_slow) {
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

    /// Remembers that the running handler sent a message whose kind may
    /// end it in a crash (an armed one first, then `crash_after_send`);
    /// only servers crash.
    #[cold]
    fn note_eligible_send(&mut self, from: NodeId, msg: &Msg<P>) {
        if matches!(self.sent_eligible, Some((_, true))) || from.index() >= self.servers.len() {
            return;
        }
        let kind = <Node<P> as Process>::message_kind(msg);
        if let Some(armed) = self.armed.get(&from) {
            if armed.as_deref().is_none_or(|k| k == kind) {
                self.sent_eligible = Some((kind, true));
                return;
            }
        }
        if self.sent_eligible.is_some() {
            return;
        }
        if let Some(c) = &mut self.crash_after_send {
            if c.eligible(kind) {
                self.sent_eligible = Some((kind, false));
            }
        }
    }

    pub(super) fn hash_drop(&mut self, from: NodeId, to: NodeId, reason: DropReason) {
        self.hasher.event(EventTag::Drop, self.now.as_nanos());
        self.hasher.word(u64::from(from.0));
        self.hasher.word(u64::from(to.0));
        self.hasher.value(&reason);
        if self.config.record_trace {
            self.record("drop", Some(to), Some(from), None, format!("{reason:?}"));
        }
    }

    #[inline(always)]
    pub(super) fn deliver(&mut self, from: NodeId, to: NodeId, sent: SimTime, msg: Msg<P>) {
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

    #[inline(always)]
    pub(super) fn deliver_now(&mut self, from: NodeId, to: NodeId, sent: SimTime, msg: Msg<P>) {
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
        if let Some(c) = &mut self.coverage {
            let kind = <Node<P> as Process>::message_kind(&msg);
            c.delivery(to, self.slots[to.index()].role, kind);
        }
        self.handle(to, |p, ctx| p.on_message(ctx, from, msg));
    }

    #[inline]
    pub(super) fn fire_timer(
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

    #[inline]
    pub(super) fn fire_now(
        &mut self,
        node: NodeId,
        id: TimerId,
        timer: <Node<P> as Process>::Timer,
    ) {
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
}
