//! The bounds of one check, and why a check that hit one is undecided.
//!
//! Inside a simulated run every bound counts deterministic work: search
//! steps (counted by the driver in `mod.rs`, round by round, so the
//! thread count cannot change where a search stops) and bytes of the
//! checker's own structures (the memo caches, estimated from their
//! capacities, and the history it was handed). The same history and
//! budget give the same verdict on every machine. A wall-clock limit
//! exists only for checks outside a run (`faultline check --timeout`): the
//! caller hands in a [`Deadline`], and this module never reads a clock.
//!
//! The memory bound is a bound on the real peak, not only the estimate:
//! structures that grow ask for their next allocation first
//! ([`Meter::grant`]), so the transient of a resize counts too, and they
//! allocate fallibly, so an allocation the system refuses ends the check as
//! undecided instead of aborting the process.
use serde::Serialize;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Search steps between two looks at the deadline and the shared memory
/// counter. A step costs well under a microsecond, so a deadline is seen
/// within a fraction of a millisecond of passing.
const CHECK_EVERY: u32 = 256;

/// A wall-clock limit handed in by code outside simulated runs (the CLI):
/// the checker asks `expired` now and then and never reads a clock itself.
#[derive(Clone)]
pub struct Deadline {
    /// The limit, for the reason reported when it passes.
    pub budget_ms: u64,
    /// Whether the limit has passed.
    pub expired: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl fmt::Debug for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Deadline({} ms)", self.budget_ms)
    }
}

/// Which bound a check ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "budget", rename_all = "snake_case")]
pub enum Exhausted {
    /// The step budget (deterministic work) ran out.
    Steps {
        /// The budget in search steps.
        budget_steps: u64,
    },
    /// The checker's structures would have outgrown the memory budget.
    Memory {
        /// The budget in bytes.
        budget_bytes: u64,
    },
    /// The system refused an allocation the budget allowed.
    Allocation {
        /// The allocation that failed, in bytes.
        bytes: u64,
    },
    /// The wall-clock deadline passed (outside simulated runs only).
    Timeout {
        /// The budget in milliseconds.
        budget_ms: u64,
    },
}

/// Why a check could not decide: which bound, and how far it got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnknownReason {
    /// The bound it hit (serialized as `budget` plus the bound's fields).
    #[serde(flatten)]
    pub exhausted: Exhausted,
    /// Search steps taken over all partitions.
    pub steps: u64,
    /// Partitions (keys) in the history.
    pub partitions: usize,
    /// Partitions decided (each linearizable) before the bound.
    pub partitions_decided: usize,
    /// The key of the first partition left undecided, if the model has keys.
    pub undecided_key: Option<String>,
    /// Ops in that partition.
    pub undecided_ops: usize,
    /// The longest linearizable prefix its search had found.
    pub undecided_prefix: usize,
}

impl UnknownReason {
    /// A reason with no progress recorded yet (the driver fills it in).
    pub(crate) fn bare(exhausted: Exhausted) -> Self {
        UnknownReason {
            exhausted,
            steps: 0,
            partitions: 0,
            partitions_decided: 0,
            undecided_key: None,
            undecided_ops: 0,
            undecided_prefix: 0,
        }
    }
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exhausted::Steps { budget_steps } => {
                write!(f, "step budget of {budget_steps} steps exhausted")
            }
            Exhausted::Memory { budget_bytes } => {
                write!(f, "memory budget of {budget_bytes} bytes exhausted")
            }
            Exhausted::Allocation { bytes } => {
                write!(f, "the system refused an allocation of {bytes} bytes")
            }
            Exhausted::Timeout { budget_ms } => {
                write!(f, "time budget of {budget_ms} ms exceeded")
            }
        }
    }
}

impl fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} after {} steps; {} of {} partitions decided",
            self.exhausted, self.steps, self.partitions_decided, self.partitions
        )?;
        if self.undecided_ops > 0 {
            let key = match &self.undecided_key {
                Some(k) => format!("key {k:?}"),
                None => "the history".to_string(),
            };
            write!(
                f,
                "; {key} undecided after a linearizable prefix of {} of its {} ops",
                self.undecided_prefix, self.undecided_ops
            )?;
        }
        Ok(())
    }
}

/// The bounds of one check, as its caller sets them.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub steps_max: Option<u64>,
    pub memory_bytes_max: usize,
    pub deadline: Option<Deadline>,
}

/// The shared bounds of one check: the limits and the bytes every search
/// (and the driver) holds now.
pub(crate) struct Budget {
    limits: Limits,
    memory_bytes_used: AtomicUsize,
    memory_bytes_peak: AtomicUsize,
}

impl Budget {
    /// A budget with nothing spent.
    pub(crate) fn new(limits: Limits) -> Self {
        Budget {
            limits,
            memory_bytes_used: AtomicUsize::new(0),
            memory_bytes_peak: AtomicUsize::new(0),
        }
    }

    /// The most bytes counted at once so far.
    pub(crate) fn memory_bytes_peak(&self) -> usize {
        self.memory_bytes_peak.load(Ordering::Relaxed)
    }

    fn note_total(&self, total: usize) {
        self.memory_bytes_peak.fetch_max(total, Ordering::Relaxed);
    }

    /// The step budget, if any.
    pub(crate) fn steps_max(&self) -> Option<u64> {
        self.limits.steps_max
    }

    /// Counts `bytes` the driver holds for the whole check (the history,
    /// its encoding), or says the budget cannot hold them.
    pub(crate) fn charge(&self, bytes: usize) -> Result<(), Exhausted> {
        let total = self.memory_bytes_used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.note_total(total);
        if total > self.limits.memory_bytes_max {
            return Err(self.memory_exhausted());
        }
        Ok(())
    }

    /// Whether the deadline (if any) has passed.
    pub(crate) fn deadline_passed(&self) -> Option<Exhausted> {
        let deadline = self.limits.deadline.as_ref()?;
        (deadline.expired)().then_some(Exhausted::Timeout {
            budget_ms: deadline.budget_ms,
        })
    }

    fn memory_exhausted(&self) -> Exhausted {
        Exhausted::Memory {
            budget_bytes: self.limits.memory_bytes_max as u64,
        }
    }
}

/// One search's view of the budget: counts steps and keeps the shared
/// memory counter up to date with the search's own structures.
pub(crate) struct Meter<'a> {
    budget: &'a Budget,
    since_check: u32,
    reported_bytes: usize,
}

impl<'a> Meter<'a> {
    /// A meter for one search.
    pub(crate) fn new(budget: &'a Budget) -> Self {
        Meter {
            budget,
            since_check: 0,
            reported_bytes: 0,
        }
    }

    /// Counts one step; every `CHECK_EVERY` steps publishes the search's
    /// current memory (`bytes_now`) and looks at the deadline.
    #[inline]
    pub(crate) fn tick(&mut self, bytes_now: impl FnOnce() -> usize) -> Result<(), Exhausted> {
        self.since_check += 1;
        if self.since_check < CHECK_EVERY {
            return Ok(());
        }
        self.since_check = 0;
        self.report(bytes_now());
        match self.budget.deadline_passed() {
            Some(stop) => Err(stop),
            None => Ok(()),
        }
    }

    /// Asks for `extra` bytes beyond the search's current `bytes_now`
    /// before allocating them; refuses when the budget cannot hold them.
    pub(crate) fn grant(&mut self, bytes_now: usize, extra: usize) -> Result<(), Exhausted> {
        let total = self.report(bytes_now);
        let wanted = total.saturating_add(extra);
        if wanted > self.budget.limits.memory_bytes_max {
            return Err(self.budget.memory_exhausted());
        }
        self.budget.note_total(wanted);
        Ok(())
    }

    /// Publishes this search's memory use; returns the total of all searches.
    fn report(&mut self, bytes_now: usize) -> usize {
        let shared = &self.budget.memory_bytes_used;
        let total = if bytes_now >= self.reported_bytes {
            let grow = bytes_now - self.reported_bytes;
            shared.fetch_add(grow, Ordering::Relaxed) + grow
        } else {
            let shrink = self.reported_bytes - bytes_now;
            shared.fetch_sub(shrink, Ordering::Relaxed) - shrink
        };
        self.reported_bytes = bytes_now;
        self.budget.note_total(total);
        total
    }
}

impl Drop for Meter<'_> {
    /// The search's structures are freed with it.
    fn drop(&mut self) {
        self.budget
            .memory_bytes_used
            .fetch_sub(self.reported_bytes, Ordering::Relaxed);
    }
}
