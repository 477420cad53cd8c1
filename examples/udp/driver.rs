//! A driver that runs a faultline [`Process`] on a real network: one UDP
//! socket per node on localhost, the machine's clock for `ctx.now()` and
//! timers, and for durable writes either the [`Harness`]'s in-memory disk
//! or a journal file per node ([`Journal`]), which a later run recovers. The
//! process is the code the simulator runs, unchanged: it only ever sees its
//! `Ctx`, so the same state machine runs in both worlds.
//!
//! Messages go on the wire as JSON (`{"from": 1, "msg": ...}`), so the
//! process's `Msg` must serialize and deserialize. `loss` drops that share
//! of outgoing datagrams (drawn from the node's seeded stream) to show the
//! protocol's retransmission at work on a real socket.
#![allow(clippy::disallowed_methods)] // real time is the point of this driver

use super::journal::Journal;
use faultline::process::{Effect, Harness, NodeId, Process, RequestId, TimerId};
use faultline::rng::{SimRng, Stream};
use faultline::time::SimTime;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// The largest datagram a node reads.
const DATAGRAM_MAX: usize = 64 * 1024;

/// How long a node waits for a datagram when no timer is due sooner.
const IDLE_WAIT: Duration = Duration::from_millis(20);

/// A message on the wire: who sent it, and the process's message.
#[derive(Serialize, Deserialize)]
struct Envelope<M> {
    from: u32,
    msg: M,
}

/// What a node did, for the report.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams dropped on purpose (`loss`).
    pub dropped: u64,
    /// Datagrams received and handed to the process.
    pub received: u64,
    /// Timers fired.
    pub timers: u64,
    /// Client requests answered.
    pub replies: u64,
}

/// One process on a UDP socket.
pub struct UdpNode<P: Process> {
    harness: Harness<P>,
    socket: UdpSocket,
    /// Every node's address, by node index.
    addrs: Vec<SocketAddr>,
    /// Pending timers by (due time since start, id).
    timers: BTreeMap<(Duration, u64), (TimerId, P::Timer)>,
    cancelled: BTreeSet<TimerId>,
    started: Instant,
    loss: f64,
    rng: SimRng,
    /// Notes the process made, in order (what the simulator's checks read).
    pub notes: Vec<P::Note>,
    /// What it did.
    pub counts: Counts,
}

impl<P: Process> UdpNode<P>
where
    P::Msg: Serialize + DeserializeOwned,
    P::Stored: Serialize + DeserializeOwned + 'static,
{
    /// Node `me` running `process` on `socket`, its peers at `addrs`; its
    /// durable writes go to the journal at `journal` (recovered first) if
    /// one is given, or to memory.
    pub fn new(
        process: P,
        me: NodeId,
        socket: UdpSocket,
        addrs: Vec<SocketAddr>,
        seed: u64,
        loss: f64,
        journal: Option<&Path>,
    ) -> std::io::Result<Self> {
        let servers = (0..addrs.len() as u32).map(NodeId).collect();
        let mut harness = Harness::new(process, me, servers, seed);
        if let Some(path) = journal {
            let (journal, recovered) = Journal::open(path)?;
            harness = harness.with_storage(Box::new(journal), recovered);
        }
        Ok(UdpNode {
            harness,
            socket,
            addrs,
            timers: BTreeMap::new(),
            cancelled: BTreeSet::new(),
            started: Instant::now(),
            loss,
            rng: SimRng::new(seed.wrapping_add(u64::from(me.0)), Stream::Network),
            notes: Vec::new(),
            counts: Counts::default(),
        })
    }

    /// The process.
    pub fn process(&self) -> &P {
        &self.harness.node
    }

    fn clock(&mut self) {
        let elapsed = self.started.elapsed().as_nanos() as u64;
        self.harness.now = SimTime::from_nanos(elapsed);
    }

    /// Starts the process (`on_start`, with what its disk holds).
    pub fn start(&mut self) -> std::io::Result<()> {
        self.clock();
        let effects = self.harness.start();
        self.carry_out(effects)
    }

    /// Hands the process a client request.
    pub fn request(&mut self, req: RequestId, op: P::Op) -> std::io::Result<()> {
        self.clock();
        let effects = self.harness.request(req, op);
        self.carry_out(effects)
    }

    /// Carries out what a handler asked for, in order.
    fn carry_out(&mut self, effects: Vec<Effect<P>>) -> std::io::Result<()> {
        for effect in effects {
            match effect {
                Effect::Send { to, msg } => self.send(to, msg)?,
                Effect::SetTimer { id, after, timer } => {
                    let due = self.started.elapsed() + Duration::from_nanos(after.as_nanos());
                    self.timers.insert((due, id.0), (id, timer));
                }
                Effect::CancelTimer(id) => {
                    self.cancelled.insert(id);
                }
                Effect::Reply { .. } => self.counts.replies += 1,
                Effect::Note(note) => self.notes.push(note),
            }
        }
        if self.harness.halted() {
            // A failed fsync (or the process's own halt): stop, as a
            // crash would; the supervisor restarts it from its journal.
            return Err(std::io::Error::other(
                "the process halted (a failed sync): restart it from its journal",
            ));
        }
        Ok(())
    }

    fn send(&mut self, to: NodeId, msg: P::Msg) -> std::io::Result<()> {
        if self.loss > 0.0 && self.rng.chance(self.loss) {
            self.counts.dropped += 1;
            return Ok(());
        }
        let envelope = Envelope {
            from: self.harness.me.0,
            msg,
        };
        let bytes = serde_json::to_vec(&envelope).map_err(std::io::Error::other)?;
        self.socket.send_to(&bytes, self.addrs[to.index()])?;
        self.counts.sent += 1;
        Ok(())
    }

    /// Fires every timer that is due (and was not cancelled).
    fn fire_due(&mut self) -> std::io::Result<()> {
        let now = self.started.elapsed();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (id, timer) = entry.remove();
            if self.cancelled.remove(&id) {
                continue;
            }
            self.counts.timers += 1;
            self.clock();
            let effects = self.harness.fire(id, timer);
            self.carry_out(effects)?;
        }
        Ok(())
    }

    /// Waits for one datagram (no longer than the next timer) and hands
    /// it to the process.
    fn receive(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        let now = self.started.elapsed();
        let next_timer = self
            .timers
            .keys()
            .next()
            .map(|(due, _)| due.saturating_sub(now));
        let wait = next_timer
            .unwrap_or(IDLE_WAIT)
            .clamp(Duration::from_millis(1), IDLE_WAIT);
        self.socket.set_read_timeout(Some(wait))?;
        let len = match self.socket.recv(buf) {
            Ok(len) => len,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        let Ok(envelope) = serde_json::from_slice::<Envelope<P::Msg>>(&buf[..len]) else {
            return Ok(()); // not ours: ignore it, as a real server would
        };
        self.counts.received += 1;
        self.clock();
        let effects = self.harness.deliver(NodeId(envelope.from), envelope.msg);
        self.carry_out(effects)
    }

    /// Runs the node until `done` says so (`true`) or `limit` of real time
    /// has passed (`false`).
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&P) -> bool,
    ) -> std::io::Result<bool> {
        let mut buf = vec![0u8; DATAGRAM_MAX];
        while self.started.elapsed() < limit {
            if done(&self.harness.node) {
                return Ok(true);
            }
            self.fire_due()?;
            self.receive(&mut buf)?;
        }
        Ok(done(&self.harness.node))
    }
}

/// Binds `n` UDP sockets on localhost (ports chosen by the system).
pub fn bind_localhost(n: usize) -> std::io::Result<(Vec<UdpSocket>, Vec<SocketAddr>)> {
    let sockets = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    let addrs = sockets
        .iter()
        .map(UdpSocket::local_addr)
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok((sockets, addrs))
}
