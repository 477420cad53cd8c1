//! Integer registers: `register` (read, write) and `cas-register` (read,
//! write, cas), the model of the Jepsen etcd tests. They start as nil and
//! a nil read reads nil unless [`Conventions`] say otherwise (Knossos's
//! `(cas-register 0)` starts at 0 and takes a nil read as "unknown").
//! The state is `Option<i64>` so the memo cache compares it in one word.
use crate::check::history::Op;
use crate::check::model::{Access, Model, Val};
use crate::check::value::Value;

/// A register op's argument.
#[derive(Clone, Copy, Debug)]
pub enum RegInput {
    /// Read the value.
    Read,
    /// Write a value.
    Write(Option<i64>),
    /// Compare-and-set: if the value is `old`, make it `new`.
    Cas(Option<i64>, Option<i64>),
}

/// A register op's result.
#[derive(Clone, Copy, Debug)]
pub enum RegOutput {
    /// The value a read returned.
    Read(Option<i64>),
    /// A write or successful cas.
    Done,
}

/// The register models; `cas` says whether compare-and-set is allowed.
#[derive(Clone, Copy, Debug)]
pub struct RegisterModel {
    /// Whether `cas` ops are part of the model.
    pub cas: bool,
    /// The register's start value and what a nil read means.
    pub conventions: Conventions,
}

/// How a history's registers start and what its nil reads mean: the
/// points where Jepsen's checkers and faultline's own histories differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conventions {
    /// The value every register holds before the first write (`None`: nil,
    /// faultline's default; Knossos's `(cas-register 0)` starts at 0).
    pub initial: Option<i64>,
    /// What a read that returned nil says.
    pub nil_read: NilRead,
}

/// What a read that returned nil says about the register.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NilRead {
    /// The register held nil (faultline's default: registers start as nil).
    #[default]
    Value,
    /// Nothing: the value is unknown, and the read constrains nothing
    /// (Knossos's convention, where a nil read is a read that did not
    /// learn the value).
    Unknown,
}

impl NilRead {
    /// Parses `value` or `unknown`.
    pub fn parse(name: &str) -> Option<NilRead> {
        match name {
            "value" => Some(NilRead::Value),
            "unknown" => Some(NilRead::Unknown),
            _ => None,
        }
    }
}

impl Model for RegisterModel {
    type State = Option<i64>;
    type Input = RegInput;
    type Output = RegOutput;

    fn name(&self) -> &'static str {
        if self.cas {
            "cas-register"
        } else {
            "register"
        }
    }

    fn init(&self) -> Option<i64> {
        self.conventions.initial
    }

    fn step(
        &self,
        state: &Option<i64>,
        input: &RegInput,
        output: Option<&RegOutput>,
        next: &mut Vec<Option<i64>>,
    ) {
        match (input, output) {
            (RegInput::Read, Some(RegOutput::Read(v))) if v != state => {}
            (RegInput::Read, _) => next.push(*state),
            (RegInput::Write(v), _) => next.push(*v),
            (RegInput::Cas(old, new), _) if old == state => next.push(*new),
            // A cas that did not match did not take effect: as a completed
            // (:ok) op it is illegal; as an unknown one, never happening
            // is already covered by leaving it out of the linearization.
            (RegInput::Cas(..), _) => {}
        }
    }

    fn encode(&self, op: &Op) -> Result<(RegInput, Option<RegOutput>), String> {
        let input = match op.f.as_str() {
            "read" => RegInput::Read,
            "write" => RegInput::Write(int_arg(&op.input, "write")?),
            "cas" if self.cas => cas_args(&op.input)?,
            f => {
                return Err(format!(
                    "the {} model has no operation :{f} (expected {})",
                    self.name(),
                    self.ops()
                ))
            }
        };
        let output = match (&input, &op.output) {
            (_, None) => None,
            (RegInput::Read, Some(Value::Nil)) if self.conventions.nil_read == NilRead::Unknown => {
                None
            }
            (RegInput::Read, Some(v)) => Some(RegOutput::Read(int_arg(v, "read result")?)),
            (_, Some(_)) => Some(RegOutput::Done),
        };
        Ok((input, output))
    }

    fn describe_state(&self, state: &Option<i64>) -> String {
        match state {
            None => "nil".to_string(),
            Some(v) => v.to_string(),
        }
    }

    fn access<'a>(&self, input: &'a RegInput, output: Option<&'a RegOutput>) -> Option<Access<'a>> {
        Some(match (input, output) {
            (RegInput::Read, Some(RegOutput::Read(v))) => Access::Read(val(*v)),
            (RegInput::Read, _) => Access::Unobserved,
            (RegInput::Write(v), _) => Access::Write(val(*v)),
            (RegInput::Cas(old, new), _) => Access::Cas(val(*old), val(*new)),
        })
    }

    fn initial_value(&self) -> Option<Val<'static>> {
        Some(val(self.conventions.initial))
    }
}

fn val(v: Option<i64>) -> Val<'static> {
    v.map_or(Val::Nil, Val::Int)
}

impl RegisterModel {
    fn ops(&self) -> &'static str {
        if self.cas {
            ":read, :write or :cas"
        } else {
            ":read or :write"
        }
    }
}

fn int_arg(value: &Value, what: &str) -> Result<Option<i64>, String> {
    value.as_opt_int().ok_or_else(|| {
        format!(
            "expected the {what} value to be an integer or nil, found {}",
            value.kind_name()
        )
    })
}

fn cas_args(value: &Value) -> Result<RegInput, String> {
    match value {
        Value::List(items) if items.len() == 2 => Ok(RegInput::Cas(
            int_arg(&items[0], "cas")?,
            int_arg(&items[1], "cas")?,
        )),
        other => Err(format!(
            "expected the cas value to be [old new], found {}",
            other.kind_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--nil-read` takes exactly its two documented values.
    #[test]
    fn nil_read_parses_its_two_names_only() {
        assert_eq!(NilRead::parse("value"), Some(NilRead::Value));
        assert_eq!(NilRead::parse("unknown"), Some(NilRead::Unknown));
        assert_eq!(NilRead::parse("nil"), None);
        assert_eq!(NilRead::parse(""), None);
    }

    fn model(cas: bool) -> RegisterModel {
        RegisterModel {
            cas,
            conventions: Conventions::default(),
        }
    }

    /// States read as a counterexample shows them.
    #[test]
    fn states_are_described_as_values_or_nil() {
        assert_eq!(model(false).describe_state(&None), "nil");
        assert_eq!(model(false).describe_state(&Some(-3)), "-3");
    }

    /// A cas takes exactly `[old new]`: a list of three is refused (with
    /// only the length guard gone it would be read as its first two).
    #[test]
    fn a_cas_takes_exactly_old_and_new() {
        let ints = |v: &[i64]| Value::List(v.iter().map(|&i| Value::Int(i)).collect());
        assert!(matches!(
            cas_args(&ints(&[1, 2])),
            Ok(RegInput::Cas(Some(1), Some(2)))
        ));
        for bad in [ints(&[1, 2, 3]), ints(&[1]), ints(&[])] {
            assert_eq!(
                cas_args(&bad).map(|_| ()),
                Err("expected the cas value to be [old new], found a list".to_string())
            );
        }
    }

    /// An op the model lacks is refused with the ops it has, per model.
    #[test]
    fn an_unknown_op_is_refused_naming_the_model_s_ops() {
        let op = crate::check::history::Op {
            index: 0,
            process: 0,
            f: "incr".into(),
            key: None,
            input: Value::Nil,
            output: None,
            call_time: 0,
            return_time: None,
            call_line: 1,
            return_line: None,
        };
        for (cas, expected) in [
            (
                false,
                "the register model has no operation :incr (expected :read or :write)",
            ),
            (
                true,
                "the cas-register model has no operation :incr (expected :read, :write or :cas)",
            ),
        ] {
            assert_eq!(
                model(cas).encode(&op).map(|_| ()),
                Err(expected.to_string())
            );
        }
    }
}
