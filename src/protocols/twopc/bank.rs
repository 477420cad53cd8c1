//! The bank both transaction protocols move money in: accounts split into
//! shards, one shard per participant (2PC) or per service (the transfer
//! saga), and the transfer workload between two different shards. Shared so
//! that the ACID and BASE runs of the same seed move the same money.

use crate::process::NodeId;
use crate::rng::SimRng;
use serde::Deserialize;

use super::msg::Transfer;

/// The bank's shape: how many accounts each shard holds and with what.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bank {
    /// Accounts per shard.
    pub accounts_per_shard: u64,
    /// The opening balance of every account.
    pub initial_balance: u64,
    /// A transfer moves 1 to this much.
    pub amount_max: u64,
}

impl Default for Bank {
    fn default() -> Self {
        Bank {
            accounts_per_shard: 4,
            initial_balance: 100,
            amount_max: 20,
        }
    }
}

impl Bank {
    /// What is wrong with this bank's shape, if anything: the option and why.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        let max = 1_000_000_000_000;
        if !(1..=1_000_000).contains(&self.accounts_per_shard) {
            Some((
                "accounts_per_shard",
                "expected accounts_per_shard from 1 to 1000000".into(),
            ))
        } else if self.initial_balance > max {
            Some((
                "initial_balance",
                "expected initial_balance up to 10^12".into(),
            ))
        } else if !(1..=max).contains(&self.amount_max) {
            Some(("amount_max", "expected amount_max from 1 to 10^12".into()))
        } else {
            None
        }
    }

    /// The node owning `account`, when shards live on nodes `1..=shards`.
    pub fn owner(&self, account: u64) -> NodeId {
        NodeId(1 + (account / self.accounts_per_shard) as u32)
    }

    /// The accounts of the shard on `node`.
    pub fn accounts_of(&self, node: NodeId) -> std::ops::Range<u64> {
        let first = u64::from(node.0 - 1) * self.accounts_per_shard;
        first..first + self.accounts_per_shard
    }

    /// The money in a bank of `shards` shards: constant by every check.
    pub fn total(&self, shards: usize) -> i64 {
        (shards as u64 * self.accounts_per_shard * self.initial_balance) as i64
    }

    /// A transfer between accounts of two different shards (`shards` >= 2),
    /// drawn from the workload stream.
    pub fn next_transfer(&self, shards: usize, rng: &mut SimRng) -> Transfer {
        assert!(shards >= 2, "a transfer needs two shards");
        let a = rng.below(shards as u64);
        let b = (a + 1 + rng.below(shards as u64 - 1)) % shards as u64;
        let per = self.accounts_per_shard;
        Transfer {
            from: a * per + rng.below(per),
            to: b * per + rng.below(per),
            amount: rng.between(1, self.amount_max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    #[test]
    fn transfers_cross_shards() {
        let bank = Bank::default();
        let mut rng = SimRng::new(1, Stream::Workload);
        for _ in 0..200 {
            let t = bank.next_transfer(3, &mut rng);
            assert_ne!(bank.owner(t.from), bank.owner(t.to));
            assert!(bank.owner(t.to).0 <= 3 && t.amount >= 1);
        }
    }
}
