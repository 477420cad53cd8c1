//! The virtual network: per-link latency, loss and duplication, and the
//! partitions in force. It decides the fate of each message at send time
//! (dropped, or delivered once or twice after drawn delays) using only the
//! network's own random stream; the engine re-checks partitions at delivery,
//! so a message in flight when a partition starts is lost like a packet on a
//! cut cable.

pub mod latency;
pub mod partition;

pub use latency::Latency;
pub use partition::{Cut, Partitions};

use crate::process::NodeId;
use crate::rng::SimRng;
use crate::time::SimDuration;

/// The behaviour of one directed link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// Delay of each message.
    pub latency: Latency,
    /// Probability a message is lost.
    pub loss: f64,
    /// Probability a delivered message is delivered twice (the copy draws its
    /// own latency, so it may arrive first).
    pub duplicate: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Latency::Uniform {
                min: SimDuration::from_millis(1),
                max: SimDuration::from_millis(10),
            },
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// The network's configuration: a default link and per-link overrides.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkConfig {
    /// The behaviour of every link without an override.
    pub default: LinkConfig,
    /// Overrides for directed links `(from, to)`.
    pub links: Vec<((NodeId, NodeId), LinkConfig)>,
    /// A share of messages that take a long-tailed delay instead.
    pub slow: Option<SlowMessages>,
}

/// "p% of messages take a long-tailed delay" (Jepsen's and the MIT Raft
/// tests' long reordering): each message, of the named kinds or of every
/// kind, is slow with probability `share`, and a slow message's delay is
/// drawn from `latency` instead of its link's.
#[derive(Clone, Debug, PartialEq)]
pub struct SlowMessages {
    /// The probability that a message is slow.
    pub share: f64,
    /// The delay of a slow message.
    pub latency: Latency,
    /// The message kinds that may be slow (empty: every kind), as the
    /// protocol's `Process::message_kind` names them.
    pub kinds: Vec<String>,
}

/// Why a message was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum DropReason {
    /// Lost at random.
    Loss,
    /// A partition cut the link.
    Partition,
    /// The destination was crashed.
    NodeDown,
    /// The destination was paused and the scenario drops its messages.
    Paused,
}

impl crate::trace::TraceHash for DropReason {
    fn trace_hash(&self, h: &mut crate::trace::TraceHasher) {
        h.word(*self as u64);
    }
}

/// Counters of what the network did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct NetStats {
    /// Messages handed to the network.
    pub sent: u64,
    /// Messages that reached a live destination.
    pub delivered: u64,
    /// Extra copies created by duplication.
    pub duplicated: u64,
    /// Lost at random.
    pub dropped_loss: u64,
    /// Dropped by a partition.
    pub dropped_partition: u64,
    /// Dropped because the destination was down or paused (drop policy).
    pub dropped_node: u64,
}

impl NetStats {
    /// Every dropped message, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_loss + self.dropped_partition + self.dropped_node
    }

    /// Counts one drop.
    pub fn count_drop(&mut self, reason: DropReason) {
        match reason {
            DropReason::Loss => self.dropped_loss += 1,
            DropReason::Partition => self.dropped_partition += 1,
            DropReason::NodeDown | DropReason::Paused => self.dropped_node += 1,
        }
    }
}

/// What happens to one sent message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Never delivered.
    Dropped(DropReason),
    /// Delivered after the delay.
    Once(SimDuration),
    /// Delivered twice, after each delay.
    Twice(SimDuration, SimDuration),
}

/// The network among `n` processes.
pub struct Network {
    n: usize,
    configs: Vec<LinkConfig>,
    /// Index into `configs` for each directed link (`from * n + to`).
    link_config: Vec<u16>,
    /// The partitions in force.
    pub partitions: Partitions,
    rng: SimRng,
    slow: Option<SlowMessages>,
    /// What the network has done so far.
    pub stats: NetStats,
}

impl Network {
    /// A network among `n` processes with `config`, drawing from `rng`.
    pub fn new(n: usize, config: &NetworkConfig, rng: SimRng) -> Self {
        let mut configs = vec![config.default.clone()];
        let mut link_config = vec![0u16; n * n];
        for ((from, to), link) in &config.links {
            let idx = match configs.iter().position(|c| c == link) {
                Some(i) => i,
                None => {
                    configs.push(link.clone());
                    configs.len() - 1
                }
            };
            link_config[from.index() * n + to.index()] = idx as u16;
        }
        Network {
            n,
            configs,
            link_config,
            partitions: Partitions::new(n),
            rng,
            slow: config.slow.clone(),
            stats: NetStats::default(),
        }
    }

    /// Whether messages of `kind` may be slow (`[network.slow]`); `kind`
    /// is asked for only when kinds are named.
    #[inline]
    pub fn slow_kind(&self, kind: impl FnOnce() -> &'static str) -> bool {
        match &self.slow {
            None => false,
            Some(slow) if slow.kinds.is_empty() => true,
            Some(slow) => {
                let kind = kind();
                slow.kinds.iter().any(|k| k == kind)
            }
        }
    }

    /// One delay on `link`, slow with the configured probability when
    /// `may_be_slow` (one more draw, made only then).
    fn delay(&mut self, link: usize, may_be_slow: bool) -> SimDuration {
        let delay = self.configs[link].latency.sample(&mut self.rng);
        match &self.slow {
            Some(slow) if may_be_slow && self.rng.chance(slow.share) => {
                slow.latency.sample(&mut self.rng)
            }
            _ => delay,
        }
    }

    /// Decides the fate of a message from `from` to `to` sent now. Draws, in
    /// order: loss (unless its probability is 0 or 1), latency (and, for a
    /// message that may be slow, whether it is and its slow delay),
    /// duplication (likewise), and a second latency only for a duplicate.
    pub fn route(&mut self, from: NodeId, to: NodeId, may_be_slow: bool) -> Fate {
        self.stats.sent += 1;
        let index = self.link_config[from.index() * self.n + to.index()] as usize;
        if self.partitions.is_cut(from, to) {
            self.stats.dropped_partition += 1;
            return Fate::Dropped(DropReason::Partition);
        }
        let lost = self.rng.chance(self.configs[index].loss);
        let delay = self.delay(index, may_be_slow);
        let dup = self.rng.chance(self.configs[index].duplicate);
        if lost {
            self.stats.dropped_loss += 1;
            return Fate::Dropped(DropReason::Loss);
        }
        if dup {
            self.stats.duplicated += 1;
            let second = self.delay(index, may_be_slow);
            return Fate::Twice(delay, second);
        }
        Fate::Once(delay)
    }
}
