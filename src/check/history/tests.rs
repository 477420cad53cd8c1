//! Reading and pairing histories in each format, and the errors that name
//! where a file goes wrong.

use super::*;

fn parse(text: &str) -> Result<History, HistoryError> {
    parse_str(text, None, "t")
}

#[test]
fn jepsen_log_pairs_and_drops_failures() {
    let log = "INFO  jepsen.util - 1\t:invoke\t:cas\t[0 3]\n\
               INFO  jepsen.core - something else entirely\n\
               INFO  jepsen.util - 2\t:invoke\t:write\t4\n\
               INFO  jepsen.util - 1\t:fail\t:cas\t[0 3]\n\
               INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n\
               INFO  jepsen.util - 3\t:invoke\t:read\tnil\n\
               INFO  jepsen.util - 3\t:ok\t:read\t4\n";
    let h = parse(log).map_err(|e| e.to_string());
    let Ok(h) = h else { panic!("{h:?}") };
    assert_eq!(h.failed, 1);
    assert_eq!(h.ops.len(), 2);
    assert_eq!(
        (h.ops[0].f.as_str(), h.ops[0].output.clone()),
        ("write", None)
    );
    assert_eq!(h.ops[0].return_time, None, ":info is unknown");
    assert_eq!(h.ops[1].output, Some(Value::Int(4)));
    assert_eq!((h.ops[1].call_line, h.ops[1].return_line), (6, Some(7)));
    assert_eq!(
        h.ops.iter().map(|o| o.index).collect::<Vec<_>>(),
        vec![0, 1]
    );
}

#[test]
fn an_invoke_never_completed_is_unknown() {
    let h = parse("{:process 0, :type :invoke, :f :write, :value 1}\n");
    let Ok(h) = h else { panic!("{h:?}") };
    assert_eq!(h.ops.len(), 1);
    assert!(!h.ops[0].is_completed());
}

#[test]
fn edn_vector_with_times_keys_and_nemesis() {
    let text = "[{:process 0 :type :invoke :f :put :key \"k\" :value \"a\\\"b\" :time 5}\n\
                {:process :nemesis :type :info :f :start :value nil}\n\
                {:process 0 :type :ok :f :put :key \"k\" :value \"a\\\"b\" :time 9}] ; done";
    let h = parse(text);
    let Ok(h) = h else { panic!("{h:?}") };
    assert_eq!(h.ops.len(), 1);
    let op = &h.ops[0];
    assert_eq!((op.call_time, op.return_time), (5, Some(9)));
    assert_eq!(op.key.as_deref(), Some("k"));
    assert_eq!(op.input, Value::Str("a\"b".into()));
}

#[test]
fn json_times_are_used_only_when_every_event_has_one() {
    let text = "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time_ns\": 100}\n\
                {\"process\": 0, \"type\": \"ok\", \"f\": \"read\", \"value\": null}\n";
    let h = parse(text);
    let Ok(h) = h else { panic!("{h:?}") };
    assert_eq!((h.ops[0].call_time, h.ops[0].return_time), (0, Some(1)));
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let err = parse("{:process 0, :type :invoke, :f :read}\n{:process 0, :type #}").map(|_| ());
    let Err(HistoryError::Syntax { line, column, .. }) = err else {
        panic!("{err:?}")
    };
    assert_eq!((line, column), (2, 21));
    let err = parse_str(
        "INFO  jepsen.util - 1\t:invoke\t:write\t[1 2",
        Some(Format::JepsenLog),
        "t",
    )
    .map(|_| ());
    let Err(HistoryError::Syntax {
        line: 1, expected, ..
    }) = err
    else {
        panic!("{err:?}")
    };
    assert!(expected.contains("`]`"), "{expected}");
}

#[test]
fn blank_input_is_an_empty_history() {
    let h = parse("\n  \n");
    assert!(matches!(h, Ok(History { ref ops, failed: 0, .. }) if ops.is_empty()));
}

/// Knossos's own files: a `;` comment before the vector, comments between
/// ops, a missing comma; and a list `( ... )` of ops.
#[test]
fn knossos_shaped_files_are_edn() {
    let vector = "; a history from a longer one\n\
                  [{:process 0, :type :invoke, :f :write, :value 2}\n \
                   ; the write returns\n \
                   {:process 0  :type :ok, :f :write, :value 2}]\n";
    let list = "({:type :invoke, :f :read, :value nil, :process 1}\n \
                 {:type :ok, :f :read, :value 2, :process 1}\n)\n";
    for text in [vector, list] {
        assert_eq!(detect_format(text, "t").ok(), Some(Some(Format::Edn)));
        let h = parse(text);
        let Ok(h) = h else { panic!("{h:?}") };
        assert_eq!(h.ops.len(), 1, "{text}");
    }
}

/// Jepsen's history.edn: tagged op records, maps over several lines,
/// `:error` maps, floats, sets and discarded forms in keys the checker
/// does not use; a `\u` escape is decoded.
#[test]
fn jepsen_ops_with_keys_the_checker_ignores_are_read() {
    let text = "#jepsen.history.Op{:index 0, :time 10, :type :invoke,\n \
                :process 0, :f :write, :value \"caf\\u00e9\", :node \"n1\"}\n\
                {:index 1, :time 20, :type :info, :process 0, :f :write,\n \
                 :value \"café\", :error {:type :timeout, :after 1.5, :seen #{1 2 3}},\n \
                 #_ :ignored #_ 3 :latency 1/2, :kind x/sym, :ch \\a}\n";
    let h = parse(text);
    let Ok(h) = h else { panic!("{h:?}") };
    assert_eq!(h.ops.len(), 1);
    assert_eq!(h.ops[0].input, Value::Str("café".into()));
    assert_eq!((h.ops[0].call_time, h.ops[0].return_time), (10, None));
}

/// A key the checker uses must hold a plain value: the error names the
/// key, the line and what it found.
#[test]
fn an_op_key_holding_a_map_or_float_is_an_error_naming_it() {
    for (value, found) in [
        ("{:a 1}", "a map"),
        ("1.5", "a number that is not a 64-bit integer"),
        ("[1 x]", "a symbol"),
    ] {
        let text = format!("{{:process 0, :type :invoke, :f :write}}\n{{:process 0, :type :ok, :f :write,\n :value {value}}}\n");
        let err = parse(&text).map(|_| ());
        let Err(HistoryError::Invalid { line, message, .. }) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*line, 2, "{message}");
        assert!(
            message.contains(":value") && message.contains(found),
            "{message}"
        );
    }
}
