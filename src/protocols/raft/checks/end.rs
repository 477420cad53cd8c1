//! Raft's end-of-run checks: acknowledged writes still held by a majority,
//! liveness (a stable leader, every operation answered), convergence
//! (every replica caught up), and linearizability of the client history.

use super::*;

impl RaftChecks {
    pub(super) fn lost_writes(&self, end: &EndState<'_, RaftNode>) -> Option<Violation> {
        let servers: Vec<(usize, &crate::protocols::raft::server::Server)> = (0..end.servers)
            .filter_map(|i| end.nodes[i].and_then(RaftNode::server).map(|s| (i, s)))
            .collect();
        for &(index, term, _) in &self.acked {
            let holders = servers
                .iter()
                .filter(|(_, s)| {
                    index <= s.log().snapshot_index() || s.log().term_at(index) == Some(term)
                })
                .count();
            if holders < end.servers / 2 + 1 {
                let msg = format!("the acknowledged write at index {index} (term {term}) is held by only {holders} of {} servers at the end", end.servers);
                return Some(
                    Violation::new("raft.acked-write-lost", end.time, msg).with_kind("lost-at-end"),
                );
            }
        }
        None
    }

    pub(super) fn liveness(&self, end: &EndState<'_, RaftNode>) -> Vec<Violation> {
        if end.time <= self.liveness_start {
            return Vec::new();
        }
        let mut found = Vec::new();
        if let Some(problem) = self.no_stable_leader(end) {
            let msg = format!("{problem}; the bound is {} election timeouts ({}) after the liveness phase began at {}", self.liveness_timeouts, self.liveness_bound, self.liveness_start);
            found
                .push(Violation::new("raft.liveness", end.time, msg).with_kind("no-stable-leader"));
        }
        let waiting: Vec<String> = (end.servers..end.nodes.len())
            .filter_map(|i| {
                let op = end.nodes[i].and_then(RaftNode::client)?.pending()?;
                Some(format!("{} ({op:?})", NodeId(i as u32).name(end.servers)))
            })
            .collect();
        if !waiting.is_empty() {
            let msg = format!(
                "client operations still without an outcome after the liveness phase: {}",
                waiting.join(", ")
            );
            found.push(
                Violation::new("raft.liveness", end.time, msg)
                    .with_kind("operation-without-outcome"),
            );
        }
        found
    }

    /// Every replica holds, and has committed, the entries the cluster had
    /// committed by a cut in the liveness phase: the liveness bound's
    /// deadline, or half-way through the phase if that comes first; the
    /// rest of the phase is time to catch up. A replica that never does (a
    /// follower the leader stopped repairing, a replication livelock, a
    /// commit index only new entries carry) passes every safety check
    /// while the majority moves on.
    pub(super) fn convergence(&self, end: &EndState<'_, RaftNode>) -> Vec<Violation> {
        if end.time <= self.liveness_start {
            return Vec::new();
        }
        let half =
            SimDuration::from_nanos(end.time.saturating_since(self.liveness_start).as_nanos() / 2);
        let deadline = self.liveness_start + self.liveness_bound.min(half);
        let target = self
            .liveness_commits
            .iter()
            .take_while(|&&(at, _)| at <= deadline)
            .last()
            .map_or(self.committed_at_liveness, |&(_, n)| n);
        if target == 0 {
            return Vec::new();
        }
        let agreed = self.committed[target - 1].chain;
        let mut behind = Vec::new();
        for (i, node) in end.nodes[..end.servers].iter().enumerate() {
            let Some(server) = node.and_then(RaftNode::server) else {
                continue;
            };
            let log = &self.logs[i];
            let holds = log.get(target - 1, &self.committed).map(|g| g.chain) == Some(agreed);
            let commit = server.commit_index();
            if !holds || commit < target as u64 {
                let held = if holds {
                    "holds them"
                } else {
                    "does not hold them"
                };
                behind.push(format!(
                    "{} ({held}; log length {}, commit index {commit})",
                    NodeId(i as u32),
                    log.len()
                ));
            }
        }
        if behind.is_empty() {
            return Vec::new();
        }
        let msg = format!(
            "the cluster had committed {target} entries by {deadline} (the liveness bound, or half-way through the liveness phase), but at the end of the run {} had not caught up: {}",
            if behind.len() == 1 { "one replica" } else { "replicas" },
            behind.join(", ")
        );
        vec![Violation::new("raft.convergence", end.time, msg)]
    }

    /// A leader within the bound after the liveness phase begins (elected
    /// in the window, or elected before and still leading at its end), and
    /// a leader of the highest term at the end of the run.
    pub(super) fn no_stable_leader(&self, end: &EndState<'_, RaftNode>) -> Option<String> {
        let deadline = self.liveness_start + self.liveness_bound;
        let in_window = self.leaders.values().any(|r| {
            r.elected <= deadline
                && (r.elected >= self.liveness_start || r.ended.is_none_or(|e| e > deadline))
        });
        if !in_window {
            return Some(format!("no leader was in office by {deadline}"));
        }
        let servers: Vec<&crate::protocols::raft::server::Server> = end.nodes[..end.servers]
            .iter()
            .filter_map(|n| n.and_then(RaftNode::server))
            .collect();
        let max_term = servers.iter().map(|s| s.term()).max().unwrap_or(0);
        let leads = servers
            .iter()
            .any(|s| s.role() == Role::Leader && s.term() == max_term);
        (!leads).then(|| format!("no leader of the highest term ({max_term}) at the end"))
    }

    pub(super) fn linearizable(&mut self, end: &EndState<'_, RaftNode>) -> Option<Violation> {
        if !end.is_enabled("raft.linearizable") {
            return None;
        }
        let history = kv_check_history(end.history);
        self.linearizability = judge_kv("raft.linearizable", &history, end.budget, end.time);
        self.linearizability.violation()
    }
}
