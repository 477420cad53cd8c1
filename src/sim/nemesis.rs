//! The random nemesis: turns fault rates into a concrete timed schedule
//! before the run starts, from the nemesis streams of the seed (one stream
//! per fault kind, so turning one kind off leaves the others' times alone).
//! Each kind runs one fault at a time: a fault, its repair after a drawn
//! duration, then an exponential gap to the next. Repeated and lasting
//! `[[faults]]` entries are drawn here too, each from its own stream.

use super::fault::{FaultAction, NodeRef, Shape, TimedFault};
use super::repeat::FaultTemplate;
use crate::process::NodeId;
use crate::rng::{SimRng, Stream};
use crate::time::{SimDuration, SimTime};

/// How often a kind of fault strikes and how long it lasts.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRate {
    /// Mean gap between the end of one fault and the start of the next.
    pub every: SimDuration,
    /// Shortest duration of one fault.
    pub duration_min: SimDuration,
    /// Longest duration of one fault.
    pub duration_max: SimDuration,
}

/// The partition shapes the nemesis may draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapeKind {
    /// One node against the rest.
    Isolate,
    /// A random minority against the majority.
    Split,
    /// Two halves joined through one node.
    Bridge,
    /// Ring neighbours only.
    Ring,
}

/// The random faults of a scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NemesisConfig {
    /// No random fault starts before this time.
    pub start: SimTime,
    /// Partitions.
    pub partition: Option<FaultRate>,
    /// Shapes drawn for partitions (all four when empty).
    pub shapes: Vec<ShapeKind>,
    /// Probability that a partition is one-way.
    pub one_way: f64,
    /// Crashes (then restarts).
    pub crash: Option<FaultRate>,
    /// Pauses (then resumes).
    pub pause: Option<FaultRate>,
    /// Clock faults (then the clock is set right).
    pub clock: Option<FaultRate>,
    /// Largest clock offset drawn, either way.
    pub skew_max: SimDuration,
    /// Largest drift drawn, either way, in parts per million.
    pub drift_ppm_max: i64,
    /// `[[faults]]` entries that last (`for`) or repeat (`every`): drawn
    /// into timed faults with the rest of the schedule ([`super::repeat`]).
    pub templates: Vec<FaultTemplate>,
}

/// Draws the schedule of random faults for a run on `servers` nodes that
/// injects faults until `until`.
pub fn schedule(
    config: &NemesisConfig,
    seed: u64,
    servers: usize,
    until: SimTime,
) -> Vec<TimedFault> {
    let mut faults: Vec<TimedFault> = config
        .templates
        .iter()
        .flat_map(|t| t.expand(seed, until))
        .collect();
    if servers == 0 {
        faults.sort_by_key(|f| f.at);
        return faults;
    }
    let kinds: [(u32, &Option<FaultRate>); 4] = [
        (0, &config.partition),
        (1, &config.crash),
        (2, &config.pause),
        (3, &config.clock),
    ];
    for (kind, rate) in kinds {
        let Some(rate) = rate else { continue };
        let mut rng = SimRng::new(seed, Stream::Nemesis(kind));
        let mut t = config.start + gap(&mut rng, rate.every);
        let mut count = 0u32;
        while t < until {
            let length = SimDuration::from_nanos(
                rng.between(rate.duration_min.as_nanos(), rate.duration_max.as_nanos()),
            );
            let (start, stop) = actions(kind, count, config, servers, &mut rng);
            faults.push(TimedFault {
                at: t,
                action: start,
            });
            faults.push(TimedFault {
                at: t + length,
                action: stop,
            });
            t = t + length + gap(&mut rng, rate.every);
            count += 1;
        }
    }
    faults.sort_by_key(|f| f.at);
    faults
}

fn gap(rng: &mut SimRng, mean: SimDuration) -> SimDuration {
    let ns = mean.as_nanos() as f64 * rng.standard_exponential();
    SimDuration::from_nanos(ns.min(1e18) as u64)
}

fn any_server(rng: &mut SimRng, servers: usize) -> NodeId {
    NodeId(rng.below(servers as u64) as u32)
}

fn actions(
    kind: u32,
    count: u32,
    config: &NemesisConfig,
    servers: usize,
    rng: &mut SimRng,
) -> (FaultAction, FaultAction) {
    match kind {
        0 => {
            let name = format!("nemesis-{count}");
            let shape = draw_shape(config, servers, rng);
            // Only two-sided shapes can be one-way.
            let one_way =
                rng.chance(config.one_way) && matches!(shape, Shape::Isolate(_) | Shape::Split(_));
            let start = FaultAction::Partition {
                name: name.clone(),
                shape,
                one_way,
            };
            (start, FaultAction::Heal(Some(name)))
        }
        1 => {
            let node = NodeRef::Id(any_server(rng, servers));
            (
                FaultAction::Crash(node.clone()),
                FaultAction::Restart(Some(node)),
            )
        }
        2 => {
            let node = NodeRef::Id(any_server(rng, servers));
            (
                FaultAction::Pause(node.clone()),
                FaultAction::Resume(Some(node)),
            )
        }
        _ => {
            let node = NodeRef::Id(any_server(rng, servers));
            let skew = config.skew_max.as_nanos() as i64;
            let offset_ns = rng.between(0, 2 * skew as u64) as i64 - skew;
            let ppm = config.drift_ppm_max;
            let drift_ppm = rng.between(0, 2 * ppm as u64) as i64 - ppm;
            let set = FaultAction::Clock {
                node: node.clone(),
                offset_ns,
                drift_ppm,
            };
            (
                set,
                FaultAction::Clock {
                    node,
                    offset_ns: 0,
                    drift_ppm: 0,
                },
            )
        }
    }
}

fn draw_shape(config: &NemesisConfig, servers: usize, rng: &mut SimRng) -> Shape {
    const ALL: [ShapeKind; 4] = [
        ShapeKind::Isolate,
        ShapeKind::Split,
        ShapeKind::Bridge,
        ShapeKind::Ring,
    ];
    let shapes = if config.shapes.is_empty() {
        &ALL[..]
    } else {
        &config.shapes[..]
    };
    match shapes[rng.index(shapes.len())] {
        ShapeKind::Isolate => Shape::Isolate(NodeRef::Id(any_server(rng, servers))),
        ShapeKind::Split => {
            let mut ids: Vec<NodeId> = (0..servers as u32).map(NodeId).collect();
            rng.shuffle(&mut ids);
            let mut minority = ids[..(servers - 1) / 2].to_vec();
            minority.sort();
            Shape::Split(Some(minority))
        }
        ShapeKind::Bridge => Shape::Bridge(NodeRef::Id(any_server(rng, servers))),
        ShapeKind::Ring => Shape::Ring,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(every_s: u64) -> Option<FaultRate> {
        Some(FaultRate {
            every: SimDuration::from_secs(every_s),
            duration_min: SimDuration::from_secs(1),
            duration_max: SimDuration::from_secs(2),
        })
    }

    #[test]
    fn kinds_draw_from_their_own_streams() {
        let until = SimTime::from_nanos(100_000_000_000);
        let crashes_only = NemesisConfig {
            crash: rate(5),
            ..Default::default()
        };
        let both = NemesisConfig {
            crash: rate(5),
            partition: rate(7),
            ..Default::default()
        };
        let crash_times = |faults: Vec<TimedFault>| -> Vec<SimTime> {
            faults
                .into_iter()
                .filter(|f| matches!(f.action, FaultAction::Crash(_)))
                .map(|f| f.at)
                .collect()
        };
        let a = crash_times(schedule(&crashes_only, 9, 5, until));
        let b = crash_times(schedule(&both, 9, 5, until));
        assert!(!a.is_empty());
        assert_eq!(a, b, "adding partitions must not move the crashes");
    }

    #[test]
    fn every_fault_is_repaired_and_schedule_is_sorted() {
        let config = NemesisConfig {
            partition: rate(3),
            pause: rate(4),
            ..Default::default()
        };
        let faults = schedule(&config, 1, 5, SimTime::from_nanos(60_000_000_000));
        assert!(faults.windows(2).all(|w| w[0].at <= w[1].at));
        let starts = faults
            .iter()
            .filter(|f| matches!(f.action, FaultAction::Partition { .. }))
            .count();
        let heals = faults
            .iter()
            .filter(|f| matches!(f.action, FaultAction::Heal(_)))
            .count();
        assert_eq!(starts, heals);
        assert!(starts > 3);
    }
}
