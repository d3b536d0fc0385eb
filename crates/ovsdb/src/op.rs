//! Transaction operations (RFC 7047 §5.2) and their results.

use serde::Serialize;
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use crate::error::Error;
use crate::value::{Row, Value};

/// A condition function (RFC 7047 §5.1 `<function>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Includes,
    Excludes,
}

impl Function {
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Eq => "==",
            Function::Ne => "!=",
            Function::Lt => "<",
            Function::Le => "<=",
            Function::Gt => ">",
            Function::Ge => ">=",
            Function::Includes => "includes",
            Function::Excludes => "excludes",
        }
    }
}

/// `[column, function, value]`: which rows an operation applies to.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub column: String,
    pub function: Function,
    pub value: Value,
}

impl Condition {
    pub fn new(column: impl Into<String>, function: Function, value: impl Into<Value>) -> Self {
        Self {
            column: column.into(),
            function,
            value: value.into(),
        }
    }
    /// `column == value`.
    pub fn eq(column: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(column, Function::Eq, value)
    }
    /// `column != value`.
    pub fn ne(column: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(column, Function::Ne, value)
    }
    /// `column includes value` (for sets and maps: `value` is a subset).
    pub fn includes(column: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(column, Function::Includes, value)
    }
    /// `column excludes value`.
    pub fn excludes(column: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(column, Function::Excludes, value)
    }
    /// `_uuid == u`: the row with that uuid.
    pub fn uuid(u: Uuid) -> Self {
        Self::eq("_uuid", Value::uuid(u))
    }
}

impl Serialize for Condition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.column, self.function.as_str(), &self.value).serialize(s)
    }
}

/// A mutator (RFC 7047 §5.1 `<mutator>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutator {
    /// `insert`: add elements to a set, or pairs to a map (existing keys are kept).
    Insert,
    /// `delete`: remove elements from a set; from a map, remove the given pairs, or the
    /// given keys when the value is a set of keys.
    Delete,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl Mutator {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutator::Insert => "insert",
            Mutator::Delete => "delete",
            Mutator::Add => "+=",
            Mutator::Sub => "-=",
            Mutator::Mul => "*=",
            Mutator::Div => "/=",
            Mutator::Mod => "%=",
        }
    }
}

/// `[column, mutator, value]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    pub column: String,
    pub mutator: Mutator,
    pub value: Value,
}

impl Mutation {
    pub fn new(column: impl Into<String>, mutator: Mutator, value: impl Into<Value>) -> Self {
        Self {
            column: column.into(),
            mutator,
            value: value.into(),
        }
    }
    /// Inserts elements into a set or pairs into a map.
    pub fn insert(column: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(column, Mutator::Insert, value)
    }
    /// Deletes elements from a set, or keys (a set) / pairs (a map) from a map.
    pub fn delete(column: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(column, Mutator::Delete, value)
    }
}

impl Serialize for Mutation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.column, self.mutator.as_str(), &self.value).serialize(s)
    }
}

/// One operation of a `transact` request.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Inserts `row`; `uuid_name` lets later operations refer to it as
    /// `Value::named(uuid_name)`.
    Insert {
        table: String,
        row: Row,
        uuid_name: Option<String>,
    },
    /// Reads rows (`columns: None` = all columns). Answers [`OpResult::Rows`].
    Select {
        table: String,
        conditions: Vec<Condition>,
        columns: Option<Vec<String>>,
    },
    Update {
        table: String,
        conditions: Vec<Condition>,
        row: Row,
    },
    Mutate {
        table: String,
        conditions: Vec<Condition>,
        mutations: Vec<Mutation>,
    },
    Delete {
        table: String,
        conditions: Vec<Condition>,
    },
    /// Waits (up to `timeout_ms`; `None` = forever, `Some(0)` = check once) until the
    /// `columns` of the rows matching `conditions` are equal (`until_equal`) or not equal
    /// to `rows`; fails the transaction with "timed out" otherwise.
    Wait {
        table: String,
        timeout_ms: Option<u64>,
        conditions: Vec<Condition>,
        columns: Vec<String>,
        until_equal: bool,
        rows: Vec<Row>,
    },
    /// Asks for the transaction to be durable before replying.
    Commit { durable: bool },
    /// Aborts the transaction (always "fails" with error "aborted").
    Abort,
    /// Logged by the server with the transaction.
    Comment(String),
    /// Fails unless this client holds the named lock.
    Assert(String),
}

impl Op {
    /// `insert` without a uuid-name.
    pub fn insert(table: impl Into<String>, row: Row) -> Self {
        Op::Insert {
            table: table.into(),
            row,
            uuid_name: None,
        }
    }
    /// `insert` with a uuid-name (refer to the new row as `Value::named(name)`).
    pub fn insert_named(table: impl Into<String>, row: Row, name: impl Into<String>) -> Self {
        Op::Insert {
            table: table.into(),
            row,
            uuid_name: Some(name.into()),
        }
    }
    pub fn select(table: impl Into<String>, conditions: Vec<Condition>) -> Self {
        Op::Select {
            table: table.into(),
            conditions,
            columns: None,
        }
    }
    pub fn update(table: impl Into<String>, conditions: Vec<Condition>, row: Row) -> Self {
        Op::Update {
            table: table.into(),
            conditions,
            row,
        }
    }
    pub fn mutate(
        table: impl Into<String>,
        conditions: Vec<Condition>,
        mutations: Vec<Mutation>,
    ) -> Self {
        Op::Mutate {
            table: table.into(),
            conditions,
            mutations,
        }
    }
    pub fn delete(table: impl Into<String>, conditions: Vec<Condition>) -> Self {
        Op::Delete {
            table: table.into(),
            conditions,
        }
    }
    pub fn comment(text: impl Into<String>) -> Self {
        Op::Comment(text.into())
    }

    /// The operation's JSON object.
    pub fn to_json(&self) -> Result<Json, serde_json::Error> {
        let mut o = Map::new();
        let put_table = |o: &mut Map<String, Json>, op: &str, table: &str| {
            o.insert("op".into(), json!(op));
            o.insert("table".into(), json!(table));
        };
        match self {
            Op::Insert {
                table,
                row,
                uuid_name,
            } => {
                put_table(&mut o, "insert", table);
                o.insert("row".into(), serde_json::to_value(row)?);
                if let Some(name) = uuid_name {
                    o.insert("uuid-name".into(), json!(name));
                }
            }
            Op::Select {
                table,
                conditions,
                columns,
            } => {
                put_table(&mut o, "select", table);
                o.insert("where".into(), serde_json::to_value(conditions)?);
                if let Some(columns) = columns {
                    o.insert("columns".into(), json!(columns));
                }
            }
            Op::Update {
                table,
                conditions,
                row,
            } => {
                put_table(&mut o, "update", table);
                o.insert("where".into(), serde_json::to_value(conditions)?);
                o.insert("row".into(), serde_json::to_value(row)?);
            }
            Op::Mutate {
                table,
                conditions,
                mutations,
            } => {
                put_table(&mut o, "mutate", table);
                o.insert("where".into(), serde_json::to_value(conditions)?);
                o.insert("mutations".into(), serde_json::to_value(mutations)?);
            }
            Op::Delete { table, conditions } => {
                put_table(&mut o, "delete", table);
                o.insert("where".into(), serde_json::to_value(conditions)?);
            }
            Op::Wait {
                table,
                timeout_ms,
                conditions,
                columns,
                until_equal,
                rows,
            } => {
                put_table(&mut o, "wait", table);
                if let Some(ms) = timeout_ms {
                    o.insert("timeout".into(), json!(ms));
                }
                o.insert("where".into(), serde_json::to_value(conditions)?);
                o.insert("columns".into(), json!(columns));
                o.insert(
                    "until".into(),
                    json!(if *until_equal { "==" } else { "!=" }),
                );
                o.insert("rows".into(), serde_json::to_value(rows)?);
            }
            Op::Commit { durable } => {
                o.insert("op".into(), json!("commit"));
                o.insert("durable".into(), json!(durable));
            }
            Op::Abort => {
                o.insert("op".into(), json!("abort"));
            }
            Op::Comment(text) => {
                o.insert("op".into(), json!("comment"));
                o.insert("comment".into(), json!(text));
            }
            Op::Assert(lock) => {
                o.insert("op".into(), json!("assert"));
                o.insert("lock".into(), json!(lock));
            }
        }
        Ok(Json::Object(o))
    }
}

impl Serialize for Op {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json()
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

/// The result of one successful operation.
#[derive(Debug, Clone, PartialEq)]
pub enum OpResult {
    /// `update`, `mutate`, `delete`: how many rows matched.
    Count(u64),
    /// `insert`: the new row's uuid.
    Uuid(Uuid),
    /// `select`.
    Rows(Vec<Row>),
    /// `wait`, `commit`, `comment`, `assert`.
    Empty,
}

impl OpResult {
    pub fn uuid(&self) -> Option<Uuid> {
        match self {
            OpResult::Uuid(u) => Some(*u),
            _ => None,
        }
    }
    pub fn count(&self) -> Option<u64> {
        match self {
            OpResult::Count(c) => Some(*c),
            _ => None,
        }
    }
    pub fn rows(&self) -> Option<&[Row]> {
        match self {
            OpResult::Rows(r) => Some(r),
            _ => None,
        }
    }
}

fn error_of(v: &Json) -> Option<(String, Option<String>)> {
    let o = v.as_object()?;
    let error = o.get("error")?;
    if error.is_null() {
        return None;
    }
    let error = error
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| error.to_string());
    let details = o.get("details").and_then(Json::as_str).map(str::to_string);
    Some((error, details))
}

/// Reads a `transact` reply: the first result carrying an `"error"` becomes
/// [`Error::OperationFailed`] (its index may be `ops` when the server appended a commit
/// failure); otherwise one [`OpResult`] per operation.
pub fn parse_transact_result(result: Json, ops: usize) -> Result<Vec<OpResult>, Error> {
    let Json::Array(items) = result else {
        return Err(Error::Protocol(format!(
            "transact result is not an array: {result}"
        )));
    };
    if let Some((index, (error, details))) = items
        .iter()
        .enumerate()
        .find_map(|(i, v)| error_of(v).map(|e| (i, e)))
    {
        return Err(Error::OperationFailed {
            index,
            error,
            details,
        });
    }
    if items.len() < ops {
        return Err(Error::Protocol(format!(
            "transact answered {} results for {ops} operations",
            items.len()
        )));
    }
    items.into_iter().take(ops).map(parse_one).collect()
}

fn parse_one(v: Json) -> Result<OpResult, Error> {
    let Json::Object(mut o) = v else {
        return Err(Error::Protocol(format!(
            "operation result is not an object: {v}"
        )));
    };
    if let Some(uuid) = o.remove("uuid") {
        let crate::value::Atom::Uuid(u) = serde_json::from_value(uuid)? else {
            return Err(Error::Protocol("insert result without a uuid".into()));
        };
        return Ok(OpResult::Uuid(u));
    }
    if let Some(count) = o.remove("count") {
        let count = count
            .as_u64()
            .ok_or_else(|| Error::Protocol(format!("bad count in operation result: {count}")))?;
        return Ok(OpResult::Count(count));
    }
    if let Some(rows) = o.remove("rows") {
        return Ok(OpResult::Rows(serde_json::from_value(rows)?));
    }
    Ok(OpResult::Empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Atom;

    #[test]
    fn operations_serialise_to_rfc7047_objects() {
        let ls = Row::new()
            .with("name", "sw0")
            .with("ports", Value::set_of([Atom::NamedUuid("p".into())]));
        let ops = vec![
            Op::insert_named("Logical_Switch", ls, "ls"),
            Op::mutate(
                "Logical_Switch",
                vec![Condition::eq("name", "sw0")],
                vec![Mutation::insert(
                    "external_ids",
                    Value::string_map([("a", "b")]),
                )],
            ),
            Op::Wait {
                table: "NB_Global".into(),
                timeout_ms: Some(0),
                conditions: vec![],
                columns: vec!["nb_cfg".into()],
                until_equal: false,
                rows: vec![Row::new().with("nb_cfg", 3)],
            },
            Op::delete("ACL", vec![Condition::uuid(Uuid::nil())]),
            Op::comment("hello"),
        ];
        let json = serde_json::to_value(&ops).unwrap();
        assert_eq!(
            json,
            json!([
                {"op": "insert", "table": "Logical_Switch", "uuid-name": "ls",
                 "row": {"name": "sw0", "ports": ["set", [["named-uuid", "p"]]]}},
                {"op": "mutate", "table": "Logical_Switch", "where": [["name", "==", "sw0"]],
                 "mutations": [["external_ids", "insert", ["map", [["a", "b"]]]]]},
                {"op": "wait", "table": "NB_Global", "timeout": 0, "where": [],
                 "columns": ["nb_cfg"], "until": "!=", "rows": [{"nb_cfg": 3}]},
                {"op": "delete", "table": "ACL",
                 "where": [["_uuid", "==", ["uuid", "00000000-0000-0000-0000-000000000000"]]]},
                {"op": "comment", "comment": "hello"},
            ])
        );
    }

    #[test]
    fn transact_results_are_parsed_and_failures_located() {
        let u = "36c2f1d2-bb3a-4795-a54d-f922dad3e9a6";
        let ok = json!([{"uuid": ["uuid", u]}, {"count": 2}, {"rows": [{"name": "a"}]}, {}]);
        let results = parse_transact_result(ok, 4).unwrap();
        assert_eq!(results[0], OpResult::Uuid(u.parse().unwrap()));
        assert_eq!(results[1], OpResult::Count(2));
        assert_eq!(results[2].rows().unwrap()[0].str("name"), Some("a"));
        assert_eq!(results[3], OpResult::Empty);

        let failed =
            json!([{"uuid": ["uuid", u]}, {"error": "constraint violation", "details": "dup"}]);
        match parse_transact_result(failed, 1) {
            Err(Error::OperationFailed {
                index: 1,
                error,
                details,
            }) => {
                assert_eq!(error, "constraint violation");
                assert_eq!(details.as_deref(), Some("dup"));
            }
            other => panic!("{other:?}"),
        }
        let mid = json!([{}, {"error": "timed out"}, null]);
        assert!(matches!(
            parse_transact_result(mid, 3),
            Err(Error::OperationFailed { index: 1, .. })
        ));
        assert!(matches!(
            parse_transact_result(json!([{}]), 2),
            Err(Error::Protocol(_))
        ));
    }
}
