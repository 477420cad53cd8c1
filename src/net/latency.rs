//! Message latency distributions. Every draw uses the network stream and
//! `libm`, so it is identical on every platform; every result is a whole
//! number of nanoseconds, capped at [`LATENCY_CAP`] so no tail can stall a run.

use crate::rng::SimRng;
use crate::time::SimDuration;

/// No single message takes longer than this (a bound on every tail).
pub const LATENCY_CAP: SimDuration = SimDuration::from_secs(3600);

/// A latency distribution.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always `value`.
    Constant(SimDuration),
    /// Uniform between `min` and `max` inclusive.
    Uniform {
        /// Smallest latency.
        min: SimDuration,
        /// Largest latency.
        max: SimDuration,
    },
    /// Normal with `mean` and `stddev`, truncated at 0.
    Normal {
        /// Mean.
        mean: SimDuration,
        /// Standard deviation.
        stddev: SimDuration,
    },
    /// Exponential with `mean`.
    Exponential {
        /// Mean.
        mean: SimDuration,
    },
    /// Pareto (long tail): `scale` is the minimum, `shape` the tail index
    /// (smaller = heavier), optionally capped at `max`.
    Pareto {
        /// The minimum latency.
        scale: SimDuration,
        /// The tail index α (> 0).
        shape: f64,
        /// An optional cap below [`LATENCY_CAP`].
        max: Option<SimDuration>,
    },
    /// Log-normal (long tail) with the given `median` and log-space `sigma`,
    /// optionally capped at `max`.
    LogNormal {
        /// The median latency.
        median: SimDuration,
        /// The standard deviation of ln(latency).
        sigma: f64,
        /// An optional cap below [`LATENCY_CAP`].
        max: Option<SimDuration>,
    },
}

impl Latency {
    /// Draws one latency.
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        let ns = match *self {
            Latency::Constant(d) => return d,
            Latency::Uniform { min, max } => {
                return SimDuration::from_nanos(rng.between(min.as_nanos(), max.as_nanos()))
            }
            Latency::Normal { mean, stddev } => {
                mean.as_nanos() as f64 + stddev.as_nanos() as f64 * rng.standard_normal()
            }
            Latency::Exponential { mean } => mean.as_nanos() as f64 * rng.standard_exponential(),
            Latency::Pareto { scale, shape, max } => {
                let u = 1.0 - rng.unit(); // (0, 1]
                let x = scale.as_nanos() as f64 / libm::pow(u, 1.0 / shape);
                x.min(cap_ns(max))
            }
            Latency::LogNormal { median, sigma, max } => {
                let x = median.as_nanos() as f64 * libm::exp(sigma * rng.standard_normal());
                x.min(cap_ns(max))
            }
        };
        let capped = ns.clamp(0.0, LATENCY_CAP.as_nanos() as f64);
        SimDuration::from_nanos(libm::round(capped) as u64)
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cap = |max: &Option<SimDuration>| max.map(|m| format!(", max {m}")).unwrap_or_default();
        match self {
            Latency::Constant(d) => write!(f, "constant {d}"),
            Latency::Uniform { min, max } => write!(f, "uniform {min}..{max}"),
            Latency::Normal { mean, stddev } => write!(f, "normal mean {mean} stddev {stddev}"),
            Latency::Exponential { mean } => write!(f, "exponential mean {mean}"),
            Latency::Pareto { scale, shape, max } => {
                write!(f, "pareto scale {scale} shape {shape}{}", cap(max))
            }
            Latency::LogNormal { median, sigma, max } => {
                write!(f, "lognormal median {median} sigma {sigma}{}", cap(max))
            }
        }
    }
}

fn cap_ns(max: Option<SimDuration>) -> f64 {
    max.unwrap_or(LATENCY_CAP).as_nanos() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    fn mean_of(latency: &Latency, n: u32) -> f64 {
        let mut rng = SimRng::new(3, Stream::Network);
        (0..n)
            .map(|_| latency.sample(&mut rng).as_nanos() as f64)
            .sum::<f64>()
            / f64::from(n)
    }

    #[test]
    fn means_match_their_parameters() {
        let ms = SimDuration::from_millis;
        let near = |got: f64, want: f64| (got - want).abs() < want * 0.03;
        assert!(near(
            mean_of(
                &Latency::Uniform {
                    min: ms(1),
                    max: ms(9)
                },
                20_000
            ),
            5e6
        ));
        assert!(near(
            mean_of(&Latency::Exponential { mean: ms(4) }, 20_000),
            4e6
        ));
        assert!(near(
            mean_of(
                &Latency::Normal {
                    mean: ms(50),
                    stddev: ms(5)
                },
                20_000
            ),
            50e6
        ));
        // Pareto mean = scale * α / (α - 1) = 3 ms for α = 3, scale = 2 ms.
        let pareto = Latency::Pareto {
            scale: ms(2),
            shape: 3.0,
            max: None,
        };
        assert!(near(mean_of(&pareto, 50_000), 3e6));
    }

    #[test]
    fn normal_is_truncated_at_zero_and_tails_are_capped() {
        let mut rng = SimRng::new(5, Stream::Network);
        let wide = Latency::Normal {
            mean: SimDuration::from_millis(1),
            stddev: SimDuration::from_millis(10),
        };
        let capped = Latency::LogNormal {
            median: SimDuration::from_millis(10),
            sigma: 3.0,
            max: Some(SimDuration::from_millis(200)),
        };
        for _ in 0..10_000 {
            let _ = wide.sample(&mut rng); // never negative: u64 by construction
            assert!(capped.sample(&mut rng) <= SimDuration::from_millis(200));
        }
    }
}
