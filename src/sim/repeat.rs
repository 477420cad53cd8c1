//! Faults that last and faults that repeat: a `[[faults]]` entry with
//! `for` (undone after that long) and `every` (repeated, `count` times or
//! `until` a time, each start moved by up to `jitter`). "Isolate the
//! leader for 1-2 s every 5 s" is one entry.
//!
//! Like the nemesis, a template becomes plain timed faults before the run,
//! drawn from its own stream of the seed (one per entry, so adding an
//! entry leaves the others' draws alone): the schedule is data, and a
//! shrunk or guided run writes it out as ordinary faults. Each repetition
//! is its own episode: a partition named `p` becomes `p#0`, `p#1`, ...,
//! healed by its own undo; a crash, pause or clock fault remembers the
//! node it hit as `name#k` ([`NodeRef::Named`]), and its undo restarts,
//! resumes or resets that node ([`NodeRef::HitBy`]), whatever role it had.

use super::fault::{FaultAction, NodeRef, TimedFault};
use crate::rng::{SimRng, Stream};
use crate::time::{SimDuration, SimTime};

/// Most episodes one template may expand to (validation refuses more).
pub const MAX_EPISODES: u64 = 100_000;

/// How a template repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repeat {
    /// Time from one start to the next (before jitter).
    pub every: SimDuration,
    /// At most this many episodes (`None`: until `until` or the end of
    /// the fault phase).
    pub count: Option<u64>,
    /// No episode starts at or after this time (`None`: the end of the
    /// fault phase).
    pub until: Option<SimTime>,
    /// Each start moves later by a draw from `[0, jitter]`.
    pub jitter: SimDuration,
}

/// A `[[faults]]` entry that lasts (`lasting`) or repeats (`repeat`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultTemplate {
    /// When the first episode starts.
    pub at: SimTime,
    /// What each episode does.
    pub action: FaultAction,
    /// The name episodes are numbered from (`p` gives `p#0`, `p#1`, ...).
    pub name: String,
    /// How long each episode lasts before it is undone: a duration drawn
    /// from `[min, max]` (`None`: never undone by the template).
    pub lasting: Option<(SimDuration, SimDuration)>,
    /// How it repeats (`None`: once).
    pub repeat: Option<Repeat>,
    /// Its own stream: the entry's position among the scenario's entries.
    pub stream: u32,
}

/// The stream numbers of templates start here, clear of the nemesis'
/// fault kinds (0 to 3) and the engine's own (`u32::MAX`).
pub const STREAM_BASE: u32 = 1 << 16;

impl FaultTemplate {
    /// The episodes' start times, in order, before `until`.
    fn starts(&self, rng: &mut SimRng, until: SimTime) -> Vec<SimTime> {
        let Some(r) = &self.repeat else {
            return if self.at < until {
                vec![self.at]
            } else {
                Vec::new()
            };
        };
        let stop = r.until.map_or(until, |u| u.min(until));
        let mut starts = Vec::new();
        for k in 0..r.count.unwrap_or(MAX_EPISODES).min(MAX_EPISODES) {
            let nominal = self.at + SimDuration::from_nanos(r.every.as_nanos().saturating_mul(k));
            let jitter = SimDuration::from_nanos(rng.between(0, r.jitter.as_nanos()));
            let t = nominal + jitter;
            if nominal >= stop || t >= stop {
                break;
            }
            starts.push(t);
        }
        starts
    }

    /// The label of episode `k`.
    fn label(&self, k: usize) -> String {
        match self.repeat {
            Some(_) => format!("{}#{k}", self.name),
            None => self.name.clone(),
        }
    }

    /// Episode `k`'s fault and, when it lasts, the fault that undoes it.
    fn episode(&self, k: usize) -> (FaultAction, Option<FaultAction>) {
        let label = self.label(k);
        let lasts = self.lasting.is_some();
        let named = |node: &NodeRef| match lasts {
            true => NodeRef::Named {
                name: label.clone(),
                of: Box::new(node.clone()),
            },
            false => node.clone(),
        };
        let hit = || NodeRef::HitBy(label.clone());
        match &self.action {
            FaultAction::Partition { shape, one_way, .. } => (
                FaultAction::Partition {
                    name: label.clone(),
                    shape: shape.clone(),
                    one_way: *one_way,
                },
                lasts.then(|| FaultAction::Heal(Some(label.clone()))),
            ),
            FaultAction::Crash(node) => (
                FaultAction::Crash(named(node)),
                lasts.then(|| FaultAction::Restart(Some(hit()))),
            ),
            FaultAction::Pause(node) => (
                FaultAction::Pause(named(node)),
                lasts.then(|| FaultAction::Resume(Some(hit()))),
            ),
            FaultAction::Clock {
                node,
                offset_ns,
                drift_ppm,
            } => (
                FaultAction::Clock {
                    node: named(node),
                    offset_ns: *offset_ns,
                    drift_ppm: *drift_ppm,
                },
                lasts.then(|| FaultAction::Clock {
                    node: hit(),
                    offset_ns: 0,
                    drift_ppm: 0,
                }),
            ),
            // Validation allows `for` only on the actions above.
            other => (other.clone(), None),
        }
    }

    /// The timed faults of this template in a run with `seed` whose fault
    /// phase ends at `until`. An undo that would fall after `until` is
    /// left to the liveness phase, which repairs everything.
    pub fn expand(&self, seed: u64, until: SimTime) -> Vec<TimedFault> {
        let mut rng = SimRng::new(seed, Stream::Nemesis(STREAM_BASE + self.stream));
        let mut faults = Vec::new();
        for (k, start) in self.starts(&mut rng, until).into_iter().enumerate() {
            let (action, undo) = self.episode(k);
            faults.push(TimedFault { at: start, action });
            if let (Some(undo), Some((min, max))) = (undo, self.lasting) {
                let length = SimDuration::from_nanos(rng.between(min.as_nanos(), max.as_nanos()));
                let end = start + length;
                if end < until {
                    faults.push(TimedFault {
                        at: end,
                        action: undo,
                    });
                }
            }
        }
        faults
    }
}

/// How many episodes `template` can have at most before `until`, without
/// drawing anything (for validation's bound on schedule size).
pub fn episode_bound(template: &FaultTemplate, until: SimTime) -> u64 {
    let Some(r) = &template.repeat else { return 1 };
    let stop = r.until.map_or(until, |u| u.min(until));
    let span = stop.saturating_since(template.at).as_nanos();
    let by_time = span.div_ceil(r.every.as_nanos().max(1));
    r.count.map_or(by_time, |c| c.min(by_time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::NodeId;
    use crate::sim::fault::Shape;

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    fn isolate_leader() -> FaultAction {
        FaultAction::Partition {
            name: "iso".into(),
            shape: Shape::Isolate(NodeRef::Role("leader".into())),
            one_way: false,
        }
    }

    fn template(
        action: FaultAction,
        lasting: Option<(u64, u64)>,
        repeat: Option<Repeat>,
    ) -> FaultTemplate {
        FaultTemplate {
            at: secs(2),
            action,
            name: "iso".into(),
            lasting: lasting.map(|(a, b)| (SimDuration::from_secs(a), SimDuration::from_secs(b))),
            repeat,
            stream: 0,
        }
    }

    fn every(s: u64, count: Option<u64>) -> Repeat {
        Repeat {
            every: SimDuration::from_secs(s),
            count,
            until: None,
            jitter: SimDuration::ZERO,
        }
    }

    #[test]
    fn a_repeated_lasting_partition_expands_to_numbered_episodes_and_heals() {
        let t = template(isolate_leader(), Some((1, 1)), Some(every(5, None)));
        let faults = t.expand(7, secs(20));
        let got: Vec<(u64, String)> = faults
            .iter()
            .map(|f| (f.at.as_nanos() / 1_000_000_000, f.action.to_string()))
            .collect();
        let want = [
            (2, "partition iso#0: isolate the leader"),
            (3, "heal iso#0"),
            (7, "partition iso#1: isolate the leader"),
            (8, "heal iso#1"),
            (12, "partition iso#2: isolate the leader"),
            (13, "heal iso#2"),
            (17, "partition iso#3: isolate the leader"),
            (18, "heal iso#3"),
        ];
        let want: Vec<(u64, String)> = want.iter().map(|(t, s)| (*t, s.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn count_and_until_stop_the_repetition() {
        let by_count = template(isolate_leader(), None, Some(every(1, Some(3))));
        assert_eq!(by_count.expand(1, secs(60)).len(), 3);
        let mut by_until = template(isolate_leader(), None, Some(every(1, None)));
        if let Some(r) = &mut by_until.repeat {
            r.until = Some(secs(5));
        }
        let starts: Vec<u64> = by_until
            .expand(1, secs(60))
            .iter()
            .map(|f| f.at.as_nanos() / 1_000_000_000)
            .collect();
        assert_eq!(starts, [2, 3, 4]);
        assert_eq!(episode_bound(&by_until, secs(60)), 3);
    }

    #[test]
    fn a_lasting_crash_restarts_the_node_it_hit() {
        let crash = FaultAction::Crash(NodeRef::Role("leader".into()));
        let t = template(crash, Some((2, 2)), None);
        let faults = t.expand(1, secs(20));
        assert_eq!(faults.len(), 2);
        assert_eq!(
            faults[0].action,
            FaultAction::Crash(NodeRef::Named {
                name: "iso".into(),
                of: Box::new(NodeRef::Role("leader".into()))
            })
        );
        assert_eq!(faults[1].at, secs(4));
        assert_eq!(
            faults[1].action,
            FaultAction::Restart(Some(NodeRef::HitBy("iso".into())))
        );
    }

    #[test]
    fn jitter_and_durations_are_drawn_per_seed_within_their_ranges() {
        let mut t = template(isolate_leader(), Some((1, 2)), Some(every(5, Some(20))));
        if let Some(r) = &mut t.repeat {
            r.jitter = SimDuration::from_millis(500);
        }
        let a = t.expand(1, secs(200));
        assert_eq!(
            a,
            t.expand(1, secs(200)),
            "the same seed draws the same schedule"
        );
        assert_ne!(a, t.expand(2, secs(200)), "another seed draws another");
        for pair in a.chunks(2) {
            let k = (pair[0].at.as_nanos() - 2_000_000_000) / 5_000_000_000;
            let offset = pair[0].at.as_nanos() - 2_000_000_000 - k * 5_000_000_000;
            assert!(offset <= 500_000_000, "jitter {offset} ns");
            let length = pair[1].at.saturating_since(pair[0].at);
            assert!((SimDuration::from_secs(1)..=SimDuration::from_secs(2)).contains(&length));
        }
    }

    #[test]
    fn an_undo_after_the_fault_phase_is_left_to_the_liveness_phase() {
        let crash = FaultAction::Crash(NodeRef::Id(NodeId(1)));
        let t = template(crash, Some((5, 5)), None);
        assert_eq!(t.expand(1, secs(4)).len(), 1);
    }
}
