//! One process running inside another: a protocol built from others (a
//! sharded store whose configuration service and replica groups are Raft
//! groups) runs each embedded process's handlers through a context of
//! its own, in which the embedded process sees its own node ids (`0..n`
//! for its group), messages, timers, disk values and notes, and carries
//! what it did out as the outer process's effects.
//!
//! Invariants: the embedded process's effects become the outer process's
//! in the order they were made, one for one; timer ids come from the
//! outer process's counter, so a fired timer can be routed back by id; a
//! halt inside (a failed sync, say) halts the outer process at the same
//! point.

use super::{Ctx, Disk, DiskKey, Effect, NodeId, Process, Storage, SyncFailed};

/// How an embedded process `Q` maps onto the process `P` it runs inside:
/// its node ids and the outer ones, and each of its types into `P`'s.
pub trait Embedding<P: Process, Q: Process> {
    /// The embedded process's own id.
    fn me(&self) -> NodeId;
    /// The embedded process's server ids (its group, in its own ids).
    fn servers(&self) -> &[NodeId];
    /// The outer id of the embedded process's node `inner`.
    fn outer(&self, inner: NodeId) -> NodeId;
    /// An embedded message as an outer one.
    fn msg(&self, msg: Q::Msg) -> P::Msg;
    /// An embedded timer as an outer one.
    fn timer(&self, timer: Q::Timer) -> P::Timer;
    /// An embedded disk value as an outer one.
    fn stored(&self, value: Q::Stored) -> P::Stored;
    /// An embedded note as an outer one.
    fn note(&self, note: Q::Note) -> P::Note;
    /// An embedded client answer as an outer one.
    fn res(&self, res: Q::Res) -> P::Res;
}

/// The outer process's storage, seen by the embedded process.
struct Mapped<'s, 'm, P: Process, Q: Process, E: Embedding<P, Q>> {
    outer: &'s mut dyn Storage<P::Stored>,
    embedding: &'m E,
    _types: std::marker::PhantomData<fn(Q)>,
}

impl<P: Process, Q: Process, E: Embedding<P, Q>> Storage<Q::Stored> for Mapped<'_, '_, P, Q, E> {
    fn write(&mut self, key: DiskKey, value: Q::Stored) {
        self.outer.write(key, self.embedding.stored(value));
    }
    fn delete(&mut self, key: DiskKey) {
        self.outer.delete(key);
    }
    fn delete_range(&mut self, space: &'static str, from: u64, to: u64) {
        self.outer.delete_range(space, from, to);
    }
    fn sync(&mut self) -> Result<(), SyncFailed> {
        self.outer.sync()
    }
}

impl<'a, P: Process> Ctx<'a, P> {
    /// Runs `handler` (an embedded process's handler) in a context of its
    /// own, as `embedding` says, and records what it did as this
    /// process's effects. Disk writes go through to this process's disk;
    /// a halt inside halts this process.
    pub fn nested<Q: Process, E: Embedding<P, Q>, R>(
        &mut self,
        embedding: &E,
        handler: impl FnOnce(&mut Ctx<'_, Q>) -> R,
    ) -> R {
        let mut effects: Vec<Effect<Q>> = Vec::new();
        let mut storage = Mapped::<P, Q, E> {
            outer: &mut *self.storage,
            embedding,
            _types: std::marker::PhantomData,
        };
        let mut inner = Ctx {
            me: embedding.me(),
            now: self.now,
            servers: embedding.servers(),
            rng: &mut *self.rng,
            storage: &mut storage,
            effects: &mut effects,
            next_timer: &mut *self.next_timer,
            buggify: self.buggify.as_deref_mut(),
            halted: self.halted.map(|(_, why)| (0, why)),
        };
        let result = handler(&mut inner);
        let halted = inner.halted;
        let before = self.effects.len();
        if let (None, Some((at, why))) = (self.halted, halted) {
            self.halted = Some((before + at, why));
        }
        self.effects
            .extend(effects.into_iter().map(|effect| match effect {
                Effect::Send { to, msg } => Effect::Send {
                    to: embedding.outer(to),
                    msg: embedding.msg(msg),
                },
                Effect::SetTimer { id, after, timer } => Effect::SetTimer {
                    id,
                    after,
                    timer: embedding.timer(timer),
                },
                Effect::CancelTimer(id) => Effect::CancelTimer(id),
                Effect::Reply { req, ok, res } => Effect::Reply {
                    req,
                    ok,
                    res: embedding.res(res),
                },
                Effect::Note(note) => Effect::Note(embedding.note(note)),
            }));
        result
    }
}

impl<V: Clone> Disk<V> {
    /// The durable values an embedded process stored here, as its own:
    /// what `keep` maps (unsynced changes are left out, as a restart
    /// would).
    pub fn project<W: Clone>(&self, keep: impl Fn(&V) -> Option<W>) -> Disk<W> {
        let mut projected = Disk::default();
        for (name, part, values) in self.durable_spaces() {
            for (index, value) in values {
                if let Some(value) = keep(value) {
                    projected.write(
                        DiskKey {
                            space: name,
                            part,
                            index,
                        },
                        value,
                    );
                }
            }
        }
        projected.sync();
        projected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{Harness, RequestId, TimerId};
    use crate::time::SimDuration;

    /// The embedded process: on a message it writes, syncs, sends to its
    /// node 1, sets a timer; on message 0 it halts first.
    struct Inner;

    impl Process for Inner {
        type Msg = u64;
        type Timer = ();
        type Op = ();
        type Res = u64;
        type Stored = u64;
        type Note = u64;
        fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<u64>) {
            let seen = disk.get(DiskKey::single("seen")).copied().unwrap_or(0);
            ctx.note(seen);
        }
        fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: u64) {
            if msg == 0 {
                ctx.halt();
            }
            ctx.write(DiskKey::single("seen"), msg);
            ctx.sync();
            ctx.send(NodeId(1), u64::from(from.0) * 100 + msg);
            ctx.set_timer(SimDuration::from_millis(5), ());
            ctx.note(u64::from(ctx.me().0));
        }
        fn on_timer(&mut self, _ctx: &mut Ctx<'_, Self>, _id: TimerId, _timer: ()) {}
        fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, _op: ()) {
            ctx.reply_ok(req, 7);
        }
    }

    /// The outer process: the inner one as member 1 of a group at 3..6,
    /// its values and notes shifted by 1000.
    struct Outer(Inner, Members);

    struct Members(Vec<NodeId>);

    impl Embedding<Outer, Inner> for Members {
        fn me(&self) -> NodeId {
            NodeId(1)
        }
        fn servers(&self) -> &[NodeId] {
            &self.0
        }
        fn outer(&self, inner: NodeId) -> NodeId {
            NodeId(inner.0 + 3)
        }
        fn msg(&self, msg: u64) -> String {
            format!("inner {msg}")
        }
        fn timer(&self, _timer: ()) -> u8 {
            9
        }
        fn stored(&self, value: u64) -> u64 {
            value + 1000
        }
        fn note(&self, note: u64) -> u64 {
            note + 1000
        }
        fn res(&self, res: u64) -> u64 {
            res + 1000
        }
    }

    impl Process for Outer {
        type Msg = String;
        type Timer = u8;
        type Op = ();
        type Res = u64;
        type Stored = u64;
        type Note = u64;
        fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<u64>) {
            let own = disk.project(|v| v.checked_sub(1000));
            let Outer(inner, members) = self;
            ctx.nested(members, |c| inner.on_start(c, &own));
        }
        fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: String) {
            ctx.note(1);
            let value = msg.parse().expect("a number");
            let Outer(inner, members) = self;
            let from = NodeId(from.0 - 3);
            ctx.nested(members, |c| inner.on_message(c, from, value));
        }
        fn on_timer(&mut self, _ctx: &mut Ctx<'_, Self>, _id: TimerId, _timer: u8) {}
        fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, op: ()) {
            let Outer(inner, members) = self;
            ctx.nested(members, |c| inner.on_request(c, req, op));
        }
    }

    fn harness() -> Harness<Outer> {
        let members = Members((0..3).map(NodeId).collect());
        Harness::new(Outer(Inner, members), NodeId(4), Vec::new(), 1)
    }

    #[test]
    fn the_embedded_process_acts_in_its_own_ids_and_types() {
        let mut h = harness();
        let effects = h.deliver(NodeId(5), "7".into());
        assert_eq!(
            Effect::sends(&effects),
            vec![(NodeId(4), "inner 207".to_string())]
        );
        assert_eq!(
            Effect::notes(&effects),
            vec![1, 1001],
            "its own note after the outer's"
        );
        assert!(effects
            .iter()
            .any(|e| matches!(e, Effect::SetTimer { timer: 9, .. })));
        assert_eq!(h.disk.get(DiskKey::single("seen")), Some(&1007));
        // A restart reads back what the embedded process stored, as its own.
        let effects = h.crash_and_restart(Outer(Inner, Members((0..3).map(NodeId).collect())));
        assert_eq!(Effect::notes(&effects), vec![1007]);
    }

    #[test]
    fn a_halt_inside_halts_the_outer_process_where_it_happened() {
        let mut h = harness();
        let effects = h.deliver(NodeId(5), "0".into());
        assert!(h.halted(), "the embedded halt reaches the outer process");
        assert_eq!(
            Effect::notes(&effects),
            vec![1],
            "nothing after the halt takes effect"
        );
        assert_eq!(h.disk.get(DiskKey::single("seen")), None);
    }

    #[test]
    fn replies_are_mapped() {
        let mut h = harness();
        let effects = h.request(RequestId(3), ());
        assert!(effects.iter().any(|e| matches!(
            e,
            Effect::Reply {
                res: 1007,
                ok: true,
                ..
            }
        )));
    }
}
