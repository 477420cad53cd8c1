//! Virtual time. All simulated time is integer nanoseconds behind two
//! newtypes, so a point in time ([`SimTime`]) and a span ([`SimDuration`])
//! cannot be confused, and no float ever decides when an event happens.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::ops::{Add, Sub};

/// A point in simulated time: nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SimTime(u64);

/// A span of simulated time in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SimDuration(u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The latest representable time; used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// A time `ns` nanoseconds after the start of the run.
    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }

    /// Nanoseconds since the start of the run.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The span from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A span of `ns` nanoseconds.
    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    /// A span of `us` microseconds.
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    /// A span of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }
    /// A span of `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000_000)
    }
    /// The span in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// The span in seconds, for display and rates only (never for scheduling).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

impl SimDuration {
    /// The exact duration in the largest unit that divides it (`"1500us"`,
    /// `"2s"`, `"7ns"`): what a scenario file written by faultline uses, so
    /// reading it back gives the same nanoseconds.
    pub fn exact(self) -> String {
        let ns = self.0;
        for (unit, scale) in [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)] {
            if ns % scale == 0 && ns > 0 {
                return format!("{}{unit}", ns / scale);
            }
        }
        format!("{ns}ns")
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    /// Saturates at [`SimTime::MAX`]: runs are bounded far below it.
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

impl Sub for SimDuration {
    type Output = SimDuration;
    /// Saturates at zero.
    fn sub(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", SimDuration(self.0))
    }
}

impl fmt::Display for SimDuration {
    /// Human form in the largest unit that keeps three decimals exact enough:
    /// `0ns`, `250us`, `1.5ms`, `2s`, `2.25s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        let (unit, scale) = match ns {
            0 => return write!(f, "0s"),
            n if n >= 1_000_000_000 => ("s", 1_000_000_000),
            n if n >= 1_000_000 => ("ms", 1_000_000),
            n if n >= 1_000 => ("us", 1_000),
            _ => ("ns", 1),
        };
        let whole = ns / scale;
        let frac_thousandths = (ns % scale) * 1000 / scale;
        if frac_thousandths == 0 {
            write!(f, "{whole}{unit}")
        } else {
            let frac = format!("{frac_thousandths:03}");
            write!(f, "{whole}.{}{unit}", frac.trim_end_matches('0'))
        }
    }
}

/// Why a duration string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a duration like \"150ms\", \"2s\" or \"1.5m\" (units: ns, us, ms, s, m, h), found {found:?}")]
pub struct DurationParseError {
    /// The text that was not a duration.
    pub found: String,
}

/// Parses a human duration: a decimal number followed by a unit
/// (`ns`, `us`/`µs`, `ms`, `s`, `m`/`min`, `h`). Exact integer arithmetic:
/// `"1.5ms"` is 1,500,000 ns; digits below a nanosecond are an error.
pub fn parse_duration(text: &str) -> Result<SimDuration, DurationParseError> {
    crate::check::units::parse_nanos(text)
        .map(SimDuration)
        .ok_or_else(|| DurationParseError {
            found: text.to_string(),
        })
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SimDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string like \"150ms\" or \"2s\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SimDuration, E> {
                parse_duration(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("150ms"), Ok(SimDuration::from_millis(150)));
        assert_eq!(parse_duration("2s"), Ok(SimDuration::from_secs(2)));
        assert_eq!(parse_duration("1.5ms"), Ok(SimDuration::from_micros(1500)));
        assert_eq!(parse_duration("7ns"), Ok(SimDuration::from_nanos(7)));
        assert_eq!(parse_duration("3us"), Ok(SimDuration::from_micros(3)));
        assert_eq!(parse_duration("1m"), Ok(SimDuration::from_secs(60)));
        assert_eq!(parse_duration("1h"), Ok(SimDuration::from_secs(3600)));
        assert_eq!(parse_duration(".5s"), Ok(SimDuration::from_millis(500)));
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in [
            "",
            "ms",
            "10",
            "10 parsecs",
            "1.2.3s",
            "-1s",
            "1.5ns",
            "99999999999h",
            ".",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn exact_form_round_trips() {
        for ns in [
            0,
            7,
            1_500,
            1_234_567,
            150_000_000,
            2_000_000_000,
            2_250_000_000,
        ] {
            let d = SimDuration::from_nanos(ns);
            assert_eq!(parse_duration(&d.exact()), Ok(d), "{}", d.exact());
        }
        assert_eq!(SimDuration::from_millis(1500).exact(), "1500ms");
    }

    #[test]
    fn display_round_trips() {
        for ns in [0, 7, 1_500, 150_000_000, 2_000_000_000, 2_250_000_000] {
            let d = SimDuration::from_nanos(ns);
            assert_eq!(parse_duration(&d.to_string()), Ok(d), "{d}");
        }
    }
}
