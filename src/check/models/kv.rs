//! A key-value store with `get`, `put`, `append` and `cas` on string values, where
//! a missing key reads as "". Keys are independent, so the history is
//! partitioned by key and each partition's state is one string.
use crate::check::history::Op;
use crate::check::model::{Access, Model, Partition, Val};
use crate::check::value::Value;
use std::collections::BTreeMap;

/// A kv op's argument.
#[derive(Clone, Debug)]
pub enum KvInput {
    /// Read the key.
    Get,
    /// Replace the value.
    Put(String),
    /// Append to the value.
    Append(String),
    /// Set the value to `.1` if it is `.0` (a `:fail` cas is dropped
    /// before the search, so an `:ok` or unknown one must succeed).
    Cas(String, String),
}

/// A kv op's result: the value a get returned, or nothing.
#[derive(Clone, Debug)]
pub enum KvOutput {
    /// The value read ("" for a missing key).
    Get(String),
    /// A put or append completed.
    Done,
}

/// The key-value model.
#[derive(Clone, Copy, Debug, Default)]
pub struct KvModel;

impl Model for KvModel {
    type State = String;
    type Input = KvInput;
    type Output = KvOutput;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> String {
        String::new()
    }

    fn step(
        &self,
        state: &String,
        input: &KvInput,
        output: Option<&KvOutput>,
        next: &mut Vec<String>,
    ) {
        match (input, output) {
            (KvInput::Get, Some(KvOutput::Get(v))) if v != state => {}
            (KvInput::Get, _) => next.push(state.clone()),
            (KvInput::Put(v), _) => next.push(v.clone()),
            (KvInput::Cas(old, _), _) if old != state => {}
            (KvInput::Cas(_, new), _) => next.push(new.clone()),
            (KvInput::Append(v), _) => {
                let mut s = String::with_capacity(state.len() + v.len());
                s.push_str(state);
                s.push_str(v);
                next.push(s);
            }
        }
    }

    fn encode(&self, op: &Op) -> Result<(KvInput, Option<KvOutput>), String> {
        if op.key.is_none() {
            return Err(format!(
                "the kv model needs a key on every op; :{} has none",
                op.f
            ));
        }
        let input = match op.f.as_str() {
            "get" => KvInput::Get,
            "put" => KvInput::Put(str_arg(&op.input, "put")?),
            "append" => KvInput::Append(str_arg(&op.input, "append")?),
            "cas" => cas_args(&op.input)?,
            f => {
                return Err(format!(
                    "the kv model has no operation :{f} (expected :get, :put, :append or :cas)"
                ))
            }
        };
        let output = match (&input, &op.output) {
            (_, None) => None,
            (KvInput::Get, Some(v)) => Some(KvOutput::Get(str_arg(v, "get result")?)),
            (_, Some(_)) => Some(KvOutput::Done),
        };
        Ok((input, output))
    }

    fn partition(&self, ops: &[Op]) -> Vec<Partition> {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            let key = op.key.as_deref().map_or("", |k| k);
            by_key.entry(key).or_default().push(i);
        }
        by_key
            .into_iter()
            .map(|(key, ops)| Partition {
                key: Some(key.to_string()),
                ops,
            })
            .collect()
    }

    fn describe_state(&self, state: &String) -> String {
        format!("{state:?}")
    }

    fn state_heap_bytes(&self, state: &String) -> usize {
        state.capacity()
    }

    fn access<'a>(&self, input: &'a KvInput, output: Option<&'a KvOutput>) -> Option<Access<'a>> {
        Some(match (input, output) {
            (KvInput::Get, Some(KvOutput::Get(v))) => Access::Read(Val::Str(v)),
            (KvInput::Get, _) => Access::Unobserved,
            (KvInput::Put(v), _) => Access::Write(Val::Str(v)),
            (KvInput::Append(v), _) => Access::Append(v),
            (KvInput::Cas(old, new), _) => Access::Cas(Val::Str(old), Val::Str(new)),
        })
    }

    fn initial_value(&self) -> Option<Val<'static>> {
        Some(Val::Str(""))
    }
}

fn cas_args(value: &Value) -> Result<KvInput, String> {
    match value {
        Value::List(items) if items.len() == 2 => Ok(KvInput::Cas(
            str_arg(&items[0], "cas old")?,
            str_arg(&items[1], "cas new")?,
        )),
        other => Err(format!(
            "expected the cas value to be [old, new], found {}",
            other.kind_name()
        )),
    }
}

fn str_arg(value: &Value, what: &str) -> Result<String, String> {
    value.as_str_or_empty().map(str::to_string).ok_or_else(|| {
        format!(
            "expected the {what} value to be a string or nil, found {}",
            value.kind_name()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cas(items: Vec<Value>) -> Op {
        Op {
            index: 0,
            process: 0,
            f: "cas".into(),
            key: Some("x".into()),
            input: Value::List(items),
            output: None,
            call_time: 0,
            return_time: None,
            call_line: 1,
            return_line: None,
        }
    }

    #[test]
    fn a_cas_takes_exactly_old_and_new() {
        let s = |v: &str| Value::Str(v.into());
        let ok = KvModel.encode(&cas(vec![s("a"), s("b")]));
        assert!(matches!(ok, Ok((KvInput::Cas(o, n), None)) if o == "a" && n == "b"));
        for items in [vec![s("a")], vec![s("a"), s("b"), s("c")], vec![]] {
            let err = KvModel.encode(&cas(items.clone())).map(|_| ());
            assert_eq!(
                err,
                Err("expected the cas value to be [old, new], found a list".into()),
                "{items:?}"
            );
        }
    }

    #[test]
    fn a_cas_moves_only_from_its_old_value() {
        let mut next = Vec::new();
        let op = KvInput::Cas("a".into(), "b".into());
        KvModel.step(&"a".to_string(), &op, None, &mut next);
        assert_eq!(next, ["b"]);
        next.clear();
        KvModel.step(&"z".to_string(), &op, None, &mut next);
        assert!(next.is_empty());
    }

    /// An append's new state is the old one and the suffix, and owns
    /// exactly their bytes: the memory budget counts states by capacity.
    #[test]
    fn an_append_concatenates_into_exactly_its_bytes() {
        let mut next = Vec::new();
        KvModel.step(
            &"abc".to_string(),
            &KvInput::Append("de".into()),
            None,
            &mut next,
        );
        assert_eq!(next, ["abcde"]);
        assert_eq!(KvModel.state_heap_bytes(&next[0]), 5);
        assert_eq!(KvModel.describe_state(&next[0]), "\"abcde\"");
    }

    /// Ops are partitioned by key, in key order, each keeping its ops'
    /// order; an op without a key falls in the partition of "".
    #[test]
    fn ops_are_partitioned_by_key() {
        let with_key = |key: Option<&str>| Op {
            key: key.map(str::to_string),
            ..cas(vec![])
        };
        let ops = [
            with_key(Some("y")),
            with_key(Some("x")),
            with_key(None),
            with_key(Some("y")),
        ];
        let parts: Vec<(Option<String>, Vec<usize>)> = KvModel
            .partition(&ops)
            .into_iter()
            .map(|p| (p.key, p.ops))
            .collect();
        assert_eq!(
            parts,
            [
                (Some(String::new()), vec![2]),
                (Some("x".to_string()), vec![1]),
                (Some("y".to_string()), vec![0, 3]),
            ]
        );
    }

    /// A kv key whose written values are unique is decided directly, and
    /// its state before any write is the empty string: a get of "" before
    /// the first put is what it held, a get of "b" is not.
    #[test]
    fn unique_puts_are_decided_directly_from_the_empty_string() {
        use crate::check::history::{parse_str, Format};
        use crate::check::{check_history, CheckOptions, ModelKind, Verdict};
        let history = |first_read: &str| {
            let text = format!(
                r#"{{"process": 0, "type": "invoke", "f": "get", "key": "x", "time_ns": 1}}
{{"process": 0, "type": "ok", "f": "get", "key": "x", "value": "{first_read}", "time_ns": 2}}
{{"process": 1, "type": "invoke", "f": "put", "key": "x", "value": "a", "time_ns": 3}}
{{"process": 1, "type": "ok", "f": "put", "key": "x", "value": "a", "time_ns": 4}}
{{"process": 0, "type": "invoke", "f": "put", "key": "x", "value": "b", "time_ns": 5}}
{{"process": 0, "type": "ok", "f": "put", "key": "x", "value": "b", "time_ns": 6}}
"#
            );
            parse_str(&text, Some(Format::Json), "kv.jsonl").unwrap_or_else(|e| panic!("{e}"))
        };
        let opts = CheckOptions {
            threads: 1,
            ..CheckOptions::default()
        };
        let ok =
            check_history(ModelKind::Kv, &history(""), &opts).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(ok.verdict, Verdict::Linearizable),
            "{:?}",
            ok.verdict
        );
        assert_eq!(ok.partitions_unique, 1);
        let bad =
            check_history(ModelKind::Kv, &history("b"), &opts).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(bad.verdict, Verdict::Illegal(_)),
            "{:?}",
            bad.verdict
        );
        assert_eq!(bad.partitions_unique, 1);
    }
}
