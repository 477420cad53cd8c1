//! Network and node semantics of the engine, observed through a probe
//! protocol that uses only the public API (as a user's protocol would):
//! loss and duplication rates, partitions cutting exactly the directions
//! they name, crash and restart losing volatile and unsynced state but not
//! synced state, drifting clocks, and paused nodes.

use faultline::net::{Latency, LinkConfig, NetworkConfig, SlowMessages};
use faultline::process::{
    Ctx, Disk, DiskKey, EndState, Invariants, NodeId, Process, Protocol, TimerId, Violation,
};
use faultline::rng::SimRng;
use faultline::sim::{
    CrashAfterSend, FaultAction, NodeRef, RunResult, Shape, SimConfig, Simulation, TimedFault,
};
use faultline::time::{SimDuration, SimTime};
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;

/// What the probe does at start.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Plan {
    /// Node 0 sends `n` messages to node 1 at time 0.
    Burst(u64),
    /// Every node sends one message to every other node each `ms`.
    Chatter(u64),
    /// Every node writes its start count synced, a marker unsynced, and
    /// ticks every `ms` (to observe timer rates).
    Tick(u64),
    /// Node 0 sends 10 messages to node 1, which panics at message `n`
    /// (a protocol breaking its own assertion).
    PanicAt(u64),
    /// Chatter every `ms`; a node that restarts after a crash also starts
    /// ten ping-pong chains with node 0 that never stop (a message storm
    /// that outlives the crash that set it off).
    StormAfterRestart(u64),
    /// Every `ms`, asks eight code-level fault points whether they fire.
    Buggify(u64),
}

/// The fault points the `Buggify` plan asks about.
const POINTS: [&str; 8] = [
    "probe.a", "probe.b", "probe.c", "probe.d", "probe.e", "probe.f", "probe.g", "probe.h",
];

#[derive(Clone, Debug, Serialize)]
struct Ping(u64);

faultline::trace_hash_by_serde!(Ping);

#[derive(Clone, Debug)]
enum Note {
    Received {
        from: NodeId,
    },
    Started {
        synced: Option<u64>,
        unsynced: bool,
        volatile: u64,
    },
    Tick {
        local_ns: u64,
    },
    Fired(&'static str),
    Requested,
}

struct Probe {
    plan: Plan,
    volatile: u64,
}

const STARTS: DiskKey = DiskKey::single("starts");
const MARKER: DiskKey = DiskKey::single("marker");

impl Process for Probe {
    type Msg = Ping;
    type Timer = ();
    type Op = ();
    type Res = ();
    type Stored = u64;
    type Note = Note;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>, disk: &Disk<u64>) {
        let synced = disk.get(STARTS).copied();
        ctx.note(Note::Started {
            synced,
            unsynced: disk.get(MARKER).is_some(),
            volatile: self.volatile,
        });
        self.volatile += 1;
        ctx.write(STARTS, synced.unwrap_or(0) + 1);
        ctx.sync();
        ctx.write(MARKER, 1); // never synced: a crash must lose it
        match self.plan {
            Plan::Burst(n) if ctx.me() == NodeId(0) => {
                (0..n).for_each(|i| ctx.send(NodeId(1), Ping(i)))
            }
            Plan::PanicAt(_) if ctx.me() == NodeId(0) => {
                (0..10).for_each(|i| ctx.send(NodeId(1), Ping(i)))
            }
            Plan::Burst(_) | Plan::PanicAt(_) => {}
            Plan::Chatter(ms) | Plan::Tick(ms) => {
                ctx.set_timer(SimDuration::from_millis(ms), ());
            }
            Plan::Buggify(ms) => {
                ctx.set_timer(SimDuration::from_millis(ms), ());
            }
            Plan::StormAfterRestart(ms) => {
                if synced.is_some() && ctx.me() != NodeId(0) {
                    (0..10).for_each(|i| ctx.send(NodeId(0), Ping(i + 1)));
                }
                ctx.set_timer(SimDuration::from_millis(ms), ());
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Ping) {
        if let Plan::PanicAt(n) = self.plan {
            assert!(msg.0 != n, "probe invariant broken by message {n}");
        }
        if matches!(self.plan, Plan::StormAfterRestart(_)) && msg.0 > 0 {
            ctx.send(from, Ping(msg.0)); // pong, forever
        }
        ctx.note(Note::Received { from });
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, req: faultline::process::RequestId, _op: ()) {
        ctx.note(Note::Requested);
        ctx.reply_ok(req, ());
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, _t: ()) {
        let ms = match self.plan {
            Plan::Chatter(ms) | Plan::StormAfterRestart(ms) => {
                ctx.broadcast(Ping(0));
                ms
            }
            Plan::Tick(ms) => {
                let local_ns = ctx.now().as_nanos();
                ctx.note(Note::Tick { local_ns });
                ms
            }
            Plan::Buggify(ms) => {
                for point in POINTS {
                    if ctx.buggify(point) {
                        ctx.note(Note::Fired(point));
                    }
                }
                ms
            }
            Plan::Burst(_) | Plan::PanicAt(_) => return,
        };
        ctx.set_timer(SimDuration::from_millis(ms), ());
    }
}

type Log = Rc<RefCell<Vec<(SimTime, NodeId, Note)>>>;

struct ProbeProtocol {
    plan: Plan,
    nodes: usize,
    log: Log,
}

struct Recorder(Log);

impl Invariants<Probe> for Recorder {
    fn names(&self) -> &'static [faultline::process::CheckInfo] {
        &[]
    }
    fn on_note(&mut self, at: SimTime, node: NodeId, note: &Note) -> Result<(), Violation> {
        self.0.borrow_mut().push((at, node, note.clone()));
        Ok(())
    }
    fn at_end(&mut self, _end: &EndState<'_, Probe>) -> Vec<Violation> {
        Vec::new()
    }
}

impl Protocol for ProbeProtocol {
    type Node = Probe;
    type Invariants = Recorder;
    fn server_count(&self) -> usize {
        self.nodes
    }
    fn new_process(&self, _id: NodeId) -> Probe {
        Probe {
            plan: self.plan,
            volatile: 0,
        }
    }
    fn next_op(&mut self, _client: usize, _rng: &mut SimRng) -> (NodeId, ()) {
        (NodeId(0), ())
    }
    fn invariants(&self) -> Recorder {
        Recorder(self.log.clone())
    }
}

fn run(plan: Plan, nodes: usize, config: SimConfig) -> (RunResult, Vec<(SimTime, NodeId, Note)>) {
    let log = Log::default();
    let protocol = ProbeProtocol {
        plan,
        nodes,
        log: log.clone(),
    };
    let result = Simulation::new(protocol, config).run();
    let notes = log.borrow().clone();
    (result, notes)
}

fn network(loss: f64, duplicate: f64) -> NetworkConfig {
    NetworkConfig {
        default: LinkConfig {
            latency: Latency::Uniform {
                min: SimDuration::from_millis(1),
                max: SimDuration::from_millis(5),
            },
            loss,
            duplicate,
        },
        links: Vec::new(),
        slow: None,
    }
}

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

fn at(time: SimTime, action: FaultAction) -> TimedFault {
    TimedFault { at: time, action }
}

/// `node`'s `Started` notes, with their times.
fn started(notes: &[(SimTime, NodeId, Note)], node: NodeId) -> Vec<(SimTime, &Note)> {
    notes
        .iter()
        .filter(|(_, n, note)| *n == node && matches!(note, Note::Started { .. }))
        .map(|(t, _, note)| (*t, note))
        .collect()
}

fn received(notes: &[(SimTime, NodeId, Note)]) -> usize {
    notes
        .iter()
        .filter(|(_, _, n)| matches!(n, Note::Received { .. }))
        .count()
}

#[test]
fn loss_rate_is_within_statistical_bounds() {
    let n = 20_000u64;
    for seed in 0..3 {
        let config = SimConfig {
            seed,
            network: network(0.1, 0.0),
            duration: SimDuration::from_secs(1),
            ..SimConfig::default()
        };
        let (result, notes) = run(Plan::Burst(n), 2, config);
        // Binomial(20000, 0.9): sd = 42.4; allow 5 sd.
        let got = received(&notes) as f64;
        assert!(
            (got - 18_000.0).abs() < 212.0,
            "seed {seed}: {got} of {n} delivered at 10% loss"
        );
        assert_eq!(result.net.dropped_loss + result.net.delivered, n);
    }
}

#[test]
fn duplication_rate_is_within_statistical_bounds() {
    let n = 20_000u64;
    let config = SimConfig {
        seed: 11,
        network: network(0.0, 0.2),
        duration: SimDuration::from_secs(1),
        ..SimConfig::default()
    };
    let (result, notes) = run(Plan::Burst(n), 2, config);
    let got = received(&notes) as f64;
    // 20000 + Binomial(20000, 0.2): sd = 56.6; allow 5 sd.
    assert!(
        (got - 24_000.0).abs() < 283.0,
        "{got} deliveries at 20% duplication"
    );
    assert_eq!(result.net.duplicated as f64 + n as f64, got);
}

/// Cross-group deliveries inside the partition window, by direction.
fn crossings(
    notes: &[(SimTime, NodeId, Note)],
    from_group: &[u32],
    to_group: &[u32],
    window: (SimTime, SimTime),
) -> usize {
    notes
        .iter()
        .filter(|(t, to, n)| {
            let Note::Received { from } = n else {
                return false;
            };
            *t >= window.0
                && *t < window.1
                && from_group.contains(&from.0)
                && to_group.contains(&to.0)
        })
        .count()
}

#[test]
fn symmetric_partition_blocks_both_directions_between_groups_only() {
    let groups = vec![vec![NodeId(0), NodeId(1)], vec![NodeId(2), NodeId(3)]];
    let faults = vec![
        at(
            secs(1),
            FaultAction::Partition {
                name: "p".into(),
                shape: Shape::Groups(groups),
                one_way: false,
            },
        ),
        at(secs(2), FaultAction::Heal(Some("p".into()))),
    ];
    let config = SimConfig {
        seed: 3,
        network: network(0.0, 0.0),
        faults,
        duration: SimDuration::from_secs(3),
        ..SimConfig::default()
    };
    let (_, notes) = run(Plan::Chatter(10), 4, config);
    let window = (secs(1), secs(2));
    assert_eq!(crossings(&notes, &[0, 1], &[2, 3], window), 0);
    assert_eq!(crossings(&notes, &[2, 3], &[0, 1], window), 0);
    assert!(
        crossings(&notes, &[0], &[1], window) > 50,
        "links inside a group stay open"
    );
    let after = (secs(2) + SimDuration::from_millis(20), secs(3));
    assert!(
        crossings(&notes, &[0, 1], &[2, 3], after) > 50,
        "healing reopens the links"
    );
}

#[test]
fn one_way_partition_cuts_one_direction_only() {
    let faults = vec![at(
        secs(1),
        FaultAction::Partition {
            name: "p".into(),
            shape: Shape::Isolate(NodeRef::Id(NodeId(0))),
            one_way: true,
        },
    )];
    let config = SimConfig {
        seed: 4,
        network: network(0.0, 0.0),
        faults,
        duration: SimDuration::from_secs(2),
        ..SimConfig::default()
    };
    let (_, notes) = run(Plan::Chatter(10), 3, config);
    let window = (secs(1), secs(2));
    assert_eq!(
        crossings(&notes, &[0], &[1, 2], window),
        0,
        "the isolated node is not heard"
    );
    assert!(
        crossings(&notes, &[1, 2], &[0], window) > 100,
        "but it still hears the others"
    );
}

#[test]
fn crash_loses_volatile_and_unsynced_state_but_keeps_synced_state() {
    let faults = vec![
        at(secs(1), FaultAction::Crash(NodeRef::Id(NodeId(1)))),
        at(secs(2), FaultAction::Restart(Some(NodeRef::Id(NodeId(1))))),
    ];
    let config = SimConfig {
        seed: 5,
        network: network(0.0, 0.0),
        faults,
        duration: SimDuration::from_secs(3),
        ..SimConfig::default()
    };
    let (result, notes) = run(Plan::Tick(100), 2, config);
    let starts = started(&notes, NodeId(1));
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert!(matches!(
        starts[0].1,
        Note::Started {
            synced: None,
            unsynced: false,
            volatile: 0
        }
    ));
    // After the restart: the synced start count survived, the unsynced marker
    // and the volatile counter did not.
    assert_eq!(starts[1].0, secs(2));
    assert!(
        matches!(
            starts[1].1,
            Note::Started {
                synced: Some(1),
                unsynced: false,
                volatile: 0
            }
        ),
        "{:?}",
        starts[1]
    );
    let ticks_while_down = notes
        .iter()
        .filter(|(t, node, n)| {
            *node == NodeId(1) && matches!(n, Note::Tick { .. }) && *t > secs(1) && *t < secs(2)
        })
        .count();
    assert_eq!(ticks_while_down, 0, "a crashed node's timers never fire");
    assert!(result.faults.iter().any(|f| f.description == "crash n1"));
}

#[test]
fn drifting_clock_fires_timers_at_the_drifted_rate() {
    let faults = vec![at(
        SimTime::ZERO,
        FaultAction::Clock {
            node: NodeRef::Id(NodeId(0)),
            offset_ns: 500_000_000,
            drift_ppm: 100_000,
        },
    )];
    // 10.05 s, so no tick sits exactly on the end of the run.
    let duration = SimDuration::from_millis(10_050);
    let config = SimConfig {
        seed: 6,
        network: network(0.0, 0.0),
        faults,
        duration,
        ..SimConfig::default()
    };
    let (_, notes) = run(Plan::Tick(100), 2, config);
    let ticks = |node: u32| {
        notes
            .iter()
            .filter(|(_, n, note)| n.0 == node && matches!(note, Note::Tick { .. }))
            .count()
    };
    // 10 s of true time: 100 ticks on a true clock; a clock running 10% fast
    // counts 100 ms of its own in 90.9 ms of true time: 110 ticks.
    assert_eq!(ticks(1), 100);
    assert_eq!(ticks(0), 110);
    let first_tick = notes
        .iter()
        .find(|(_, n, note)| n.0 == 0 && matches!(note, Note::Tick { .. }));
    let Some((true_time, _, Note::Tick { local_ns })) = first_tick else {
        panic!("node 0 never ticked")
    };
    assert_eq!(
        *local_ns,
        500_000_000 + 100_000_000,
        "its clock reads the offset plus its own elapsed time"
    );
    assert!(true_time.as_nanos() < 100_000_000);
}

#[test]
fn paused_node_queues_messages_and_timers_until_resumed() {
    let faults = vec![
        at(secs(1), FaultAction::Pause(NodeRef::Id(NodeId(1)))),
        at(secs(2), FaultAction::Resume(Some(NodeRef::Id(NodeId(1))))),
    ];
    let config = SimConfig {
        seed: 7,
        network: network(0.0, 0.0),
        faults,
        duration: SimDuration::from_secs(3),
        ..SimConfig::default()
    };
    let (result, notes) = run(Plan::Chatter(10), 2, config);
    let to_1 = |lo: SimTime, hi: SimTime| {
        notes
            .iter()
            .filter(|(t, n, note)| {
                n.0 == 1 && matches!(note, Note::Received { .. }) && *t > lo && *t < hi
            })
            .count()
    };
    assert_eq!(to_1(secs(1), secs(2)), 0, "nothing is handled while paused");
    let burst = notes
        .iter()
        .filter(|(t, n, note)| n.0 == 1 && matches!(note, Note::Received { .. }) && *t == secs(2))
        .count();
    assert!(
        burst >= 95,
        "about 100 queued messages are handled on resume, got {burst}"
    );
    assert_eq!(result.net.dropped(), 0);
}

/// A process that panics stops the run with the check `engine.panic`,
/// naming the message, at the time of the event that panicked, instead of
/// taking the whole program down; the run stays deterministic.
#[test]
fn a_panicking_process_fails_the_run_with_engine_panic() {
    faultline::sim::panics::install_quiet_hook();
    let config = || SimConfig {
        duration: SimDuration::from_secs(1),
        ..SimConfig::default()
    };
    let (result, notes) = run(Plan::PanicAt(4), 2, config());
    assert_eq!(result.end_reason, faultline::sim::EndReason::Panic);
    assert_eq!(result.violations.len(), 1, "{:?}", result.violations);
    let v = &result.violations[0];
    assert_eq!(v.check, "engine.panic");
    assert!(
        v.message.contains("probe invariant broken by message 4"),
        "{}",
        v.message
    );
    assert!(
        v.message.contains("tests/engine_semantics.rs:"),
        "{}",
        v.message
    );
    assert!(received(&notes) >= 1 && received(&notes) < 10);
    let (again, _) = run(Plan::PanicAt(4), 2, config());
    assert_eq!(again.trace_hash, result.trace_hash);
}

/// docs/scenarios.md, `[network]`: "a message in flight when a partition
/// starts is lost, like a packet on a cut cable". Node 0 sends 20 messages
/// at time 0 with a 100 ms latency; a partition between the two nodes
/// starts at 50 ms, while they are all in flight.
#[test]
fn a_message_in_flight_when_a_partition_starts_is_lost() {
    let cut = |at_ms: u64| {
        vec![at(
            SimTime::ZERO + SimDuration::from_millis(at_ms),
            FaultAction::Partition {
                name: "p".into(),
                shape: Shape::Groups(vec![vec![NodeId(0)], vec![NodeId(1)]]),
                one_way: false,
            },
        )]
    };
    let config = |faults| SimConfig {
        seed: 1,
        network: NetworkConfig {
            default: LinkConfig {
                latency: Latency::Constant(SimDuration::from_millis(100)),
                loss: 0.0,
                duplicate: 0.0,
            },
            links: Vec::new(),
            slow: None,
        },
        faults,
        duration: SimDuration::from_secs(1),
        ..SimConfig::default()
    };
    let (during, notes) = run(Plan::Burst(20), 2, config(cut(50)));
    assert_eq!(received(&notes), 0, "every message in flight is lost");
    assert_eq!(during.net.dropped_partition, 20);
    // The same partition after the messages arrived loses nothing.
    let (after, notes) = run(Plan::Burst(20), 2, config(cut(150)));
    assert_eq!(received(&notes), 20);
    assert_eq!(after.net.dropped_partition, 0);
}

/// `engine.progress`: work out of proportion after the faults were
/// repaired is a violation, in proportion it holds, and a scenario that
/// leaves the check out of `enabled` only counts it.
#[test]
fn a_storm_that_outlives_its_fault_fails_the_progress_check() {
    let crash_and_restart = vec![
        at(secs(2), FaultAction::Crash(NodeRef::Id(NodeId(1)))),
        at(secs(3), FaultAction::Restart(Some(NodeRef::Id(NodeId(1))))),
    ];
    let config = |enabled: Option<Vec<String>>| SimConfig {
        seed: 3,
        network: network(0.0, 0.0),
        faults: crash_and_restart.clone(),
        duration: SimDuration::from_secs(6),
        settle: SimDuration::from_secs(3),
        enabled_checks: enabled,
        ..SimConfig::default()
    };
    let (calm, _) = run(Plan::Chatter(100), 3, config(None));
    assert!(calm.violations.is_empty(), "{:?}", calm.violations);
    let (storm, _) = run(Plan::StormAfterRestart(100), 3, config(None));
    let checks: Vec<&str> = storm.violations.iter().map(|v| v.check.as_str()).collect();
    assert_eq!(checks, ["engine.progress"], "{:?}", storm.violations);
    assert!(storm.violations[0].message.contains("outlived its faults"));
    let last = storm.metrics["work_last_window_events"]
        .as_u64()
        .unwrap_or(0);
    let baseline = storm.metrics["work_baseline_window_events"]
        .as_u64()
        .unwrap_or(0);
    assert!(last > 10 * baseline, "last {last}, baseline {baseline}");
    let (ignored, _) = run(Plan::StormAfterRestart(100), 3, config(Some(Vec::new())));
    assert!(ignored.violations.is_empty());
    assert_eq!(ignored.ignored_violations.len(), 1);
}

/// `[network.slow]`: a share of messages takes the slow delay instead of
/// the link's, within statistical bounds.
#[test]
fn a_share_of_messages_takes_the_slow_delay() {
    let n = 20_000u64;
    let mut net = network(0.0, 0.0);
    net.default.latency = Latency::Constant(SimDuration::from_millis(1));
    net.slow = Some(SlowMessages {
        share: 0.1,
        latency: Latency::Constant(SimDuration::from_secs(2)),
        kinds: Vec::new(),
    });
    let config = SimConfig {
        seed: 5,
        network: net,
        duration: SimDuration::from_secs(3),
        ..SimConfig::default()
    };
    let (_, notes) = run(Plan::Burst(n), 2, config);
    let late = notes
        .iter()
        .filter(|(t, _, n)| matches!(n, Note::Received { .. }) && *t >= secs(2))
        .count() as f64;
    // Binomial(20000, 0.1): sd = 42.4; allow 5 sd.
    assert!(
        (late - 2_000.0).abs() < 212.0,
        "{late} of {n} slow at a 10% share"
    );
    assert_eq!(received(&notes), n as usize, "slow is late, not lost");
}

/// `Ctx::buggify`: off by default and outside the simulator (a `Harness`
/// never fires a point); on, about half the points are active for the run
/// and an active one fires at the configured rate.
#[test]
fn buggify_points_fire_only_in_a_simulation_with_buggify_on() {
    let fired = |buggify: f64| {
        let config = SimConfig {
            seed: 11,
            buggify,
            duration: SimDuration::from_secs(10),
            ..SimConfig::default()
        };
        let (result, notes) = run(Plan::Buggify(10), 1, config);
        let points: std::collections::BTreeMap<&str, usize> =
            notes.iter().fold(Default::default(), |mut m, (_, _, n)| {
                if let Note::Fired(p) = n {
                    *m.entry(*p).or_default() += 1;
                }
                m
            });
        (result, points)
    };
    let (off, none) = fired(0.0);
    assert!(none.is_empty(), "{none:?}");
    assert!(!off.metrics.contains_key("buggify_fired"));
    let (always, points) = fired(1.0);
    assert!(
        (1..8).contains(&points.len()),
        "some but not all points active: {points:?}"
    );
    for count in points.values() {
        assert!(
            *count >= 999,
            "an active point fires every time at 1.0: {count}"
        );
    }
    assert_eq!(
        always.metrics["buggify_fired"].as_object().map(|m| m.len()),
        Some(8)
    );
    let (_, some) = fired(0.1);
    for count in some.values() {
        assert!(
            (50..150).contains(count),
            "about 100 of 1000 at 0.1: {count}"
        );
    }
    // Outside the simulator: a harness drives the same process, nothing fires.
    let mut h = faultline::process::Harness::new(
        Probe {
            plan: Plan::Buggify(10),
            volatile: 0,
        },
        NodeId(0),
        vec![NodeId(0)],
        11,
    );
    let effects = h.start();
    let timer = effects.iter().find_map(|e| match e {
        faultline::process::Effect::SetTimer { id, .. } => Some(*id),
        _ => None,
    });
    let timer = timer.unwrap_or_else(|| panic!("the probe set no timer"));
    let effects = h.fire(timer, ());
    assert!(effects
        .iter()
        .all(|e| !matches!(e, faultline::process::Effect::Note(Note::Fired(_)))));
}

/// `[storage]`: with every sync lost, the start count the probe synced is
/// gone after a crash; with every crash torn, the unsynced marker (the only
/// pending write) is kept or not as the tear falls, never half-written.
#[test]
fn a_lost_sync_loses_synced_state_at_the_next_crash() {
    let faults = vec![
        at(secs(1), FaultAction::Crash(NodeRef::Id(NodeId(1)))),
        at(secs(2), FaultAction::Restart(Some(NodeRef::Id(NodeId(1))))),
    ];
    let restart_note = |lost_sync: f64| {
        let config = SimConfig {
            seed: 5,
            network: network(0.0, 0.0),
            faults: faults.clone(),
            duration: SimDuration::from_secs(3),
            storage: faultline::sim::StorageFaults {
                lost_sync,
                ..Default::default()
            },
            ..SimConfig::default()
        };
        let (result, notes) = run(Plan::Tick(100), 2, config);
        let restarted = started(&notes, NodeId(1)).get(1).map(|(_, n)| (*n).clone());
        (result, restarted)
    };
    let (lying, after) = restart_note(1.0);
    assert!(
        matches!(after, Some(Note::Started { synced: None, .. })),
        "{after:?}"
    );
    assert!(lying.metrics["storage_syncs_lost"].as_u64().unwrap_or(0) >= 1);
    let (honest, after) = restart_note(0.0);
    assert!(
        matches!(
            after,
            Some(Note::Started {
                synced: Some(1),
                ..
            })
        ),
        "{after:?}"
    );
    assert!(!honest.metrics.contains_key("storage_syncs_lost"));
}

/// `[workload] placement`: fixed, round-robin and random send requests to
/// the listed servers as they say; the protocol's own choice (node 0 for
/// the probe) otherwise.
#[test]
fn placement_sends_requests_where_it_says() {
    use faultline::sim::{Placement, WorkloadConfig};
    let served = |placement: Placement, targets: Vec<NodeId>| {
        let config = SimConfig {
            seed: 2,
            network: network(0.0, 0.0),
            duration: SimDuration::from_secs(2),
            workload: WorkloadConfig {
                clients: 3,
                interval: SimDuration::from_millis(10),
                placement,
                targets,
                ..WorkloadConfig::default()
            },
            ..SimConfig::default()
        };
        let (_, notes) = run(Plan::Tick(1000), 4, config);
        let mut by_node = [0usize; 4];
        for (_, node, n) in &notes {
            if matches!(n, Note::Requested) {
                by_node[node.index()] += 1;
            }
        }
        by_node
    };
    let own = served(Placement::Protocol, Vec::new());
    assert!(own[0] > 0 && own[1..].iter().all(|&n| n == 0), "{own:?}");
    let fixed = served(Placement::Fixed, vec![NodeId(2), NodeId(3)]);
    assert!(
        fixed[0] == 0 && fixed[1] == 0 && fixed[2] > 0 && fixed[3] > 0,
        "{fixed:?}"
    );
    assert!(
        fixed[2] > fixed[3],
        "clients 0 and 2 on n2, client 1 on n3: {fixed:?}"
    );
    let rr = served(Placement::RoundRobin, Vec::new());
    let (lo, hi) = (
        rr.iter().min().copied().unwrap_or(0),
        rr.iter().max().copied().unwrap_or(0),
    );
    assert!(lo > 0 && hi - lo <= 3, "round-robin spreads evenly: {rr:?}");
    let random = served(Placement::Random, vec![NodeId(1), NodeId(3)]);
    assert!(
        random[0] == 0 && random[2] == 0 && random[1] > 100 && random[3] > 100,
        "{random:?}"
    );
}

/// `engine.quiescence`, for protocols that go quiet: a probe that keeps
/// chattering after the liveness phase fails it; one that only ticks holds.
#[test]
fn a_quiet_protocol_that_keeps_sending_fails_quiescence() {
    let config = SimConfig {
        seed: 4,
        network: network(0.0, 0.0),
        duration: SimDuration::from_secs(3),
        settle: SimDuration::from_secs(2),
        quiescent: true,
        ..SimConfig::default()
    };
    let (chatter, _) = run(Plan::Chatter(100), 3, config.clone());
    let checks: Vec<&str> = chatter
        .violations
        .iter()
        .map(|v| v.check.as_str())
        .collect();
    assert_eq!(checks, ["engine.quiescence"], "{:?}", chatter.violations);
    let (quiet, _) = run(Plan::Tick(100), 3, config.clone());
    assert!(quiet.violations.is_empty(), "{:?}", quiet.violations);
    let not_judged = SimConfig {
        quiescent: false,
        ..config
    };
    let (chatter, _) = run(Plan::Chatter(100), 3, not_judged);
    assert!(chatter.violations.is_empty(), "{:?}", chatter.violations);
}

#[test]
fn a_crash_after_send_lets_the_messages_out_and_loses_the_unsynced_state() {
    let config = |probability| SimConfig {
        seed: 3,
        network: network(0.0, 0.0),
        duration: SimDuration::from_millis(20),
        crash_after_send: Some(CrashAfterSend {
            probability,
            kinds: vec!["message".into()],
            down_min: SimDuration::from_millis(7),
            down_max: SimDuration::from_millis(7),
            start: SimTime::ZERO,
        }),
        ..SimConfig::default()
    };
    // Node 0 sends three pings as it starts, so each of its starts ends in
    // a crash (at probability 1) and a restart 7 ms later; node 1 sends
    // nothing and never crashes.
    let (result, notes) = run(Plan::Burst(3), 2, config(1.0));
    let ms = |t: u64| t / 1_000_000;
    let crashes: Vec<(u64, &str)> = result
        .faults
        .iter()
        .filter(|f| f.description.contains("crash"))
        .map(|f| (ms(f.time_ns), f.description.as_str()))
        .collect();
    assert_eq!(
        crashes,
        [
            (0, "crash n0 right after it sent message"),
            (7, "crash n0 right after it sent message"),
            (14, "crash n0 right after it sent message"),
        ]
    );
    let restarts: Vec<u64> = result
        .faults
        .iter()
        .filter(|f| f.description == "restart n0")
        .map(|f| ms(f.time_ns))
        .collect();
    assert_eq!(
        restarts,
        [7, 14],
        "the third restart is the liveness phase's"
    );
    // Every ping went out before its sender crashed.
    assert_eq!(received(&notes), 9);
    // The start count was synced before the sends and survives each crash;
    // the marker written after the sync does not.
    let starts: Vec<&Note> = started(&notes, NodeId(0))
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert!(
        matches!(
            starts[1],
            Note::Started {
                synced: Some(1),
                unsynced: false,
                volatile: 0
            }
        ),
        "{starts:?}"
    );
    let (calm, _) = run(Plan::Burst(3), 2, config(0.0));
    assert!(calm.faults.iter().all(|f| !f.description.contains("crash")));
}

/// `[storage] failed_sync`: a sync that fails halts the process (what it
/// does after the failed sync never takes effect, its unsynced writes are
/// lost) and it restarts 10 ms later; failed syncs stop with the liveness
/// phase, so the node's pings go out then, and only then.
#[test]
fn a_failed_sync_halts_the_process_and_it_restarts_from_its_disk() {
    let config = SimConfig {
        seed: 2,
        network: network(0.0, 0.0),
        duration: SimDuration::from_millis(50),
        settle: SimDuration::from_millis(100),
        storage: faultline::sim::StorageFaults {
            failed_sync: 1.0,
            ..Default::default()
        },
        ..SimConfig::default()
    };
    let (result, notes) = run(Plan::Burst(3), 2, config);
    let halts: Vec<u64> = result
        .faults
        .iter()
        .filter(|f| f.description == "crash n0: it halted (a failed sync)")
        .map(|f| f.time_ns / 1_000_000)
        .collect();
    assert_eq!(
        halts,
        [0, 10, 20, 30, 40],
        "every start until the liveness phase"
    );
    let starts: Vec<&Note> = started(&notes, NodeId(0))
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert!(
        starts[..5]
            .iter()
            .all(|n| matches!(n, Note::Started { synced: None, .. })),
        "no start count was ever durable: {starts:?}"
    );
    let pings: Vec<u64> = notes
        .iter()
        .filter(|(_, node, n)| *node == NodeId(1) && matches!(n, Note::Received { .. }))
        .map(|(t, _, _)| t.as_nanos() / 1_000_000)
        .collect();
    assert_eq!(pings.len(), 3, "one burst, after failed syncs stopped");
    assert!(pings.iter().all(|&ms| ms >= 50), "{pings:?}");
    assert!(result.metrics["storage_syncs_failed"].as_u64().unwrap_or(0) >= 5);
}

/// Outside the simulator too: a harness whose storage fails a sync drops
/// what the handler did after it and says the process halted.
#[test]
fn a_harness_whose_sync_fails_reports_the_halt() {
    let probe = Probe {
        plan: Plan::Burst(3),
        volatile: 0,
    };
    let mut h = faultline::process::Harness::new(probe, NodeId(0), vec![NodeId(0), NodeId(1)], 1)
        .with_storage(
            Box::new(RecordingStorage(Default::default())),
            Disk::default(),
        );
    let effects = h.start();
    assert!(h.halted());
    assert_eq!(
        effects.len(),
        1,
        "the note before the sync, no ping after it"
    );
}

/// Storage that fails its first sync (as a driver's would on a dying
/// disk) and records what reaches it.
struct RecordingStorage(std::sync::Arc<std::sync::Mutex<(Vec<DiskKey>, u32)>>);

impl faultline::process::Storage<u64> for RecordingStorage {
    fn write(&mut self, key: DiskKey, _value: u64) {
        self.0.lock().expect("not poisoned").0.push(key);
    }
    fn delete(&mut self, _key: DiskKey) {}
    fn delete_range(&mut self, _space: &'static str, _from: u64, _to: u64) {}
    fn sync(&mut self) -> Result<(), faultline::process::SyncFailed> {
        let mut seen = self.0.lock().expect("not poisoned");
        seen.1 += 1;
        match seen.1 {
            1 => Err(faultline::process::SyncFailed),
            _ => Ok(()),
        }
    }
}

/// A halted process's disk is out of reach: the write it makes after the
/// failed sync never reaches the storage, and no later sync could make it
/// durable behind the checks' back.
#[test]
fn a_halted_process_neither_writes_nor_syncs() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new((Vec::new(), 0)));
    let probe = Probe {
        plan: Plan::Tick(10),
        volatile: 0,
    };
    let mut h = faultline::process::Harness::new(probe, NodeId(1), vec![NodeId(0), NodeId(1)], 1)
        .with_storage(Box::new(RecordingStorage(seen.clone())), Disk::default());
    let effects = h.start();
    assert!(h.halted());
    assert_eq!(effects.len(), 1, "the Started note, no timer");
    let (writes, syncs) = seen.lock().expect("not poisoned").clone();
    assert_eq!(writes, [STARTS], "the marker written after the halt is not");
    assert_eq!(syncs, 1);
}
