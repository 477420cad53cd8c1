//! A Raft client: a simulated process on the same faulty network as the
//! servers. It takes one workload operation at a time, finds the leader
//! (following `NotLeader` hints, else trying servers in turn), retries on
//! its own timeout, and answers the workload only once it knows the outcome.
//!
//! Invariants: a command keeps one `(session, seq)` across all its retries,
//! so the state machine applies it at most once; `seq` only grows within a
//! session, and a restarted client opens a new session (its counter is
//! synced to disk before use), so sequence numbers never repeat in a session.
//!
//! Any protocol whose servers answer [`Answer`]s to numbered commands of
//! sessions (Raft's, Multi-Paxos's) uses it through [`SessionWire`].

use super::kv::{self, KvOp, KvRes};
use super::messages::{Answer, Msg, Stored, Timer};
use super::RaftNode;
use super::WorkloadOptions;
use crate::process::{Ctx, Disk, DiskKey, NodeId, Process, RequestId, TimerId};
use crate::rng::SimRng;
use crate::sim::Placement;
use crate::time::{SimDuration, SimTime};
use std::marker::PhantomData;
use std::rc::Rc;

type CCtx<'a, 'b, P> = &'a mut Ctx<'b, P>;

/// What a session client needs of its protocol's process type: how a
/// command and an answer travel, its retry timer, its session counter on
/// disk.
pub trait SessionWire: Process<Op = KvOp, Res = KvRes> {
    /// Command `seq` of `session`.
    fn request(session: u64, seq: u64, op: Rc<KvOp>) -> Self::Msg;
    /// The command number and outcome `msg` answers, if it is an answer.
    fn answer(msg: Self::Msg) -> Option<(u64, Answer)>;
    /// The client's retry timer.
    fn retry_timer() -> Self::Timer;
    /// Whether `timer` is the client's retry timer.
    fn is_retry_timer(timer: &Self::Timer) -> bool;
    /// The session counter as stored.
    fn session_record(count: u64) -> Self::Stored;
    /// The session counter `stored` holds, if it is one.
    fn session_count(stored: &Self::Stored) -> Option<u64>;
}

impl SessionWire for RaftNode {
    fn request(session: u64, seq: u64, op: Rc<KvOp>) -> Msg {
        Msg::Request { session, seq, op }
    }
    fn answer(msg: Msg) -> Option<(u64, Answer)> {
        match msg {
            Msg::Response { seq, outcome } => Some((seq, outcome)),
            _ => None,
        }
    }
    fn retry_timer() -> Timer {
        Timer::ClientRetry
    }
    fn is_retry_timer(timer: &Timer) -> bool {
        *timer == Timer::ClientRetry
    }
    fn session_record(count: u64) -> Stored {
        Stored::Session(count)
    }
    fn session_count(stored: &Stored) -> Option<u64> {
        match stored {
            Stored::Session(n) => Some(*n),
            _ => None,
        }
    }
}

const SESSION: DiskKey = DiskKey::single("session");
/// Sessions of one client process are `id * SESSIONS_PER_CLIENT + n`.
const SESSIONS_PER_CLIENT: u64 = 1 << 20;

/// The operation a client is working on.
#[derive(Clone, Debug)]
struct Pending {
    req: RequestId,
    seq: u64,
    op: Rc<KvOp>,
    /// Whether the armed timer is a short back-off (resend to the same
    /// guess) rather than a timeout (try the next server).
    backoff: bool,
}

/// A client process of protocol `P` (Raft's by default).
pub struct Client<P = RaftNode> {
    servers: usize,
    retry: SimDuration,
    session: u64,
    seq: u64,
    leader: NodeId,
    pending: Option<Pending>,
    /// The armed retry timer and when it fires (on this client's clock).
    /// One timer at a time: a new attempt only moves `deadline`, and a timer
    /// that fires before the deadline re-arms itself for the rest, so an
    /// answered request leaves no timer event behind.
    timer: Option<(TimerId, SimTime)>,
    /// When the current attempt times out (or its back-off ends).
    deadline: SimTime,
    /// Where each request goes first (`[workload] placement`); from there
    /// the client follows hints to the leader.
    placement: Placement,
    /// The servers placement picks among (empty: leader-seeking only).
    targets: Vec<NodeId>,
    /// Requests placed so far (round-robin).
    placed: u64,
    wire: PhantomData<P>,
}

impl<P: SessionWire> Client<P> {
    /// A client of `servers` servers that retries after `retry`.
    pub fn new(servers: usize, retry: SimDuration) -> Self {
        Client {
            servers,
            retry,
            session: 0,
            seq: 0,
            leader: NodeId(0),
            pending: None,
            timer: None,
            deadline: SimTime::ZERO,
            placement: Placement::Protocol,
            targets: Vec::new(),
            placed: 0,
            wire: PhantomData,
        }
    }

    /// The same client, sending each request first where `placement`
    /// picks among `targets`.
    pub fn with_placement(mut self, placement: Placement, targets: Vec<NodeId>) -> Self {
        self.placement = placement;
        self.targets = targets;
        self
    }

    /// Points the next request at the server placement picks; with
    /// `protocol` placement (or no targets) the last known leader stays.
    fn place(&mut self, ctx: CCtx<P>) {
        let n = self.targets.len();
        if n == 0 {
            return;
        }
        let client = ctx.me().index().saturating_sub(self.servers);
        let Some(pick) = self.placement.pick(client, self.placed, n, ctx.rng()) else {
            return;
        };
        self.placed += 1;
        self.leader = self.targets[pick];
    }

    /// The operation still waiting for an outcome, if any.
    pub fn pending(&self) -> Option<&KvOp> {
        self.pending.as_ref().map(|p| &*p.op)
    }

    /// Opens a new session.
    pub fn start(&mut self, ctx: CCtx<P>, disk: &Disk<P::Stored>) {
        let count = match disk.get(SESSION).and_then(P::session_count) {
            Some(n) => n + 1,
            None => 0,
        };
        ctx.write(SESSION, P::session_record(count));
        ctx.sync();
        self.session = u64::from(ctx.me().0) * SESSIONS_PER_CLIENT + count;
        self.leader = NodeId(ctx.me().0 % self.servers as u32);
    }

    /// A new workload operation; any older one is abandoned (the workload
    /// timed it out, and its outcome stays unknown).
    pub fn on_request(&mut self, ctx: CCtx<P>, req: RequestId, op: KvOp) {
        self.seq += 1;
        self.pending = Some(Pending {
            req,
            seq: self.seq,
            op: Rc::new(op),
            backoff: false,
        });
        self.place(ctx);
        self.transmit(ctx);
    }

    fn transmit(&mut self, ctx: CCtx<P>) {
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        p.backoff = false;
        let msg = P::request(self.session, p.seq, Rc::clone(&p.op));
        ctx.send(self.leader, msg);
        self.retry_after(ctx, self.retry);
    }

    /// Moves the retry deadline to `after` from now, arming a timer unless
    /// one already fires by then.
    fn retry_after(&mut self, ctx: CCtx<P>, after: SimDuration) {
        self.deadline = ctx.now() + after;
        match self.timer {
            Some((_, fires)) if fires <= self.deadline => {}
            Some((id, _)) => {
                ctx.cancel_timer(id);
                self.arm(ctx, after);
            }
            None => self.arm(ctx, after),
        }
    }

    fn arm(&mut self, ctx: CCtx<P>, after: SimDuration) {
        let id = ctx.set_timer(after, P::retry_timer());
        self.timer = Some((id, ctx.now() + after));
    }

    fn next_server(&mut self) {
        self.leader = NodeId((self.leader.0 + 1) % self.servers as u32);
    }

    /// A server answered.
    pub fn on_message(&mut self, ctx: CCtx<P>, from: NodeId, msg: P::Msg) {
        let Some((seq, outcome)) = P::answer(msg) else {
            return;
        };
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        if p.seq != seq {
            return; // an answer to an abandoned or already answered command
        }
        match outcome {
            Answer::Applied(res) => self.finish(ctx, res),
            Answer::NotLeader { hint: Some(h) } if h != from => {
                self.leader = h;
                self.transmit(ctx);
            }
            Answer::NotLeader { .. } => {
                // No leader known there: try the next server after a short pause.
                p.backoff = true;
                self.next_server();
                self.retry_after(ctx, SimDuration::from_nanos(self.retry.as_nanos() / 8));
            }
        }
    }

    fn finish(&mut self, ctx: CCtx<P>, res: KvRes) {
        let Some(p) = self.pending.take() else {
            return;
        };
        match res {
            KvRes::CasFailed => ctx.reply_fail(p.req, res),
            KvRes::Stale => panic!("the current command of a session was answered as stale"),
            res => ctx.reply_ok(p.req, res),
        }
    }

    /// A retry timer fired.
    pub fn on_timer(&mut self, ctx: CCtx<P>, id: TimerId, timer: P::Timer) {
        if !P::is_retry_timer(&timer) || self.timer.map(|(armed, _)| armed) != Some(id) {
            return;
        }
        self.timer = None;
        let Some(p) = self.pending.as_ref() else {
            return;
        };
        let now = ctx.now();
        if now < self.deadline {
            return self.arm(ctx, self.deadline.saturating_since(now));
        }
        if !p.backoff {
            self.next_server();
        }
        self.transmit(ctx);
    }
}

/// The client side a key-value protocol with session clients shares
/// (Raft's, Multi-Paxos's): servers are processes `0..servers`, client
/// processes follow them, workload client `c` talks to process
/// `servers + c`, and each request goes first where `[workload]
/// placement` says.
#[derive(Debug)]
pub struct ClientSide {
    servers: usize,
    clients: usize,
    retry: SimDuration,
    workload: kv::Workload,
    placement: Placement,
    /// The servers placement picks among.
    targets: Vec<NodeId>,
}

impl ClientSide {
    /// `clients` client processes of `servers` servers, running `workload`.
    pub fn new(servers: usize, clients: usize, workload: &WorkloadOptions) -> Self {
        ClientSide {
            servers,
            clients,
            retry: workload.client_retry,
            workload: kv::Workload::new(workload),
            placement: Placement::Protocol,
            targets: Vec::new(),
        }
    }

    /// The same, its clients sending each request first to the server
    /// `placement` picks among `targets` (every server when empty); they
    /// then follow `NotLeader` hints to the leader as always.
    pub fn with_placement(mut self, placement: Placement, targets: &[NodeId]) -> Self {
        self.placement = placement;
        self.targets = match targets {
            [] => (0..self.servers as u32).map(NodeId).collect(),
            some => some.to_vec(),
        };
        self
    }

    /// Number of servers.
    pub fn servers(&self) -> usize {
        self.servers
    }

    /// Number of processes: servers and clients.
    pub fn process_count(&self) -> usize {
        self.servers + self.clients
    }

    /// A new client process.
    pub fn client<P: SessionWire>(&self) -> Client<P> {
        Client::new(self.servers, self.retry).with_placement(self.placement, self.targets.clone())
    }

    /// Workload client `client`'s next operation and the process it goes to.
    pub fn next_op(&mut self, client: usize, rng: &mut SimRng) -> (NodeId, KvOp) {
        let op = self.workload.next_op(client, rng);
        (NodeId((self.servers + client) as u32), op)
    }
}
