//! Two-phase commit's registry entry: options from `[twopc]`, a coordinator
//! (node 0) and at least two shards, and the summary's commit and blocking
//! line and report section.

use super::{TwoPc, TwoPcOptions, CHECKS, ROLES};
use crate::protocols::registry::{ProtocolDef, Setup};
use crate::protocols::ReportSection;
use crate::scenario::{OptionsInput, ScenarioError};
use crate::sim::RunResult;
use crate::time::SimDuration;

/// The `twopc` protocol.
pub struct Def;

impl ProtocolDef for Def {
    type Options = TwoPcOptions;
    type Protocol = TwoPc;

    fn name(&self) -> &'static str {
        "twopc"
    }

    fn about(&self) -> &'static str {
        "two-phase commit with presumed abort and cooperative termination, over a sharded bank"
    }

    fn checks(&self) -> &'static [crate::process::CheckInfo] {
        CHECKS
    }

    fn roles(&self) -> &'static [&'static str] {
        ROLES
    }

    /// With every fault repaired and no operation left, nothing is sent.
    fn quiescent(&self) -> bool {
        true
    }

    fn fixed_placement(&self) -> Option<&'static str> {
        Some("every transaction goes to the coordinator (node 0)")
    }

    fn options(&self, input: &OptionsInput<'_>) -> Result<TwoPcOptions, ScenarioError> {
        let nodes = input.nodes();
        if nodes < 3 {
            return Err(input.nodes_error(format!(
                "expected at least 3 nodes for twopc (a coordinator and two shards), found {nodes}"
            )));
        }
        let o: TwoPcOptions = input.table("twopc")?;
        let problem = if o.vote_timeout == SimDuration::ZERO {
            Some(("vote_timeout", "expected vote_timeout above 0".to_string()))
        } else if o.lock_wait == SimDuration::ZERO {
            Some(("lock_wait", "expected lock_wait above 0".to_string()))
        } else if o.retry_interval == SimDuration::ZERO {
            Some((
                "retry_interval",
                "expected retry_interval above 0".to_string(),
            ))
        } else if !(0.0..=1.0).contains(&o.vote_no_probability) {
            let m = format!(
                "expected vote_no_probability from 0 to 1, found {}",
                o.vote_no_probability
            );
            Some(("vote_no_probability", m))
        } else if !(0.0..=1.0).contains(&o.audit_probability) {
            let m = format!(
                "expected audit_probability from 0 to 1, found {}",
                o.audit_probability
            );
            Some(("audit_probability", m))
        } else if o.no_voter.is_some_and(|n| n == 0 || n as usize >= nodes) {
            let m = format!("expected no_voter to be a participant, 1 to {}", nodes - 1);
            Some(("no_voter", m))
        } else {
            o.bank().problem()
        };
        match problem {
            Some((key, m)) => Err(input.error("twopc", Some(key), m)),
            None => Ok(o),
        }
    }

    fn build(&self, options: &TwoPcOptions, setup: &Setup) -> TwoPc {
        TwoPc::new(options.clone(), setup.nodes)
    }

    fn headline(&self, result: &RunResult) -> Option<String> {
        Some(format!(
            "2pc         {} commits, {} aborts; in doubt holding locks: max {}, total {}",
            result.metric_text("commits"),
            result.metric_text("aborts"),
            result.metric_duration_text("blocking_ns_max"),
            result.metric_duration_text("blocking_ns_total"),
        ))
    }

    fn report_section(&self, result: &RunResult) -> Option<ReportSection> {
        let section = ReportSection::new("Two-phase commit")
            .metric(
                result,
                "committed",
                "commits",
                "transactions the coordinator decided to commit",
            )
            .metric(
                result,
                "aborted",
                "aborts",
                "transactions decided abort (a no vote, a vote timeout, or presumed abort)",
            )
            .metric(
                result,
                "in-doubt episodes",
                "in_doubt_episodes",
                "times a prepared participant waited for a decision it could not make alone",
            )
            .duration(
                result,
                "in doubt, longest",
                "blocking_ns_max",
                "the longest a prepared participant held its locks waiting: 2PC's blocking",
            )
            .duration(
                result,
                "in doubt, total",
                "blocking_ns_total",
                "lock-holding time summed over every in-doubt episode",
            )
            .metric(
                result,
                "coordinator crashes before a decision",
                "coordinator_crashes_before_decision",
                "crashes that left prepared participants in doubt",
            )
            .metric(
                result,
                "coordinator crashes mid-commit",
                "coordinator_crashes_mid_commit",
                "crashes after the decision was logged, before every participant heard it",
            );
        Some(section)
    }
}
