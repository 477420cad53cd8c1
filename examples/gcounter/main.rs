//! Property-test your own protocol: a G-Counter CRDT run under hundreds of
//! generated seeds, networks and fault schedules, first correct, then with
//! a planted merge bug that the checks catch and proptest shrinks.
//!
//! Run: `cargo run --release --example gcounter`

mod gcounter;

use faultline::sim::SimConfig;
use faultline::testing::{cases, check_case};
use faultline::time::SimDuration;
use gcounter::GCounter;
use proptest::test_runner::{Config, TestError, TestRunner};

fn base() -> SimConfig {
    let mut config = SimConfig {
        duration: SimDuration::from_secs(5),
        settle: SimDuration::from_secs(3),
        ..SimConfig::default()
    };
    config.workload.clients = 2;
    config.workload.interval = SimDuration::from_millis(20);
    config
}

fn main() {
    for buggy_merge in [false, true] {
        let mut runner = TestRunner::new(Config {
            cases: 200,
            failure_persistence: None,
            ..Config::default()
        });
        let base = base();
        let outcome = runner.run(&cases(3, SimDuration::from_secs(5)), |case| {
            check_case(
                || GCounter {
                    replicas: 3,
                    buggy_merge,
                },
                &base,
                &case,
            )
            .map(|_| ())
        });
        let name = if buggy_merge {
            "G-Counter with a summing merge"
        } else {
            "G-Counter"
        };
        match outcome {
            Ok(()) => println!("{name}: every check held in 200 generated cases"),
            Err(TestError::Fail(reason, case)) => {
                println!(
                    "{name}: caught, and shrunk to {} faults:\n{reason}",
                    case.faults.len()
                );
            }
            Err(e) => println!("{name}: {e}"),
        }
    }
}
