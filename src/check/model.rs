//! The sequential-specification interface the checker searches against.
//! A model is a handful of pure functions (as in Porcupine's `model.go`):
//! an initial state, a step that lists the states an operation may lead to
//! (none = the operation is illegal there), a partition of the history into
//! independent sub-histories (P-compositionality), and descriptions.
//! Register-like models also describe each op as an [`Access`] (a read, a
//! blind write, a compare-and-set or an append of a value), which lets the
//! checker decide histories whose written values are unique in near-linear
//! time (`unique/`) instead of searching.
use super::history::Op;
use std::fmt::Debug;
use std::hash::Hash;

/// One independent sub-history: the ops (indices into the history) that
/// touch one part of the state, e.g. one key.
#[derive(Clone, Debug)]
pub struct Partition {
    /// The key this partition covers, if the model partitions by key.
    pub key: Option<String>,
    /// Indices into `History::ops`, in invocation order.
    pub ops: Vec<usize>,
}

/// A sequential specification.
pub trait Model: Sync {
    /// The model's state; compared and hashed in the memo cache, so it
    /// should be small (an integer where possible).
    type State: Clone + Eq + Hash + Debug + Send;
    /// An op's argument, pre-decoded from the history's values.
    type Input: Send + Sync;
    /// An op's result, pre-decoded; `None` in `step` when unknown.
    type Output: Send + Sync;

    /// The name used on the command line, e.g. `cas-register`.
    fn name(&self) -> &'static str;

    /// The initial state.
    fn init(&self) -> Self::State;

    /// Pushes onto `next` every state the op may lead to from `state`; pushes
    /// nothing if the op cannot happen in `state` with that output. An
    /// unknown output (`None`) means the op may have done anything it can.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
        next: &mut Vec<Self::State>,
    );

    /// Decodes an op's values, or says why the op does not fit the model.
    fn encode(&self, op: &Op) -> Result<(Self::Input, Option<Self::Output>), String>;

    /// Splits the history into independent partitions.
    fn partition(&self, ops: &[Op]) -> Vec<Partition> {
        vec![Partition {
            key: None,
            ops: (0..ops.len()).collect(),
        }]
    }

    /// A readable description of an op for counterexamples.
    fn describe_op(&self, op: &Op) -> String {
        op.describe()
    }

    /// A readable description of a state.
    fn describe_state(&self, state: &Self::State) -> String;

    /// Heap bytes a state owns beyond its inline size, for the memory budget.
    fn state_heap_bytes(&self, _state: &Self::State) -> usize {
        0
    }

    /// The op as an access to a register-like object, for the unique-writes
    /// decision procedure; `None` (the default) when the model is not
    /// register-like, and then only the general search runs.
    fn access<'a>(
        &self,
        input: &'a Self::Input,
        output: Option<&'a Self::Output>,
    ) -> Option<Access<'a>> {
        let _ = (input, output);
        None
    }

    /// The object's initial value as an [`Access`] value; `None` (the
    /// default) for models that are not register-like.
    fn initial_value(&self) -> Option<Val<'static>> {
        None
    }
}

/// A value read or written by a register-like op, borrowed from the
/// encoded history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Val<'a> {
    /// No value (nil).
    Nil,
    /// An integer.
    Int(i64),
    /// A string.
    Str(&'a str),
}

/// How one op touches a register-like object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access<'a> {
    /// A read that returned this value.
    Read(Val<'a>),
    /// A read whose result is unknown: it constrains nothing.
    Unobserved,
    /// A blind write of this value.
    Write(Val<'a>),
    /// Compare-and-set from `.0` to `.1`.
    Cas(Val<'a>, Val<'a>),
    /// Appends this string to the current (string) value.
    Append(&'a str),
}

/// Which built-in model to check against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// Read/write register.
    Register,
    /// Read/write/compare-and-set register.
    CasRegister,
    /// Key-value store (get/put/append), partitioned by key.
    Kv,
}

impl ModelKind {
    /// Parses a command-line name.
    pub fn parse(name: &str) -> Option<ModelKind> {
        match name {
            "register" => Some(ModelKind::Register),
            "cas-register" => Some(ModelKind::CasRegister),
            "kv" => Some(ModelKind::Kv),
            _ => None,
        }
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
        }
    }
}
