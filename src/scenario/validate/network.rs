//! `[network]`: latency distributions, loss, duplication, per-link
//! overrides and what happens to messages for a paused node.

use super::*;

impl Validator<'_> {
    pub(super) fn network(&self, raw: &RawNetwork, ctx: &Context) -> Result<(NetworkConfig, bool)> {
        let base = LinkConfig::default();
        let default = LinkConfig {
            latency: match &raw.latency {
                Some(l) => self.latency(l, "network.latency")?,
                None => base.latency,
            },
            loss: self
                .probability(raw.loss.as_ref(), "network.loss")?
                .unwrap_or(0.0),
            duplicate: self
                .probability(raw.duplicate.as_ref(), "network.duplicate")?
                .unwrap_or(0.0),
        };
        let mut links = Vec::new();
        for (i, link) in raw.links.iter().enumerate() {
            links.extend(self.link(link, i, &default, ctx)?);
        }
        let pause_drops = match raw.paused_messages.as_ref() {
            None => false,
            Some(p) => match p.get_ref().as_str() {
                "queue" => false,
                "drop" => true,
                other => {
                    return Err(self.err(
                        p.span(),
                        "network.paused_messages",
                        format!("expected \"queue\" or \"drop\", found {other:?}"),
                    ))
                }
            },
        };
        let slow = raw.slow.as_ref().map(|s| self.slow(s, ctx)).transpose()?;
        Ok((
            NetworkConfig {
                default,
                links,
                slow,
            },
            pause_drops,
        ))
    }

    /// `[network.slow]`: `share` and `latency` required, `kinds` among the
    /// protocol's message kinds.
    fn slow(&self, raw: &Spanned<RawSlow>, ctx: &Context) -> Result<SlowMessages> {
        let s = raw.get_ref();
        let Some(share) = self.probability(s.share.as_ref(), "network.slow.share")? else {
            return Err(self.err(
                raw.span(),
                "network.slow.share",
                "missing: expected the share of messages that are slow, e.g. share = 0.1",
            ));
        };
        let Some(latency) = &s.latency else {
            return Err(self.err(raw.span(), "network.slow.latency", "missing: expected the slow messages' delay, e.g. latency = { dist = \"pareto\", scale = \"100ms\", shape = 1.5, max = \"5s\" }"));
        };
        let latency = self.latency(latency, "network.slow.latency")?;
        let kinds = match &s.kinds {
            Some(list) => {
                self.message_kinds(list, ctx, "network.slow.kinds", "slow every message")?
            }
            None => Vec::new(),
        };
        Ok(SlowMessages {
            share,
            latency,
            kinds,
        })
    }

    /// A list of message kinds, each one the protocol names; `all` says
    /// what leaving the list out does, for a protocol that names none.
    pub(super) fn message_kinds(
        &self,
        list: &Spanned<Vec<String>>,
        ctx: &Context,
        field: &str,
        all: &str,
    ) -> Result<Vec<String>> {
        let known = ctx.entry.message_kinds();
        let mut kinds = Vec::new();
        for kind in list.get_ref() {
            if !known.contains(&kind.as_str()) {
                let expected = if known.is_empty() {
                    format!(
                        "protocol {} names no message kinds: leave kinds out to {all}",
                        ctx.entry.name()
                    )
                } else {
                    format!("expected some of {}", known.join(", "))
                };
                return Err(self.err(
                    list.span(),
                    field,
                    format!("unknown message kind {kind:?}: {expected}"),
                ));
            }
            kinds.push(kind.clone());
        }
        Ok(kinds)
    }

    pub(super) fn link(
        &self,
        raw: &Spanned<RawLink>,
        i: usize,
        default: &LinkConfig,
        ctx: &Context,
    ) -> Result<Vec<((NodeId, NodeId), LinkConfig)>> {
        let l = raw.get_ref();
        let name = |f: &str| format!("network.links[{i}].{f}");
        let from = self.node_index(&l.from, &name("from"), ctx.processes)?;
        let to = self.node_index(&l.to, &name("to"), ctx.processes)?;
        if from == to {
            return Err(self.err(
                l.to.span(),
                &name("to"),
                "expected a link between two different nodes",
            ));
        }
        let config = LinkConfig {
            latency: match &l.latency {
                Some(lat) => self.latency(lat, &name("latency"))?,
                None => default.latency.clone(),
            },
            loss: self
                .probability(l.loss.as_ref(), &name("loss"))?
                .unwrap_or(default.loss),
            duplicate: self
                .probability(l.duplicate.as_ref(), &name("duplicate"))?
                .unwrap_or(default.duplicate),
        };
        let mut out = vec![((from, to), config.clone())];
        if l.symmetric {
            out.push(((to, from), config));
        }
        Ok(out)
    }

    pub(super) fn probability(&self, p: Option<&Spanned<f64>>, name: &str) -> Result<Option<f64>> {
        match p {
            None => Ok(None),
            Some(p) if (0.0..=1.0).contains(p.get_ref()) => Ok(Some(*p.get_ref())),
            Some(p) => Err(self.err(
                p.span(),
                name,
                format!(
                    "expected a probability between 0 and 1, found {}",
                    p.get_ref()
                ),
            )),
        }
    }

    pub(super) fn latency(&self, raw: &Spanned<RawLatency>, name: &str) -> Result<Latency> {
        let l = raw.get_ref();
        let span = raw.span();
        let present: Vec<&str> = [
            ("value", l.value.is_some()),
            ("min", l.min.is_some()),
            ("max", l.max.is_some()),
            ("mean", l.mean.is_some()),
            ("stddev", l.stddev.is_some()),
            ("scale", l.scale.is_some()),
            ("shape", l.shape.is_some()),
            ("median", l.median.is_some()),
            ("sigma", l.sigma.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, p)| p.then_some(k))
        .collect();
        let (required, optional): (&[&str], &[&str]) = match l.dist.as_str() {
            "constant" => (&["value"], &[]),
            "uniform" => (&["min", "max"], &[]),
            "normal" => (&["mean", "stddev"], &[]),
            "exponential" => (&["mean"], &[]),
            "pareto" => (&["scale", "shape"], &["max"]),
            "lognormal" => (&["median", "sigma"], &["max"]),
            other => {
                return Err(self.err(
                    span,
                    &format!("{name}.dist"),
                    format!("unknown distribution {other:?}: expected constant, uniform, normal, exponential, pareto or lognormal"),
                ))
            }
        };
        for key in &present {
            if !required.contains(key) && !optional.contains(key) {
                return Err(self.err(
                    span.clone(),
                    &format!("{name}.{key}"),
                    format!(
                        "does not apply to dist = {:?}: expected {}",
                        l.dist,
                        required.join(" and ")
                    ),
                ));
            }
        }
        for key in required {
            if !present.contains(key) {
                return Err(self.err(
                    span.clone(),
                    &format!("{name}.{key}"),
                    format!(
                        "missing: dist = {:?} needs {}",
                        l.dist,
                        required.join(" and ")
                    ),
                ));
            }
        }
        let z = SimDuration::ZERO;
        let latency = match l.dist.as_str() {
            "constant" => Latency::Constant(l.value.unwrap_or(z)),
            "uniform" => Latency::Uniform {
                min: l.min.unwrap_or(z),
                max: l.max.unwrap_or(z),
            },
            "normal" => Latency::Normal {
                mean: l.mean.unwrap_or(z),
                stddev: l.stddev.unwrap_or(z),
            },
            "exponential" => Latency::Exponential {
                mean: l.mean.unwrap_or(z),
            },
            "pareto" => Latency::Pareto {
                scale: l.scale.unwrap_or(z),
                shape: l.shape.unwrap_or(1.0),
                max: l.max,
            },
            _ => Latency::LogNormal {
                median: l.median.unwrap_or(z),
                sigma: l.sigma.unwrap_or(0.0),
                max: l.max,
            },
        };
        self.check_latency(&latency, span, name)?;
        Ok(latency)
    }

    pub(super) fn check_latency(
        &self,
        latency: &Latency,
        span: Range<usize>,
        name: &str,
    ) -> Result<()> {
        let problem = match latency {
            Latency::Uniform { min, max } if min > max => Some("expected min <= max"),
            Latency::Pareto { shape, .. } if !(*shape > 0.0 && shape.is_finite()) => {
                Some("expected shape > 0")
            }
            Latency::Pareto { scale, .. } if *scale == SimDuration::ZERO => {
                Some("expected scale > 0")
            }
            Latency::LogNormal { sigma, .. } if !(*sigma >= 0.0 && sigma.is_finite()) => {
                Some("expected sigma >= 0")
            }
            _ => None,
        };
        match problem {
            Some(p) => Err(self.err(span, name, p)),
            None => Ok(()),
        }
    }
}
