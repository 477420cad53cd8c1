//! `faultline check` end to end: exit codes 0/1/2/3, malformed inputs
//! naming file and line, `--json` output shape, budgets answering Unknown,
//! and a property that no byte string panics any history reader.
use faultline::check::history::{parse_str, Format};
use proptest::prelude::*;
use std::process::Output;

mod common;

use common::{faultline, temp_file};

fn check(path: &std::path::Path, extra: &[&str]) -> Output {
    let mut args = vec!["check", path.to_str().expect("utf-8 temp path")];
    args.extend_from_slice(extra);
    faultline(&args)
}

const JSON_OK: &str = r#"{"process": 0, "type": "invoke", "f": "write", "value": 1, "time_ns": 10}
{"process": 1, "type": "invoke", "f": "read", "value": null, "time_ns": 15}
{"process": 0, "type": "ok", "f": "write", "value": 1, "time_ns": 20}
{"process": 1, "type": "ok", "f": "read", "value": 1, "time_ns": 25}
{"process": 2, "type": "invoke", "f": "cas", "value": [1, 2], "time_ns": 30}
{"process": 2, "type": "info", "f": "cas", "value": [1, 2], "time_ns": 40}
"#;

const JSON_BAD: &str = r#"{"process": 0, "type": "invoke", "f": "write", "value": 1, "time_ns": 10}
{"process": 0, "type": "ok", "f": "write", "value": 1, "time_ns": 20}
{"process": 1, "type": "invoke", "f": "read", "value": null, "time_ns": 30}
{"process": 1, "type": "ok", "f": "read", "value": null, "time_ns": 40}
"#;

#[test]
fn linearizable_history_exits_0() {
    let path = temp_file("ok.jsonl", JSON_OK.as_bytes());
    let out = check(&path, &["--model", "cas-register"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("linearizable"));
}

#[test]
fn violation_exits_1_with_counterexample() {
    let path = temp_file("bad.jsonl", JSON_BAD.as_bytes());
    let out = check(&path, &["--model", "register"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("read() -> nil"), "{stdout}");
    assert!(stdout.contains("the model rejects it"), "{stdout}");
}

#[test]
fn json_output_has_the_documented_fields() {
    let path = temp_file("bad2.jsonl", JSON_BAD.as_bytes());
    let out = check(&path, &["--model", "register", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["verdict"], "illegal");
    assert_eq!(v["model"], "register");
    assert_eq!(v["ops"], 2);
    assert_eq!(v["partitions"], 1);
    assert!(v["elapsed_ms"].is_number());
    let cx = &v["counterexample"];
    assert_eq!(cx["prefix"][0]["f"], "write");
    assert_eq!(cx["cannot_place"][0]["op"]["call_time"], 30);
    assert_eq!(cx["cannot_place"][0]["reason"], "rejected_by_model");
}

/// `--json` names the model as the command line does: scripts key on it.
#[test]
fn json_names_each_model_as_the_command_line_does() {
    let kv = r#"{"process": 0, "type": "invoke", "f": "put", "key": "x", "value": "a", "time_ns": 10}
{"process": 0, "type": "ok", "f": "put", "key": "x", "value": "a", "time_ns": 20}
"#;
    let register: String = JSON_OK.lines().take(4).map(|l| format!("{l}\n")).collect();
    for (model, text) in [
        ("register", register.as_str()),
        ("cas-register", JSON_OK),
        ("kv", kv),
    ] {
        let path = temp_file(&format!("{model}-named.jsonl"), text.as_bytes());
        let out = check(&path, &["--model", model, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{model}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        assert_eq!(v["model"], model);
    }
}

#[test]
fn the_same_history_reads_alike_in_every_format() {
    let edn = "[{:process 0, :type :invoke, :f :write, :value 1}\n {:process 0, :type :ok, :f :write, :value 1}\n {:process 1 :type :invoke :f :read :value nil}\n {:process 1 :type :ok :f :read :value nil}]";
    let log = "INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:ok\t:write\t1\nINFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.util - 1\t:ok\t:read\tnil\n";
    for (name, text) in [("h.edn", edn), ("h.log", log), ("h.jsonl", JSON_BAD)] {
        let path = temp_file(name, text.as_bytes());
        let out = check(&path, &["--model", "register", "--json"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["ops"], 2, "{name}");
    }
}

/// (name, content, model, text that must appear in the error, e.g. `:2:`).
const MALFORMED: &[(&str, &str, &str, &str)] = &[
    ("json-syntax", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\"}\n{oops\n", "register", ":2:"),
    ("json-no-process", "{\"type\": \"invoke\", \"f\": \"read\"}\n", "register", ":1: expected \"process\""),
    ("json-bad-type", "{\"process\": 0, \"type\": \"started\", \"f\": \"read\"}\n", "register", ":1: expected \"type\""),
    ("json-not-object", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\"}\n[1, 2]\n", "register", ":2:"),
    ("json-bad-time", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time_ns\": -5}\n", "register", ":1: expected \"time_ns\""),
    ("edn-unclosed", "{:process 0, :type :invoke, :f :read\n", "register", ":2:"),
    ("edn-bad-type", "{:process 0, :type :invoke, :f :read}\n{:process 0, :type :done, :f :read}\n", "register", ":2: expected :type"),
    ("edn-float", "{:process 0, :type :invoke, :f :write, :value 1.5}\n", "register", ":1:"),
    ("edn-vector-unclosed", "[{:process 0, :type :invoke, :f :read}\n", "register", "`]`"),
    ("log-bad-process", "INFO  jepsen.util - x\t:invoke\t:read\tnil\n", "register", ":1:21: expected a process number"),
    ("log-bad-type", "INFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.util - 1\tok\t:read\tnil\n", "register", ":2:"),
    ("orphan-completion", "{\"process\": 4, \"type\": \"ok\", \"f\": \"read\", \"value\": 1}\n", "register", ":1: completion for process 4 without a matching invoke"),
    ("double-invoke", "{\"process\": 1, \"type\": \"invoke\", \"f\": \"read\"}\n{\"process\": 1, \"type\": \"invoke\", \"f\": \"write\", \"value\": 2}\n", "register", ":2: process 1 invokes"),
    ("mismatched-f", "{\"process\": 1, \"type\": \"invoke\", \"f\": \"read\"}\n{\"process\": 1, \"type\": \"ok\", \"f\": \"write\", \"value\": 2}\n", "register", ":2: completion :write"),
    ("time-backwards", "{\"process\": 1, \"type\": \"invoke\", \"f\": \"read\", \"time_ns\": 9}\n{\"process\": 1, \"type\": \"ok\", \"f\": \"read\", \"time_ns\": 3}\n", "register", ":2: completion time"),
    ("cas-on-register", "{\"process\": 1, \"type\": \"invoke\", \"f\": \"cas\", \"value\": [1, 2]}\n", "register", ":1: the register model has no operation :cas"),
    ("kv-without-key", "{\"process\": 1, \"type\": \"invoke\", \"f\": \"get\"}\n", "kv", ":1: the kv model needs a key"),
    ("string-in-register", "{\"process\": 1, \"type\": \"invoke\", \"f\": \"write\", \"value\": \"x\"}\n", "register", ":1: expected the write value"),
    ("undetectable", "\n\nhello world\n", "register", ":3: cannot detect"),
];

#[test]
fn malformed_histories_exit_2_naming_the_line() {
    for (name, content, model, needle) in MALFORMED {
        let path = temp_file(&format!("{name}.txt"), content.as_bytes());
        let out = check(&path, &["--model", model]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("{name}.txt")),
            "{name}: file not named: {stderr}"
        );
        assert!(
            stderr.contains(needle),
            "{name}: expected {needle:?} in: {stderr}"
        );
    }
}

#[test]
fn invalid_utf8_exits_2_with_position() {
    let path = temp_file(
        "latin1.jsonl",
        b"{\"process\": 1, \"type\": \"invoke\", \"f\": \"read\"}\n{\"f\": \"\xe9\"}\n",
    );
    let out = check(&path, &["--model", "register"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(":2:8: expected UTF-8"));
}

#[test]
fn bad_usage_exits_2() {
    let path = temp_file("usage.jsonl", JSON_OK.as_bytes());
    let p = path.to_str().expect("utf-8 path");
    for args in [
        vec!["check", "/nonexistent/history.jsonl", "--model", "register"],
        vec!["check", p],
        vec!["check", p, "--model", "no-such-model"],
        vec!["check", p, "--model", "register", "--timeout", "10"],
        vec!["check", p, "--model", "register", "--memory", "lots"],
        vec!["check", p, "--model", "register", "--format", "xml"],
        vec!["check", p, "--model", "kv", "--initial-value", "0"],
        vec!["check", p, "--model", "kv", "--nil-read", "unknown"],
        vec!["check", p, "--model", "register", "--nil-read", "maybe"],
        vec!["check", p, "--model", "register", "--initial-value", "zero"],
    ] {
        let out = faultline(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A Knossos-shaped history (a comment first, a list of ops, a missing
/// comma): no write, a read of 0, then a read that did not learn the value.
const KNOSSOS_READS: &str = "; reads before any write\n\
    ({:process 0, :type :invoke, :f :read, :value nil}\n \
     {:process 0  :type :ok, :f :read, :value 0}\n \
     {:process 1, :type :invoke, :f :write, :value 3}\n \
     {:process 1, :type :ok, :f :write, :value 3}\n \
     ; a read that learned nothing\n \
     {:process 2, :type :invoke, :f :read, :value nil}\n \
     {:process 2, :type :ok, :f :read, :value nil})\n";

/// The same history gets Knossos's verdict only under Knossos's
/// conventions: a register that starts at 0 (`--initial-value 0`) and nil
/// reads that constrain nothing (`--nil-read unknown`); each convention
/// alone leaves one of the two reads illegal.
#[test]
fn initial_value_and_nil_read_give_knossos_verdicts() {
    let path = temp_file("knossos-reads.edn", KNOSSOS_READS.as_bytes());
    for (extra, code) in [
        (&[][..], 1),
        (&["--initial-value", "0"][..], 1),
        (&["--nil-read", "unknown"][..], 1),
        (&["--initial-value", "0", "--nil-read", "unknown"][..], 0),
        (&["--initial-value", "-7", "--nil-read", "unknown"][..], 1),
    ] {
        for model in ["register", "cas-register"] {
            let mut args = vec!["--model", model];
            args.extend_from_slice(extra);
            let out = check(&path, &args);
            assert_eq!(
                out.status.code(),
                Some(code),
                "{args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A nil read under `--nil-read unknown` is not evidence: both procedures
/// agree (unique writes decided directly; a value written twice searched).
#[test]
fn nil_reads_constrain_nothing_in_both_procedures() {
    let history = |last_write: i64| {
        format!(
            "{{:process 0, :type :invoke, :f :write, :value 1}}\n\
             {{:process 0, :type :ok, :f :write, :value 1}}\n\
             {{:process 1, :type :invoke, :f :read, :value nil}}\n\
             {{:process 1, :type :ok, :f :read, :value nil}}\n\
             {{:process 0, :type :invoke, :f :write, :value {last_write}}}\n\
             {{:process 0, :type :ok, :f :write, :value {last_write}}}\n"
        )
    };
    for (name, last_write) in [("unique", 2), ("written-twice", 1)] {
        let path = temp_file(&format!("nil-{name}.edn"), history(last_write).as_bytes());
        let plain = check(&path, &["--model", "register", "--json"]);
        let knossos = check(
            &path,
            &["--model", "register", "--nil-read", "unknown", "--json"],
        );
        assert_eq!(plain.status.code(), Some(1), "{name}");
        assert_eq!(knossos.status.code(), Some(0), "{name}");
        let unique = String::from_utf8_lossy(&knossos.stdout).contains("\"partitions_unique\":1");
        assert_eq!(unique, last_write == 2, "{name}");
    }
}

/// n overlapping writes (each value written twice, so the unique-writes
/// procedure steps aside) and a concurrent read of a value never written:
/// refuting it by search visits every subset of the writes.
fn hard_history(writes: usize) -> String {
    let mut lines = Vec::new();
    for p in 0..=writes {
        let (f, v) = if p == writes {
            ("read", "null")
        } else {
            ("write", "")
        };
        let value = if v.is_empty() {
            (p / 2).to_string()
        } else {
            v.to_string()
        };
        lines.push(format!(
            r#"{{"process": {p}, "type": "invoke", "f": "{f}", "value": {value}, "time_ns": {p}}}"#
        ));
    }
    for p in 0..=writes {
        let value = if p == writes {
            "999".to_string()
        } else {
            (p / 2).to_string()
        };
        let f = if p == writes { "read" } else { "write" };
        lines.push(format!(
            r#"{{"process": {p}, "type": "ok", "f": "{f}", "value": {value}, "time_ns": {}}}"#,
            1000 + p
        ));
    }
    lines.join("\n")
}

#[test]
fn time_budget_gives_unknown_exit_3() {
    let path = temp_file("hard-time.jsonl", hard_history(26).as_bytes());
    let out = check(
        &path,
        &["--model", "register", "--timeout", "200ms", "--json"],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["verdict"], "unknown");
    assert_eq!(v["budget"]["budget"], "timeout");
    assert!(v["reason"]
        .as_str()
        .is_some_and(|r| r.contains("time budget")));
    assert!(
        v["elapsed_ms"].as_f64().is_some_and(|ms| ms < 5000.0),
        "stopped promptly: {v}"
    );
}

#[test]
fn memory_budget_gives_unknown_exit_3() {
    let path = temp_file("hard-mem.jsonl", hard_history(26).as_bytes());
    let out = check(
        &path,
        &[
            "--model",
            "register",
            "--memory",
            "64MiB",
            "--timeout",
            "60s",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("memory budget of"), "{text}");
    // Below the floor is bad usage, not an unknown verdict.
    let out = check(&path, &["--model", "register", "--memory", "4MiB"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected at least 64MiB"));
}

/// `--memory` bounds the whole process's real peak (its resident high-water
/// mark, which `check --json` reports), for a search that runs into the
/// budget and for a history too big to read within it.
#[test]
fn memory_budget_bounds_the_real_peak() {
    let hard = temp_file("hard-peak.jsonl", hard_history(26).as_bytes());
    let big = temp_file("big-peak.jsonl", big_history(150_000).as_bytes());
    for (path, model) in [(&hard, "register"), (&big, "register")] {
        for memory_mib in [64u64, 96, 160] {
            let memory = format!("{memory_mib}MiB");
            let out = check(
                path,
                &[
                    "--model",
                    model,
                    "--memory",
                    &memory,
                    "--timeout",
                    "60s",
                    "--json",
                ],
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            let Some(peak) = v["peak_rss_bytes"].as_u64() else {
                return; // no /proc here: nothing to measure
            };
            assert!(
                peak <= memory_mib << 20,
                "{}: peak {} MiB over --memory {memory}: {v}",
                path.display(),
                peak >> 20
            );
        }
    }
}

/// `ops` sequential writes of distinct values, each read back: a large
/// history with unique writes (decided directly, without search).
fn big_history(ops: usize) -> String {
    let mut lines = Vec::with_capacity(ops * 2);
    for i in 0..ops {
        let (f, v) = if i % 2 == 0 {
            ("write", i)
        } else {
            ("read", i - 1)
        };
        let t = i as u64 * 10;
        lines.push(format!(
            r#"{{"process": 0, "type": "invoke", "f": "{f}", "value": {}, "time_ns": {t}}}"#,
            if f == "write" {
                v.to_string()
            } else {
                "null".into()
            }
        ));
        lines.push(format!(
            r#"{{"process": 0, "type": "ok", "f": "{f}", "value": {v}, "time_ns": {}}}"#,
            t + 5
        ));
    }
    lines.join("\n")
}

#[test]
fn the_hard_history_is_decidable_with_budget() {
    // Guards the two tests above: the same shape, small, is refuted.
    let path = temp_file("hard-small.jsonl", hard_history(6).as_bytes());
    assert_eq!(
        check(&path, &["--model", "register"]).status.code(),
        Some(1)
    );
}

fn token() -> impl Strategy<Value = String> {
    let pieces = [
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        ":process",
        ":type",
        ":invoke",
        ":ok",
        ":info",
        ":fail",
        ":f",
        ":read",
        ":value",
        ":key",
        "nil",
        "\"k\"",
        "\"",
        "\\",
        "1",
        "-7",
        "99999999999999999999",
        ",",
        " ",
        "\n",
        "\t",
        "INFO  jepsen.util - ",
        "{\"process\": 1, ",
        "\"type\": \"ok\"",
        "\"f\": \"read\"",
        "null",
        ";",
        "1.5",
        "é",
        "#",
        "#{",
        "#_",
        "#jepsen.history.Op",
        "\\u00e9",
        "\\ud800",
        "\\a",
        ":error",
        "x/sym",
        "1/2",
    ];
    prop::sample::select(pieces.to_vec()).prop_map(str::to_string)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic_a_reader(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        for format in [None, Some(Format::Json), Some(Format::Edn), Some(Format::JepsenLog)] {
            let _ = parse_str(&text, format, "fuzz");
        }
    }

    #[test]
    fn near_valid_text_never_panics_a_reader(tokens in prop::collection::vec(token(), 0..60)) {
        let text = tokens.concat();
        for format in [None, Some(Format::Json), Some(Format::Edn), Some(Format::JepsenLog)] {
            let _ = parse_str(&text, format, "fuzz");
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let text = "[".repeat(100_000);
    assert!(parse_str(&text, Some(Format::Edn), "deep").is_err());
    let log = format!(
        "INFO  jepsen.util - 1\t:invoke\t:write\t{}",
        "[".repeat(100_000)
    );
    assert!(parse_str(&log, Some(Format::JepsenLog), "deep").is_err());
    for deep in [
        "#_ 1 ".repeat(100_000),
        "#t ".repeat(100_000),
        "#{".repeat(100_000),
    ] {
        let text = format!("{{:process 0, :type :invoke, :f :read, :x {deep}");
        assert!(parse_str(&text, Some(Format::Edn), "deep").is_err());
    }
}
