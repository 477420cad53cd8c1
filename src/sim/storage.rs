//! Storage faults (FoundationDB and TigerBeetle simulate them): a sync
//! that is lost (the disk reports it done, but the data is still only in
//! its cache, so the next crash loses it: a lying fsync), a sync that
//! fails (reported: the process sees it through [`Storage::sync`], and
//! [`crate::process::Ctx::sync`] halts it), and a crash that tears the
//! unsynced writes (a prefix of them, in write order, reached the platter;
//! the rest did not) instead of losing them all.
//!
//! Both are drawn from a stream of their own, and only when configured:
//! a run without `[storage]` makes no draw and behaves exactly as before.

use crate::process::{Disk, DiskKey, Storage, SyncFailed};
use crate::rng::{SimRng, Stream};

/// `[storage]`: how often each storage fault strikes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StorageFaults {
    /// The probability that a sync is lost.
    pub lost_sync: f64,
    /// The probability that a sync fails (and says so).
    pub failed_sync: f64,
    /// The probability that a crash keeps a prefix of the unsynced writes.
    pub torn_crash: f64,
}

impl StorageFaults {
    /// Whether any storage fault can strike.
    pub fn any(&self) -> bool {
        self.lost_sync > 0.0 || self.failed_sync > 0.0 || self.torn_crash > 0.0
    }
}

/// A run's storage faults: the rates, their stream, and what struck.
#[derive(Clone, Debug)]
pub struct StorageFaulter {
    faults: StorageFaults,
    rng: SimRng,
    /// Syncs lost so far.
    pub syncs_lost: u64,
    /// Syncs failed so far.
    pub syncs_failed: u64,
    /// Crashes that tore the unsynced writes so far.
    pub crashes_torn: u64,
}

impl StorageFaulter {
    /// The storage faults of the run with `seed`.
    pub fn new(seed: u64, faults: StorageFaults) -> Self {
        StorageFaulter {
            faults,
            rng: SimRng::new(seed, Stream::Storage),
            syncs_lost: 0,
            syncs_failed: 0,
            crashes_torn: 0,
        }
    }

    /// From now on no sync fails (the liveness phase: a node that kept
    /// halting would never catch up).
    pub fn stop_failing_syncs(&mut self) {
        self.faults.failed_sync = 0.0;
    }

    /// A crash of a node with `disk`: its unsynced writes are lost, or torn.
    pub fn crash<V: Clone>(&mut self, disk: &mut Disk<V>) {
        let pending = disk.unsynced();
        if pending > 0 && self.rng.chance(self.faults.torn_crash) {
            self.crashes_torn += 1;
            let kept = self.rng.below(pending as u64) as usize;
            disk.crash_keeping(kept);
        } else {
            disk.crash();
        }
    }
}

/// A node's disk as its handlers see it in a run with storage faults.
pub struct FaultyDisk<'a, V> {
    /// The node's disk.
    pub disk: &'a mut Disk<V>,
    /// The run's storage faults.
    pub faulter: &'a mut StorageFaulter,
}

impl<V: Clone> Storage<V> for FaultyDisk<'_, V> {
    fn write(&mut self, key: DiskKey, value: V) {
        self.disk.write(key, value);
    }

    fn delete(&mut self, key: DiskKey) {
        self.disk.delete(key);
    }

    fn delete_range(&mut self, space: &'static str, from: u64, to: u64) {
        self.disk.delete_range(space, from, to);
    }

    fn sync(&mut self) -> Result<(), SyncFailed> {
        if self.faulter.rng.chance(self.faulter.faults.lost_sync) {
            self.faulter.syncs_lost += 1;
            return Ok(()); // reported done; still only in the cache
        }
        // Drawn only when configured: runs with lost syncs alone keep
        // their draws.
        let failed = self.faulter.faults.failed_sync > 0.0
            && self.faulter.rng.chance(self.faulter.faults.failed_sync);
        if failed {
            // The kernel may drop the dirty pages of a failed fsync: the
            // writes since the last good sync are gone, and a retried sync
            // does not bring them back.
            self.faulter.syncs_failed += 1;
            self.disk.crash();
            return Err(SyncFailed);
        }
        self.disk.sync();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed sync loses the writes since the last good sync: a retried
    /// sync that succeeds does not make them durable.
    fn key(i: u64) -> DiskKey {
        DiskKey::new("log", i)
    }

    /// A faulter of seed 1 with `faults`, and an empty disk.
    fn setup(faults: StorageFaults) -> (StorageFaulter, Disk<u64>) {
        (StorageFaulter::new(1, faults), Disk::default())
    }

    #[test]
    fn a_failed_sync_loses_the_unsynced_writes_for_good() {
        let (mut faulter, mut disk) = setup(StorageFaults {
            failed_sync: 1.0,
            ..StorageFaults::default()
        });
        let mut d = FaultyDisk {
            disk: &mut disk,
            faulter: &mut faulter,
        };
        d.write(key(1), 10);
        assert_eq!(d.sync(), Err(SyncFailed));
        d.faulter.stop_failing_syncs();
        assert_eq!(d.sync(), Ok(()), "the retry succeeds");
        d.write(key(2), 20);
        assert_eq!(d.sync(), Ok(()));
        let held: Vec<u64> = disk.scan("log").map(|(i, _)| i).collect();
        assert_eq!(held, [2], "write 1 died with the failed sync");
    }

    #[test]
    fn a_lost_sync_is_lost_at_the_next_crash_and_a_torn_crash_keeps_a_prefix() {
        let (mut faulter, mut disk) = setup(StorageFaults {
            lost_sync: 1.0,
            ..StorageFaults::default()
        });
        let mut d = FaultyDisk {
            disk: &mut disk,
            faulter: &mut faulter,
        };
        d.write(key(1), 10);
        assert_eq!(d.sync(), Ok(()), "a lost sync says it succeeded");
        faulter.crash(&mut disk);
        assert!(disk.is_empty(), "the lost sync made nothing durable");
        assert_eq!(faulter.syncs_lost, 1);

        let mut faulter = StorageFaulter::new(
            2,
            StorageFaults {
                torn_crash: 1.0,
                ..StorageFaults::default()
            },
        );
        let mut kept = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let mut disk: Disk<u64> = Disk::default();
            for i in 1..=4 {
                disk.write(key(i), i * 10);
            }
            faulter.crash(&mut disk);
            let held: Vec<u64> = disk.scan("log").map(|(i, _)| i).collect();
            assert_eq!(
                held,
                (1..=held.len() as u64).collect::<Vec<_>>(),
                "a prefix"
            );
            kept.insert(held.len());
        }
        assert_eq!(kept, (0..4).collect(), "every prefix short of all of them");
        assert_eq!(faulter.crashes_torn, 50);
    }
}
