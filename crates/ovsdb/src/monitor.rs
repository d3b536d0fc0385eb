//! Monitor requests and the table updates the server sends back (RFC 7047 §4.1.5–4.1.6
//! and the `monitor_cond`/`update2` extension of ovsdb-server(7)).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use crate::error::Error;
use crate::op::Condition;
use crate::value::Row;

/// What to monitor in one table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonitorRequest {
    /// The columns to replicate; `None` = all of them.
    pub columns: Option<Vec<String>>,
    /// Only rows matching all these conditions (`monitor_cond` only); empty = all rows.
    pub where_: Vec<Condition>,
}

impl MonitorRequest {
    /// All rows, all columns.
    pub fn all() -> Self {
        Self::default()
    }

    /// All rows, the given columns.
    pub fn columns<I, S>(columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            columns: Some(columns.into_iter().map(Into::into).collect()),
            where_: Vec::new(),
        }
    }

    pub(crate) fn to_json(&self) -> Result<Json, serde_json::Error> {
        let mut o = Map::new();
        if let Some(columns) = &self.columns {
            o.insert("columns".into(), json!(columns));
        }
        if !self.where_.is_empty() {
            o.insert("where".into(), serde_json::to_value(&self.where_)?);
        }
        Ok(Json::Object(o))
    }
}

impl Serialize for MonitorRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json()
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

/// What happened to one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowUpdate {
    /// `update2` `initial`: the row existed when monitoring started. Columns holding
    /// their default value are omitted by the server.
    Initial(Row),
    /// `update2` `insert`: a new row (default-valued columns omitted).
    Insert(Row),
    /// `update2` `modify`: the changed columns, as a *diff*: the new value of a column
    /// of at most one element (scalar or optional); for a set that may hold more, the
    /// elements to add or remove (symmetric difference); for a map, pairs to add,
    /// replace (new value for an existing key) or remove (same value as now).
    /// [`crate::Replica::apply`] knows how to apply it.
    Modify(Row),
    /// The row was deleted (`update2` `delete`, or `update` with only `old`).
    Delete,
    /// `update` (RFC 7047 format): the row's new contents (all monitored columns).
    Replace(Row),
}

/// `table → uuid → row update`: the result of `monitor_cond` and the payload of
/// `update2` notifications.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableUpdates(pub BTreeMap<String, BTreeMap<Uuid, RowUpdate>>);

impl TableUpdates {
    pub fn is_empty(&self) -> bool {
        self.0.values().all(BTreeMap::is_empty)
    }

    /// How many row updates there are, over all tables.
    pub fn len(&self) -> usize {
        self.0.values().map(BTreeMap::len).sum()
    }

    pub fn table(&self, name: &str) -> impl Iterator<Item = (&Uuid, &RowUpdate)> {
        self.0.get(name).into_iter().flatten()
    }

    /// Parses `<table-updates2>` (or RFC 7047 `<table-updates>`; both forms are told apart
    /// per row).
    pub fn from_json(v: Json) -> Result<Self, Error> {
        let bad = |what: &str| Error::Protocol(format!("malformed table updates: {what}"));
        let Json::Object(tables) = v else {
            return Err(bad("not an object"));
        };
        let mut out = BTreeMap::new();
        for (table, rows) in tables {
            let Json::Object(rows) = rows else {
                return Err(bad(&format!("table {table} is not an object")));
            };
            let mut updates = BTreeMap::new();
            for (uuid, update) in rows {
                let uuid =
                    Uuid::parse_str(&uuid).map_err(|_| bad(&format!("row uuid {uuid:?}")))?;
                updates.insert(uuid, parse_row_update(update).map_err(|e| bad(&e))?);
            }
            out.insert(table, updates);
        }
        Ok(Self(out))
    }
}

fn parse_row_update(update: Json) -> Result<RowUpdate, String> {
    let Json::Object(mut o) = update else {
        return Err("row update is not an object".into());
    };
    let row = |v: Json| serde_json::from_value::<Row>(v).map_err(|e| e.to_string());
    if let Some(r) = o.remove("initial") {
        return Ok(RowUpdate::Initial(row(r)?));
    }
    if let Some(r) = o.remove("insert") {
        return Ok(RowUpdate::Insert(row(r)?));
    }
    if let Some(r) = o.remove("modify") {
        return Ok(RowUpdate::Modify(row(r)?));
    }
    if o.contains_key("delete") {
        return Ok(RowUpdate::Delete);
    }
    // RFC 7047 <row-update>: "old" and/or "new".
    match o.remove("new") {
        Some(new) if !new.is_null() => Ok(RowUpdate::Replace(row(new)?)),
        _ if o.contains_key("old") => Ok(RowUpdate::Delete),
        _ => Err("row update has none of initial/insert/modify/delete/old/new".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn parses_both_update_formats() {
        let a = "f828a3f9-5562-4674-b3bd-cee5dd3791f8";
        let b = "08d0ffc6-a758-41b7-a5c4-e16ad03a07f8";
        let u = TableUpdates::from_json(json!({
            "Logical_Switch_Port": {
                a: {"modify": {"addresses": "x", "options": ["map", [["a", "c"]]]}},
                b: {"delete": null},
            },
            "Logical_Switch": {
                a: {"initial": {"name": "sw"}},
                b: {"old": {"name": "gone"}},
            },
            "ACL": {a: {"new": {"priority": 1}, "old": {"priority": 2}}, b: {"insert": {}}},
        }))
        .unwrap();
        assert_eq!(u.len(), 6);
        let lsp: Vec<_> = u.table("Logical_Switch_Port").collect();
        assert!(
            matches!(lsp[1].1, RowUpdate::Modify(r) if r.get("addresses") == Some(&Value::string("x")))
        );
        assert_eq!(lsp[0].1, &RowUpdate::Delete);
        let ls: Vec<_> = u.table("Logical_Switch").collect();
        assert!(matches!(ls[1].1, RowUpdate::Initial(r) if r.str("name") == Some("sw")));
        assert_eq!(ls[0].1, &RowUpdate::Delete);
        let acl: Vec<_> = u.table("ACL").collect();
        assert!(matches!(acl[1].1, RowUpdate::Replace(r) if r.int("priority") == Some(1)));
        assert_eq!(acl[0].1, &RowUpdate::Insert(Row::new()));
    }

    #[test]
    fn rejects_malformed_updates() {
        for bad in [
            json!([]),
            json!({"T": []}),
            json!({"T": {"not-a-uuid": {"insert": {}}}}),
            json!({"T": {"f828a3f9-5562-4674-b3bd-cee5dd3791f8": {"bogus": {}}}}),
            json!({"T": {"f828a3f9-5562-4674-b3bd-cee5dd3791f8": {"insert": {"c": ["set"]}}}}),
        ] {
            assert!(TableUpdates::from_json(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn monitor_requests_omit_what_is_unset() {
        assert_eq!(
            serde_json::to_value(MonitorRequest::all()).unwrap(),
            json!({})
        );
        let req = MonitorRequest {
            columns: Some(vec!["name".into()]),
            where_: vec![Condition::eq("name", "x")],
        };
        assert_eq!(
            serde_json::to_value(req).unwrap(),
            json!({"columns": ["name"], "where": [["name", "==", "x"]]})
        );
    }
}
