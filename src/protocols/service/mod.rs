//! Services under load: client processes send requests to server replicas
//! through their own resilience stack (a load balancer, deadlines, retries
//! with backoff and jitter, a retry budget, a circuit breaker), and the
//! servers queue and serve them with bounded concurrency. Load spikes and
//! gray failures (a replica serving slowly) are the triggers; the checks
//! say whether the service recovers once the trigger ends or stays
//! collapsed (a metastable failure: Bronson et al., HotOS 2021), and
//! whether it met its service levels.
//!
//! The modules: [`policy`] (retry, budget and breaker state machines),
//! [`breakers`] (the breakers' state timeline),
//! [`balancer`], [`health`] (outlier ejection and health checks),
//! [`rotation`] (a balancer with its health and membership views),
//! [`proxy`] (a load-balancing proxy, when clients do not balance
//! themselves), [`discovery`], [`load`] (open-loop arrivals), [`server`],
//! [`client`], [`checks`] and [`options`].

pub mod balancer;
pub mod breakers;
pub mod checks;
pub mod client;
mod def;
pub mod discovery;
pub mod health;
pub mod load;
pub mod options;
pub mod policy;
pub mod proxy;
pub mod rotation;
pub mod server;

pub use checks::{ServiceChecks, CHECKS};
pub use def::Def;
pub use options::ServiceOptions;

use crate::process::{Ctx, Disk, NodeId, OpFields, Process, Protocol, RequestId, TimerId};
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use serde::Serialize;

/// A client-side request id: the client's session (drawn at each start)
/// in the high bits, a counter in the low, so a restarted client never
/// takes a late answer to its former self's request as its own.
pub type CallId = u64;

/// How a server answered an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Served.
    Ok,
    /// Served, but it failed (an injected error).
    Error,
    /// Refused at once: the queue was full.
    Rejected,
    /// Refused after waiting too long (admission control).
    Shed,
}

/// Messages between clients and servers.
#[derive(Clone, Debug, Serialize)]
pub enum Msg {
    /// Client → server: an attempt at a request, with how long the client
    /// will wait for it (the attempt timeout, or less when the request's
    /// deadline comes first), propagated as gRPC propagates deadlines: as a
    /// duration, since clocks differ.
    Request {
        /// The request.
        id: CallId,
        /// Which attempt (0 first).
        attempt: u32,
        /// How long the client waits for the answer.
        budget: SimDuration,
    },
    /// Client → server: a health check.
    Probe {
        /// The probing round.
        seq: u64,
    },
    /// Server → client: the answer to a health check (a shallow one: the
    /// process is up and reachable, however loaded).
    ProbeReply {
        /// The round answered.
        seq: u64,
    },
    /// Replica → registry: register, or renew the registration.
    Register,
    /// Client → registry: which replicas are live?
    Query,
    /// Registry → client: the replicas registered now.
    Members {
        /// Their indices.
        live: Vec<u32>,
    },
    /// Server → client: the answer to an attempt.
    Reply {
        /// The request.
        id: CallId,
        /// The attempt answered.
        attempt: u32,
        /// How it went.
        status: Status,
    },
}

/// Work a server holds: one attempt, from arrival to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Job {
    /// The client.
    pub from: NodeId,
    /// The request.
    pub id: CallId,
    /// The attempt.
    pub attempt: u32,
    /// When it arrived (the server's clock).
    pub arrived: SimTime,
    /// When the client stops waiting for it (the server's clock).
    pub deadline: SimTime,
}

/// Timers.
#[derive(Clone, Debug, Serialize)]
pub enum Timer {
    /// Client: the next open-loop arrival.
    Arrival,
    /// Client: an attempt's timeout.
    AttemptTimeout {
        /// The request.
        id: CallId,
        /// The attempt.
        attempt: u32,
    },
    /// Client: a backoff ended; send the next attempt.
    Retry {
        /// The request.
        id: CallId,
    },
    /// Server: a job's service is done.
    Served(Job),
    /// Client: time to probe every replica.
    Probe,
    /// Replica: time to renew its registration.
    Heartbeat,
    /// Replica: time to tell the checks how much work it held.
    Sample,
    /// Client: time to ask the registry for the live replicas.
    Refresh,
    /// Client or proxy: probes of round `seq` still unanswered have failed.
    ProbeTimeout {
        /// The round.
        seq: u64,
    },
    /// Proxy: the budget of forwarded attempt `id` ran out.
    Forwarded {
        /// The proxy's id of the forward.
        id: CallId,
    },
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Outcome {
    /// Answered successfully before its deadline (goodput).
    Ok,
    /// Its deadline passed first.
    TimedOut,
    /// Its last attempt failed and the retry policy allowed no more.
    Exhausted,
    /// A retry was due but the retry budget was empty.
    BudgetDenied,
    /// The circuit breaker was open: failed fast without a call.
    BreakerOpen,
}

impl Outcome {
    /// Its name in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::TimedOut => "timed_out",
            Outcome::Exhausted => "exhausted",
            Outcome::BudgetDenied => "budget_denied",
            Outcome::BreakerOpen => "breaker_open",
        }
    }
}

/// What processes tell the checks.
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    /// Client: a request ended.
    Finished {
        /// How.
        outcome: Outcome,
        /// From arrival to end (the client's clock).
        latency: SimDuration,
        /// Attempts sent.
        attempts: u32,
    },
    /// Client: an attempt was sent (`retry`: not the first).
    Attempt {
        /// Whether it was a retry.
        retry: bool,
        /// The replica it went to.
        replica: u32,
    },
    /// Client: its view of a replica changed.
    Health {
        /// The replica.
        replica: u32,
        /// How.
        change: health::Change,
    },
    /// Client: one of its breakers moved to another of its three states
    /// (open to half-open happens by itself at the `until` the open
    /// state names, without a note).
    Breaker {
        /// Which breaker: the replica's, per endpoint; 0 for the one of
        /// the whole service.
        endpoint: u32,
        /// Its new state.
        state: policy::BreakerState,
    },
    /// Server: it finished serving a job; `wasted` if the client had
    /// stopped waiting for it (its propagated deadline had passed).
    Served {
        /// Whether the work was wasted.
        wasted: bool,
    },
    /// Server: it answered without serving.
    Refused {
        /// Rejected (queue full) or shed (waited too long).
        status: Status,
    },
    /// Server: the most attempts it held at once (serving and queued)
    /// since its last sample, once per `[service] window`.
    Held {
        /// The most held.
        peak: u32,
    },
    /// Server: it skipped a job whose client had stopped waiting.
    Dropped,
    /// Proxy: it forwarded an attempt to `replica`.
    Forwarded {
        /// The replica.
        replica: u32,
    },
}

/// The one operation of closed-loop users: a call to the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Call;

crate::trace_hash_by_serde!(Msg, Timer, Call, Outcome);

/// A process of the service: a server replica or a client.
#[derive(Debug)]
pub enum ServiceNode {
    /// Nodes `0..nodes`.
    Server(server::Server),
    /// Processes after the servers.
    Client(Box<client::Client>),
    /// The node after the replicas, with `[service.discovery]`.
    Registry(discovery::Registry),
    /// The last server node, with `[service.proxy]`.
    Proxy(Box<proxy::Proxy>),
}

impl Process for ServiceNode {
    type Msg = Msg;
    type Timer = Timer;
    type Op = Call;
    type Res = Outcome;
    type Stored = ();
    type Note = Note;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, _disk: &Disk<()>) {
        match self {
            ServiceNode::Client(c) => c.start(ctx),
            ServiceNode::Server(s) => s.boot(ctx),
            ServiceNode::Proxy(p) => p.start(ctx),
            ServiceNode::Registry(_) => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match (self, msg) {
            (
                ServiceNode::Server(s),
                Msg::Request {
                    id,
                    attempt,
                    budget,
                },
            ) => s.request(ctx, from, id, attempt, budget),
            (ServiceNode::Server(_), Msg::Probe { seq }) => ctx.send(from, Msg::ProbeReply { seq }),
            (ServiceNode::Registry(r), Msg::Register) => r.register(ctx, from),
            (ServiceNode::Registry(r), Msg::Query) => r.query(ctx, from),
            (ServiceNode::Client(c), Msg::Members { live }) => {
                if let Some(rotation) = c.rotation() {
                    rotation.members(&live)
                }
            }
            (ServiceNode::Client(c), Msg::ProbeReply { seq }) => {
                if let Some(rotation) = c.rotation() {
                    rotation.probe_reply(ctx, from, seq)
                }
            }
            (
                ServiceNode::Proxy(p),
                Msg::Request {
                    id,
                    attempt,
                    budget,
                },
            ) => p.request(ctx, from, id, attempt, budget),
            (ServiceNode::Proxy(p), Msg::Reply { id, status, .. }) => {
                p.reply(ctx, from, id, status)
            }
            (ServiceNode::Proxy(p), Msg::Members { live }) => p.rotation().members(&live),
            (ServiceNode::Proxy(p), Msg::ProbeReply { seq }) => {
                p.rotation().probe_reply(ctx, from, seq)
            }
            (
                ServiceNode::Client(c),
                Msg::Reply {
                    id,
                    attempt,
                    status,
                },
            ) => c.reply(ctx, from, id, attempt, status),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, timer: Timer) {
        match (self, timer) {
            (ServiceNode::Server(s), Timer::Served(job)) => s.served(ctx, job),
            (ServiceNode::Server(s), Timer::Heartbeat) => s.heartbeat(ctx),
            (ServiceNode::Server(s), Timer::Sample) => s.sample(ctx),
            (ServiceNode::Client(c), timer) => c.timer(ctx, timer),
            (ServiceNode::Proxy(p), Timer::Forwarded { id }) => p.timed_out(ctx, id),
            (ServiceNode::Proxy(p), timer) => p.rotation().timer(ctx, timer),
            _ => {}
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: RequestId, _op: Call) {
        match self {
            ServiceNode::Client(c) => c.call(ctx, Some(req)),
            ServiceNode::Server(_) | ServiceNode::Registry(_) | ServiceNode::Proxy(_) => {
                ctx.reply_fail(req, Outcome::Exhausted)
            }
        }
    }

    fn role(&self) -> Option<&'static str> {
        Some(match self {
            ServiceNode::Server(_) => "server",
            ServiceNode::Client(_) => "client",
            ServiceNode::Registry(_) => "registry",
            ServiceNode::Proxy(_) => "proxy",
        })
    }

    fn message_kind(msg: &Msg) -> &'static str {
        match msg {
            Msg::Request { .. } => "request",
            Msg::Reply { .. } => "reply",
            Msg::Probe { .. } | Msg::ProbeReply { .. } => "probe",
            Msg::Register | Msg::Query | Msg::Members { .. } => "discovery",
        }
    }
}

/// Roles a scenario fault may name.
pub const ROLES: &[&str] = &["server", "client", "registry", "proxy"];

/// The service bundle: servers, clients and the checks.
pub struct Service {
    options: ServiceOptions,
    servers: usize,
    clients: usize,
    duration: SimDuration,
}

impl Service {
    /// A service of `servers` replicas called by `clients` client
    /// processes, whose open-loop load runs for `duration`.
    pub fn new(
        options: ServiceOptions,
        servers: usize,
        clients: usize,
        duration: SimDuration,
    ) -> Self {
        assert!(
            servers >= 1 && clients >= 1,
            "a service needs a server and a client"
        );
        Service {
            options,
            servers,
            clients,
            duration,
        }
    }
}

impl Protocol for Service {
    type Node = ServiceNode;
    type Invariants = ServiceChecks;

    fn server_count(&self) -> usize {
        self.servers
    }

    fn process_count(&self) -> usize {
        self.servers + self.clients
    }

    fn new_process(&self, id: NodeId) -> ServiceNode {
        let replicas = self.options.replicas(self.servers);
        if let (Some(d), true) = (&self.options.discovery, id.index() == replicas) {
            return ServiceNode::Registry(discovery::Registry::new(d, replicas));
        }
        let proxy = self.options.proxy_node(self.servers);
        if Some(id) == proxy {
            return ServiceNode::Proxy(Box::new(proxy::Proxy::new(&self.options, replicas)));
        }
        if id.index() < replicas {
            return ServiceNode::Server(server::Server::new(&self.options, id, replicas));
        }
        let load = load::Load {
            rate: self.options.rate / self.clients as f64,
            phases: self.options.phases.clone(),
            until: SimTime::ZERO + self.duration,
        };
        ServiceNode::Client(Box::new(client::Client::new(
            &self.options,
            replicas,
            proxy,
            load,
        )))
    }

    fn next_op(&mut self, client: usize, _rng: &mut SimRng) -> (NodeId, Call) {
        (NodeId((self.servers + client) as u32), Call)
    }

    fn invariants(&self) -> ServiceChecks {
        ServiceChecks::new(&self.options, self.duration)
    }

    fn op_fields(&self, _op: &Call) -> OpFields {
        OpFields {
            f: "call".into(),
            key: None,
            value: serde_json::Value::Null,
        }
    }

    fn result_value(&self, _op: &Call, res: &Outcome) -> serde_json::Value {
        serde_json::Value::from(res.name())
    }
}

#[cfg(test)]
mod tests;
