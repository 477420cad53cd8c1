//! What a protocol's [`crate::protocols::registry::ProtocolDef`] sees of a
//! scenario when it reads its options: its own tables (`[name]` and any
//! extra ones it declared), the node and client counts, and helpers that
//! turn a mistake into an error naming the file, line, column and field.
//! Protocols never see the TOML parser; a table they read keeps its
//! positions, so a wrong type inside it points at the exact value.

use super::error::{ScenarioError, Source};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::de::{DeValue, ValueDeserializer};
use toml::Spanned;

/// A protocol's view of the scenario it is read from.
pub struct OptionsInput<'a> {
    pub(crate) src: &'a Source<'a>,
    /// The protocol's tables present in the file, by name.
    pub(crate) tables: &'a BTreeMap<String, Spanned<DeValue<'a>>>,
    pub(crate) nodes: usize,
    pub(crate) nodes_span: Range<usize>,
    pub(crate) clients: usize,
    pub(crate) duration: crate::time::SimDuration,
}

impl OptionsInput<'_> {
    /// Server nodes.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Workload clients.
    pub fn clients(&self) -> usize {
        self.clients
    }

    /// The fault phase's length (`duration`): the workload runs until then.
    pub fn duration(&self) -> crate::time::SimDuration {
        self.duration
    }

    /// Reads table `name` (one the protocol declared) into `T`, or
    /// `T::default()` when the file has no such table. Unknown keys and
    /// wrong types are errors at their position, if `T` denies unknown
    /// fields (it should: `#[serde(deny_unknown_fields, default)]`).
    pub fn table<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, ScenarioError> {
        let Some(value) = self.tables.get(name) else {
            return Ok(T::default());
        };
        T::deserialize(ValueDeserializer::from(value.clone())).map_err(|e| self.src.toml_error(&e))
    }

    /// An error about `key` of table `table`: at the key when the file
    /// spells it out, else at the table, else about the file as a whole.
    pub fn error(
        &self,
        table: &str,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let field = match key {
            Some(k) => format!("{table}.{k}"),
            None => table.to_string(),
        };
        let span = self
            .key_span(table, key)
            .or_else(|| self.tables.get(table).map(Spanned::span));
        match span {
            Some(span) => self.src.error(span, Some(field), message),
            None => ScenarioError {
                file: self.src.file.to_string(),
                line: 0,
                column: 0,
                field: Some(field),
                message: message.into(),
            },
        }
    }

    /// An error about the scenario's `nodes` (e.g. too few for the protocol).
    pub fn nodes_error(&self, message: impl Into<String>) -> ScenarioError {
        self.src
            .error(self.nodes_span.clone(), Some("nodes".to_string()), message)
    }

    fn key_span(&self, table: &str, key: Option<&str>) -> Option<Range<usize>> {
        let DeValue::Table(entries) = self.tables.get(table)?.get_ref() else {
            return None;
        };
        let key = key?;
        entries
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(k, _)| k.span())
    }
}
