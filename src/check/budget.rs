//! The bounds of one check: a wall-clock deadline and a memory budget
//! shared by all partitions' searches. Owns the periodic meter the search
//! calls: the clock and the shared memory counter are read only every
//! `CHECK_EVERY` steps, so a budget may be overshot by that many steps.
// The checker runs outside simulated runs, so the project's lint against
// reading the wall clock in simulated code does not apply here.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]
use serde::Serialize;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Search steps between two reads of the clock and the memory counter.
const CHECK_EVERY: u32 = 1024;

/// Why a check could not decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "budget", rename_all = "snake_case")]
pub enum UnknownReason {
    /// The time budget ran out.
    Timeout {
        /// The budget in milliseconds.
        budget_ms: u64,
    },
    /// The memo cache outgrew the memory budget.
    Memory {
        /// The budget in bytes.
        budget_bytes: u64,
    },
}

impl fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnknownReason::Timeout { budget_ms } => {
                write!(f, "time budget of {budget_ms} ms exceeded")
            }
            UnknownReason::Memory { budget_bytes } => {
                write!(f, "memory budget of {budget_bytes} bytes exceeded")
            }
        }
    }
}

/// The shared bounds of one check.
pub(crate) struct Budget {
    start: Instant,
    timeout: Duration,
    memory_bytes_max: usize,
    memory_bytes_used: AtomicUsize,
}

impl Budget {
    /// Starts the clock now.
    pub(crate) fn start(timeout: Duration, memory_bytes_max: usize) -> Self {
        Budget {
            start: Instant::now(), // determinism: ok (checker runs outside simulated runs)
            timeout,
            memory_bytes_max,
            memory_bytes_used: AtomicUsize::new(0),
        }
    }

    /// Time since the check started.
    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed() // determinism: ok
    }

    fn timeout_reason(&self) -> UnknownReason {
        UnknownReason::Timeout {
            budget_ms: self.timeout.as_millis() as u64,
        }
    }

    fn memory_reason(&self) -> UnknownReason {
        UnknownReason::Memory {
            budget_bytes: self.memory_bytes_max as u64,
        }
    }
}

/// One search's view of the budget: counts steps and reports its memory
/// growth to the shared counter at each periodic check.
pub(crate) struct Meter<'a> {
    budget: &'a Budget,
    steps: u32,
    reported_bytes: usize,
}

impl<'a> Meter<'a> {
    /// A meter for one partition's search.
    pub(crate) fn new(budget: &'a Budget) -> Self {
        Meter {
            budget,
            steps: 0,
            reported_bytes: 0,
        }
    }

    /// Counts one step; every `CHECK_EVERY` steps checks the bounds given
    /// the search's current memory use.
    #[inline]
    pub(crate) fn tick(&mut self, bytes_now: impl FnOnce() -> usize) -> Result<(), UnknownReason> {
        self.steps += 1;
        if self.steps < CHECK_EVERY {
            return Ok(());
        }
        self.steps = 0;
        self.check(bytes_now())
    }

    fn check(&mut self, bytes_now: usize) -> Result<(), UnknownReason> {
        let used = self.report(bytes_now);
        if used > self.budget.memory_bytes_max {
            return Err(self.budget.memory_reason());
        }
        if self.budget.elapsed() >= self.budget.timeout {
            return Err(self.budget.timeout_reason());
        }
        Ok(())
    }

    /// Publishes this search's memory use; returns the total of all searches.
    fn report(&mut self, bytes_now: usize) -> usize {
        let shared = &self.budget.memory_bytes_used;
        let total = if bytes_now >= self.reported_bytes {
            shared.fetch_add(bytes_now - self.reported_bytes, Ordering::Relaxed)
                + (bytes_now - self.reported_bytes)
        } else {
            shared.fetch_sub(self.reported_bytes - bytes_now, Ordering::Relaxed)
                - (self.reported_bytes - bytes_now)
        };
        self.reported_bytes = bytes_now;
        total
    }
}

impl Drop for Meter<'_> {
    /// The search's memo cache is freed with it.
    fn drop(&mut self) {
        self.budget
            .memory_bytes_used
            .fetch_sub(self.reported_bytes, Ordering::Relaxed);
    }
}
