//! The run's bounds and budgets (`max_*`, `[checks]` budgets), `[nemesis]`
//! and `[swarm]` rates (and how many faults they may schedule),
//! `[workload]` and `[checks]`.

use super::*;

impl Validator<'_> {
    /// A run bound: at least 1, at most `max`, `default` when absent.
    pub(super) fn limit(
        &self,
        raw: &Option<Spanned<u64>>,
        name: &str,
        default: u64,
        max: u64,
        what: &str,
    ) -> Result<u64> {
        match raw {
            None => Ok(default),
            Some(m) if (1..=max).contains(m.get_ref()) => Ok(*m.get_ref()),
            Some(m) if max == u64::MAX => Err(self.err(
                m.span(),
                name,
                format!("expected at least 1 {}", what.trim_end_matches('s')),
            )),
            Some(m) => Err(self.err(
                m.span(),
                name,
                format!("expected 1 to {max} {what}, found {}", m.get_ref()),
            )),
        }
    }

    /// `[checks] linearizability_steps` and `linearizability_memory`.
    pub(super) fn check_budget(&self, raw: Option<&RawChecks>) -> Result<CheckBudget> {
        let mut budget = CheckBudget::default();
        let Some(raw) = raw else { return Ok(budget) };
        if let Some(steps) = &raw.linearizability_steps {
            if *steps.get_ref() == 0 {
                return Err(self.err(
                    steps.span(),
                    "checks.linearizability_steps",
                    "expected at least 1 step (to skip the check, leave it out of [checks] enabled)",
                ));
            }
            budget.steps = *steps.get_ref();
        }
        if let Some(memory) = &raw.linearizability_memory {
            let bytes = crate::check::units::parse_size(memory.get_ref())
                .map_err(|e| self.err(memory.span(), "checks.linearizability_memory", e))?;
            if !(CHECK_MEMORY_MIN..=CHECK_MEMORY_MAX).contains(&bytes) {
                return Err(self.err(
                    memory.span(),
                    "checks.linearizability_memory",
                    "expected a size from 1MiB to 64GiB",
                ));
            }
            budget.memory_bytes = bytes;
        }
        Ok(budget)
    }

    /// `[checks] progress_window` and `progress_factor` (`engine.progress`).
    pub(super) fn work_bound(&self, raw: Option<&RawChecks>) -> Result<WorkBound> {
        let mut bound = WorkBound::default();
        let Some(raw) = raw else { return Ok(bound) };
        if let Some(window) = &raw.progress_window {
            if *window.get_ref() < SimDuration::from_millis(1) {
                return Err(self.err(
                    window.span(),
                    "checks.progress_window",
                    "expected a window of at least 1ms",
                ));
            }
            bound.window = *window.get_ref();
        }
        if let Some(factor) = &raw.progress_factor {
            let f = *factor.get_ref();
            if !(f.is_finite() && f >= 1.0) {
                return Err(self.err(
                    factor.span(),
                    "checks.progress_factor",
                    format!("expected a factor of at least 1 (to skip the check, leave engine.progress out of [checks] enabled), found {f}"),
                ));
            }
            bound.factor = f;
        }
        Ok(bound)
    }

    pub(super) fn nemesis(&self, raw: &RawNemesis, duration: SimDuration) -> Result<NemesisConfig> {
        let start = raw.start.unwrap_or(SimDuration::ZERO);
        let span_ns = duration.as_nanos().saturating_sub(start.as_nanos());
        let rate = |r: &Option<Spanned<RawRate>>, name: &str| -> Result<Option<FaultRate>> {
            let Some(r) = r else { return Ok(None) };
            let RawRate {
                every,
                duration: DurationRange { min, max },
            } = *r.get_ref();
            if every == SimDuration::ZERO || min > max || max == SimDuration::ZERO {
                return Err(self.err(r.span(), name, "expected every > 0 and a duration range [min, max] with 0 < max and min <= max"));
            }
            self.fault_count(r.span(), name, span_ns, every, min)?;
            Ok(Some(FaultRate {
                every,
                duration_min: min,
                duration_max: max,
            }))
        };
        let mut shapes = Vec::new();
        if let Some(s) = &raw.shapes {
            for name in s.get_ref() {
                shapes.push(match name.as_str() {
                    "isolate" => ShapeKind::Isolate,
                    "split" => ShapeKind::Split,
                    "bridge" => ShapeKind::Bridge,
                    "ring" => ShapeKind::Ring,
                    other => {
                        return Err(self.err(
                            s.span(),
                            "nemesis.shapes",
                            format!(
                                "unknown shape {other:?}: expected isolate, split, bridge or ring"
                            ),
                        ))
                    }
                });
            }
        }
        let drift_ppm_max = match &raw.drift_ppm_max {
            Some(d) if (0..500_000).contains(d.get_ref()) => *d.get_ref(),
            Some(d) => {
                return Err(self.err(
                    d.span(),
                    "nemesis.drift_ppm_max",
                    "expected a drift between 0 and 499999 ppm",
                ))
            }
            None => 0,
        };
        let skew_max = match &raw.skew_max {
            // The nemesis doubles it in signed nanoseconds: keep it far from overflow.
            Some(s) if *s.get_ref() > DURATION_MAX => {
                return Err(self.err(
                    s.span(),
                    "nemesis.skew_max",
                    format!("expected a clock skew of at most {DURATION_MAX}"),
                ))
            }
            Some(s) => *s.get_ref(),
            None => SimDuration::ZERO,
        };
        Ok(NemesisConfig {
            start: SimTime::ZERO + raw.start.unwrap_or(SimDuration::ZERO),
            partition: rate(&raw.partition, "nemesis.partition")?,
            shapes,
            one_way: self
                .probability(raw.one_way.as_ref(), "nemesis.one_way")?
                .unwrap_or(0.0),
            crash: rate(&raw.crash, "nemesis.crash")?,
            pause: rate(&raw.pause, "nemesis.pause")?,
            clock: rate(&raw.clock, "nemesis.clock")?,
            skew_max,
            drift_ppm_max,
            templates: Vec::new(),
        })
    }

    /// Rejects a rate that would schedule more than `NEMESIS_FAULTS_MAX`
    /// faults and repairs over `span_ns` on average (each fault lasts at
    /// least `length` and is followed by a gap of `every` on average).
    pub(super) fn fault_count(
        &self,
        span: Range<usize>,
        name: &str,
        span_ns: u64,
        every: SimDuration,
        length: SimDuration,
    ) -> Result<()> {
        let cycle_ns = every.as_nanos().saturating_add(length.as_nanos()).max(1);
        let faults = (span_ns / cycle_ns).saturating_mul(2);
        if faults <= NEMESIS_FAULTS_MAX {
            return Ok(());
        }
        let every_min = SimDuration::from_nanos(
            (span_ns / (NEMESIS_FAULTS_MAX / 2)).saturating_sub(length.as_nanos()),
        );
        Err(self.err(
            span,
            name,
            format!(
                "this rate schedules about {faults} faults and repairs over the run, more than the limit of {NEMESIS_FAULTS_MAX}: expected every of at least {every_min} for this duration"
            ),
        ))
    }

    /// `[nemesis] crash_after_send`: `probability` required, `kinds` among
    /// the protocol's message kinds, `down` a range with a maximum above 0.
    pub(super) fn crash_after_send(
        &self,
        raw: &Spanned<RawCrashAfterSend>,
        start: SimDuration,
        ctx: &Context,
    ) -> Result<CrashAfterSend> {
        let c = raw.get_ref();
        let field = "nemesis.crash_after_send";
        let Some(probability) = self.probability(
            c.probability.as_ref(),
            "nemesis.crash_after_send.probability",
        )?
        else {
            return Err(self.err(raw.span(), &format!("{field}.probability"), "missing: expected the probability that a handler which sent an eligible message ends in a crash, e.g. probability = 0.05"));
        };
        let kinds = match &c.kinds {
            Some(list) => {
                self.message_kinds(list, ctx, &format!("{field}.kinds"), "let every kind crash")?
            }
            None => Vec::new(),
        };
        let (down_min, down_max) = match &c.down {
            None => CrashAfterSend::DOWN_DEFAULT,
            Some(d) => {
                let DurationRange { min, max } = *d.get_ref();
                if max == SimDuration::ZERO || min > max || max > DURATION_MAX {
                    return Err(self.err(
                        d.span(),
                        &format!("{field}.down"),
                        format!("expected a downtime range [min, max] with 0 < max <= {DURATION_MAX} and min <= max"),
                    ));
                }
                (min, max)
            }
        };
        Ok(CrashAfterSend {
            probability,
            kinds,
            down_min,
            down_max,
            start: SimTime::ZERO + start,
        })
    }

    pub(super) fn swarm(&self, raw: &RawSwarm, duration: SimDuration) -> Result<SwarmConfig> {
        let swarm_span_ns = duration.as_nanos();
        let range = |r: &Option<Spanned<[f64; 2]>>, name: &str| -> Result<Option<(f64, f64)>> {
            match r {
                None => Ok(None),
                Some(r) => {
                    let [lo, hi] = *r.get_ref();
                    if (0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi) && lo <= hi {
                        Ok(Some((lo, hi)))
                    } else {
                        Err(self.err(
                            r.span(),
                            name,
                            "expected [low, high] probabilities with 0 <= low <= high <= 1",
                        ))
                    }
                }
            }
        };
        let rate = |r: &Option<Spanned<RawSwarmRate>>, name: &str| -> Result<Option<SwarmRate>> {
            let Some(r) = r else { return Ok(None) };
            let RawSwarmRate { every, duration } = r.get_ref();
            let ok = every.min > SimDuration::ZERO
                && every.min <= every.max
                && duration.max > SimDuration::ZERO
                && duration.min <= duration.max;
            if !ok {
                return Err(self.err(r.span(), name, "expected every = [min, max] with 0 < min <= max and duration = [min, max] with min <= max, max > 0"));
            }
            self.fault_count(r.span(), name, swarm_span_ns, every.min, duration.min)?;
            Ok(Some(SwarmRate {
                every_min: every.min,
                every_max: every.max,
                duration_min: duration.min,
                duration_max: duration.max,
            }))
        };
        Ok(SwarmConfig {
            loss: range(&raw.loss, "swarm.loss")?,
            duplicate: range(&raw.duplicate, "swarm.duplicate")?,
            partition: rate(&raw.partition, "swarm.partition")?,
            crash: rate(&raw.crash, "swarm.crash")?,
            pause: rate(&raw.pause, "swarm.pause")?,
            clock: rate(&raw.clock, "swarm.clock")?,
            off: self
                .probability(raw.off.as_ref(), "swarm.off")?
                .unwrap_or(0.25),
            buggify: range(&raw.buggify, "swarm.buggify")?,
            crash_after_send: range(&raw.crash_after_send, "swarm.crash_after_send")?,
        })
    }

    pub(super) fn workload(&self, raw: Option<&RawWorkload>) -> Result<WorkloadConfig> {
        let mut w = WorkloadConfig {
            clients: 1,
            ..WorkloadConfig::default()
        };
        let Some(raw) = raw else { return Ok(w) };
        if let Some(c) = &raw.clients {
            if !(0..=10_000).contains(c.get_ref()) {
                return Err(self.err(c.span(), "workload.clients", "expected 0 to 10000 clients"));
            }
            w.clients = *c.get_ref() as usize;
        }
        if let Some(v) = &raw.interval {
            if *v.get_ref() < INTERVAL_MIN {
                return Err(self.err(
                    v.span(),
                    "workload.interval",
                    format!("expected an interval of at least {INTERVAL_MIN} (a client issues at most a million operations per simulated second)"),
                ));
            }
            w.interval = *v.get_ref();
        }
        if let Some(v) = &raw.timeout {
            if *v.get_ref() == SimDuration::ZERO {
                return Err(self.err(v.span(), "workload.timeout", "expected a duration above 0"));
            }
            w.timeout = *v.get_ref();
        }
        w.max_ops = raw.max_ops;
        Ok(w)
    }

    /// `[workload] placement` and `targets`, for a protocol whose requests
    /// go to a server (`entry.fixed_placement()` says why not otherwise).
    pub(super) fn placement(
        &self,
        raw: Option<&RawWorkload>,
        entry: &dyn Entry,
        nodes: usize,
        workload: &mut WorkloadConfig,
    ) -> Result<()> {
        let Some(raw) = raw else { return Ok(()) };
        if let Some(p) = &raw.placement {
            workload.placement = match p.get_ref().as_str() {
                "protocol" => Placement::Protocol,
                "fixed" => Placement::Fixed,
                "round-robin" => Placement::RoundRobin,
                "random" => Placement::Random,
                other => {
                    return Err(self.err(
                        p.span(),
                        "workload.placement",
                        format!("unknown placement {other:?}: expected protocol, fixed, round-robin or random"),
                    ))
                }
            };
            if let (Some(why), true) = (
                entry.fixed_placement(),
                workload.placement != Placement::Protocol,
            ) {
                return Err(self.err(
                    p.span(),
                    "workload.placement",
                    format!("protocol {} places its own requests: {why}; expected placement = \"protocol\" or none", entry.name()),
                ));
            }
        }
        if let Some(t) = &raw.targets {
            if workload.placement == Placement::Protocol {
                return Err(self.err(
                    t.span(),
                    "workload.targets",
                    "applies only with placement = \"fixed\", \"round-robin\" or \"random\"",
                ));
            }
            if t.get_ref().is_empty() {
                return Err(self.err(t.span(), "workload.targets", "expected at least one server"));
            }
            workload.targets = self.node_list(t, "workload.targets", nodes)?;
        }
        Ok(())
    }

    pub(super) fn checks(
        &self,
        raw: &RawScenario,
        entry: &dyn Entry,
    ) -> Result<(Expect, SimDuration, Option<Vec<String>>)> {
        let default_settle = SimDuration::from_secs(5);
        let Some(c) = &raw.checks else {
            return Ok((Expect::Pass, default_settle, None));
        };
        let all: Vec<&str> = entry
            .checks()
            .iter()
            .chain(engine_checks(entry.quiescent()))
            .map(|c| c.name)
            .collect();
        let known = |name: &str| all.contains(&name);
        let expect_check = match &c.expect_check {
            Some(e) if !known(e.get_ref()) => {
                return Err(self.err(
                    e.span(),
                    "checks.expect_check",
                    format!(
                        "unknown check {:?}: expected one of {}",
                        e.get_ref(),
                        all.join(", ")
                    ),
                ))
            }
            other => other.as_ref().map(|e| e.get_ref().clone()),
        };
        let expect = match c.expect.as_ref().map(|e| (e.get_ref().as_str(), e.span())) {
            None | Some(("pass", _)) => {
                if let Some(e) = &c.expect_check {
                    return Err(self.err(
                        e.span(),
                        "checks.expect_check",
                        "applies only with expect = \"violation\"",
                    ));
                }
                Expect::Pass
            }
            Some(("violation", _)) => Expect::Violation(expect_check),
            Some((other, span)) => {
                return Err(self.err(
                    span,
                    "checks.expect",
                    format!("expected \"pass\" or \"violation\", found {other:?}"),
                ))
            }
        };
        let enabled = match &c.enabled {
            None => None,
            Some(list) => {
                for name in list.get_ref() {
                    if !known(name) {
                        return Err(self.err(
                            list.span(),
                            "checks.enabled",
                            format!(
                                "unknown check {name:?}: expected some of {}",
                                all.join(", ")
                            ),
                        ));
                    }
                }
                Some(list.get_ref().clone())
            }
        };
        let settle = match &c.settle {
            Some(s) if *s.get_ref() > DURATION_MAX => {
                return Err(self.err(
                    s.span(),
                    "checks.settle",
                    format!("expected a liveness phase of at most {DURATION_MAX}"),
                ));
            }
            Some(s) => *s.get_ref(),
            None => default_settle,
        };
        Ok((expect, settle, enabled))
    }
}
