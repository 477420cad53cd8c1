//! Nodes as faults name them (by index, role or "any"), and `[[faults]]`:
//! each fault's fields checked against its action, partitions' shapes
//! and groups, clock faults, and the order of faults (a heal after a
//! partition, a restart after a crash).

use super::*;

impl Validator<'_> {
    pub(super) fn node_index(
        &self,
        raw: &Spanned<i64>,
        name: &str,
        processes: usize,
    ) -> Result<NodeId> {
        let i = *raw.get_ref();
        if i < 0 || i as usize >= processes {
            return Err(self.err(
                raw.span(),
                name,
                format!("node index {i} is out of range: expected 0 to {} (the scenario has {processes} nodes)", processes - 1),
            ));
        }
        Ok(NodeId(i as u32))
    }

    pub(super) fn node_ref(
        &self,
        raw: &Spanned<RawNodeRef>,
        name: &str,
        ctx: &Context,
    ) -> Result<NodeRef> {
        match raw.get_ref() {
            RawNodeRef::Index(i) => {
                let spanned = Spanned::new(raw.span(), *i);
                self.node_index(&spanned, name, ctx.processes)
                    .map(NodeRef::Id)
            }
            RawNodeRef::Name(n) if n == "any" => Ok(NodeRef::Any),
            RawNodeRef::Name(n) if ctx.entry.roles().contains(&n.as_str()) => {
                Ok(NodeRef::Role(n.clone()))
            }
            RawNodeRef::Name(n) => {
                let roles = if ctx.entry.roles().is_empty() {
                    format!("protocol {} has no roles", ctx.entry.name())
                } else {
                    format!(
                        "roles of {}: {}",
                        ctx.entry.name(),
                        ctx.entry.roles().join(", ")
                    )
                };
                Err(self.err(
                    raw.span(),
                    name,
                    format!(
                        "unknown node {n:?}: expected a node index, \"any\" or a role ({roles})"
                    ),
                ))
            }
        }
    }

    /// Distinct node indices below `limit` (servers for a split's minority,
    /// every process for explicit groups, which may place clients).
    pub(super) fn node_list(
        &self,
        raw: &Spanned<Vec<i64>>,
        name: &str,
        limit: usize,
    ) -> Result<Vec<NodeId>> {
        let mut ids = Vec::new();
        for &i in raw.get_ref() {
            let id = self.node_index(&Spanned::new(raw.span(), i), name, limit)?;
            if ids.contains(&id) {
                return Err(self.err(raw.span(), name, format!("node {i} is listed twice")));
            }
            ids.push(id);
        }
        Ok(ids)
    }

    // ----- faults -------------------------------------------------------------------

    pub(super) fn faults(
        &self,
        raw: &[Spanned<RawFault>],
        ctx: &Context,
        nemesis: &NemesisConfig,
    ) -> Result<Vec<TimedFault>> {
        let mut faults = Vec::new();
        for (i, f) in raw.iter().enumerate() {
            faults.push((self.fault(f, i, ctx)?, i));
        }
        faults.sort_by_key(|(f, _)| f.at);
        self.check_fault_sequence(&faults, raw, nemesis)?;
        Ok(faults.into_iter().map(|(f, _)| f).collect())
    }

    pub(super) fn fault(
        &self,
        raw: &Spanned<RawFault>,
        i: usize,
        ctx: &Context,
    ) -> Result<TimedFault> {
        let f = raw.get_ref();
        let name = |k: &str| format!("faults[{i}].{k}");
        let at = *f.at.get_ref();
        if at >= ctx.duration {
            return Err(self.err(
                f.at.span(),
                &name("at"),
                format!("{at} is not before the end of the fault phase: expected a time below duration = {}", ctx.duration),
            ));
        }
        let action = f.action.get_ref().as_str();
        let allowed: &[&str] = match action {
            "partition" => &["name", "shape", "node", "minority", "groups", "one_way"],
            "heal" => &["name"],
            "crash" | "pause" => &["node"],
            "restart" | "resume" => &["node"],
            "clock" => &["node", "offset", "drift_ppm"],
            other => {
                return Err(self.err(
                    f.action.span(),
                    &name("action"),
                    format!("unknown action {other:?}: expected partition, heal, crash, restart, pause, resume or clock"),
                ))
            }
        };
        self.only_fields(f, allowed, i, action)?;
        let node = |required: bool| -> Result<Option<NodeRef>> {
            match &f.node {
                Some(n) => self.node_ref(n, &name("node"), ctx).map(Some),
                None if required => Err(self.err(
                    raw.span(),
                    &name("node"),
                    format!("missing: action {action:?} needs a node"),
                )),
                None => Ok(None),
            }
        };
        let action = match action {
            "partition" => self.partition(f, i, ctx)?,
            "heal" => FaultAction::Heal(f.name.as_ref().map(|n| n.get_ref().clone())),
            "crash" => FaultAction::Crash(node(true)?.unwrap_or(NodeRef::Any)),
            "pause" => FaultAction::Pause(node(true)?.unwrap_or(NodeRef::Any)),
            "restart" => FaultAction::Restart(node(false)?),
            "resume" => FaultAction::Resume(node(false)?),
            _ => self.clock(f, i, node(true)?.unwrap_or(NodeRef::Any))?,
        };
        Ok(TimedFault {
            at: SimTime::ZERO + at,
            action,
        })
    }

    pub(super) fn only_fields(
        &self,
        f: &RawFault,
        allowed: &[&str],
        i: usize,
        action: &str,
    ) -> Result<()> {
        let present: [(&str, Option<Range<usize>>); 9] = [
            ("node", f.node.as_ref().map(|x| x.span())),
            ("name", f.name.as_ref().map(|x| x.span())),
            ("shape", f.shape.as_ref().map(|x| x.span())),
            ("minority", f.minority.as_ref().map(|x| x.span())),
            ("groups", f.groups.as_ref().map(|x| x.span())),
            ("one_way", f.one_way.as_ref().map(|x| x.span())),
            ("offset", f.offset.as_ref().map(|x| x.span())),
            ("drift_ppm", f.drift_ppm.as_ref().map(|x| x.span())),
            ("at", None),
        ];
        for (key, span) in present {
            if let Some(span) = span {
                if !allowed.contains(&key) {
                    return Err(self.err(
                        span,
                        &format!("faults[{i}].{key}"),
                        format!(
                            "does not apply to action {action:?}: expected only {}",
                            allowed.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    pub(super) fn partition(&self, f: &RawFault, i: usize, ctx: &Context) -> Result<FaultAction> {
        let name = |k: &str| format!("faults[{i}].{k}");
        let shape_name = f.shape.as_ref().map(|s| s.get_ref().as_str());
        let shape_span = f.shape.as_ref().map_or(f.action.span(), |s| s.span());
        let shape = match shape_name {
            Some("isolate") | Some("bridge") => {
                let node =
                    match &f.node {
                        Some(n) => self.node_ref(n, &name("node"), ctx)?,
                        None => return Err(self.err(
                            shape_span,
                            &name("node"),
                            "missing: this shape needs the node to isolate or to bridge through",
                        )),
                    };
                if let (NodeRef::Id(id), Some(n)) = (&node, &f.node) {
                    if id.index() >= ctx.nodes {
                        return Err(self.err(
                            n.span(),
                            &name("node"),
                            format!("node {} is a client process: named shapes cut servers only (0 to {}); use groups to cut clients", id.0, ctx.nodes - 1),
                        ));
                    }
                }
                if shape_name == Some("isolate") {
                    Shape::Isolate(node)
                } else {
                    Shape::Bridge(node)
                }
            }
            Some("split") => Shape::Split(
                f.minority
                    .as_ref()
                    .map(|m| self.node_list(m, &name("minority"), ctx.nodes))
                    .transpose()?,
            ),
            Some("ring") => Shape::Ring,
            Some("groups") | None => {
                let Some(groups) = &f.groups else {
                    return Err(self.err(shape_span, &name("groups"), "missing: expected shape = isolate, split, bridge or ring, or groups = [[...], [...]]"));
                };
                Shape::Groups(self.groups(groups, &name("groups"), ctx)?)
            }
            Some(other) => {
                return Err(self.err(
                    shape_span,
                    &name("shape"),
                    format!(
                        "unknown shape {other:?}: expected isolate, split, bridge, ring or groups"
                    ),
                ))
            }
        };
        let mismatched = match &shape {
            Shape::Isolate(_) | Shape::Bridge(_) => f
                .minority
                .as_ref()
                .map(|m| ("minority", m.span()))
                .or(f.groups.as_ref().map(|g| ("groups", g.span()))),
            Shape::Split(_) => f
                .node
                .as_ref()
                .map(|n| ("node", n.span()))
                .or(f.groups.as_ref().map(|g| ("groups", g.span()))),
            Shape::Ring | Shape::Groups(_) => f
                .node
                .as_ref()
                .map(|n| ("node", n.span()))
                .or(f.minority.as_ref().map(|m| ("minority", m.span()))),
        };
        if let Some((key, span)) = mismatched {
            return Err(self.err(
                span,
                &name(key),
                format!("does not apply to this partition shape ({shape})"),
            ));
        }
        let one_way = f.one_way.as_ref().is_some_and(|o| *o.get_ref());
        if one_way && matches!(shape, Shape::Ring | Shape::Bridge(_)) {
            let span = f.one_way.as_ref().map_or(0..0, |o| o.span());
            return Err(self.err(
                span,
                &name("one_way"),
                "one-way cuts apply to isolate, split and groups shapes only",
            ));
        }
        let pname = f
            .name
            .as_ref()
            .map_or_else(|| format!("p{i}"), |n| n.get_ref().clone());
        Ok(FaultAction::Partition {
            name: pname,
            shape,
            one_way,
        })
    }

    pub(super) fn groups(
        &self,
        raw: &Spanned<Vec<Vec<i64>>>,
        name: &str,
        ctx: &Context,
    ) -> Result<Vec<Vec<NodeId>>> {
        if raw.get_ref().len() < 2 {
            return Err(self.err(
                raw.span(),
                name,
                "expected at least two groups, e.g. [[0, 1], [2, 3, 4]]",
            ));
        }
        let mut seen = BTreeSet::new();
        let mut groups = Vec::new();
        for g in raw.get_ref() {
            let ids = self.node_list(&Spanned::new(raw.span(), g.clone()), name, ctx.processes)?;
            if ids.is_empty() {
                return Err(self.err(
                    raw.span(),
                    name,
                    "expected every group to name at least one node",
                ));
            }
            for id in &ids {
                if !seen.insert(*id) {
                    return Err(self.err(
                        raw.span(),
                        name,
                        format!("node {} is in two groups", id.0),
                    ));
                }
            }
            groups.push(ids);
        }
        Ok(groups)
    }

    pub(super) fn clock(&self, f: &RawFault, i: usize, node: NodeRef) -> Result<FaultAction> {
        let offset_ns = match &f.offset {
            None => 0,
            Some(o) => parse_signed(o.get_ref()).ok_or_else(|| {
                self.err(
                    o.span(),
                    &format!("faults[{i}].offset"),
                    format!(
                        "expected a signed duration like \"-200ms\" or \"+1s\", found {:?}",
                        o.get_ref()
                    ),
                )
            })?,
        };
        let drift_ppm = match &f.drift_ppm {
            None => 0,
            Some(d) if (-499_999..=499_999).contains(d.get_ref()) => *d.get_ref(),
            Some(d) => {
                return Err(self.err(
                    d.span(),
                    &format!("faults[{i}].drift_ppm"),
                    "expected a drift between -499999 and 499999 ppm",
                ))
            }
        };
        Ok(FaultAction::Clock {
            node,
            offset_ns,
            drift_ppm,
        })
    }

    /// Heals need a partition to heal; restarts and resumes need a crash or
    /// pause before them; partition names must not clash while active.
    pub(super) fn check_fault_sequence(
        &self,
        faults: &[(TimedFault, usize)],
        raw: &[Spanned<RawFault>],
        nemesis: &NemesisConfig,
    ) -> Result<()> {
        let mut active: Vec<&str> = Vec::new();
        let mut any_partition = nemesis.partition.is_some();
        let mut any_crash = nemesis.crash.is_some();
        let mut any_pause = nemesis.pause.is_some();
        for (fault, i) in faults {
            let span = raw[*i].get_ref().action.span();
            let at = |k: &str| format!("faults[{i}].{k}");
            match &fault.action {
                FaultAction::Partition { name, .. } => {
                    if active.contains(&name.as_str()) {
                        return Err(self.err(span, &at("name"), format!("partition {name:?} is already active: expected a new name or a heal first")));
                    }
                    active.push(name);
                    any_partition = true;
                }
                FaultAction::Heal(Some(name)) => {
                    let Some(pos) = active.iter().position(|a| a == name) else {
                        return Err(self.err(
                            span,
                            &at("name"),
                            format!("heal of {name:?} without an earlier partition of that name"),
                        ));
                    };
                    active.remove(pos);
                }
                FaultAction::Heal(None) if !any_partition => {
                    return Err(self.err(span, &at("action"), "heal without partition: expected an earlier partition fault or a nemesis partition rate"));
                }
                FaultAction::Heal(None) => active.clear(),
                FaultAction::Crash(_) => any_crash = true,
                FaultAction::Pause(_) => any_pause = true,
                FaultAction::Restart(_) if !any_crash => {
                    return Err(self.err(span, &at("action"), "restart without crash: expected an earlier crash fault or a nemesis crash rate"));
                }
                FaultAction::Resume(_) if !any_pause => {
                    return Err(self.err(span, &at("action"), "resume without pause: expected an earlier pause fault or a nemesis pause rate"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn parse_signed(text: &str) -> Option<i64> {
    let t = text.trim();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let d = parse_duration(rest).ok()?;
    i64::try_from(d.as_nanos()).ok().map(|n| sign * n)
}
