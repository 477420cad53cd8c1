//! The `faultline::testing` workflow a user follows for their own protocol
//! (the G-Counter of `examples/gcounter`): the correct protocol holds under
//! generated seeds, networks and fault schedules; a planted bug is caught,
//! with the seed and a shrunk schedule in the failure message.

#[path = "../../examples/gcounter/gcounter.rs"]
mod gcounter;

use faultline::sim::SimConfig;
use faultline::testing::{cases, check_case, config_of};
use faultline::time::SimDuration;
use gcounter::GCounter;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};

fn base() -> SimConfig {
    let mut config = SimConfig {
        duration: SimDuration::from_secs(4),
        settle: SimDuration::from_secs(3),
        ..SimConfig::default()
    };
    config.workload.clients = 2;
    config.workload.interval = SimDuration::from_millis(25);
    config
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn gcounter_holds_under_any_generated_schedule(case in cases(3, SimDuration::from_secs(4))) {
        check_case(|| GCounter { replicas: 3, buggy_merge: false }, &base(), &case)?;
    }
}

#[test]
fn a_summing_merge_is_caught_and_shrunk() {
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&cases(3, SimDuration::from_secs(4)), |case| {
        check_case(
            || GCounter {
                replicas: 3,
                buggy_merge: true,
            },
            &base(),
            &case,
        )
        .map(|_| ())
    });
    let Err(TestError::Fail(reason, minimal)) = outcome else {
        panic!("the summing merge was not caught: {outcome:?}");
    };
    let reason = reason.to_string();
    assert!(reason.contains("gcounter.bounded"), "{reason}");
    assert!(reason.contains("replay: seed = "), "{reason}");
    assert!(
        minimal.faults.len() <= 2,
        "proptest shrinks the schedule: {} faults left",
        minimal.faults.len()
    );
    // The minimal case replays: the same seed and schedule fail again.
    let again = faultline::sim::Simulation::new(
        GCounter {
            replicas: 3,
            buggy_merge: true,
        },
        config_of(&base(), &minimal),
    )
    .run();
    assert!(again
        .violations
        .iter()
        .any(|v| v.check == "gcounter.bounded"));
}
