//! Step one, what the values say: every mutation indexed by the value it
//! writes, and what each read (and each compare-and-set, as its old value)
//! saw resolved into the mutations that produced it, oldest first: one
//! mutation's value, or with appends a string's pieces. Also where the
//! preconditions are checked: no value written twice or equal to the
//! initial one, and with appends one separator ending every written string.

// Value lookups only: the table is never iterated, so its order cannot leak
// into a verdict (and the checker does not run inside a simulation's
// event loop's ordering anyway).
#![allow(clippy::disallowed_types)]
use super::{Conflict, Decision, Facts, Kind, Mutation, Observer, Why, Work};
use crate::check::budget::Exhausted;
use crate::check::model::{Access, Val};
use std::collections::HashMap;

type ValueTable<'a> = HashMap<Val<'a>, u32, rustc_hash::FxBuildHasher>; // determinism: ok (insert and get only, never iterated; FxHash has no random seed)

/// Indexes every mutation by its value and resolves what each observer
/// saw. `Ok(Err(_))`: decided already (not applicable, or an unreachable
/// value).
pub(super) fn read_facts(
    accesses: &[Access<'_>],
    init: Val<'static>,
    work: &mut Work,
) -> Result<Result<Facts, Decision>, Exhausted> {
    let mut table: ValueTable<'_> = HashMap::default();
    let mut mutations = Vec::new();
    let mut appends = false;
    for (op, access) in accesses.iter().enumerate() {
        work.step()?;
        let (kind, value) = match *access {
            Access::Write(v) => (Kind::Write, v),
            Access::Cas(_, new) => (Kind::Cas, new),
            Access::Append(s) => {
                appends = true;
                (Kind::Append, Val::Str(s))
            }
            Access::Read(_) | Access::Unobserved => continue,
        };
        if value == init {
            return Ok(Err(Decision::NotApplicable(
                "a mutation writes the initial value",
            )));
        }
        let index = mutations.len() as u32;
        if table.insert(value, index).is_some() {
            return Ok(Err(Decision::NotApplicable("a value is written twice")));
        }
        mutations.push(Mutation {
            op,
            kind,
            required: false,
            required_by: None,
            pred: None,
        });
    }
    let separator = if appends {
        match separator(accesses, init) {
            Some(sep) => Some(sep),
            None => {
                return Ok(Err(Decision::NotApplicable(
                    "appended values do not end in one common separator",
                )))
            }
        }
    } else {
        None
    };
    let mut stamps = Stamps::new(mutations.len());
    let mut facts = Facts {
        mutations,
        observers: Vec::new(),
        chains: Vec::new(),
    };
    for (op, access) in accesses.iter().enumerate() {
        let (seen, cas) = match *access {
            Access::Read(v) => (v, None),
            Access::Cas(old, new) => (old, table.get(&new).copied()),
            _ => continue,
        };
        let start = facts.chains.len() as u32;
        let resolved = match separator {
            None => resolve_whole(
                seen,
                init,
                &table,
                &facts.mutations,
                &mut facts.chains,
                work,
            )?,
            Some(sep) => resolve_pieces(seen, sep, &table, &mut facts, &mut stamps, work)?,
        };
        if !resolved {
            facts.chains.truncate(start as usize);
            if cas.is_none() {
                let conflict = Conflict {
                    why: Why::Unreachable { reader: op },
                    support: vec![op],
                };
                return Ok(Err(Decision::Illegal(conflict)));
            }
        }
        facts.observers.push(Observer {
            op,
            cas,
            chain: (start, facts.chains.len() as u32),
            resolved,
        });
    }
    Ok(Ok(facts))
}

/// The separator every written string ends in, if there is one: each
/// mutation's value is a non-empty string whose only occurrence of the
/// separator is its last character, and the initial value is "".
fn separator(accesses: &[Access<'_>], init: Val<'static>) -> Option<char> {
    if init != Val::Str("") {
        return None;
    }
    let mut sep = None;
    for access in accesses {
        let value = match *access {
            Access::Write(Val::Str(s)) | Access::Cas(_, Val::Str(s)) | Access::Append(s) => s,
            Access::Write(_) | Access::Cas(..) => return None,
            Access::Read(_) | Access::Unobserved => continue,
        };
        let last = value.chars().next_back()?;
        if *sep.get_or_insert(last) != last {
            return None;
        }
        if value[..value.len() - last.len_utf8()].contains(last) {
            return None;
        }
    }
    sep
}

/// Resolves a value that is one mutation's value (no appends in play).
fn resolve_whole(
    seen: Val<'_>,
    init: Val<'static>,
    table: &ValueTable<'_>,
    mutations: &[Mutation],
    chains: &mut Vec<u32>,
    work: &mut Work,
) -> Result<bool, Exhausted> {
    if seen == init {
        return Ok(true);
    }
    match table.get(&seen) {
        Some(&m) => {
            assert!(
                mutations[m as usize].kind != Kind::Append,
                "no appends without a separator"
            );
            work.room_for_piece(chains)?;
            chains.push(m);
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Resolves a string built by appends into the mutations of its pieces:
/// a write or compare-and-set first (or an append onto the initial ""),
/// then appends only, none twice (`stamps` marks the pieces seen in this
/// value: each mutation's slot holds the last observer that saw it).
fn resolve_pieces(
    seen: Val<'_>,
    sep: char,
    table: &ValueTable<'_>,
    facts: &mut Facts,
    stamps: &mut Stamps,
    work: &mut Work,
) -> Result<bool, Exhausted> {
    let Val::Str(text) = seen else {
        return Ok(false);
    };
    if text.is_empty() {
        return Ok(true);
    }
    if !text.ends_with(sep) {
        return Ok(false);
    }
    let stamp = stamps.next();
    for (i, piece) in text.split_inclusive(sep).enumerate() {
        work.step()?;
        let Some(&m) = table.get(&Val::Str(piece)) else {
            return Ok(false);
        };
        if i > 0 && facts.mutations[m as usize].kind != Kind::Append {
            return Ok(false);
        }
        if std::mem::replace(&mut stamps.of[m as usize], stamp) == stamp {
            return Ok(false); // one op's value twice in one state
        }
        work.room_for_piece(&mut facts.chains)?;
        facts.chains.push(m);
    }
    Ok(true)
}

/// Per mutation, the last value (by number) whose pieces included it.
struct Stamps {
    of: Vec<u32>,
    last: u32,
}

impl Stamps {
    fn new(mutations: usize) -> Self {
        Stamps {
            of: vec![0; mutations],
            last: 0,
        }
    }

    /// A fresh number for the next value.
    fn next(&mut self) -> u32 {
        self.last += 1;
        self.last
    }
}
