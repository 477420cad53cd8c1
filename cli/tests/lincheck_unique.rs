//! The unique-writes decision procedure (src/check/unique/): named cases
//! for every way it can find a history illegal, the cases where it must
//! step aside for the general search, and a property over thousands of
//! random histories with unique values (register, cas-register, and kv with
//! put/append/cas) that its verdict always equals the general search's.
use faultline::check::value::Value;
use faultline::check::{check_history, CheckOptions, History, ModelKind, Op, Verdict};
use faultline::rng::{SimRng, Stream};
use proptest::prelude::*;

fn op(
    f: &str,
    key: Option<&str>,
    input: Value,
    output: Option<Value>,
    call: u64,
    ret: Option<u64>,
) -> Op {
    Op {
        index: 0,
        process: 0,
        f: f.to_string(),
        key: key.map(str::to_string),
        input,
        output,
        call_time: call,
        return_time: ret,
        call_line: 0,
        return_line: ret.map(|_| 0),
    }
}

fn history(mut ops: Vec<Op>) -> History {
    ops.sort_by_key(|o| o.call_time);
    for (i, o) in ops.iter_mut().enumerate() {
        o.index = i;
        o.process = i as i64;
        o.call_line = i + 1;
        o.return_line = o.return_time.map(|_| i + 1);
    }
    History {
        ops,
        ..History::default()
    }
}

fn int(v: i64) -> Value {
    Value::Int(v)
}

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

fn write(v: i64, call: u64, ret: u64) -> Op {
    op("write", None, int(v), Some(int(v)), call, Some(ret))
}

fn read(v: Option<i64>, call: u64, ret: u64) -> Op {
    let out = v.map_or(Value::Nil, Value::Int);
    op("read", None, Value::Nil, Some(out), call, Some(ret))
}

fn cas(old: i64, new: i64, call: u64, ret: Option<u64>) -> Op {
    let args = Value::List(vec![int(old), int(new)]);
    op("cas", None, args.clone(), ret.map(|_| args), call, ret)
}

fn put(k: &str, v: &str, call: u64, ret: Option<u64>) -> Op {
    op("put", Some(k), s(v), ret.map(|_| s(v)), call, ret)
}

fn append(k: &str, v: &str, call: u64, ret: Option<u64>) -> Op {
    op("append", Some(k), s(v), ret.map(|_| s(v)), call, ret)
}

fn get(k: &str, v: &str, call: u64, ret: u64) -> Op {
    op("get", Some(k), Value::Nil, Some(s(v)), call, Some(ret))
}

/// The verdict with the procedure on (checking that it, not the search,
/// decided), and the explanation of an illegal one.
fn direct(kind: ModelKind, ops: Vec<Op>) -> (bool, Option<String>) {
    let report = check_history(kind, &history(ops), &CheckOptions::default()).expect("fits");
    assert_eq!(
        report.partitions_unique, report.partitions,
        "every partition decided directly (searched because: {:?})",
        report.searched_because
    );
    match report.verdict {
        Verdict::Linearizable => (true, None),
        Verdict::Illegal(cx) => (false, cx.explanation.clone()),
        Verdict::Unknown(r) => panic!("unknown: {r}"),
    }
}

#[test]
fn stale_read_is_a_real_time_cycle() {
    let ops = vec![write(1, 0, 10), write(2, 20, 30), read(Some(1), 40, 50)];
    let (ok, why) = direct(ModelKind::Register, ops);
    assert!(!ok);
    let why = why.expect("explained");
    assert!(why.contains("finished before"), "{why}");
}

#[test]
fn concurrent_writes_may_be_read_in_either_order() {
    let ops = vec![
        write(1, 0, 30),
        write(2, 5, 25),
        read(Some(2), 31, 40),
        read(Some(1), 10, 35),
    ];
    assert!(direct(ModelKind::Register, ops).0);
}

#[test]
fn read_of_the_initial_value_after_a_write_completed_is_illegal() {
    let ops = vec![write(1, 0, 10), read(None, 20, 30)];
    assert!(!direct(ModelKind::Register, ops).0);
    let ops = vec![write(1, 0, 10), read(None, 5, 30)];
    assert!(direct(ModelKind::Register, ops).0);
}

#[test]
fn read_of_a_future_write_is_out_of_order() {
    let ops = vec![read(Some(1), 0, 10), write(1, 20, 30)];
    let (ok, why) = direct(ModelKind::Register, ops);
    assert!(!ok);
    assert!(why
        .expect("explained")
        .contains("finished before that op began"));
}

#[test]
fn read_of_a_value_never_written_is_unreachable() {
    let ops = vec![write(1, 0, 10), read(Some(7), 20, 30)];
    let (ok, why) = direct(ModelKind::Register, ops);
    assert!(!ok);
    assert!(why.expect("explained").contains("no sequence"));
}

#[test]
fn two_successful_cas_from_one_value_conflict() {
    let ops = vec![
        write(1, 0, 10),
        cas(1, 2, 20, Some(30)),
        cas(1, 3, 21, Some(31)),
    ];
    let (ok, why) = direct(ModelKind::CasRegister, ops);
    assert!(!ok);
    assert!(why.expect("explained").contains("only one op can follow"));
}

#[test]
fn an_unknown_cas_that_nobody_saw_may_not_have_happened() {
    let ops = vec![
        write(1, 0, 10),
        cas(1, 2, 20, Some(30)),
        cas(1, 3, 21, None),
    ];
    assert!(direct(ModelKind::CasRegister, ops).0);
    // ... but once its value is read, it happened, and conflicts.
    let ops = vec![
        write(1, 0, 10),
        cas(1, 2, 20, Some(30)),
        cas(1, 3, 21, None),
        read(Some(3), 40, 50),
    ];
    assert!(!direct(ModelKind::CasRegister, ops).0);
}

#[test]
fn cas_chains_keep_their_order() {
    let ops = vec![
        write(1, 0, 10),
        cas(1, 2, 20, Some(30)),
        cas(2, 3, 40, Some(50)),
        read(Some(3), 60, 70),
    ];
    assert!(direct(ModelKind::CasRegister, ops.clone()).0);
    // A read of 2 after the cas to 3 completed is stale.
    let mut stale = ops;
    stale.push(read(Some(2), 80, 90));
    assert!(!direct(ModelKind::CasRegister, stale).0);
}

#[test]
fn cas_values_in_a_loop_are_illegal() {
    let ops = vec![cas(1, 2, 0, Some(10)), cas(2, 1, 0, Some(10))];
    let (ok, why) = direct(ModelKind::CasRegister, ops);
    assert!(!ok);
    assert!(why.expect("explained").contains("loop"));
}

#[test]
fn appends_read_as_a_chain_pin_their_order() {
    let ops = vec![
        put("k", "p ", 0, Some(10)),
        append("k", "a ", 20, Some(30)),
        append("k", "b ", 20, Some(30)),
        get("k", "p b a ", 40, 50),
    ];
    assert!(direct(ModelKind::Kv, ops.clone()).0);
    // Two reads that disagree on the order of the appends.
    let mut disagree = ops;
    disagree.push(get("k", "p a ", 31, 35));
    let (ok, why) = direct(ModelKind::Kv, disagree);
    assert!(!ok, "a was seen right after p, and b right after p");
    assert!(why.is_some());
}

#[test]
fn an_append_nobody_saw_is_overwritten_or_last() {
    let ops = vec![
        append("k", "a ", 0, Some(10)),
        put("k", "p ", 20, Some(30)),
        get("k", "p ", 40, 50),
    ];
    assert!(direct(ModelKind::Kv, ops).0);
    // The read after the append completed must include it, or see a put
    // that came after it.
    let ops = vec![
        put("k", "p ", 0, Some(10)),
        append("k", "a ", 20, Some(30)),
        get("k", "p ", 40, 50),
    ];
    assert!(!direct(ModelKind::Kv, ops).0);
}

#[test]
fn appends_onto_the_empty_initial_value() {
    let ops = vec![
        append("k", "a ", 0, Some(10)),
        append("k", "b ", 20, Some(30)),
        get("k", "a b ", 40, 50),
        get("k", "", 0, 5),
    ];
    assert!(direct(ModelKind::Kv, ops).0);
}

#[test]
fn a_put_token_after_an_append_is_unreachable() {
    let ops = vec![
        put("k", "p ", 0, Some(10)),
        put("k", "q ", 0, Some(10)),
        get("k", "p q ", 20, 30),
        append("k", "a ", 0, Some(10)),
    ];
    assert!(!direct(ModelKind::Kv, ops).0);
}

#[test]
fn a_value_seen_twice_in_one_state_is_unreachable() {
    let ops = vec![append("k", "a ", 0, Some(10)), get("k", "a a ", 20, 30)];
    let (ok, why) = direct(ModelKind::Kv, ops);
    assert!(!ok);
    assert!(why.expect("explained").contains("no sequence"));
}

/// A library user may hand in a read with an output but no completion:
/// it never completed, so it constrains nothing (as in the search).
#[test]
fn a_read_that_never_completed_constrains_nothing() {
    let mut never = read(Some(7), 40, 0);
    never.return_time = None;
    let ops = vec![write(1, 0, 10), write(2, 20, 30), never];
    assert!(direct(ModelKind::Register, ops).0);
}

/// The verdict with the procedure off: the general search alone.
fn searched(kind: ModelKind, h: &History) -> Option<bool> {
    let opts = CheckOptions {
        unique_writes: false,
        threads: 1,
        ..CheckOptions::default()
    };
    match check_history(kind, h, &opts).expect("fits").verdict {
        Verdict::Linearizable => Some(true),
        Verdict::Illegal(_) => Some(false),
        Verdict::Unknown(_) => None,
    }
}

#[test]
fn repeated_values_go_to_the_search() {
    let ops = vec![write(1, 0, 10), write(1, 20, 30), read(Some(1), 40, 50)];
    let report =
        check_history(ModelKind::Register, &history(ops), &CheckOptions::default()).expect("fits");
    assert_eq!(report.partitions_unique, 0);
    assert_eq!(report.searched_because, Some("a value is written twice"));
    assert!(matches!(report.verdict, Verdict::Linearizable));
}

#[test]
fn appends_without_a_common_separator_go_to_the_search() {
    let ops = vec![
        append("k", "ab", 0, Some(10)),
        append("k", "ba", 0, Some(10)),
        get("k", "abba", 20, 30),
    ];
    let report =
        check_history(ModelKind::Kv, &history(ops), &CheckOptions::default()).expect("fits");
    assert_eq!(report.partitions_unique, 0);
    assert!(matches!(report.verdict, Verdict::Linearizable));
}

// ----- random histories ----------------------------------------------------------------

/// A random history with unique written values, built as a real system
/// would produce it (each op takes effect at a random point inside its
/// interval, or, with an unknown outcome, maybe never) and then, half the
/// time, damaged: one read's answer replaced by another plausible one.
fn random_history(kind: ModelKind, seed: u64, n: usize) -> History {
    let mut rng = SimRng::new(seed, Stream::Workload);
    let keys = if kind == ModelKind::Kv { 2 } else { 1 };
    // (op, effect point or None)
    let mut ops: Vec<(Op, Option<u64>)> = Vec::new();
    for value in 1..=n as u64 {
        let call = rng.below(3 * n as u64);
        let len = rng.below(6);
        let unknown = rng.below(6) == 0;
        let ret = (!unknown).then_some(call + len);
        let point = if unknown && rng.below(2) == 0 {
            None
        } else {
            Some(call * 4 + rng.below(len * 4 + 1))
        };
        let key = format!("k{}", rng.below(keys));
        let o = match (kind, rng.below(4)) {
            (ModelKind::Kv, 0) => put(&key, &format!("v{value} "), call, ret),
            (ModelKind::Kv, 1) => append(&key, &format!("a{value} "), call, ret),
            (ModelKind::Kv, 2) => op("cas", Some(&key), Value::Nil, None, call, ret),
            (ModelKind::Kv, _) => op("get", Some(&key), Value::Nil, None, call, ret),
            (ModelKind::CasRegister, 2) => op("cas", None, Value::Nil, None, call, ret),
            (_, 0 | 1) => write(value as i64, call, ret.unwrap_or(0)),
            _ => op("read", None, Value::Nil, None, call, ret),
        };
        let mut o = o;
        if o.f == "write" {
            o.return_time = ret;
            o.output = ret.map(|_| o.input.clone());
        }
        if o.f == "cas" {
            o.input = Value::Int(value as i64); // the new value, for now
        }
        ops.push((o, point));
    }
    apply_in_order(kind, &mut ops, &mut rng);
    let mut ops: Vec<Op> = ops.into_iter().map(|(o, _)| o).collect();
    ops.retain(|o| o.f != "drop");
    if rng.below(2) == 0 {
        damage(kind, &mut ops, &mut rng);
    }
    history(ops)
}

/// Runs the ops in effect order on the model, filling in reads' results
/// and compare-and-sets' arguments; a cas that would not match is dropped
/// (a real client sees it fail).
fn apply_in_order(kind: ModelKind, ops: &mut [(Op, Option<u64>)], rng: &mut SimRng) {
    let mut order: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].1.is_some()).collect();
    order.sort_by_key(|&i| (ops[i].1, i));
    let mut state: std::collections::BTreeMap<Option<String>, Value> = Default::default();
    let init = |kind: ModelKind| {
        if kind == ModelKind::Kv {
            s("")
        } else {
            Value::Nil
        }
    };
    for i in order {
        let o = &mut ops[i].0;
        let cur = state.get(&o.key).cloned().unwrap_or_else(|| init(kind));
        match o.f.as_str() {
            "write" | "put" => {
                state.insert(o.key.clone(), o.input.clone());
            }
            "append" => {
                let (Value::Str(c), Value::Str(a)) = (&cur, &o.input) else {
                    unreachable!()
                };
                state.insert(o.key.clone(), s(&format!("{c}{a}")));
            }
            "cas" => {
                let new = match (&o.input, kind) {
                    (Value::Int(v), ModelKind::Kv) => s(&format!("c{v} ")),
                    (v, _) => v.clone(),
                };
                // Usually compare against the current value; sometimes a
                // stale guess, which fails.
                if rng.below(4) == 0 {
                    o.f = "drop".into();
                    continue;
                }
                let args = Value::List(vec![cur.clone(), new.clone()]);
                o.input = args.clone();
                o.output = o.return_time.map(|_| args);
                state.insert(o.key.clone(), new);
            }
            _ => {
                if o.return_time.is_some() {
                    o.output = Some(cur);
                }
            }
        }
    }
    for (o, point) in ops.iter_mut() {
        if point.is_none() {
            // Never took effect: an unknown outcome (reads and writes alike).
            o.output = None;
            o.return_time = None;
            o.return_line = None;
            if o.f == "cas" {
                let new = match (&o.input, kind) {
                    (Value::Int(v), ModelKind::Kv) => s(&format!("c{v} ")),
                    (v, _) => v.clone(),
                };
                // It never happened: its old value may be anything, even
                // one never written.
                let old = match (kind, rng.below(3)) {
                    (ModelKind::Kv, 0) => s("never "),
                    (ModelKind::Kv, _) => s(""),
                    (_, 0) => Value::Int(1_000_000),
                    _ => Value::Nil,
                };
                o.input = Value::List(vec![old, new]);
            }
        }
        if matches!(o.f.as_str(), "read" | "get") && o.output.is_none() {
            o.return_time = None;
        }
    }
}

/// Replaces one read's answer by another value that some op wrote (or a
/// concatenation of appends), or the initial value.
fn damage(kind: ModelKind, ops: &mut [Op], rng: &mut SimRng) {
    let reads: Vec<usize> = (0..ops.len())
        .filter(|&i| matches!(ops[i].f.as_str(), "read" | "get") && ops[i].output.is_some())
        .collect();
    if reads.is_empty() {
        return;
    }
    let victim = reads[rng.index(reads.len())];
    let key = ops[victim].key.clone();
    let written: Vec<Value> = ops
        .iter()
        .filter(|o| o.key == key)
        .filter_map(|o| match (o.f.as_str(), &o.input) {
            ("write" | "put" | "append", v) => Some(v.clone()),
            ("cas", Value::List(args)) => Some(args[1].clone()),
            _ => None,
        })
        .collect();
    let init = if kind == ModelKind::Kv {
        s("")
    } else {
        Value::Nil
    };
    let pick = if written.is_empty() || rng.below(5) == 0 {
        init
    } else if kind == ModelKind::Kv && rng.below(2) == 0 {
        let (a, b) = (
            &written[rng.index(written.len())],
            &written[rng.index(written.len())],
        );
        match (a, b) {
            (Value::Str(a), Value::Str(b)) => s(&format!("{a}{b}")),
            _ => a.clone(),
        }
    } else {
        written[rng.index(written.len())].clone()
    };
    ops[victim].output = Some(pick);
}

fn agree(kind: ModelKind, seed: u64, n: usize) -> Result<(), TestCaseError> {
    let h = random_history(kind, seed, n);
    let report = check_history(
        kind,
        &h,
        &CheckOptions {
            threads: 1,
            ..CheckOptions::default()
        },
    )
    .expect("fits");
    let fast = match &report.verdict {
        Verdict::Linearizable => Some(true),
        Verdict::Illegal(_) => Some(false),
        Verdict::Unknown(_) => None,
    };
    let slow = searched(kind, &h);
    prop_assume!(slow.is_some());
    prop_assert_eq!(fast, slow, "seed {} history {:#?}", seed, h.ops);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn register_direct_equals_search(seed in any::<u64>(), n in 1usize..14) {
        agree(ModelKind::Register, seed, n)?;
    }

    #[test]
    fn cas_register_direct_equals_search(seed in any::<u64>(), n in 1usize..14) {
        agree(ModelKind::CasRegister, seed, n)?;
    }

    #[test]
    fn kv_direct_equals_search(seed in any::<u64>(), n in 1usize..16) {
        agree(ModelKind::Kv, seed, n)?;
    }
}

/// The damaged histories are not all legal and the undamaged not all
/// illegal: the property above compares both kinds of answer.
#[test]
fn the_generator_makes_both_verdicts() {
    for kind in [ModelKind::Register, ModelKind::CasRegister, ModelKind::Kv] {
        let verdicts: Vec<Option<bool>> = (0..300)
            .map(|seed| searched(kind, &random_history(kind, seed, 10)))
            .collect();
        let legal = verdicts.iter().filter(|v| **v == Some(true)).count();
        let illegal = verdicts.iter().filter(|v| **v == Some(false)).count();
        assert!(
            legal > 50 && illegal > 50,
            "{kind:?}: {legal} legal, {illegal} illegal"
        );
    }
}
