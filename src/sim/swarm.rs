//! Swarm testing (after TigerBeetle's VOPR and Groce et al.): each seed
//! draws its own fault mix within ranges the scenario declares, so some
//! seeds are calm and some are storms, and rare combinations get tried.
//! The mix is drawn from the seed's swarm stream in a fixed order (the same
//! number of draws whatever the ranges), so `run --seed N --swarm`
//! reproduces exactly what `explore --swarm` ran.

use super::nemesis::FaultRate;
use super::CrashAfterSend;
use super::SimConfig;
use crate::rng::{SimRng, Stream};
use crate::time::SimDuration;
use std::fmt::Write;

/// A range to draw a mean gap from, and the duration of each fault.
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmRate {
    /// Smallest mean gap between faults.
    pub every_min: SimDuration,
    /// Largest mean gap between faults.
    pub every_max: SimDuration,
    /// Shortest fault.
    pub duration_min: SimDuration,
    /// Longest fault.
    pub duration_max: SimDuration,
}

/// The ranges of a scenario's `[swarm]` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SwarmConfig {
    /// Range of the default link's loss probability.
    pub loss: Option<(f64, f64)>,
    /// Range of the default link's duplication probability.
    pub duplicate: Option<(f64, f64)>,
    /// Partition rates.
    pub partition: Option<SwarmRate>,
    /// Crash rates.
    pub crash: Option<SwarmRate>,
    /// Pause rates.
    pub pause: Option<SwarmRate>,
    /// Clock fault rates.
    pub clock: Option<SwarmRate>,
    /// Probability that each fault kind is off altogether for a seed.
    pub off: f64,
    /// Range of the probability that an active code-level fault point
    /// fires (`Ctx::buggify`).
    pub buggify: Option<(f64, f64)>,
    /// Range of the probability that a server crashes right after a
    /// handler in which it sent a message (`crash_after_send`, with every
    /// kind the protocol names eligible in about half the runs each).
    pub crash_after_send: Option<(f64, f64)>,
}

/// Applies the fault mix of `seed` to `config`; returns its description.
pub fn apply(swarm: &SwarmConfig, seed: u64, config: &mut SimConfig) -> String {
    let mut rng = SimRng::new(seed, Stream::Swarm);
    let mut text = String::new();
    let loss = draw_range(&mut rng, swarm.loss);
    let duplicate = draw_range(&mut rng, swarm.duplicate);
    if let Some(p) = loss {
        config.network.default.loss = p;
        let _ = write!(text, "loss {p:.3}, ");
    }
    if let Some(p) = duplicate {
        config.network.default.duplicate = p;
        let _ = write!(text, "duplicate {p:.3}, ");
    }
    let nemesis = &mut config.nemesis;
    let kinds = [
        ("partitions", &swarm.partition, &mut nemesis.partition),
        ("crashes", &swarm.crash, &mut nemesis.crash),
        ("pauses", &swarm.pause, &mut nemesis.pause),
        ("clock faults", &swarm.clock, &mut nemesis.clock),
    ];
    for (name, range, slot) in kinds {
        let drawn = draw_rate(&mut rng, range.as_ref(), swarm.off);
        if range.is_none() {
            continue;
        }
        match drawn {
            Some(rate) => {
                let _ = write!(
                    text,
                    "{name} every {}, ",
                    SimDuration::from_nanos(rate.every.as_nanos())
                );
                *slot = Some(rate);
            }
            None => {
                let _ = write!(text, "{name} off, ");
                *slot = None;
            }
        }
    }
    if config.nemesis.clock.is_some() && config.nemesis.skew_max == SimDuration::ZERO {
        config.nemesis.skew_max = SimDuration::from_millis(250);
        config.nemesis.drift_ppm_max = config.nemesis.drift_ppm_max.max(500);
    }
    // Drawn last, so the mixes drawn before buggify existed stay the same.
    if let Some(p) = draw_range(&mut rng, swarm.buggify) {
        config.buggify = p;
        let _ = write!(text, "buggify {p:.3}, ");
    }
    // Drawn after buggify, for the same reason.
    if let Some(p) = draw_range(&mut rng, swarm.crash_after_send) {
        let (down_min, down_max) = CrashAfterSend::DOWN_DEFAULT;
        let c = config.crash_after_send.get_or_insert(CrashAfterSend {
            probability: p,
            kinds: Vec::new(),
            down_min,
            down_max,
            start: config.nemesis.start,
        });
        c.probability = p;
        let _ = write!(text, "crash after send {p:.3}, ");
    }
    text.trim_end_matches(", ").to_string()
}

/// Always two draws, used or not.
fn draw_range(rng: &mut SimRng, range: Option<(f64, f64)>) -> Option<f64> {
    let u = rng.unit();
    range.map(|(lo, hi)| lo + (hi - lo) * u)
}

/// Always two draws, used or not: the off coin and the gap.
fn draw_rate(rng: &mut SimRng, range: Option<&SwarmRate>, off: f64) -> Option<FaultRate> {
    let coin = rng.unit();
    let u = rng.unit();
    let range = range?;
    if coin < off {
        return None;
    }
    let (lo, hi) = (
        range.every_min.as_nanos() as f64,
        range.every_max.as_nanos() as f64,
    );
    Some(FaultRate {
        every: SimDuration::from_nanos((lo + (hi - lo) * u) as u64),
        duration_min: range.duration_min,
        duration_max: range.duration_max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(lo: u64, hi: u64) -> Option<SwarmRate> {
        Some(SwarmRate {
            every_min: SimDuration::from_secs(lo),
            every_max: SimDuration::from_secs(hi),
            duration_min: SimDuration::from_secs(1),
            duration_max: SimDuration::from_secs(2),
        })
    }

    #[test]
    fn mixes_vary_by_seed_and_repeat_per_seed() {
        let swarm = SwarmConfig {
            loss: Some((0.0, 0.2)),
            partition: rate(2, 20),
            crash: rate(3, 30),
            off: 0.5,
            ..Default::default()
        };
        let describe = |seed| apply(&swarm, seed, &mut SimConfig::default());
        assert_eq!(describe(4), describe(4));
        let distinct: std::collections::BTreeSet<String> = (0..20).map(describe).collect();
        assert!(distinct.len() > 15);
        assert!((0..40).any(|s| describe(s).contains("crashes off")));
        assert!((0..40).any(|s| describe(s).contains("crashes every")));
    }

    #[test]
    fn drawn_values_stay_in_their_ranges() {
        let swarm = SwarmConfig {
            loss: Some((0.05, 0.1)),
            partition: rate(2, 4),
            ..Default::default()
        };
        for seed in 0..100 {
            let mut config = SimConfig::default();
            apply(&swarm, seed, &mut config);
            assert!((0.05..=0.1).contains(&config.network.default.loss));
            let every = config
                .nemesis
                .partition
                .map(|r| r.every.as_nanos())
                .unwrap_or(0);
            assert!((2_000_000_000..=4_000_000_000).contains(&every));
        }
    }
}
