//! `faultline check --model log`: a partitioned log's sends and polls,
//! each anomaly class of Jepsen's Kafka checker found on a hand-written
//! history, none on a clean one, and bad input named by line.

mod common;

use common::{faultline, json, temp_file};

/// Two producers, one consumer that reads everything, in EDN.
const CLEAN: &str = r#"; a clean log history: partition 1
{:type :invoke, :f :send, :key 1, :value 10, :process 0}
{:type :ok, :f :send, :key 1, :value [0 10], :process 0}
{:type :invoke, :f :send, :key 1, :value 11, :process 1}
{:type :ok, :f :send, :key 1, :value [1 11], :process 1}
{:type :invoke, :f :send, :key 1, :value 12, :process 1}
{:type :info, :f :send, :key 1, :value 12, :process 1}
{:type :invoke, :f :poll, :key 1, :value nil, :process 2}
{:type :ok, :f :poll, :key 1, :value [[0 10] [1 11]], :process 2}
"#;

fn check(name: &str, text: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let path = temp_file(name, text);
    let path = path.display().to_string();
    let mut args = vec!["check", path.as_str(), "--model", "log", "--json"];
    args.extend_from_slice(extra);
    let out = faultline(&args);
    (out.status.code().unwrap_or(-1), json(&out))
}

fn count(out: &serde_json::Value, class: &str) -> u64 {
    out[class]["count"].as_u64().unwrap_or(u64::MAX)
}

#[test]
fn a_clean_history_holds() {
    let (code, out) = check("clean.edn", CLEAN, &["--exactly-once"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["verdict"], "held");
    assert_eq!(
        (out["acknowledged"].as_u64(), out["polled"].as_u64()),
        (Some(2), Some(2))
    );
}

#[test]
fn a_lost_write_an_inconsistent_offset_and_a_skip_are_named() {
    // Process 3 is acknowledged offset 1 too (another value): one of the
    // two was lost; a second consumer jumps from 0 to 2 over offset 1.
    let text = format!(
        "{CLEAN}{}",
        r#"{:type :invoke, :f :send, :key 1, :value 13, :process 3}
{:type :ok, :f :send, :key 1, :value [1 13], :process 3}
{:type :invoke, :f :poll, :key 1, :value nil, :process 4}
{:type :ok, :f :poll, :key 1, :value [[0 10] [2 14]], :process 4}
"#
    );
    let (code, out) = check("lost.edn", &text, &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(count(&out, "lost_writes"), 1, "{out}");
    assert_eq!(out["lost_writes"]["examples"][0]["value"], 13);
    assert_eq!(count(&out, "inconsistent_offsets"), 1, "{out}");
    assert_eq!(count(&out, "poll_skips"), 1, "{out}");
    assert_eq!(
        out["poll_skips"]["examples"][0]["skipped"],
        serde_json::json!([1])
    );
}

#[test]
fn duplicates_fail_only_exactly_once_and_going_back_is_nonmonotonic() {
    let text = format!(
        "{CLEAN}{}",
        r#"{:type :invoke, :f :poll, :key 1, :value nil, :process 2}
{:type :ok, :f :poll, :key 1, :value [[2 10]], :process 2}
"#
    );
    let (code, out) = check("dup.edn", &text, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(count(&out, "duplicates"), 1, "{out}");
    let (code, _) = check("dup2.edn", &text, &["--exactly-once"]);
    assert_eq!(code, 1);
    let back = format!(
        "{CLEAN}{}",
        r#"{:type :invoke, :f :poll, :key 1, :value nil, :process 2}
{:type :ok, :f :poll, :key 1, :value [[0 10]], :process 2}
{:type :invoke, :f :send, :key 1, :value 15, :process 0}
{:type :ok, :f :send, :key 1, :value [0 15], :process 0}
"#
    );
    let (code, out) = check("back.edn", &back, &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(count(&out, "nonmonotonic_polls"), 1, "{out}");
    assert_eq!(count(&out, "nonmonotonic_sends"), 1, "{out}");
}

#[test]
fn an_acknowledged_send_never_polled_is_unseen_and_json_lines_read_the_same() {
    let text = r#"{"type":"invoke","f":"send","key":"0","value":5,"process":0}
{"type":"ok","f":"send","key":"0","value":[0,5],"process":0}
{"type":"invoke","f":"send","key":"0","value":6,"process":0}
{"type":"ok","f":"send","key":"0","value":6,"process":0}
"#;
    let (code, out) = check("unseen.jsonl", text, &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(count(&out, "unseen"), 2, "{out}");
    assert_eq!(
        out["unseen"]["examples"][1]["offset"],
        serde_json::Value::Null
    );
}

#[test]
fn ops_and_values_that_are_not_a_logs_are_bad_input_naming_their_line() {
    let cases = [
        (":f :read, :key 1, :value 1", "\"read\"", 10),
        (":f :poll, :key :a, :value [[0 1]]", "the partition", 10),
        (":f :poll, :key 1, :value [[0 1 2]]", "[offset, value]", 11),
        (":f :send, :key 1, :value [-1 3]", "an offset", 11),
    ];
    for (op, expected, line) in cases {
        let (invoke_op, ok_op) = match op.split_once(", :value ") {
            Some((head, value)) => (
                format!("{head}, :value nil"),
                format!("{head}, :value {value}"),
            ),
            None => unreachable!(),
        };
        let text = format!(
            "{CLEAN}{{:type :invoke, {invoke_op}, :process 7}}\n{{:type :ok, {ok_op}, :process 7}}\n"
        );
        let path = temp_file("bad.edn", text);
        let out = faultline(&["check", &path.display().to_string(), "--model", "log"]);
        assert_eq!(out.status.code(), Some(2), "{op}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("bad.edn:{line}:")) && err.contains(expected),
            "{op}: {err}"
        );
    }
}
