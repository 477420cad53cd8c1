//! `faultline check --model list-append` end to end: the exit codes of the
//! contract (0 holds, 1 violated, 2 bad input, 3 undecided), the `--json`
//! keys, and the anomaly named with its cycle.
use std::process::Output;

mod common;

use common::{faultline, temp_file};

/// Write skew, as Jepsen writes a list-append history (a comment first,
/// keys the checker ignores): snapshot isolation allows it,
/// serializability does not.
const WRITE_SKEW: &str = "; write skew\n\
{:index 0, :type :invoke, :process 0, :f :txn, :value [[:r :x nil] [:append :y 1]], :time 1}\n\
{:index 1, :type :invoke, :process 1, :f :txn, :value [[:r :y nil] [:append :x 1]], :time 2}\n\
{:index 2, :type :ok, :process 0, :f :txn, :value [[:r :x []] [:append :y 1]], :time 3, :node \"n1\"}\n\
{:index 3, :type :ok, :process 1, :f :txn, :value [[:r :y []] [:append :x 1]], :time 4}\n\
{:index 4, :type :invoke, :process 0, :f :txn, :value [[:r :x nil] [:r :y nil]], :time 5}\n\
{:index 5, :type :ok, :process 0, :f :txn, :value [[:r :x [1]] [:r :y [1]]], :time 6}\n";

fn check(name: &str, text: &str, extra: &[&str]) -> Output {
    let path = temp_file(name, text.as_bytes());
    let mut args = vec![
        "check",
        path.to_str().expect("utf-8"),
        "--model",
        "list-append",
    ];
    args.extend_from_slice(extra);
    faultline(&args)
}

#[test]
fn write_skew_holds_under_snapshot_isolation_and_violates_serializable() {
    let si = check(
        "skew.edn",
        WRITE_SKEW,
        &["--consistency", "snapshot-isolation"],
    );
    assert_eq!(
        si.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&si.stderr)
    );
    let ser = check("skew.edn", WRITE_SKEW, &["--consistency", "serializable"]);
    assert_eq!(ser.status.code(), Some(1));
    let text = String::from_utf8_lossy(&ser.stdout);
    assert!(
        text.contains("serializable VIOLATED") && text.contains("G2:"),
        "{text}"
    );
    assert!(text.contains("T0 -rw(x, 1)-> T1"), "{text}");
}

#[test]
fn json_names_the_verdict_anomalies_and_models_ruled_out() {
    let out = check("skew.edn", WRITE_SKEW, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["verdict"], "violated");
    assert_eq!(v["model"], "list-append");
    assert_eq!(v["consistency"], "serializable");
    assert_eq!(v["transactions"], 3);
    assert_eq!(v["complete"], true);
    assert_eq!(
        v["ruled_out"],
        serde_json::json!([
            "serializable",
            "strong-session-serializable",
            "strict-serializable"
        ])
    );
    assert_eq!(v["anomalies"][0]["class"], "G2");
    assert_eq!(v["anomalies"][0]["txns"][0]["line"], 2);
    assert_eq!(
        v["anomalies"][0]["explanation"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn a_spent_step_budget_is_undecided_exit_3() {
    let out = check(
        "skew.edn",
        WRITE_SKEW,
        &["--steps", "3", "--consistency", "read-committed"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("undecided"));
}

#[test]
fn bad_transactions_exit_2_naming_file_and_line() {
    let text = "{:type :invoke, :process 0, :f :txn, :value [[:append :x 1]]}\n\
                {:type :ok, :process 0, :f :txn, :value [[:append :x 1]]}\n\
                {:type :invoke, :process 0, :f :txn, :value [[:write :x 2]]}\n";
    let out = check("bad-txn.edn", text, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad-txn.edn:3:") && err.contains(":write"),
        "{err}"
    );
    let path = temp_file("reg.edn", WRITE_SKEW.as_bytes());
    let p = path.to_str().expect("utf-8");
    for args in [
        vec![
            "check",
            p,
            "--model",
            "register",
            "--consistency",
            "serializable",
        ],
        vec![
            "check",
            p,
            "--model",
            "list-append",
            "--consistency",
            "linearizable",
        ],
    ] {
        assert_eq!(faultline(&args).status.code(), Some(2), "{args:?}");
    }
}

/// A lost update in Jepsen's rw-register shape: both transactions read the
/// initial nil and wrote the key.
const LOST_UPDATE: &str = "{:type :invoke, :process 0, :f :txn, :value [[:r :x nil] [:w :x 1]]}\n\
{:type :invoke, :process 1, :f :txn, :value [[:r :x nil] [:w :x 2]]}\n\
{:type :ok, :process 0, :f :txn, :value [[:r :x nil] [:w :x 1]]}\n\
{:type :ok, :process 1, :f :txn, :value [[:r :x nil] [:w :x 2]]}\n";

#[test]
fn rw_register_lost_update_holds_read_committed_and_violates_snapshot_isolation() {
    let args = |consistency| {
        let path = temp_file("lost.edn", LOST_UPDATE.as_bytes());
        let path = path.to_str().expect("utf-8").to_string();
        faultline(&[
            "check",
            &path,
            "--model",
            "rw-register",
            "--consistency",
            consistency,
            "--json",
        ])
    };
    let rc = args("read-committed");
    assert_eq!(
        rc.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rc.stderr)
    );
    let si = args("snapshot-isolation");
    assert_eq!(si.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&si.stdout).expect("one JSON object");
    assert_eq!(v["model"], "rw-register");
    assert_eq!(v["verdict"], "violated");
    let classes: Vec<&str> = v["anomalies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["class"].as_str())
        .collect();
    assert!(classes.contains(&"lost-update"), "{classes:?}");
    // A list read is not rw-register's: exit 2 with the line.
    let path = temp_file("not-rw.edn", WRITE_SKEW.as_bytes());
    let out = faultline(&[
        "check",
        path.to_str().expect("utf-8"),
        "--model",
        "rw-register",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not-rw.edn:2: expected"), "{err}");
}

/// 700 transactions read the initial nil of one key and 700 others wrote
/// it blind: 490,000 `rw` edges from a 90 kB file.
fn dense_register_history() -> String {
    let mut text = String::new();
    for i in 0..700 {
        for (kind, value) in [("invoke", "nil"), ("ok", "nil")] {
            text.push_str(&format!(
                "{{:type :{kind}, :process {i}, :f :txn, :value [[:r :x {value}]]}}\n"
            ));
        }
        let p = 700 + i;
        for kind in ["invoke", "ok"] {
            text.push_str(&format!(
                "{{:type :{kind}, :process {p}, :f :txn, :value [[:w :x {i}]]}}\n"
            ));
        }
    }
    text
}

#[test]
fn memory_and_timeout_bound_the_transaction_check() {
    let path = temp_file("dense.edn", dense_register_history().as_bytes());
    let p = path.to_str().expect("utf-8");
    let run = |extra: &[&str]| {
        let mut args = vec!["check", p, "--model", "rw-register", "--json"];
        args.extend_from_slice(extra);
        faultline(&args)
    };
    let whole = run(&[]);
    assert_eq!(
        whole.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    for (extra, budget) in [
        (["--memory", "64MiB"], "memory"),
        (["--timeout", "1ms"], "timeout"),
    ] {
        let out = run(&extra);
        assert_eq!(out.status.code(), Some(3), "{extra:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        assert_eq!(v["verdict"], "undecided", "{extra:?}");
        assert_eq!(v["budget"]["budget"], budget, "{v}");
        assert_eq!(v["complete"], false);
    }
}
