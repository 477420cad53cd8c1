//! The context a process acts through, and the effects it records.

use super::{Disk, DiskKey, NodeId, Process, RequestId, Storage, SyncFailed, TimerId};
use crate::rng::{SimRng, Stream};
use crate::time::{SimDuration, SimTime};

/// One thing a process asked the engine to do, in the order it asked.
#[derive(Debug)]
pub enum Effect<P: Process> {
    /// Send `msg` to `to` over the simulated network.
    Send {
        /// The destination process.
        to: NodeId,
        /// The message.
        msg: P::Msg,
    },
    /// Fire `timer` after `after` has passed on the node's own clock.
    SetTimer {
        /// The id returned to the process.
        id: TimerId,
        /// The delay, in the node's local (possibly drifting) time.
        after: SimDuration,
        /// What the timer carries back.
        timer: P::Timer,
    },
    /// Cancel a timer that has not fired yet (a no-op otherwise).
    CancelTimer(TimerId),
    /// Answer a client request.
    Reply {
        /// The request being answered.
        req: RequestId,
        /// Whether the operation took effect (`true`) or definitely did not.
        ok: bool,
        /// The result.
        res: P::Res,
    },
    /// An observation for the invariant checkers.
    Note(P::Note),
}

/// What a process can see and do while it handles one event.
pub struct Ctx<'a, P: Process> {
    pub(crate) me: NodeId,
    pub(crate) now: SimTime,
    pub(crate) servers: &'a [NodeId],
    pub(crate) rng: &'a mut SimRng,
    pub(crate) storage: &'a mut dyn Storage<P::Stored>,
    pub(crate) effects: &'a mut Vec<Effect<P>>,
    pub(crate) next_timer: &'a mut u64,
    /// The run's fault points, in a simulation with buggify on.
    pub(crate) buggify: Option<&'a mut crate::sim::Buggify>,
    /// Set when the process halted ([`Ctx::halt`], or a failed
    /// [`Ctx::sync`]): how many effects it had recorded then, and why.
    /// Nothing it does afterwards takes effect, and the node goes down.
    pub(crate) halted: Option<(usize, &'static str)>,
}

impl<'a, P: Process> Ctx<'a, P> {
    /// Whether the code-level fault point `point` fires now (FoundationDB's
    /// BUGGIFY): true only in a simulation with buggify on, for points
    /// active in the run, with the run's probability; always false outside
    /// the simulator (a `Harness`, a real driver). Mark rare paths with it:
    /// `if ctx.buggify("raft.drop-append-reply") { return; }`. Name points
    /// `protocol.what-happens` and list them in the registry entry.
    pub fn buggify(&mut self, point: &'static str) -> bool {
        self.buggify.as_mut().is_some_and(|b| b.fires(point))
    }

    /// This process's id.
    pub fn me(&self) -> NodeId {
        self.me
    }

    /// The time on this node's own clock (skewed and drifting as the
    /// scenario says; never the engine's true time).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Every server node of the cluster, this one included if it is a server.
    pub fn servers(&self) -> &'a [NodeId] {
        self.servers
    }

    /// The other server nodes.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> + 'a {
        let me = self.me;
        self.servers.iter().copied().filter(move |&n| n != me)
    }

    /// This node's own random stream.
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Sends `msg` to `to`.
    pub fn send(&mut self, to: NodeId, msg: P::Msg) {
        self.effects.push(Effect::Send { to, msg });
    }

    /// Sends `msg` to every other server node.
    pub fn broadcast(&mut self, msg: P::Msg) {
        for to in self.peers() {
            self.effects.push(Effect::Send {
                to,
                msg: msg.clone(),
            });
        }
    }

    /// Sets a timer that fires after `after` on this node's clock.
    pub fn set_timer(&mut self, after: SimDuration, timer: P::Timer) -> TimerId {
        let id = TimerId(*self.next_timer);
        *self.next_timer += 1;
        self.effects.push(Effect::SetTimer { id, after, timer });
        id
    }

    /// Cancels a timer; harmless if it already fired or was cancelled.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.effects.push(Effect::CancelTimer(id));
    }

    /// Writes to durable storage; lost on a crash unless [`Ctx::sync`] follows.
    pub fn write(&mut self, key: DiskKey, value: P::Stored) {
        if self.halted.is_none() {
            self.storage.write(key, value);
        }
    }

    /// Deletes from durable storage; undone by a crash unless synced.
    pub fn delete(&mut self, key: DiskKey) {
        if self.halted.is_none() {
            self.storage.delete(key);
        }
    }

    /// Deletes indices `from..=to` of `space`; undone by a crash unless synced.
    pub fn delete_range(&mut self, space: &'static str, from: u64, to: u64) {
        if self.halted.is_none() {
            self.storage.delete_range(space, from, to);
        }
    }

    /// Makes every write so far durable (an fsync) before the handler goes
    /// on; what it does after (a reply, a message) follows the writes.
    ///
    /// If the sync fails, the process halts ([`Ctx::halt`]): nothing it does
    /// after the failed sync takes effect, and it restarts from what its
    /// disk holds, the only answer to a failed fsync that is always safe.
    /// A process that wants to see the failure calls [`Ctx::sync_checked`].
    pub fn sync(&mut self) {
        if self.sync_checked().is_err() {
            self.halt_because("a failed sync");
        }
    }

    /// Like [`Ctx::sync`], but a failure is the caller's to handle: the
    /// writes since the last good sync may be lost (even if a later sync
    /// succeeds), and whatever depended on them must not be promised.
    pub fn sync_checked(&mut self) -> Result<(), SyncFailed> {
        if self.halted.is_some() {
            return Err(SyncFailed); // a halted process's disk is out of reach
        }
        self.storage.sync()
    }

    /// Stops this process at once, as a crash would: nothing it does for
    /// the rest of this handler takes effect (its messages, its writes: a
    /// sync after a halt fails), its unsynced writes are lost,
    /// and it restarts from its disk (in the simulator, a moment later; a
    /// real driver exits and is restarted by its supervisor).
    pub fn halt(&mut self) {
        self.halt_because("it called halt");
    }

    /// Halts for `reason`, unless it already halted.
    fn halt_because(&mut self, reason: &'static str) {
        if self.halted.is_none() {
            self.halted = Some((self.effects.len(), reason));
        }
    }

    /// Whether this process halted during this handler.
    pub fn halted(&self) -> bool {
        self.halted.is_some()
    }

    /// Answers a client request: the operation took effect with result `res`.
    pub fn reply_ok(&mut self, req: RequestId, res: P::Res) {
        self.effects.push(Effect::Reply { req, ok: true, res });
    }

    /// Answers a client request: the operation definitely did not take effect.
    pub fn reply_fail(&mut self, req: RequestId, res: P::Res) {
        self.effects.push(Effect::Reply {
            req,
            ok: false,
            res,
        });
    }

    /// Records an observation for the protocol's invariant checkers.
    pub fn note(&mut self, note: P::Note) {
        self.effects.push(Effect::Note(note));
    }
}

/// Drives one process by hand, outside any simulation: for unit tests of a
/// protocol's state machine ("deliver this message, what did it send?"),
/// and for running a process on a real network (see `examples/udp`). Its
/// durable writes go to its [`Disk`], or to a driver's own [`Storage`]
/// (a file, say: [`Harness::with_storage`]); it returns the other effects,
/// in order, for the caller to carry out.
pub struct Harness<P: Process> {
    /// The process under test.
    pub node: P,
    /// Its id.
    pub me: NodeId,
    /// The clock reading handed to the next call.
    pub now: SimTime,
    /// The server set it believes in.
    pub servers: Vec<NodeId>,
    /// Its durable store: where its writes go, and what `on_start` reads.
    /// With a driver's storage, only what `on_start` reads.
    pub disk: Disk<P::Stored>,
    /// The driver's storage, if it has one: where writes go instead.
    storage: Option<Box<dyn Storage<P::Stored> + Send>>,
    rng: SimRng,
    effects: Vec<Effect<P>>,
    next_timer: u64,
    halted: bool,
}

impl<P: Process> Effect<P> {
    /// The messages among `effects`, with their destinations (for tests
    /// that drive a process by hand).
    pub fn sends(effects: &[Effect<P>]) -> Vec<(NodeId, P::Msg)>
    where
        P::Msg: Clone,
    {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send { to, msg } => Some((*to, msg.clone())),
                _ => None,
            })
            .collect()
    }

    /// The notes among `effects`.
    pub fn notes(effects: &[Effect<P>]) -> Vec<P::Note>
    where
        P::Note: Clone,
    {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Note(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }
}

impl<P: Process> Harness<P> {
    /// A harness for `node` as `me` among `servers`, with its stream of `seed`.
    pub fn new(node: P, me: NodeId, servers: Vec<NodeId>, seed: u64) -> Self {
        Harness {
            node,
            me,
            now: SimTime::ZERO,
            servers,
            disk: Disk::default(),
            storage: None,
            rng: SimRng::new(seed, Stream::Node(me.0)),
            effects: Vec::new(),
            next_timer: 0,
            halted: false,
        }
    }

    /// The same harness with its durable writes going to `storage` (a
    /// driver's file or database) instead of its in-memory disk;
    /// `recovered` is what `storage` held when it was opened, which
    /// `on_start` reads.
    pub fn with_storage(
        mut self,
        storage: Box<dyn Storage<P::Stored> + Send>,
        recovered: Disk<P::Stored>,
    ) -> Self {
        self.storage = Some(storage);
        self.disk = recovered;
        self
    }

    fn with_ctx(&mut self, f: impl FnOnce(&mut P, &mut Ctx<'_, P>)) -> Vec<Effect<P>> {
        let storage: &mut dyn Storage<P::Stored> = match self.storage.as_deref_mut() {
            Some(storage) => storage,
            None => &mut self.disk,
        };
        let mut ctx = Ctx {
            me: self.me,
            now: self.now,
            servers: &self.servers,
            rng: &mut self.rng,
            storage,
            effects: &mut self.effects,
            next_timer: &mut self.next_timer,
            buggify: None,
            halted: None,
        };
        f(&mut self.node, &mut ctx);
        if let Some((at, _)) = ctx.halted {
            self.effects.truncate(at);
            self.halted = true;
        }
        std::mem::take(&mut self.effects)
    }

    /// Whether the process halted (a failed sync, [`Ctx::halt`]): its
    /// effects after that point were dropped, and a driver should stop it
    /// and start it again from its storage.
    pub fn halted(&self) -> bool {
        self.halted
    }

    /// Calls `on_start` with what the harness's disk holds durably; returns
    /// the effects.
    pub fn start(&mut self) -> Vec<Effect<P>> {
        let disk = self.disk.clone();
        self.with_ctx(|node, ctx| node.on_start(ctx, &disk))
    }

    /// Delivers `msg` from `from`; returns the effects.
    pub fn deliver(&mut self, from: NodeId, msg: P::Msg) -> Vec<Effect<P>> {
        self.with_ctx(|node, ctx| node.on_message(ctx, from, msg))
    }

    /// Fires a timer; returns the effects.
    pub fn fire(&mut self, id: TimerId, timer: P::Timer) -> Vec<Effect<P>> {
        self.with_ctx(|node, ctx| node.on_timer(ctx, id, timer))
    }

    /// Hands a client request to the node; returns the effects.
    pub fn request(&mut self, req: RequestId, op: P::Op) -> Vec<Effect<P>> {
        self.with_ctx(|node, ctx| node.on_request(ctx, req, op))
    }

    /// Simulates a crash and restart: unsynced writes are lost and the node is
    /// replaced by `fresh` (its volatile state gone); returns `on_start`'s effects.
    /// For the in-memory disk only: a driver with its own storage restarts by
    /// reopening it into a new harness.
    pub fn crash_and_restart(&mut self, fresh: P) -> Vec<Effect<P>> {
        assert!(
            self.storage.is_none(),
            "crash_and_restart simulates the in-memory disk; reopen a driver's storage instead"
        );
        self.disk.crash();
        self.node = fresh;
        self.halted = false;
        self.start()
    }
}
