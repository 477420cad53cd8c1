//! The rw-register workload: each class on a small hand-written history,
//! the models each rules out, and properties over serial executions.
use super::tests::{classes, history, holds_every_model};
use super::*;

fn check(lines: &[&str], model: Consistency) -> TxnReport {
    super::check(
        history(lines),
        Workload::RwRegister,
        model,
        &TxnBudget::steps(1_000_000),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_serial_history_holds_every_model() {
    let lines = [
        "0 ok 10 [[:r :x nil] [:w :x 1] [:w :y 1]]",
        "1 ok 20 [[:r :x 1] [:w :x 2] [:r :x 2]]",
        "0 ok 30 [[:r :x 2] [:r :y 1]]",
        "2 ok 40 [[:w :y 2]]",
        "1 ok 50 [[:r :y 2]]",
    ];
    holds_every_model(|m| check(&lines, m));
}

#[test]
fn lost_update_rules_out_snapshot_isolation_not_read_committed() {
    let lines = [
        "0 ok 10 [[:r :x nil] [:w :x 1]]",
        "1 ok 12 [[:r :x nil] [:w :x 2]]",
    ];
    let rc = check(&lines, Consistency::ReadCommitted);
    assert_eq!(rc.verdict, TxnVerdict::Held, "{:?}", rc.anomalies);
    let si = check(&lines, Consistency::SnapshotIsolation);
    assert_eq!(si.verdict, TxnVerdict::Violated);
    assert!(classes(&si).contains(&"lost-update"), "{:?}", si.anomalies);
    let lost = si.anomalies.iter().find(|a| a.class == "lost-update");
    let txns: Vec<usize> = lost.map_or(vec![], |a| a.txns.iter().map(|t| t.index).collect());
    assert_eq!(txns, [0, 1]);
    let words = lost.map_or(String::new(), |a| a.explanation.join(""));
    assert_eq!(
        words,
        "T0, T1 each read nil from key x and wrote it (1, 2): all but one update is lost"
    );
    assert_eq!(
        si.ruled_out,
        [
            Consistency::SnapshotIsolation,
            Consistency::Serializable,
            Consistency::StrongSessionSerializable,
            Consistency::StrictSerializable
        ]
    );
}

#[test]
fn aborted_and_intermediate_reads() {
    let aborted = check(
        &["0 fail 10 [[:w :x 1]]", "1 ok 20 [[:r :x 1]]"],
        Consistency::ReadCommitted,
    );
    assert_eq!(classes(&aborted), ["G1a"]);
    let intermediate = check(
        &["0 ok 10 [[:w :x 1] [:w :x 2]]", "1 ok 20 [[:r :x 1]]"],
        Consistency::ReadCommitted,
    );
    assert_eq!(classes(&intermediate), ["G1b"]);
    let garbage = check(&["1 ok 20 [[:r :x 7]]"], Consistency::ReadCommitted);
    assert_eq!(classes(&garbage), ["garbage-read"]);
}

#[test]
fn a_read_against_its_own_write_is_internal() {
    let r = check(
        &["0 ok 10 [[:w :x 1] [:r :x nil]]"],
        Consistency::ReadCommitted,
    );
    assert_eq!(classes(&r), ["internal"]);
    assert_eq!(
        r.anomalies[0].explanation,
        ["T0 read nil from key x after its own read or write of 1"]
    );
    let r = check(
        &["0 ok 10 [[:w :x 1]]", "1 ok 20 [[:r :x 1] [:r :x nil]]"],
        Consistency::ReadCommitted,
    );
    assert_eq!(classes(&r), ["internal"]);
}

#[test]
fn circular_information_flow_is_g1c() {
    let r = check(
        &[
            "0 ok 10 [[:w :x 1] [:r :y 1]]",
            "1 ok 12 [[:w :y 1] [:r :x 1]]",
        ],
        Consistency::ReadCommitted,
    );
    assert_eq!(classes(&r), ["G1c"]);
    assert_eq!(r.verdict, TxnVerdict::Violated);
}

#[test]
fn read_skew_is_g_single_and_write_skew_g2() {
    // T1 read x before T0's write and y after it.
    let skew = [
        "0 ok 10 [[:r :x nil] [:w :x 1] [:r :y nil] [:w :y 1]]",
        "1 ok 12 [[:r :x nil] [:r :y 1]]",
    ];
    let r = check(&skew, Consistency::SnapshotIsolation);
    assert_eq!(classes(&r), ["G-single"]);
    assert!(
        r.anomalies[0]
            .explanation
            .iter()
            .any(|e| e.contains("a later version than the one T1 read")),
        "{:?}",
        r.anomalies[0].explanation
    );
    let write_skew = [
        "0 ok 10 [[:r :x nil] [:w :y 1]]",
        "1 ok 12 [[:r :y nil] [:w :x 1]]",
    ];
    let si = check(&write_skew, Consistency::SnapshotIsolation);
    assert_eq!(si.verdict, TxnVerdict::Held, "{:?}", si.anomalies);
    let ser = check(&write_skew, Consistency::Serializable);
    assert_eq!(classes(&ser), ["G2"]);
}

#[test]
fn a_stale_read_is_a_realtime_cycle() {
    // T1 began after T0 completed and still read the initial nil.
    let lines = ["0 ok 10 [[:r :x nil] [:w :x 1]]", "1 ok 30 [[:r :x nil]]"];
    let ser = check(&lines, Consistency::Serializable);
    assert_eq!(ser.verdict, TxnVerdict::Held, "{:?}", ser.anomalies);
    let strict = check(&lines, Consistency::StrictSerializable);
    assert_eq!(classes(&strict), ["G-single-realtime"]);
}

#[test]
fn bad_shapes_are_errors_naming_the_line() {
    for (value, needle) in [
        ("[[:append :x 1]]", "expected :w or :r"),
        ("[[:w :x \"a\"]]", "integer to write"),
        ("[[:r :x [1]]]", "integer (or nil) read"),
        ("[[:w :x 1] [:w :x 1]]", "written once per key"),
        ("[:w :x 1]", "expected a micro-op [:w key value]"),
    ] {
        let h = history(&[&format!("0 ok 10 {value}")]);
        let err = super::check(
            h,
            Workload::RwRegister,
            Consistency::Serializable,
            &TxnBudget::steps(1000),
        );
        let Err(e) = err.map(|_| ()) else {
            panic!("{value}: accepted")
        };
        assert_eq!(e.line, 1, "{value}");
        assert!(e.message.contains(needle), "{value}: {}", e.message);
    }
}

/// A serial execution of random read-modify-write transactions: each
/// micro-op reads a key and, when its flag is set, writes a fresh value to
/// it. Returns the lines for [`history`] and, per transaction, the read
/// of its first micro-op: its key, the value, and the version before it
/// (`None` for nil).
type FirstRead = (u8, Option<i64>, Option<i64>);

fn serial(txns: &[Vec<(bool, u8)>]) -> (Vec<String>, Vec<FirstRead>) {
    let mut registers: std::collections::BTreeMap<u8, i64> = Default::default();
    // Each committed value, and the committed value its writer replaced.
    let mut replaced: std::collections::BTreeMap<i64, Option<i64>> = Default::default();
    let mut next = 0i64;
    let mut lines = Vec::new();
    let mut firsts = Vec::new();
    for (i, txn) in txns.iter().enumerate() {
        let at_start = registers.clone();
        let mut mops = Vec::new();
        for &(write, key) in txn {
            let read = registers.get(&key).copied();
            mops.push(format!("[:r {key} {}]", show(read)));
            if write {
                next += 1;
                registers.insert(key, next);
                mops.push(format!("[:w {key} {next}]"));
            }
        }
        let key = txn[0].1;
        let read = at_start.get(&key).copied();
        firsts.push((key, read, read.and_then(|v| replaced[&v])));
        for (key, value) in &registers {
            if at_start.get(key) != Some(value) {
                replaced.insert(*value, at_start.get(key).copied());
            }
        }
        lines.push(format!(
            "{} ok {} [{}]",
            i % 3,
            10 * (i + 1),
            mops.join(" ")
        ));
    }
    (lines, firsts)
}

fn show(v: Option<i64>) -> String {
    v.map_or("nil".to_string(), |v| v.to_string())
}

proptest::proptest! {
    /// Every serial read-modify-write history holds every model.
    #[test]
    fn serial_histories_hold_every_model(
        txns in proptest::collection::vec(
            proptest::collection::vec((proptest::bool::ANY, 0u8..4), 1..5),
            1..40,
        )
    ) {
        let (lines, _) = serial(&txns);
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let r = check(&lines, Consistency::StrictSerializable);
        proptest::prop_assert_eq!(r.verdict, TxnVerdict::Held, "{:?}", r.anomalies);
        proptest::prop_assert!(r.complete);
    }

    /// A transaction whose first micro-op reads a key and writes it, made
    /// to read the version before the one it read, overwrites the update
    /// of the transaction that wrote that version: a lost update.
    #[test]
    fn a_stale_read_modify_write_is_a_lost_update(
        txns in proptest::collection::vec(
            proptest::collection::vec((proptest::bool::ANY, 0u8..2), 1..5),
            2..40,
        ),
        pick in proptest::prelude::any::<proptest::sample::Index>(),
    ) {
        let (mut lines, firsts) = serial(&txns);
        let candidates: Vec<usize> = (0..txns.len())
            .filter(|&i| txns[i][0].0 && firsts[i].1.is_some())
            .collect();
        proptest::prop_assume!(!candidates.is_empty());
        let i = candidates[pick.index(candidates.len())];
        let (key, read, before) = firsts[i];
        lines[i] = lines[i].replacen(
            &format!("[:r {key} {}]", show(read)),
            &format!("[:r {key} {}]", show(before)),
            1,
        );
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let r = check(&refs, Consistency::SnapshotIsolation);
        proptest::prop_assert!(classes(&r).contains(&"lost-update"), "{}: {:?}", lines[i], r.anomalies);
        proptest::prop_assert_eq!(r.verdict, TxnVerdict::Violated);
    }
}

#[test]
fn a_graph_past_its_memory_bound_decides_only_what_it_found() {
    // Eight nil reads and eight blind writes of one key: 64 rw edges.
    let mut lines: Vec<String> = (0..8).map(|i| format!("{i} ok 10 [[:r :x nil]]")).collect();
    lines.extend((1..=8).map(|v| format!("{v} ok 20 [[:w :x {v}]]")));
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let edge = std::mem::size_of::<graph::Edge>() as u64;
    let budget = |edges: u64| TxnBudget {
        graph_bytes_max: 2 * edge * edges,
        ..TxnBudget::steps(1_000_000)
    };
    let run = |refs: &[&str], edges| {
        super::check(
            history(refs),
            Workload::RwRegister,
            Consistency::Serializable,
            &budget(edges),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let whole = run(&refs, 64);
    assert_eq!(whole.verdict, TxnVerdict::Held, "{:?}", whole.anomalies);
    assert_eq!(whole.budget, None);
    let cut = run(&refs, 63);
    assert_eq!(cut.verdict, TxnVerdict::Undecided);
    assert!(!cut.complete);
    assert!(
        matches!(cut.budget, Some(Exhausted::Memory { .. })),
        "{:?}",
        cut.budget
    );
    // An anomaly found without the dropped edges still decides.
    let mut lost = refs.clone();
    lost.extend([
        "9 ok 30 [[:r :y nil] [:w :y 1]]",
        "9 ok 40 [[:r :y nil] [:w :y 2]]",
    ]);
    let r = run(&lost, 10);
    assert_eq!(r.verdict, TxnVerdict::Violated, "{:?}", r.anomalies);
}
