//! The sharded store's scenarios end as their `expect` says across a
//! sweep of seeds (the 1,000 are recorded in the README) and show
//! what their stories promise: shards move on every join and leave, the
//! tagged faults land mid-migration, and bad `[shardkv]` tables are
//! refused with exit 2 and the field named.

mod common;

use common::{metric, sweep};
use faultline::sim::FaultEffect;

const SEEDS: u64 = 4;

#[test]
fn joins_and_leaves_move_shards_and_every_check_holds() {
    for r in sweep("shardkv-joins-leaves.toml", SEEDS) {
        assert!(
            r.violations.is_empty(),
            "seed {}: {:?}",
            r.seed,
            r.violations
        );
        assert_eq!(metric(&r, "shardkv_changes_made"), 7, "seed {}", r.seed);
        assert!(metric(&r, "shardkv_shard_moves") >= 15, "seed {}", r.seed);
        assert!(metric(&r, "shardkv_drops") >= 15, "seed {}", r.seed);
    }
}

#[test]
fn the_tagged_faults_interrupt_migrations_and_every_check_holds() {
    for file in [
        "shardkv-sender-crash.toml",
        "shardkv-receiver-crash.toml",
        "shardkv-handoff-partition.toml",
    ] {
        let runs = sweep(file, SEEDS);
        let mut landed = 0;
        for r in &runs {
            assert!(
                r.violations.is_empty(),
                "{file} seed {}: {:?}",
                r.seed,
                r.violations
            );
            landed += r
                .faults
                .iter()
                .filter(|f| {
                    matches!(
                        f.effect,
                        FaultEffect::Crashed { .. } | FaultEffect::Partitioned { .. }
                    )
                })
                .count();
        }
        assert!(
            landed >= runs.len(),
            "{file}: the tagged faults rarely find a migration ({landed})"
        );
    }
}

fn refused(toml: &str) -> String {
    let file = common::temp_file("shardkv-bad.toml", toml);
    let run = common::faultline(&["run", &file.display().to_string()]);
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    String::from_utf8_lossy(&run.stderr).to_string()
}

#[test]
fn bad_shardkv_tables_are_refused_with_the_field_named() {
    let base = "name = \"bad\"\nprotocol = \"shardkv\"\nduration = \"5s\"\n";
    let err = refused(&format!("{base}nodes = 10\n"));
    assert!(err.contains("nodes") && err.contains("= 12"), "{err}");
    let leave_all = "[shardkv]\nchanges = [{ at = \"1s\", leave = [1, 2] }]\n";
    let err = refused(&format!("{base}nodes = 12\n{leave_all}"));
    assert!(
        err.contains("shardkv.changes") && err.contains("at least one group"),
        "{err}"
    );
    let unknown = "[shardkv]\nchanges = [{ at = \"1s\", join = [4] }]\n";
    let err = refused(&format!("{base}nodes = 12\n{unknown}"));
    assert!(err.contains("no group 4"), "{err}");
}
