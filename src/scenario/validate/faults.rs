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
            RawNodeRef::Name(n) if n.starts_with("hit:") && n.len() > 4 => {
                Ok(NodeRef::HitBy(n["hit:".len()..].to_string()))
            }
            RawNodeRef::Name(n) if n.starts_with("tag:") => {
                let tag = &n["tag:".len()..];
                if ctx.entry.tags().contains(&tag) {
                    return Ok(NodeRef::Tag(tag.to_string()));
                }
                let known = match ctx.entry.tags() {
                    [] => format!("protocol {} tags no nodes", ctx.entry.name()),
                    tags => format!("expected one of {}", tags.join(", ")),
                };
                Err(self.err(raw.span(), name, format!("unknown tag {tag:?}: {known}")))
            }
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
                        "unknown node {n:?}: expected a node index, \"any\", \"hit:NAME\" (the node the fault named NAME hit), \"tag:TAG\" (a node the protocol tags) or a role ({roles})"
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
    ) -> Result<(Vec<TimedFault>, Vec<FaultTemplate>)> {
        let mut faults = Vec::new();
        let mut templates = Vec::new();
        for (i, f) in raw.iter().enumerate() {
            match self.fault(f, i, ctx)? {
                Planned::Timed(fault) => faults.push((fault, i)),
                Planned::Template(t) => templates.push((t, i)),
            }
        }
        faults.sort_by_key(|(f, _)| f.at);
        self.check_fault_sequence(&faults, &templates, raw, nemesis)?;
        self.check_hits(&faults, &templates, raw)?;
        Ok((
            faults.into_iter().map(|(f, _)| f).collect(),
            templates.into_iter().map(|(t, _)| t).collect(),
        ))
    }

    pub(super) fn fault(
        &self,
        raw: &Spanned<RawFault>,
        i: usize,
        ctx: &Context,
    ) -> Result<Planned> {
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
            "partition" => &[
                "name", "shape", "node", "minority", "groups", "one_way", "size", "for", "every",
                "count", "until", "jitter",
            ],
            "heal" => &["name", "every", "count", "until", "jitter"],
            // A crash after a send is one crash at one moment: its
            // restart is a fault of its own.
            "crash" if f.after_send.is_some() => &["node", "name", "after_send"],
            "crash" => &[
                "node",
                "name",
                "for",
                "every",
                "count",
                "until",
                "jitter",
                "after_send",
            ],
            "pause" => &["node", "name", "for", "every", "count", "until", "jitter"],
            "restart" | "resume" => &["node", "every", "count", "until", "jitter"],
            "clock" => &[
                "node", "offset", "drift_ppm", "name", "for", "every", "count", "until", "jitter",
            ],
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
        let mut action = match action {
            "partition" => self.partition(f, i, ctx)?,
            "heal" => FaultAction::Heal(f.name.as_ref().map(|n| n.get_ref().clone())),
            "crash" => {
                let node = node(true)?.unwrap_or(NodeRef::Any);
                match &f.after_send {
                    Some(kind) => FaultAction::CrashAfterSend {
                        node,
                        kind: self.after_send_kind(kind, i, ctx)?,
                    },
                    None => FaultAction::Crash(node),
                }
            }
            "pause" => FaultAction::Pause(node(true)?.unwrap_or(NodeRef::Any)),
            "restart" => FaultAction::Restart(node(false)?),
            "resume" => FaultAction::Resume(node(false)?),
            _ => self.clock(f, i, node(true)?.unwrap_or(NodeRef::Any))?,
        };
        if let FaultAction::Restart(Some(NodeRef::Tag(_)))
        | FaultAction::Resume(Some(NodeRef::Tag(_))) = &action
        {
            let span = f.node.as_ref().map_or(raw.span(), |n| n.span());
            return Err(self.err(
                span,
                &name("node"),
                "a tag names a live server, never one that is down: expected an index or \"hit:NAME\" for the node to bring back",
            ));
        }
        let lasting = self.lasting(f, i)?;
        let repeat = self.repeat(f, i, ctx)?;
        let at = SimTime::ZERO + at;
        let named = !matches!(action, FaultAction::Partition { .. } | FaultAction::Heal(_));
        let given = f
            .name
            .as_ref()
            .filter(|_| named)
            .map(|n| n.get_ref().clone());
        if lasting.is_none() && repeat.is_none() {
            if let Some(label) = given {
                name_node(&mut action, label);
            }
            return Ok(Planned::Timed(TimedFault { at, action }));
        }
        let label = match &action {
            FaultAction::Partition { name, .. } => name.clone(),
            _ => given.unwrap_or_else(|| format!("{}{i}", f.action.get_ref())),
        };
        let template = FaultTemplate {
            at,
            action,
            name: label,
            lasting,
            repeat,
            stream: i as u32,
        };
        let episodes = repeat::episode_bound(&template, SimTime::ZERO + ctx.duration);
        if episodes > repeat::MAX_EPISODES {
            let span = f.every.as_ref().map_or(raw.span(), |e| e.span());
            return Err(self.err(
                span,
                &name("every"),
                format!("this fault repeats about {episodes} times, more than the limit of {}: expected a longer every, a count or an until", repeat::MAX_EPISODES),
            ));
        }
        Ok(Planned::Template(template))
    }

    /// `after_send`: `"any"`, or a message kind the protocol names.
    fn after_send_kind(
        &self,
        kind: &Spanned<String>,
        i: usize,
        ctx: &Context,
    ) -> Result<Option<String>> {
        let text = kind.get_ref();
        if text == "any" {
            return Ok(None);
        }
        let known = ctx.entry.message_kinds();
        if known.contains(&text.as_str()) {
            return Ok(Some(text.clone()));
        }
        let kinds = if known.is_empty() {
            String::new()
        } else {
            format!(" or one of {}", known.join(", "))
        };
        Err(self.err(
            kind.span(),
            &format!("faults[{i}].after_send"),
            format!("unknown message kind {text:?}: expected \"any\"{kinds}"),
        ))
    }

    /// `for`: how long each episode lasts before it is undone.
    fn lasting(&self, f: &RawFault, i: usize) -> Result<Option<(SimDuration, SimDuration)>> {
        let Some(l) = &f.lasting else { return Ok(None) };
        let DurationRange { min, max } = *l.get_ref();
        if min == SimDuration::ZERO || min > max {
            return Err(self.err(
                l.span(),
                &format!("faults[{i}].for"),
                "expected a duration above 0, or a range [min, max] with 0 < min <= max",
            ));
        }
        Ok(Some((min, max)))
    }

    /// `every`, `count`, `until` and `jitter`: how a fault repeats.
    fn repeat(&self, f: &RawFault, i: usize, ctx: &Context) -> Result<Option<Repeat>> {
        let name = |k: &str| format!("faults[{i}].{k}");
        let Some(every) = &f.every else {
            let stray = [
                ("count", f.count.as_ref().map(|x| x.span())),
                ("until", f.until.as_ref().map(|x| x.span())),
                ("jitter", f.jitter.as_ref().map(|x| x.span())),
            ];
            if let Some((key, Some(span))) = stray.into_iter().find(|(_, s)| s.is_some()) {
                return Err(self.err(
                    span,
                    &name(key),
                    "applies only with every: expected every = \"5s\" (or the like) beside it",
                ));
            }
            return Ok(None);
        };
        if *every.get_ref() == SimDuration::ZERO {
            return Err(self.err(every.span(), &name("every"), "expected a duration above 0"));
        }
        let count = match &f.count {
            Some(c) if *c.get_ref() < 1 => {
                return Err(self.err(c.span(), &name("count"), "expected at least 1"));
            }
            Some(c) => Some(*c.get_ref() as u64),
            None => None,
        };
        let at = *f.at.get_ref();
        let until = match &f.until {
            Some(u) if *u.get_ref() <= at || *u.get_ref() > ctx.duration => {
                return Err(self.err(
                    u.span(),
                    &name("until"),
                    format!(
                        "expected a time after at = {at} and at most duration = {}",
                        ctx.duration
                    ),
                ));
            }
            Some(u) => Some(SimTime::ZERO + *u.get_ref()),
            None => None,
        };
        let jitter = match &f.jitter {
            Some(j) if *j.get_ref() >= *every.get_ref() => {
                return Err(self.err(
                    j.span(),
                    &name("jitter"),
                    format!(
                        "expected a jitter below every = {}, so repetitions keep their order",
                        every.get_ref()
                    ),
                ));
            }
            Some(j) => *j.get_ref(),
            None => SimDuration::ZERO,
        };
        Ok(Some(Repeat {
            every: *every.get_ref(),
            count,
            until,
            jitter,
        }))
    }

    pub(super) fn only_fields(
        &self,
        f: &RawFault,
        allowed: &[&str],
        i: usize,
        action: &str,
    ) -> Result<()> {
        let present: [(&str, Option<Range<usize>>); 15] = [
            ("node", f.node.as_ref().map(|x| x.span())),
            ("name", f.name.as_ref().map(|x| x.span())),
            ("shape", f.shape.as_ref().map(|x| x.span())),
            ("minority", f.minority.as_ref().map(|x| x.span())),
            ("groups", f.groups.as_ref().map(|x| x.span())),
            ("one_way", f.one_way.as_ref().map(|x| x.span())),
            ("offset", f.offset.as_ref().map(|x| x.span())),
            ("drift_ppm", f.drift_ppm.as_ref().map(|x| x.span())),
            ("size", f.size.as_ref().map(|x| x.span())),
            ("for", f.lasting.as_ref().map(|x| x.span())),
            ("every", f.every.as_ref().map(|x| x.span())),
            ("count", f.count.as_ref().map(|x| x.span())),
            ("until", f.until.as_ref().map(|x| x.span())),
            ("jitter", f.jitter.as_ref().map(|x| x.span())),
            ("after_send", f.after_send.as_ref().map(|x| x.span())),
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
            Some("around") => {
                let Some(n) = &f.node else {
                    return Err(self.err(shape_span, &name("node"), "missing: shape = \"around\" needs the node its group is built around"));
                };
                let node = self.node_ref(n, &name("node"), ctx)?;
                if let NodeRef::Id(id) = &node {
                    if id.index() >= ctx.nodes {
                        return Err(self.err(n.span(), &name("node"), format!("node {} is a client process: named shapes cut servers only (0 to {}); use groups to cut clients", id.0, ctx.nodes - 1)));
                    }
                }
                let Some(size) = &f.size else {
                    return Err(self.err(shape_span, &name("size"), "missing: shape = \"around\" needs size = a number of servers, \"minority\" or \"majority\""));
                };
                Shape::Around {
                    node,
                    size: self.group_size(size, &name("size"), ctx.nodes)?,
                }
            }
            Some("groups") | None => {
                let Some(groups) = &f.groups else {
                    return Err(self.err(shape_span, &name("groups"), "missing: expected shape = isolate, split, bridge, ring or around, or groups = [[...], [...]]"));
                };
                Shape::Groups(self.groups(groups, &name("groups"), ctx)?)
            }
            Some(other) => {
                return Err(self.err(
                    shape_span,
                    &name("shape"),
                    format!(
                        "unknown shape {other:?}: expected isolate, split, bridge, ring, around or groups"
                    ),
                ))
            }
        };
        let size = f.size.as_ref().map(|s| ("size", s.span()));
        let mismatched = match &shape {
            Shape::Isolate(_) | Shape::Bridge(_) => f
                .minority
                .as_ref()
                .map(|m| ("minority", m.span()))
                .or(f.groups.as_ref().map(|g| ("groups", g.span())))
                .or(size),
            Shape::Around { .. } => f
                .minority
                .as_ref()
                .map(|m| ("minority", m.span()))
                .or(f.groups.as_ref().map(|g| ("groups", g.span()))),
            Shape::Split(_) => f
                .node
                .as_ref()
                .map(|n| ("node", n.span()))
                .or(f.groups.as_ref().map(|g| ("groups", g.span())))
                .or(size),
            Shape::Ring | Shape::Groups(_) => f
                .node
                .as_ref()
                .map(|n| ("node", n.span()))
                .or(f.minority.as_ref().map(|m| ("minority", m.span())))
                .or(size),
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

    /// `size` of an `around` group: 1 to one fewer than the servers, or
    /// `"minority"` / `"majority"`.
    fn group_size(&self, raw: &Spanned<RawSize>, name: &str, servers: usize) -> Result<GroupSize> {
        match raw.get_ref() {
            RawSize::Count(n) if (1..servers as i64).contains(n) => Ok(GroupSize::Count(*n as usize)),
            RawSize::Count(n) => Err(self.err(
                raw.span(),
                name,
                format!("expected 1 to {} servers (fewer than all {servers}), found {n}", servers - 1),
            )),
            RawSize::Name(n) if n == "minority" => Ok(GroupSize::Minority),
            RawSize::Name(n) if n == "majority" => Ok(GroupSize::Majority),
            RawSize::Name(n) => Err(self.err(
                raw.span(),
                name,
                format!("unknown size {n:?}: expected a number of servers, \"minority\" or \"majority\""),
            )),
        }
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
        templates: &[(FaultTemplate, usize)],
        raw: &[Spanned<RawFault>],
        nemesis: &NemesisConfig,
    ) -> Result<()> {
        let mut active: Vec<&str> = Vec::new();
        let mut any_partition = nemesis.partition.is_some();
        let mut any_crash = nemesis.crash.is_some();
        let mut any_pause = nemesis.pause.is_some();
        // A lasting or repeated fault counts from its first episode, like a
        // plain one; its episodes have names of their own (`p#0`, ...).
        let mut ordered: Vec<(SimTime, &FaultAction, usize, bool)> = faults
            .iter()
            .map(|(f, i)| (f.at, &f.action, *i, false))
            .chain(templates.iter().map(|(t, i)| (t.at, &t.action, *i, true)))
            .collect();
        ordered.sort_by_key(|(at, _, i, _)| (*at, *i));
        for (_, action, i, template) in ordered {
            if template {
                match action {
                    FaultAction::Partition { .. } => any_partition = true,
                    FaultAction::Crash(_) => any_crash = true,
                    FaultAction::Pause(_) => any_pause = true,
                    _ => {}
                }
            }
            if template && matches!(action, FaultAction::Partition { .. }) {
                continue;
            }
            let span = raw[i].get_ref().action.span();
            let at = |k: &str| format!("faults[{i}].{k}");
            match action {
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
                FaultAction::Crash(_) | FaultAction::CrashAfterSend { .. } => any_crash = true,
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

    /// Every `node = "hit:NAME"` names a crash, pause or clock fault with
    /// `name = NAME`.
    fn check_hits(
        &self,
        faults: &[(TimedFault, usize)],
        templates: &[(FaultTemplate, usize)],
        raw: &[Spanned<RawFault>],
    ) -> Result<()> {
        let mut named = BTreeSet::new();
        let mut hits = Vec::new();
        let actions = faults
            .iter()
            .map(|(f, i)| (&f.action, *i))
            .chain(templates.iter().map(|(t, i)| (&t.action, *i)));
        for (action, i) in actions {
            let node = match action {
                FaultAction::Crash(n)
                | FaultAction::Pause(n)
                | FaultAction::CrashAfterSend { node: n, .. } => Some(n),
                FaultAction::Restart(n) | FaultAction::Resume(n) => n.as_ref(),
                FaultAction::Clock { node, .. } => Some(node),
                FaultAction::Partition {
                    shape: Shape::Isolate(n) | Shape::Bridge(n),
                    ..
                } => Some(n),
                FaultAction::Partition {
                    shape: Shape::Around { node, .. },
                    ..
                } => Some(node),
                _ => None,
            };
            match node {
                Some(NodeRef::Named { name, .. }) => {
                    named.insert(name.as_str());
                }
                Some(NodeRef::HitBy(name)) => hits.push((name.as_str(), i)),
                _ => {}
            }
        }
        for (name, i) in hits {
            if !named.contains(name) {
                let span = raw[i]
                    .get_ref()
                    .node
                    .as_ref()
                    .map_or(raw[i].span(), |n| n.span());
                return Err(self.err(
                    span,
                    &format!("faults[{i}].node"),
                    format!("\"hit:{name}\" names no fault: expected a crash, pause or clock fault with name = \"{name}\""),
                ));
            }
        }
        Ok(())
    }
}

/// What one `[[faults]]` entry becomes: a plain timed fault, or a
/// template that lasts or repeats (drawn into timed faults per seed).
pub(super) enum Planned {
    Timed(TimedFault),
    Template(FaultTemplate),
}

/// Makes the node `action` targets remember itself as `label`, so a later
/// fault can name it with `hit:label`.
fn name_node(action: &mut FaultAction, label: String) {
    let node = match action {
        FaultAction::Crash(n) | FaultAction::Pause(n) => n,
        FaultAction::CrashAfterSend { node, .. } | FaultAction::Clock { node, .. } => node,
        _ => return,
    };
    let of = Box::new(std::mem::replace(node, NodeRef::Any));
    *node = NodeRef::Named { name: label, of };
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
