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
    let err = parse("{:process 0, :type :invoke, :f :read}\n{:process 0, :type #ok}").map(|_| ());
    let Err(HistoryError::Syntax { line, column, .. }) = err else {
        panic!("{err:?}")
    };
    assert_eq!((line, column), (2, 20));
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
    assert!(matches!(h, Ok(History { ref ops, failed: 0 }) if ops.is_empty()));
}
