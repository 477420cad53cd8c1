//! Each anomaly class on a small hand-written history, the models each
//! rules out, and clean histories that hold.
use super::*;
use crate::check::history::{parse_str, Format};

/// Fails the test on a fixture line not of the shape [`history`] reads.
fn malformed<T>(line: &str) -> T {
    panic!("fixture line {line:?}: expected `process type time [mops]`")
}

/// A history from compact lines `process type time [mops]`, e.g.
/// `0 ok 10 [[:append :x 1] [:r :y [1]]]`: each `ok`/`fail`/`info` line
/// is preceded by its invocation at `time - 5`, whose reads are nil (as
/// Jepsen writes them: a read's value is known only on completion).
pub(super) fn history(lines: &[&str]) -> History {
    let mut text = String::new();
    for line in lines {
        let mut parts = line.splitn(4, ' ');
        let mut next = || parts.next().unwrap_or_else(|| malformed(line));
        let (p, kind, time, value) = (next(), next(), next(), next());
        let time: u64 = time.parse().unwrap_or_else(|_| malformed(line));
        text.push_str(&format!(
            "{{:process {p}, :type :invoke, :f :txn, :time {}, :value {}}}\n",
            time - 5,
            reads_unknown(value)
        ));
        text.push_str(&format!(
            "{{:process {p}, :type :{kind}, :f :txn, :time {time}, :value {value}}}\n"
        ));
    }
    parse_str(&text, Some(Format::Edn), "t").unwrap_or_else(|e| panic!("{e}"))
}

/// `mops` with every read's value replaced by nil.
fn reads_unknown(mops: &str) -> String {
    let mut out = String::new();
    let mut rest = mops;
    while let Some(at) = rest.find("[:r ") {
        // "[:r key value]": keep through the key, skip the value.
        let after_key = at + 4 + rest[at + 4..].find(' ').unwrap_or(0);
        out.push_str(&rest[..after_key]);
        out.push_str(" nil");
        let value = &rest[after_key + 1..];
        let len = if value.starts_with('[') {
            value.find(']').map_or(value.len(), |i| i + 1)
        } else {
            value.find(']').unwrap_or(value.len())
        };
        rest = &value[len..];
    }
    out.push_str(rest);
    out
}

#[test]
fn invocations_hold_no_read_values() {
    assert_eq!(
        reads_unknown("[[:r :x [1 2]] [:append :y 3] [:r :z nil] [:r 5 7]]"),
        "[[:r :x nil] [:append :y 3] [:r :z nil] [:r 5 nil]]"
    );
}

fn check(lines: &[&str], model: Consistency) -> TxnReport {
    check_list_append(history(lines), model, 1_000_000).unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn classes(report: &TxnReport) -> Vec<&str> {
    report.anomalies.iter().map(|a| a.class.as_str()).collect()
}

/// Asserts that `check` finds nothing under every model.
pub(super) fn holds_every_model(check: impl Fn(Consistency) -> TxnReport) {
    for m in Consistency::ALL {
        let r = check(m);
        assert_eq!(r.verdict, TxnVerdict::Held, "{m:?}: {:?}", r.anomalies);
        assert!(r.anomalies.is_empty() && r.complete);
    }
}

#[test]
fn a_serial_history_holds_every_model() {
    let lines = [
        "0 ok 10 [[:append :x 1] [:r :y nil]]",
        "1 ok 20 [[:r :x [1]] [:append :x 2] [:append :y 1]]",
        "0 ok 30 [[:r :x [1 2]] [:r :y [1]]]",
    ];
    holds_every_model(|m| check(&lines, m));
}

#[test]
fn g0_write_cycle() {
    let lines = [
        "0 ok 10 [[:append :x 1] [:append :y 1]]",
        "1 ok 12 [[:append :x 2] [:append :y 2]]",
        "2 ok 30 [[:r :x [1 2]] [:r :y [2 1]]]",
    ];
    let r = check(&lines, Consistency::ReadCommitted);
    assert_eq!(classes(&r), ["G0"]);
    assert_eq!(r.ruled_out, Consistency::ALL);
    assert_eq!(r.verdict, TxnVerdict::Violated);
    assert_eq!(r.ruled_out, Consistency::ALL);
    assert!(r.anomalies[0]
        .explanation
        .iter()
        .all(|e| e.contains("-ww(")));
}

#[test]
fn g1a_aborted_read() {
    let lines = ["0 fail 10 [[:append :x 1]]", "1 ok 20 [[:r :x [1]]]"];
    let r = check(&lines, Consistency::ReadCommitted);
    assert_eq!(classes(&r), ["G1a"]);
    assert_eq!(r.verdict, TxnVerdict::Violated);
}

/// A committed append on top of an aborted one (Elle's dirty update),
/// which a read of the whole list shows beside the aborted read (G1a).
#[test]
fn dirty_update_is_a_committed_append_after_an_aborted_one() {
    let lines = [
        "0 ok 10 [[:append :x 1]]",
        "1 fail 20 [[:append :x 2]]",
        "2 ok 30 [[:append :x 3]]",
        "3 ok 40 [[:r :x [1 2 3]]]",
    ];
    let r = check(&lines, Consistency::ReadCommitted);
    assert_eq!(classes(&r), ["G1a", "dirty-update"]);
    let dirty = &r.anomalies[1];
    // The aborted writer first, then the committed one (processes 1, 2).
    let processes: Vec<i64> = dirty.txns.iter().map(|t| t.process).collect();
    assert_eq!(processes, [1, 2]);
    let (a, c) = (dirty.txns[0].index, dirty.txns[1].index);
    assert_eq!(
        dirty.explanation,
        [format!(
            "key x: T{c} appended 3 after T{a}'s append of 2, and T{a} aborted"
        )]
    );
    assert_eq!(
        weakest_ruled_out("dirty-update"),
        Consistency::ReadCommitted
    );
}

/// Appends that may have committed neither start nor end a dirty run,
/// and an aborted append nothing committed built on is only G1a.
#[test]
fn dirty_update_looks_past_unknown_appends_only() {
    let lines = [
        "1 fail 20 [[:append :x 2]]",
        "4 info 25 [[:append :x 4]]",
        "2 ok 30 [[:append :x 3]]",
        "3 ok 40 [[:r :x [2 4 3]]]",
    ];
    let r = check(&lines, Consistency::ReadCommitted);
    assert_eq!(classes(&r), ["G1a", "dirty-update"]);
    let processes: Vec<i64> = r.anomalies[1].txns.iter().map(|t| t.process).collect();
    assert_eq!(processes, [1, 2], "{:?}", r.anomalies[1]);
    for tail in [
        ["4 info 25 [[:append :x 4]]", "3 ok 40 [[:r :x [1 2 4]]]"],
        ["4 fail 25 [[:append :x 4]]", "3 ok 40 [[:r :x [1 2 4]]]"],
    ] {
        let lines = [
            "0 ok 10 [[:append :x 1]]",
            "1 fail 20 [[:append :x 2]]",
            tail[0],
            tail[1],
        ];
        let r = check(&lines, Consistency::ReadCommitted);
        assert!(!classes(&r).contains(&"dirty-update"), "{:?}", r.anomalies);
        assert!(classes(&r).contains(&"G1a"));
    }
}

#[test]
fn g1b_intermediate_read() {
    let lines = [
        "0 ok 10 [[:append :x 1] [:append :x 2]]",
        "1 ok 20 [[:r :x [1]]]",
    ];
    let r = check(&lines, Consistency::ReadCommitted);
    assert!(classes(&r).contains(&"G1b"), "{:?}", r.anomalies);
}

#[test]
fn g1c_circular_information_flow() {
    let lines = [
        "0 ok 10 [[:append :x 1] [:r :y [1]]]",
        "1 ok 12 [[:append :y 1] [:r :x [1]]]",
    ];
    let r = check(&lines, Consistency::ReadCommitted);
    assert_eq!(classes(&r), ["G1c"]);
    assert_eq!(r.verdict, TxnVerdict::Violated);
    // One wr edge and one ww edge: T0 read T1's append to y, and T1
    // appended to x after T0 (as T2 saw).
    let lines = [
        "0 ok 10 [[:append :x 1] [:r :y [1]]]",
        "1 ok 12 [[:append :y 1] [:append :x 2]]",
        "2 ok 30 [[:r :x [1 2]]]",
    ];
    let r = check(&lines, Consistency::ReadCommitted);
    assert_eq!(classes(&r), ["G1c"]);
    let deps: Vec<&str> = r.anomalies[0].edges.iter().map(|e| e.dep).collect();
    assert_eq!(deps, ["wr", "ww"]);
    // Each transaction is shown with its micro-ops as read.
    let ops: Vec<&str> = r.anomalies[0].txns.iter().map(|t| t.ops.as_str()).collect();
    assert_eq!(
        ops,
        ["[:append y 1] [:append x 2]", "[:append x 1] [:r y [1]]"]
    );
}

/// Read skew: one anti-dependency. Snapshot isolation forbids it,
/// read committed allows it.
#[test]
fn g_single_read_skew() {
    let lines = [
        "0 ok 10 [[:append :x 1] [:append :y 1]]",
        "1 ok 12 [[:r :x nil] [:r :y [1]]]",
        "2 ok 30 [[:r :x [1]]]",
    ];
    let r = check(&lines, Consistency::ReadCommitted);
    assert_eq!(classes(&r), ["G-single"]);
    assert_eq!(r.verdict, TxnVerdict::Held);
    assert_eq!(
        r.ruled_out,
        [
            Consistency::SnapshotIsolation,
            Consistency::Serializable,
            Consistency::StrongSessionSerializable,
            Consistency::StrictSerializable
        ]
    );
    let si = check(&lines, Consistency::SnapshotIsolation);
    assert_eq!(si.verdict, TxnVerdict::Violated);
}

/// Write skew: two anti-dependencies. Snapshot isolation allows it,
/// serializability does not: G-single and G2 told apart.
#[test]
fn g2_write_skew() {
    let lines = [
        "0 ok 10 [[:r :x nil] [:append :y 1]]",
        "1 ok 12 [[:r :y nil] [:append :x 1]]",
        "2 ok 30 [[:r :x [1]] [:r :y [1]]]",
    ];
    let si = check(&lines, Consistency::SnapshotIsolation);
    assert_eq!(classes(&si), ["G2"]);
    assert_eq!(si.verdict, TxnVerdict::Held);
    let ser = check(&lines, Consistency::Serializable);
    assert_eq!(ser.verdict, TxnVerdict::Violated);
    let rw = ser.anomalies[0]
        .explanation
        .iter()
        .filter(|e| e.contains("-rw("))
        .count();
    assert_eq!(rw, 2, "{:?}", ser.anomalies);
}

/// A read that misses a write completed before it began: serializable
/// (order it first), not strictly.
#[test]
fn stale_read_is_a_realtime_cycle() {
    let lines = [
        "0 ok 10 [[:append :x 1]]",
        "1 ok 30 [[:r :x nil]]",
        "2 ok 50 [[:r :x [1]]]",
    ];
    let ser = check(&lines, Consistency::Serializable);
    assert_eq!(ser.verdict, TxnVerdict::Held, "{:?}", ser.anomalies);
    let strict = check(&lines, Consistency::StrictSerializable);
    assert_eq!(strict.verdict, TxnVerdict::Violated);
    assert_eq!(classes(&strict), ["G-single-realtime"]);
    let text = strict.anomalies[0].explanation.join("; ");
    assert!(
        text.contains("-realtime-> T1") && text.contains("-rw(x, 1)-> T0"),
        "{text}"
    );
    assert_eq!(strict.ruled_out, [Consistency::StrictSerializable]);
    // Different processes: session order does not see it.
    let session = check(&lines, Consistency::StrongSessionSerializable);
    assert_eq!(session.verdict, TxnVerdict::Held, "{:?}", session.anomalies);
    // Real time runs through every completion between the two (T1, invoked
    // at 7 and done at 12, is not after T0: only the chain of completions
    // links T0's completion to T2's invocation).
    let lines = [
        "0 ok 10 [[:append :x 1]]",
        "3 ok 12 [[:append :z 1]]",
        "1 ok 30 [[:r :x nil]]",
        "2 ok 50 [[:r :x [1]]]",
    ];
    let strict = check(&lines, Consistency::StrictSerializable);
    assert_eq!(classes(&strict), ["G-single-realtime"]);
    // A transaction invoked at the instant another completed is concurrent
    // with it (invocation is 5 before completion here).
    let lines = [
        "0 ok 10 [[:append :x 1]]",
        "1 ok 15 [[:r :x nil]]",
        "2 ok 50 [[:r :x [1]]]",
    ];
    let strict = check(&lines, Consistency::StrictSerializable);
    assert_eq!(strict.verdict, TxnVerdict::Held, "{:?}", strict.anomalies);
}

#[test]
fn a_process_that_misses_its_own_write_is_a_process_cycle() {
    // Process 0 appends, then reads the key empty: serializable (the read
    // first), but not in the process's own order.
    let lines = [
        "0 ok 10 [[:append :x 1]]",
        "0 ok 30 [[:r :x nil]]",
        "1 ok 50 [[:r :x [1]]]",
    ];
    let ser = check(&lines, Consistency::Serializable);
    assert_eq!(ser.verdict, TxnVerdict::Held, "{:?}", ser.anomalies);
    let session = check(&lines, Consistency::StrongSessionSerializable);
    assert_eq!(session.verdict, TxnVerdict::Violated);
    assert_eq!(classes(&session), ["G-single-process"]);
    assert_eq!(
        session.ruled_out,
        [
            Consistency::StrongSessionSerializable,
            Consistency::StrictSerializable
        ]
    );
    let text = session.anomalies[0].explanation.join("; ");
    assert!(
        text.contains("T0 -process-> T1") && text.contains("on the same process"),
        "{text}"
    );
    // An aborted or unknown transaction between them changes nothing; an
    // unknown one starts no process edge.
    let lines = [
        "0 ok 10 [[:append :x 1]]",
        "0 info 20 [[:append :y 1]]",
        "0 ok 30 [[:r :x nil]]",
        "1 ok 50 [[:r :x [1]]]",
    ];
    let session = check(&lines, Consistency::StrongSessionSerializable);
    assert_eq!(classes(&session), ["G-single-process"]);
}

#[test]
fn reads_that_fit_no_order() {
    let lines = [
        "0 ok 10 [[:append :x 1] [:append :y 5]]",
        "1 ok 12 [[:append :x 2]]",
        "2 ok 30 [[:r :x [1 2]] [:r :y [5 5]]]",
        "3 ok 31 [[:r :x [2]] [:r :z [9]]]",
    ];
    let r = check(&lines, Consistency::ReadCommitted);
    let mut c = classes(&r);
    c.sort();
    assert_eq!(
        c,
        ["duplicate-elements", "garbage-read", "incompatible-order"]
    );
    // Two reads of one length that disagree: the first read is the
    // order, the second is the one that does not fit it.
    let lines = [
        "0 ok 10 [[:append :x 1]]",
        "1 ok 12 [[:append :x 2]]",
        "2 ok 30 [[:r :x [1 2]]]",
        "3 ok 31 [[:r :x [2 1]]]",
    ];
    let r = check(&lines, Consistency::ReadCommitted);
    let odd = r.anomalies.iter().find(|a| a.class == "incompatible-order");
    let named: Vec<usize> = odd.map_or(vec![], |a| a.txns.iter().map(|t| t.index).collect());
    assert_eq!(named, [3, 2]);
}

#[test]
fn a_read_against_its_own_appends_is_internal() {
    let lines = [
        "0 ok 10 [[:append :x 1] [:append :x 2] [:r :x [2 1]]]",
        "1 ok 20 [[:r :y nil] [:append :y 3] [:r :y [3]] [:r :y [3]]]",
    ];
    let r = check(&lines, Consistency::ReadCommitted);
    assert_eq!(classes(&r), ["internal"], "{:?}", r.anomalies);
    assert_eq!(r.anomalies[0].txns[0].index, 0);
    // No earlier read: a read after the transaction's own append must
    // still end with it.
    let lines = [
        "0 ok 10 [[:append :x 1]]",
        "1 ok 20 [[:append :x 2] [:r :x [1]]]",
    ];
    let r = check(&lines, Consistency::ReadCommitted);
    assert!(classes(&r).contains(&"internal"), "{:?}", r.anomalies);
    // The right length after an earlier read, but not that read extended.
    let lines = [
        "0 ok 10 [[:append :x 1] [:append :x 3]]",
        "1 ok 20 [[:r :x [1]] [:append :x 2] [:r :x [3 2]]]",
    ];
    let r = check(&lines, Consistency::ReadCommitted);
    assert!(classes(&r).contains(&"internal"), "{:?}", r.anomalies);
}

#[test]
fn the_budget_leaves_a_cycle_free_history_undecided() {
    let lines = [
        "0 ok 10 [[:append :x 1]]",
        "1 ok 20 [[:r :x [1]] [:append :x 2]]",
        "0 ok 30 [[:r :x [1 2]]]",
    ];
    let r = check_list_append(history(&lines), Consistency::Serializable, 2)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.verdict, TxnVerdict::Undecided);
    assert!(!r.complete);
}

#[test]
fn bad_shapes_are_errors_naming_the_line() {
    for (value, needle) in [
        ("[[:put :x 1]]", "expected :append or :r"),
        ("[[:append :x \"a\"]]", "integer to append"),
        ("[[:append :x 1] [:append :x 1]]", "appended once per key"),
        ("7", "vector of micro-ops"),
    ] {
        let h = history(&[&format!("0 ok 10 {value}")]);
        let err = check_list_append(h, Consistency::Serializable, 1000).map(|_| ());
        let Err(e) = err else {
            panic!("{value}: accepted")
        };
        assert_eq!(e.line, 1, "{value}");
        assert!(e.message.contains(needle), "{value}: {}", e.message);
    }
}

/// A serial execution of random transactions: each runs alone, reads see
/// every earlier append. Returns the history's lines for [`history`].
fn serial(txns: &[Vec<(bool, u8)>]) -> Vec<String> {
    let mut lists: std::collections::BTreeMap<u8, Vec<i64>> = Default::default();
    let mut next = 0i64;
    let mut lines = Vec::new();
    for (i, txn) in txns.iter().enumerate() {
        let mops: Vec<String> = txn
            .iter()
            .map(|&(append, key)| {
                let list = lists.entry(key).or_default();
                if append {
                    next += 1;
                    list.push(next);
                    format!("[:append {key} {next}]")
                } else {
                    let items: Vec<String> = list.iter().map(i64::to_string).collect();
                    format!("[:r {key} [{}]]", items.join(" "))
                }
            })
            .collect();
        lines.push(format!(
            "{} ok {} [{}]",
            i % 3,
            10 * (i + 1),
            mops.join(" ")
        ));
    }
    lines
}

proptest::proptest! {
    /// Every serial history holds every model, to the end of the search.
    #[test]
    fn serial_histories_hold_every_model(
        txns in proptest::collection::vec(
            proptest::collection::vec((proptest::bool::ANY, 0u8..4), 1..5),
            1..40,
        )
    ) {
        let lines = serial(&txns);
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let r = check(&lines, Consistency::StrictSerializable);
        proptest::prop_assert_eq!(r.verdict, TxnVerdict::Held, "{:?}", r.anomalies);
        proptest::prop_assert!(r.complete);
    }

    /// Swapping two adjacent elements of the longest read of a key that
    /// another read saw past breaks the version order, and is caught.
    #[test]
    fn a_read_out_of_order_is_caught(
        txns in proptest::collection::vec(
            proptest::collection::vec((proptest::bool::ANY, 0u8..2), 1..5),
            4..40,
        ),
    ) {
        let mut lines = serial(&txns);
        // The last read (in history order) of at least two elements.
        let pick = lines.iter().rposition(|l| l.contains("[:r ") && {
            l.split("[:r ").skip(1).any(|m| m.split(']').next().is_some_and(|r| r.split(' ').count() >= 3))
        });
        proptest::prop_assume!(pick.is_some());
        let i = pick.unwrap_or(0);
        let line = lines[i].clone();
        let start = line.find("[:r ").unwrap_or(0);
        let read = &line[start..];
        let open = start + read.find(" [").unwrap_or(0) + 2;
        let close = open + line[open..].find(']').unwrap_or(0);
        let mut items: Vec<&str> = line[open..close].split(' ').collect();
        proptest::prop_assume!(items.len() >= 2);
        let n = items.len();
        items.swap(n - 2, n - 1);
        lines[i] = format!("{}{}{}", &line[..open], items.join(" "), &line[close..]);
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let r = check(&refs, Consistency::StrictSerializable);
        proptest::prop_assert_eq!(r.verdict, TxnVerdict::Violated, "{}", lines[i]);
    }
}

#[test]
fn every_edge_kind_is_explained_in_the_workload_s_words() {
    let keys = vec!["x".to_string()];
    let say = |dep, workload| {
        let why = (dep != graph::Dep::Realtime && dep != graph::Dep::Process).then_some((0, 7));
        let step = cycles::Step {
            from: 1,
            edge: graph::Edge { to: 2, dep, why },
        };
        describe_step(&step, workload, &keys)
    };
    use graph::Dep::{Process, Realtime, Rw, Wr, Ww};
    use Workload::{ListAppend, RwRegister};
    for (dep, workload, expected) in [
        (
            Ww,
            ListAppend,
            "T1 -ww(x, 7)-> T2: T2 appended 7 to x right after T1's append",
        ),
        (
            Wr,
            ListAppend,
            "T1 -wr(x, 7)-> T2: T2 read T1's append of 7 to x",
        ),
        (
            Rw,
            ListAppend,
            "T1 -rw(x, 7)-> T2: T2 appended 7 to x, the next element after what T1 read",
        ),
        (
            Ww,
            RwRegister,
            "T1 -ww(x, 7)-> T2: T2 wrote 7 to x, a later version than T1's write",
        ),
        (
            Wr,
            RwRegister,
            "T1 -wr(x, 7)-> T2: T2 read T1's write of 7 to x",
        ),
        (
            Rw,
            RwRegister,
            "T1 -rw(x, 7)-> T2: T2 wrote 7 to x, a later version than the one T1 read",
        ),
        (
            Realtime,
            ListAppend,
            "T1 -realtime-> T2: T2 began after T1 completed",
        ),
        (
            Process,
            RwRegister,
            "T1 -process-> T2: T2 began after T1 completed, on the same process",
        ),
    ] {
        assert_eq!(say(dep, workload), expected);
    }
}

#[test]
fn models_are_named_as_the_command_line_takes_them() {
    let names: Vec<&str> = Consistency::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        [
            "read-committed",
            "snapshot-isolation",
            "serializable",
            "strong-session-serializable",
            "strict-serializable"
        ]
    );
    assert_eq!(Workload::ListAppend.name(), "list-append");
    assert_eq!(Workload::RwRegister.name(), "rw-register");
    for (class, weakest) in [
        ("G0", Consistency::ReadCommitted),
        ("G1a", Consistency::ReadCommitted),
        ("internal", Consistency::ReadCommitted),
        ("G-single", Consistency::SnapshotIsolation),
        ("lost-update", Consistency::SnapshotIsolation),
        ("G2", Consistency::Serializable),
        ("G2-process", Consistency::StrongSessionSerializable),
        ("G0-realtime", Consistency::StrictSerializable),
    ] {
        assert_eq!(weakest_ruled_out(class), weakest, "{class}");
    }
}
