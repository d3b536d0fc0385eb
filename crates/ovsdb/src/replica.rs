//! An in-memory copy of monitored tables, kept current by applying table updates.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use uuid::Uuid;

use crate::error::Error;
use crate::monitor::{RowUpdate, TableUpdates};
use crate::schema::{ColumnType, Schema, TableSchema};
use crate::session::TableColumns;
use crate::value::{Atom, Row, Value};

type Table = BTreeMap<Uuid, Arc<Row>>;

/// The replicated contents of some tables of a database.
///
/// Rows carry `_uuid` and every monitored column: columns the server left out (it omits
/// default values) are filled in from the schema, and values are normalised to the
/// column's type (scalars as [`Value::Atom`], optional and set columns as [`Value::Set`],
/// maps as [`Value::Map`]), so two replicas of the same data compare equal.
///
/// Cloning is cheap (tables and rows are shared until modified), which is how
/// [`crate::Session`] hands out consistent snapshots.
#[derive(Debug, Clone, Default)]
pub struct Replica {
    schema: Option<Arc<Schema>>,
    /// table → the columns monitored there.
    columns: Arc<BTreeMap<String, Vec<String>>>,
    tables: BTreeMap<String, Arc<Table>>,
}

impl Replica {
    /// An empty replica of `tables` (each with its columns, `None` = all of them); errors
    /// if the schema lacks a table or column.
    pub fn new(schema: Arc<Schema>, tables: &[TableColumns]) -> Result<Self, Error> {
        let mut columns = BTreeMap::new();
        for (table, cols) in tables {
            let ts = schema.table(table).ok_or_else(|| {
                Error::Schema(format!("database {} has no table {table}", schema.name))
            })?;
            let cols = match cols {
                Some(cols) => {
                    if let Some(missing) = cols.iter().find(|c| ts.column(c).is_none()) {
                        return Err(Error::Schema(format!(
                            "table {}.{table} has no column {missing}",
                            schema.name
                        )));
                    }
                    cols.clone()
                }
                None => ts.columns.keys().cloned().collect(),
            };
            columns.insert(table.clone(), cols);
        }
        let tables = columns
            .keys()
            .map(|t| (t.clone(), Arc::default()))
            .collect();
        Ok(Self {
            schema: Some(schema),
            columns: Arc::new(columns),
            tables,
        })
    }

    /// The schema of the database (`None` for the empty replica of a session that has
    /// never connected).
    pub fn schema(&self) -> Option<&Schema> {
        self.schema.as_deref()
    }

    /// The replicated tables.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }

    /// The rows of a table, in uuid order (none if the table is not replicated).
    pub fn table(&self, name: &str) -> impl Iterator<Item = &Row> {
        self.tables
            .get(name)
            .into_iter()
            .flat_map(|t| t.values().map(|r| &**r))
    }

    /// The rows of a table with their uuids.
    pub fn rows(&self, name: &str) -> impl Iterator<Item = (Uuid, &Row)> {
        self.tables
            .get(name)
            .into_iter()
            .flat_map(|t| t.iter().map(|(u, r)| (*u, &**r)))
    }

    pub fn get(&self, table: &str, uuid: Uuid) -> Option<&Row> {
        self.tables.get(table)?.get(&uuid).map(|r| &**r)
    }

    /// How many rows a table has.
    pub fn len(&self, table: &str) -> usize {
        self.tables.get(table).map_or(0, |t| t.len())
    }

    /// Whether no table has any row.
    pub fn is_empty(&self) -> bool {
        self.tables.values().all(|t| t.is_empty())
    }

    /// The first row (in uuid order) matching `pred`.
    pub fn find(&self, table: &str, pred: impl Fn(&Row) -> bool) -> Option<&Row> {
        self.table(table).find(|r| pred(r))
    }

    /// The first row whose string column `column` is `value` (e.g. a `name`).
    pub fn find_by(&self, table: &str, column: &str, value: &str) -> Option<&Row> {
        self.find(table, |r| r.str(column) == Some(value))
    }

    /// The rows matching `pred`.
    pub fn filter<'a>(
        &'a self,
        table: &str,
        pred: impl Fn(&Row) -> bool + 'a,
    ) -> impl Iterator<Item = &'a Row> {
        self.table(table).filter(move |r| pred(r))
    }

    /// Applies the result of `monitor_cond` or an `update`/`update2` notification.
    ///
    /// On error (an update for a table or row this replica does not have) the replica may
    /// be partly updated: resynchronise it from a new monitor.
    pub fn apply(&mut self, updates: TableUpdates) -> Result<(), Error> {
        let schema = self
            .schema
            .clone()
            .ok_or_else(|| Error::Schema("replica without schema".into()))?;
        for (table, rows) in updates.0 {
            let (Some(ts), Some(columns)) = (schema.table(&table), self.columns.get(&table)) else {
                return Err(Error::Protocol(format!(
                    "update for table {table}, which is not monitored"
                )));
            };
            let rows_map = Arc::make_mut(self.tables.entry(table.clone()).or_default());
            for (uuid, update) in rows {
                match update {
                    RowUpdate::Initial(row) | RowUpdate::Insert(row) | RowUpdate::Replace(row) => {
                        rows_map.insert(uuid, Arc::new(full_row(ts, columns, uuid, row)));
                    }
                    RowUpdate::Modify(diff) => {
                        let row = rows_map.get_mut(&uuid).ok_or_else(|| {
                            Error::Protocol(format!("modify of unknown row {table} {uuid}"))
                        })?;
                        let row = Arc::make_mut(row);
                        for (column, change) in diff.0 {
                            let old = row.0.remove(&column);
                            let new = match ts.column(&column) {
                                Some(c) => apply_diff(&c.type_, old, change),
                                None => change,
                            };
                            row.0.insert(column, new);
                        }
                    }
                    RowUpdate::Delete => {
                        rows_map.remove(&uuid);
                    }
                }
            }
        }
        Ok(())
    }
}

fn full_row(ts: &TableSchema, columns: &[String], uuid: Uuid, given: Row) -> Row {
    let mut row = Row::new();
    for column in columns {
        if let Some(c) = ts.column(column) {
            row.0.insert(column.clone(), c.type_.default_value());
        }
    }
    for (column, value) in given.0 {
        let value = match ts.column(&column) {
            Some(c) => c.type_.normalize(value),
            None => value,
        };
        row.0.insert(column, value);
    }
    row.0.insert("_uuid".into(), Value::uuid(uuid));
    row
}

/// Applies an `update2` `modify` diff to one column (see [`RowUpdate::Modify`]).
fn apply_diff(ty: &ColumnType, old: Option<Value>, diff: Value) -> Value {
    let diff = ty.normalize(diff);
    let old = old
        .map(|v| ty.normalize(v))
        .unwrap_or_else(|| ty.default_value());
    if ty.is_map() {
        let mut map: BTreeMap<Atom, Atom> = match old {
            Value::Map(pairs) => pairs.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        if let Value::Map(pairs) = diff {
            for (k, v) in pairs {
                match map.get(&k) {
                    Some(current) if *current == v => {
                        map.remove(&k);
                    }
                    _ => {
                        map.insert(k, v);
                    }
                }
            }
        }
        Value::Map(map.into_iter().collect())
    } else if ty.is_set() && !ty.is_optional() {
        // ovsdb-server sends a set's symmetric difference, but the new value
        // itself for columns of at most one element (optional columns).
        let mut set: BTreeSet<Atom> = old.atoms().iter().cloned().collect();
        for atom in diff.atoms() {
            if !set.remove(atom) {
                set.insert(atom.clone());
            }
        }
        Value::Set(set.into_iter().collect())
    } else {
        diff
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn replica() -> Replica {
        let schema = Schema::from_json(&json!({
            "name": "T", "version": "1",
            "tables": {"P": {"columns": {
                "name": {"type": "string"},
                "tag": {"type": {"key": "integer", "min": 0, "max": 1}},
                "addresses": {"type": {"key": "string", "min": 0, "max": "unlimited"}},
                "options": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
                "up": {"type": {"key": "boolean", "min": 0, "max": 1}},
            }}}
        }))
        .unwrap();
        Replica::new(Arc::new(schema), &[("P".into(), None)]).unwrap()
    }

    fn updates(v: serde_json::Value) -> TableUpdates {
        TableUpdates::from_json(v).unwrap()
    }

    const U: &str = "f828a3f9-5562-4674-b3bd-cee5dd3791f8";

    #[test]
    fn fills_defaults_and_applies_diffs() {
        let mut r = replica();
        let uuid: Uuid = U.parse().unwrap();
        r.apply(updates(
            json!({"P": {U: {"insert": {"name": "p1", "addresses": "a"}}}}),
        ))
        .unwrap();
        let row = r.get("P", uuid).unwrap();
        assert_eq!(row.uuid(), Some(uuid));
        assert_eq!(row.get("tag"), Some(&Value::empty_set()));
        assert_eq!(row.int("tag"), None);
        assert_eq!(row.bool("up"), None);
        assert_eq!(row.strings("addresses"), ["a"]);
        assert!(row.string_map("options").is_empty());

        // What ovsdb-server sent for `set addresses=x,y up=true options:a=b`, then
        // `options:a=c addresses=y tag=7`, then clearing `up` and removing option a.
        r.apply(updates(json!({"P": {U: {"modify": {
            "addresses": ["set", ["a", "x", "y"]], "options": ["map", [["a", "b"]]], "up": true
        }}}})))
        .unwrap();
        let row = r.get("P", uuid).unwrap();
        assert_eq!(row.strings("addresses"), ["x", "y"]);
        assert_eq!(row.map_str("options", "a"), Some("b"));
        assert_eq!(row.bool("up"), Some(true));
        r.apply(updates(json!({"P": {U: {"modify": {
            "addresses": "x", "options": ["map", [["a", "c"]]], "tag": 7
        }}}})))
        .unwrap();
        let row = r.get("P", uuid).unwrap();
        assert_eq!(row.strings("addresses"), ["y"]);
        assert_eq!(row.map_str("options", "a"), Some("c"));
        assert_eq!(row.int("tag"), Some(7));
        // Optional columns get their new value, not a difference: `up=false`, then
        // `clear up tag` (what ovsdb-server 3.1 sends), with the last option removed.
        r.apply(updates(
            json!({"P": {U: {"modify": {"up": false, "tag": 8, "name": "p2"}}}}),
        ))
        .unwrap();
        let row = r.get("P", uuid).unwrap();
        assert_eq!(row.bool("up"), Some(false));
        assert_eq!(row.int("tag"), Some(8));
        r.apply(updates(json!({"P": {U: {"modify": {
            "up": ["set", []], "tag": ["set", []], "options": ["map", [["a", "c"]]]
        }}}})))
        .unwrap();
        let row = r.get("P", uuid).unwrap();
        assert_eq!(row.bool("up"), None);
        assert_eq!(row.int("tag"), None);
        assert!(row.string_map("options").is_empty());
        assert_eq!(row.str("name"), Some("p2"));
        assert_eq!(r.find_by("P", "name", "p2").and_then(Row::uuid), Some(uuid));

        r.apply(updates(json!({"P": {U: {"delete": null}}})))
            .unwrap();
        assert_eq!(r.len("P"), 0);
        assert!(
            r.apply(updates(json!({"P": {U: {"modify": {"name": "x"}}}})))
                .is_err()
        );
        assert!(
            r.apply(updates(json!({"Q": {U: {"delete": null}}})))
                .is_err()
        );
    }

    #[test]
    fn snapshots_are_not_affected_by_later_updates() {
        let mut r = replica();
        r.apply(updates(json!({"P": {U: {"insert": {"name": "p1"}}}})))
            .unwrap();
        let snapshot = r.clone();
        r.apply(updates(json!({"P": {U: {"modify": {"name": "p2"}}}})))
            .unwrap();
        assert_eq!(snapshot.table("P").next().unwrap().str("name"), Some("p1"));
        assert_eq!(r.table("P").next().unwrap().str("name"), Some("p2"));
    }

    #[test]
    fn rejects_unknown_tables_and_columns() {
        let schema = Arc::new(replica().schema().unwrap().clone());
        assert!(Replica::new(schema.clone(), &[("Nope".into(), None)]).is_err());
        assert!(Replica::new(schema, &[("P".into(), Some(vec!["nmae".into()]))]).is_err());
    }
}
