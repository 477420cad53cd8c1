//! One broker's copy of one partition: its log, its high watermark, and
//! the leader's or the follower's half of replication.
//!
//! Invariants: `hw <= log.len()`; a leader's effective ISR (the
//! controller's ISR and any change it proposed and the controller has not
//! answered) holds the leader itself; every record below the leader's
//! high watermark is in the log of every member of that effective ISR.
//! The last is why the high watermark is computed over the union: a
//! shrink counts only once the controller, which elects from its own ISR,
//! has it.

use super::{Acks, Entry, LogNode, Msg, Note, Offset, Partition, PartitionState, Stored, Timer};
use super::{LogOptions, ProduceError};
use crate::process::{Ctx, DiskKey, NodeId};
use crate::time::{SimDuration, SimTime};
use std::borrow::Cow;
use std::collections::BTreeMap;

type RCtx<'a, 'b> = &'a mut Ctx<'b, LogNode>;

/// Records on a broker's disk: one part of the namespace per partition,
/// keyed by offset, so that each record is appended at its part's end.
pub const LOG: &str = "log";

/// The disk key of `offset` in `partition`.
pub fn disk_key(partition: Partition, offset: Offset) -> DiskKey {
    DiskKey::in_part(LOG, partition, offset)
}

/// A follower's fetch unanswered this long is sent again.
pub const FETCH_TIMEOUT: SimDuration = SimDuration::from_millis(100);

/// What a replica needs of the options.
#[derive(Clone, Copy, Debug)]
pub struct ReplicaConfig {
    min_insync: usize,
    sync: bool,
    fetch_wait: SimDuration,
    fetch_max: usize,
    lag_max: SimDuration,
    controller: NodeId,
}

impl ReplicaConfig {
    /// The replica settings of `options`.
    pub fn new(options: &LogOptions) -> Self {
        ReplicaConfig {
            min_insync: options.min_insync_replicas,
            sync: options.sync,
            fetch_wait: options.fetch_wait,
            fetch_max: options.fetch_max,
            lag_max: options.replica_lag_max,
            controller: NodeId(options.brokers as u32),
        }
    }
}

/// What the leader knows of a follower (Kafka's replica state).
#[derive(Clone, Copy, Debug)]
struct Follower {
    /// Its log end, as its last fetch said.
    leo: Offset,
    /// When it last had everything the leader had.
    caught_up_at: SimTime,
    /// When it last fetched, and the leader's log end then.
    last_fetch_at: SimTime,
    leader_leo_at_last_fetch: Offset,
}

/// A produce waiting for the high watermark (`acks = "all"`).
#[derive(Clone, Copy, Debug)]
struct Waiting {
    offset: Offset,
    from: NodeId,
    req: u64,
}

/// A change of ISR the leader proposed: based on (epoch, version).
#[derive(Clone, Debug)]
struct Proposal {
    epoch: u64,
    version: u64,
    isr: Vec<u32>,
}

/// One broker's copy of one partition.
#[derive(Debug)]
pub struct Replica {
    partition: Partition,
    me: u32,
    config: ReplicaConfig,
    log: Vec<Entry>,
    hw: Offset,
    /// The controller's latest word on the partition, once heard.
    state: Option<PartitionState>,
    /// Leader only: every other replica.
    followers: BTreeMap<u32, Follower>,
    /// Leader only: an ISR change the controller has not answered.
    proposal: Option<Proposal>,
    /// Leader only: `acks = "all"` produces waiting for the high watermark.
    waiting: Vec<Waiting>,
    /// The last sequence number (and its offset) of each idempotent
    /// producer, rebuilt from the log.
    producers: BTreeMap<u64, (u64, Offset)>,
    /// Follower only: the fetch in flight (answers to others are stale).
    fetch_seq: u64,
}

impl Replica {
    /// `partition` on broker `me`, its log as the disk held it, in the
    /// broker's incarnation `incarnation` (fetch numbers start there, so
    /// no answer to a fetch of an earlier life is taken for one of this).
    pub fn new(
        partition: Partition,
        me: u32,
        config: ReplicaConfig,
        log: Vec<Entry>,
        incarnation: u64,
    ) -> Self {
        let mut r = Replica {
            partition,
            me,
            config,
            log,
            hw: 0,
            state: None,
            followers: BTreeMap::new(),
            proposal: None,
            waiting: Vec::new(),
            producers: BTreeMap::new(),
            fetch_seq: incarnation << 32,
        };
        r.rebuild_producers();
        r
    }

    /// The log.
    pub fn log(&self) -> &[Entry] {
        &self.log
    }

    /// The high watermark: records below it are committed.
    pub fn hw(&self) -> Offset {
        self.hw
    }

    /// Whether the controller made this broker the leader.
    pub fn is_leader(&self) -> bool {
        self.state
            .as_ref()
            .is_some_and(|s| s.leader == Some(self.me))
    }

    /// The controller's state of the partition, as last heard.
    pub fn state(&self) -> Option<&PartitionState> {
        self.state.as_ref()
    }

    fn leo(&self) -> Offset {
        self.log.len() as Offset
    }

    fn epoch(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.epoch)
    }

    /// The ISR the high watermark is computed over, sorted: the
    /// controller's and the proposed change's members (borrowed when no
    /// change is proposed, the common case on every produce and fetch).
    fn effective_isr(&self) -> Cow<'_, [u32]> {
        let current: &[u32] = self.state.as_ref().map_or(&[], |s| &s.isr);
        let Some(p) = &self.proposal else {
            return Cow::Borrowed(current);
        };
        let mut isr = current.to_vec();
        isr.extend(&p.isr);
        isr.sort_unstable();
        isr.dedup();
        Cow::Owned(isr)
    }

    fn rebuild_producers(&mut self) {
        self.producers.clear();
        for (offset, e) in self.log.iter().enumerate() {
            if e.producer != 0 {
                self.producers.insert(e.producer, (e.seq, offset as Offset));
            }
        }
    }

    /// Takes the controller's `state` if it is newer than what we have.
    pub fn adopt(&mut self, ctx: RCtx, state: PartitionState) {
        if self.state.as_ref().is_some_and(|s| !state.newer_than(s)) {
            return;
        }
        let new_epoch = self.epoch() != state.epoch;
        self.state = Some(state);
        let answered = self.proposal.as_ref().is_some_and(|p| {
            let s = self.state.as_ref().expect("just set");
            (s.epoch, s.version) > (p.epoch, p.version)
        });
        if answered {
            self.proposal = None;
        }
        if new_epoch {
            self.change_epoch(ctx);
        }
        if self.is_leader() {
            self.advance_hw(ctx);
        }
        self.assert_consistent();
    }

    fn change_epoch(&mut self, ctx: RCtx) {
        // Produces waiting in an older epoch go unanswered: their
        // producers time out and retry with the new leader.
        self.waiting.clear();
        self.followers.clear();
        self.proposal = None;
        self.fetch_seq += 1;
        let now = ctx.now();
        let state = self.state.as_ref().expect("adopted");
        if state.leader == Some(self.me) {
            let others: Vec<u32> = self.replicas_hint(state);
            for f in others {
                let follower = Follower {
                    leo: 0,
                    caught_up_at: now,
                    last_fetch_at: now,
                    leader_leo_at_last_fetch: 0,
                };
                self.followers.insert(f, follower);
            }
        } else if state.leader.is_some() {
            self.send_fetch(ctx);
        }
    }

    /// The other replicas the leader tracks: the ISR's members now; others
    /// are added when they fetch.
    fn replicas_hint(&self, state: &PartitionState) -> Vec<u32> {
        state
            .isr
            .iter()
            .copied()
            .filter(|&b| b != self.me)
            .collect()
    }

    /// Leader: append a producer's record (its epoch is the leader's), or
    /// find it already appended.
    pub fn produce(&mut self, ctx: RCtx, from: NodeId, req: u64, record: Entry, acks: Acks) {
        let Entry { producer, seq, .. } = record;
        let refuse = |ctx: RCtx, error| {
            if acks != Acks::None {
                ctx.send(from, Msg::ProduceRefused { req, error });
            }
        };
        if !self.is_leader() {
            return refuse(ctx, ProduceError::NotLeader);
        }
        let known = self.producers.get(&producer).copied();
        let offset = match known {
            Some((last, offset)) if producer != 0 && seq == last => offset,
            Some((last, _)) if producer != 0 && seq < last => return,
            _ => {
                if acks == Acks::All && self.effective_isr().len() < self.config.min_insync {
                    return refuse(ctx, ProduceError::NotEnoughReplicas);
                }
                self.append(ctx, record)
            }
        };
        match acks {
            Acks::None => {}
            Acks::Leader => ctx.send(from, Msg::ProduceOk { req, offset }),
            Acks::All => {
                self.waiting.push(Waiting { offset, from, req });
                self.advance_hw(ctx);
            }
        }
        self.assert_consistent();
    }

    fn append(&mut self, ctx: RCtx, record: Entry) -> Offset {
        let offset = self.leo();
        let entry = Entry {
            epoch: self.epoch(),
            ..record
        };
        let Entry { producer, seq, .. } = entry;
        self.log.push(entry);
        ctx.write(disk_key(self.partition, offset), Stored::Entry(entry));
        if self.config.sync {
            ctx.sync();
        }
        if producer != 0 {
            self.producers.insert(producer, (seq, offset));
        }
        offset
    }

    /// Leader: the least log end of the effective ISR becomes the high
    /// watermark (it never goes back), and produces below it are answered.
    fn advance_hw(&mut self, ctx: RCtx) {
        let isr = self.effective_isr();
        let least = isr
            .iter()
            .map(|b| match self.followers.get(b) {
                _ if *b == self.me => self.leo(),
                Some(f) => f.leo,
                None => 0,
            })
            .min()
            .unwrap_or(0);
        self.hw = self.hw.max(least);
        self.release(ctx);
    }

    /// Leader: answers the produces waiting below the high watermark
    /// (refused after the fact when the ISR is too small: appended, but
    /// not on enough replicas).
    fn release(&mut self, ctx: RCtx) {
        if self.waiting.iter().all(|w| w.offset >= self.hw) {
            return;
        }
        let enough = self.effective_isr().len() >= self.config.min_insync;
        let hw = self.hw;
        let mut done = Vec::new();
        self.waiting.retain(|w| {
            let below = w.offset < hw;
            if below {
                done.push(*w);
            }
            !below
        });
        for w in done {
            let msg = if enough {
                Msg::ProduceOk {
                    req: w.req,
                    offset: w.offset,
                }
            } else {
                Msg::ProduceRefused {
                    req: w.req,
                    error: ProduceError::NotEnoughReplicasAfterAppend,
                }
            };
            ctx.send(w.from, msg);
        }
    }

    /// Leader: a follower's fetch from `offset`.
    pub fn fetch(
        &mut self,
        ctx: RCtx,
        from: NodeId,
        epoch: u64,
        offset: Offset,
        last_epoch: u64,
        seq: u64,
    ) {
        let p = self.partition;
        if !self.is_leader() || epoch != self.epoch() {
            return ctx.send(from, Msg::FetchRefused { partition: p, seq });
        }
        let matches = offset <= self.leo()
            && (offset == 0 || self.log[offset as usize - 1].epoch == last_epoch);
        if !matches {
            let (epoch, end) = self.end_of_epoch(last_epoch);
            let msg = Msg::Diverging {
                partition: p,
                seq,
                epoch,
                end,
            };
            return ctx.send(from, msg);
        }
        self.track_follower(ctx.now(), from.index() as u32, offset);
        self.maybe_expand(ctx, from.index() as u32, offset);
        self.advance_hw(ctx);
        let end = (offset as usize + self.config.fetch_max).min(self.log.len());
        let entries = self.log[offset as usize..end].to_vec();
        let msg = Msg::Fetched {
            partition: p,
            seq,
            offset,
            entries,
            hw: self.hw,
        };
        ctx.send(from, msg);
        self.assert_consistent();
    }

    /// The largest epoch of the log not above `epoch` and where it ends
    /// (Kafka's OffsetsForLeaderEpoch): `(0, 0)` if none.
    fn end_of_epoch(&self, epoch: u64) -> (u64, Offset) {
        let Some(last) = self.log.iter().rposition(|e| e.epoch <= epoch) else {
            return (0, 0);
        };
        (self.log[last].epoch, last as Offset + 1)
    }

    /// Kafka's rule: a follower is caught up if it fetched from the log
    /// end, or from at least the log end at its previous fetch (then it
    /// was caught up at that fetch).
    fn track_follower(&mut self, now: SimTime, f: u32, offset: Offset) {
        let leo = self.leo();
        let entry = self.followers.entry(f).or_insert(Follower {
            leo: 0,
            caught_up_at: SimTime::ZERO,
            last_fetch_at: now,
            leader_leo_at_last_fetch: leo,
        });
        if offset >= leo {
            entry.caught_up_at = now;
        } else if offset >= entry.leader_leo_at_last_fetch {
            entry.caught_up_at = entry.caught_up_at.max(entry.last_fetch_at);
        }
        entry.leo = offset;
        entry.last_fetch_at = now;
        entry.leader_leo_at_last_fetch = leo;
    }

    /// A follower outside the ISR that reached the high watermark joins it.
    fn maybe_expand(&mut self, ctx: RCtx, f: u32, offset: Offset) {
        if self.proposal.is_some() || offset < self.hw || self.effective_isr().contains(&f) {
            return;
        }
        let mut isr = self.effective_isr().into_owned();
        isr.push(f);
        isr.sort_unstable();
        self.propose(ctx, isr);
    }

    fn propose(&mut self, ctx: RCtx, isr: Vec<u32>) {
        let state = self.state.as_ref().expect("a leader has a state");
        let proposal = Proposal {
            epoch: state.epoch,
            version: state.version,
            isr,
        };
        self.send_proposal(ctx, &proposal);
        self.proposal = Some(proposal);
    }

    fn send_proposal(&self, ctx: RCtx, p: &Proposal) {
        let msg = Msg::AlterIsr {
            partition: self.partition,
            epoch: p.epoch,
            version: p.version,
            isr: p.isr.clone(),
        };
        ctx.send(self.config.controller, msg);
    }

    /// Leader, periodically: resend an unanswered proposal, or propose
    /// leaving out followers not caught up for `replica_lag_max`.
    pub fn isr_check(&mut self, ctx: RCtx) {
        if !self.is_leader() {
            return;
        }
        if let Some(p) = &self.proposal {
            return self.send_proposal(ctx, p);
        }
        let now = ctx.now();
        let lag_max = self.config.lag_max;
        let isr = self.effective_isr();
        let kept: Vec<u32> = isr
            .iter()
            .copied()
            .filter(|&b| {
                b == self.me
                    || self
                        .followers
                        .get(&b)
                        .is_some_and(|f| now.saturating_since(f.caught_up_at) <= lag_max)
            })
            .collect();
        if kept.len() < isr.len() {
            self.propose(ctx, kept);
        }
    }

    /// Leader: a consumer's poll from `offset` (committed records only).
    pub fn poll(&self, ctx: RCtx, from: NodeId, offset: Offset, seq: u64) {
        let partition = self.partition;
        if !self.is_leader() {
            let error = super::PollError::NotLeader;
            return ctx.send(
                from,
                Msg::PollRefused {
                    partition,
                    seq,
                    error,
                },
            );
        }
        if offset > self.leo() {
            let error = super::PollError::OutOfRange(self.hw);
            return ctx.send(
                from,
                Msg::PollRefused {
                    partition,
                    seq,
                    error,
                },
            );
        }
        let end = (offset + self.config.fetch_max as Offset).min(self.hw);
        let records = &self.log[offset as usize..end.max(offset) as usize];
        let values = records.iter().map(|e| e.value).collect();
        let times = records.iter().map(|e| e.time_ns).collect();
        ctx.send(
            from,
            Msg::Records {
                partition,
                seq,
                offset,
                values,
                times,
            },
        );
    }

    /// Follower: fetch from the leader now (a new fetch; answers to
    /// earlier ones are ignored).
    pub fn send_fetch(&mut self, ctx: RCtx) {
        let Some(leader) = self.state.as_ref().and_then(|s| s.leader) else {
            return;
        };
        if leader == self.me {
            return;
        }
        self.fetch_seq += 1;
        let msg = Msg::Fetch {
            partition: self.partition,
            epoch: self.epoch(),
            offset: self.leo(),
            last_epoch: self.log.last().map_or(0, |e| e.epoch),
            seq: self.fetch_seq,
        };
        ctx.send(NodeId(leader), msg);
        let timer = Timer::Fetch {
            partition: self.partition,
            seq: self.fetch_seq,
        };
        ctx.set_timer(FETCH_TIMEOUT, timer);
    }

    fn fetch_later(&mut self, ctx: RCtx) {
        let timer = Timer::Fetch {
            partition: self.partition,
            seq: self.fetch_seq,
        };
        ctx.set_timer(self.config.fetch_wait, timer);
    }

    /// Follower: the timer of fetch `seq` fired (a wait or a timeout).
    pub fn fetch_timer(&mut self, ctx: RCtx, seq: u64) {
        if seq == self.fetch_seq && !self.is_leader() {
            self.send_fetch(ctx);
        }
    }

    /// Follower: the leader's records from `offset`.
    pub fn fetched(
        &mut self,
        ctx: RCtx,
        seq: u64,
        offset: Offset,
        entries: Vec<Entry>,
        hw: Offset,
    ) {
        if seq != self.fetch_seq || self.is_leader() {
            return;
        }
        if offset != self.leo() {
            return self.send_fetch(ctx);
        }
        let got = !entries.is_empty();
        for e in entries {
            let at = self.leo();
            self.log.push(e);
            ctx.write(disk_key(self.partition, at), Stored::Entry(e));
            if e.producer != 0 {
                self.producers.insert(e.producer, (e.seq, at));
            }
        }
        if got && self.config.sync {
            ctx.sync();
        }
        self.hw = self.hw.max(hw.min(self.leo()));
        if got {
            self.send_fetch(ctx);
        } else {
            self.fetch_later(ctx);
        }
        self.assert_consistent();
    }

    /// Follower: the leader says our log diverges from its own after its
    /// records of `epoch`, which end at `end`.
    pub fn diverging(&mut self, ctx: RCtx, seq: u64, epoch: u64, end: Offset) {
        if seq != self.fetch_seq || self.is_leader() {
            return;
        }
        // Where our own records of epochs up to `epoch` end.
        let own_end = self
            .log
            .iter()
            .position(|e| e.epoch > epoch)
            .unwrap_or(self.log.len()) as Offset;
        let keep = end.min(own_end).min(self.leo());
        assert!(
            keep < self.leo(),
            "partition {}: divergence that truncates nothing (epoch {epoch}, end {end})",
            self.partition
        );
        self.truncate(ctx, keep);
        self.send_fetch(ctx);
    }

    fn truncate(&mut self, ctx: RCtx, keep: Offset) {
        let leo = self.leo();
        let committed = self.hw.saturating_sub(keep);
        for offset in keep..leo {
            ctx.delete(disk_key(self.partition, offset));
        }
        ctx.sync();
        self.log.truncate(keep as usize);
        self.hw = self.hw.min(keep);
        self.rebuild_producers();
        ctx.note(Note::Truncated {
            partition: self.partition,
            count: leo - keep,
            committed,
        });
    }

    /// Follower: the leader refused the fetch (not the leader of our
    /// epoch); try again after a wait, by then perhaps with news.
    pub fn fetch_refused(&mut self, ctx: RCtx, seq: u64) {
        if seq == self.fetch_seq && !self.is_leader() {
            self.fetch_later(ctx);
        }
    }

    fn assert_consistent(&self) {
        assert!(
            self.hw <= self.leo(),
            "partition {} on broker {}: high watermark {} past the log end {}",
            self.partition,
            self.me,
            self.hw,
            self.leo()
        );
        let isr = self.effective_isr();
        assert!(
            isr.windows(2).all(|w| w[0] < w[1]),
            "partition {} on broker {}: ISR {isr:?} not sorted",
            self.partition,
            self.me
        );
        if self.is_leader() {
            assert!(
                isr.contains(&self.me),
                "partition {}: leader {} outside its own ISR",
                self.partition,
                self.me
            );
        }
    }
}
