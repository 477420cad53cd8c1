//! `faultline check --model queue`: Jepsen's total-queue histories and
//! faultline's JSON lines, each anomaly class found on a hand-written
//! history, none on a clean one, and bad input named by line.

mod common;

use common::{faultline, json, temp_file};

const CLEAN: &str = r#"; a clean total-queue history
{:type :invoke, :f :enqueue, :value 1, :process 0}
{:type :ok, :f :enqueue, :value 1, :process 0}
{:type :invoke, :f :enqueue, :value 2, :process 1}
{:type :info, :f :enqueue, :value 2, :process 1}
{:type :invoke, :f :dequeue, :value nil, :process 2}
{:type :ok, :f :dequeue, :value 1, :process 2}
{:type :invoke, :f :dequeue, :value nil, :process 3}
{:type :ok, :f :dequeue, :value nil, :process 3}
{:type :invoke, :f :drain, :value nil, :process 4}
{:type :ok, :f :drain, :value [2], :process 4}
"#;

fn check(name: &str, text: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let path = temp_file(name, text);
    let path = path.display().to_string();
    let mut args = vec!["check", path.as_str(), "--model", "queue", "--json"];
    args.extend_from_slice(extra);
    let out = faultline(&args);
    (out.status.code().unwrap_or(-1), json(&out))
}

#[test]
fn a_clean_history_holds_and_an_unknown_enqueue_that_came_out_is_recovered() {
    let (code, out) = check("clean.edn", CLEAN, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["verdict"], "held");
    assert_eq!(out["recovered"], 1);
    assert_eq!(out["lost_count"], 0);
}

#[test]
fn lost_unexpected_and_duplicated_values_are_named() {
    let text = format!(
        "{CLEAN}{}",
        r#"{:type :invoke, :f :enqueue, :value 3, :process 0}
{:type :ok, :f :enqueue, :value 3, :process 0}
{:type :invoke, :f :dequeue, :value nil, :process 2}
{:type :ok, :f :dequeue, :value 9, :process 2}
"#
    );
    let (code, out) = check("lost.edn", &text, &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["lost"], serde_json::json!([3]));
    assert_eq!(out["unexpected"], serde_json::json!([9]));
    let dup = format!(
        "{CLEAN}{}",
        r#"{:type :invoke, :f :dequeue, :value nil, :process 2}
{:type :ok, :f :dequeue, :value 1, :process 2}
"#
    );
    let (code, out) = check("dup.edn", &dup, &[]);
    assert_eq!(code, 0, "at-least-once allows a duplicate: {out}");
    assert_eq!(out["duplicated"], serde_json::json!([[1, 2]]));
    let (code, out) = check("dup2.edn", &dup, &["--exactly-once"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["verdict"], "violated");
}

#[test]
fn faultline_json_lines_with_send_and_receive_read_the_same() {
    let text = r#"{"type":"invoke","f":"send","value":5,"process":0,"time_ns":1}
{"type":"ok","f":"send","value":5,"process":0,"time_ns":2}
{"type":"invoke","f":"receive","value":null,"process":1,"time_ns":3}
{"type":"ok","f":"receive","value":5,"process":1,"time_ns":4}
"#;
    let (code, out) = check("sends.jsonl", text, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["acknowledged"], 1);
}

#[test]
fn an_op_that_is_not_a_queues_is_bad_input_naming_its_line() {
    let text = format!(
        "{CLEAN}{}",
        "{:type :invoke, :f :read, :value nil, :process 0}\n{:type :ok, :f :read, :value 1, :process 0}\n"
    );
    let path = temp_file("bad.edn", text);
    let out = faultline(&["check", &path.display().to_string(), "--model", "queue"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.edn:12:") && err.contains("\"read\""),
        "{err}"
    );
    let strings = CLEAN.replace(":value 1,", ":value \"a\",");
    let path = temp_file("strings.edn", strings);
    let out = faultline(&["check", &path.display().to_string(), "--model", "queue"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected an integer"));
}
