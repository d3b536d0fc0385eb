//! Database schemas (RFC 7047 §3.2), as `get_schema` returns them or as `.ovsschema` files.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_json::Value as Json;

use crate::error::Error;
use crate::value::{Atom, Value};

/// A database schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub name: String,
    pub version: String,
    pub cksum: Option<String>,
    pub tables: BTreeMap<String, TableSchema>,
}

/// One table of a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// The declared columns (without the implicit `_uuid` and `_version`).
    pub columns: BTreeMap<String, ColumnSchema>,
    pub max_rows: Option<u64>,
    /// Non-root rows are deleted when nothing references them any more.
    pub is_root: bool,
    /// Each index is a set of columns whose values are unique across rows.
    pub indexes: Vec<Vec<String>>,
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSchema {
    pub type_: ColumnType,
    pub ephemeral: bool,
    pub mutable: bool,
}

/// A column type: an atom, a set (`min`..`max` elements) or a map (`value` is set).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnType {
    pub key: BaseType,
    pub value: Option<BaseType>,
    pub min: u64,
    /// `None` is "unlimited".
    pub max: Option<u64>,
}

/// The type of a set element, map key or map value, with its constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseType {
    pub atomic: AtomicType,
    /// Allowed values, if restricted.
    pub enum_values: Option<Vec<Atom>>,
    pub min_integer: Option<i64>,
    pub max_integer: Option<i64>,
    pub min_real: Option<f64>,
    pub max_real: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    /// For uuids: the table referenced.
    pub ref_table: Option<String>,
    pub ref_type: RefType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtomicType {
    Integer,
    Real,
    Boolean,
    String,
    Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RefType {
    #[default]
    Strong,
    Weak,
}

impl AtomicType {
    pub fn as_str(self) -> &'static str {
        match self {
            AtomicType::Integer => "integer",
            AtomicType::Real => "real",
            AtomicType::Boolean => "boolean",
            AtomicType::String => "string",
            AtomicType::Uuid => "uuid",
        }
    }

    fn parse(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "integer" => AtomicType::Integer,
            "real" => AtomicType::Real,
            "boolean" => AtomicType::Boolean,
            "string" => AtomicType::String,
            "uuid" => AtomicType::Uuid,
            other => return Err(Error::Schema(format!("unknown atomic type {other:?}"))),
        })
    }

    /// The default atom of this type (RFC 7047 §5.1: `""`, `0`, `0.0`, `false`, the
    /// all-zero uuid).
    pub fn default_atom(self) -> Atom {
        match self {
            AtomicType::Integer => Atom::Integer(0),
            AtomicType::Real => Atom::Real(0.0),
            AtomicType::Boolean => Atom::Boolean(false),
            AtomicType::String => Atom::String(String::new()),
            AtomicType::Uuid => Atom::Uuid(uuid::Uuid::nil()),
        }
    }

    /// Converts an atom read from the wire to this type where the JSON was ambiguous
    /// (an integral real is printed as an integer).
    fn coerce(self, atom: Atom) -> Atom {
        match (self, atom) {
            (AtomicType::Real, Atom::Integer(i)) => Atom::Real(i as f64),
            (_, atom) => atom,
        }
    }
}

impl fmt::Display for AtomicType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl BaseType {
    /// An unconstrained base type.
    pub fn new(atomic: AtomicType) -> Self {
        Self {
            atomic,
            enum_values: None,
            min_integer: None,
            max_integer: None,
            min_real: None,
            max_real: None,
            min_length: None,
            max_length: None,
            ref_table: None,
            ref_type: RefType::Strong,
        }
    }

    fn from_json(v: &Json) -> Result<Self, Error> {
        if let Some(s) = v.as_str() {
            return Ok(Self::new(AtomicType::parse(s)?));
        }
        let o = v
            .as_object()
            .ok_or_else(|| Error::Schema(format!("bad base type {v}")))?;
        let atomic = o
            .get("type")
            .and_then(Json::as_str)
            .ok_or_else(|| Error::Schema(format!("base type without \"type\": {v}")))?;
        let mut base = Self::new(AtomicType::parse(atomic)?);
        if let Some(e) = o.get("enum") {
            let value: Value = serde_json::from_value(e.clone())
                .map_err(|err| Error::Schema(format!("bad enum {e}: {err}")))?;
            base.enum_values = Some(value.atoms().to_vec());
        }
        base.min_integer = o.get("minInteger").and_then(Json::as_i64);
        base.max_integer = o.get("maxInteger").and_then(Json::as_i64);
        base.min_real = o.get("minReal").and_then(Json::as_f64);
        base.max_real = o.get("maxReal").and_then(Json::as_f64);
        base.min_length = o.get("minLength").and_then(Json::as_u64);
        base.max_length = o.get("maxLength").and_then(Json::as_u64);
        base.ref_table = o.get("refTable").and_then(Json::as_str).map(str::to_string);
        if base.ref_table.is_some() && o.get("refType").and_then(Json::as_str) == Some("weak") {
            base.ref_type = RefType::Weak;
        }
        Ok(base)
    }
}

impl ColumnType {
    /// A scalar column of `atomic` (exactly one value).
    pub fn scalar(atomic: AtomicType) -> Self {
        Self {
            key: BaseType::new(atomic),
            value: None,
            min: 1,
            max: Some(1),
        }
    }

    fn from_json(v: &Json) -> Result<Self, Error> {
        if v.is_string() {
            return Ok(Self::scalar(AtomicType::parse(
                v.as_str().unwrap_or_default(),
            )?));
        }
        let o = v
            .as_object()
            .ok_or_else(|| Error::Schema(format!("bad column type {v}")))?;
        let key = BaseType::from_json(
            o.get("key")
                .ok_or_else(|| Error::Schema(format!("type without \"key\": {v}")))?,
        )?;
        let value = o.get("value").map(BaseType::from_json).transpose()?;
        let min = match o.get("min") {
            None => 1,
            Some(m) => m
                .as_u64()
                .ok_or_else(|| Error::Schema(format!("bad min in {v}")))?,
        };
        let max = match o.get("max") {
            None => Some(1),
            Some(Json::String(s)) if s == "unlimited" => None,
            Some(m) => Some(
                m.as_u64()
                    .ok_or_else(|| Error::Schema(format!("bad max in {v}")))?,
            ),
        };
        Ok(Self {
            key,
            value,
            min,
            max,
        })
    }

    pub fn is_map(&self) -> bool {
        self.value.is_some()
    }

    /// Exactly one atom (`min` = `max` = 1, not a map).
    pub fn is_scalar(&self) -> bool {
        !self.is_map() && self.min == 1 && self.max == Some(1)
    }

    /// Zero or one atom.
    pub fn is_optional(&self) -> bool {
        !self.is_map() && self.min == 0 && self.max == Some(1)
    }

    /// Any non-map type that is not a scalar (optional columns included).
    pub fn is_set(&self) -> bool {
        !self.is_map() && !self.is_scalar()
    }

    /// The value a new row gets when the column is not given (and what `update2`
    /// omits from `initial`/`insert` rows).
    pub fn default_value(&self) -> Value {
        if self.is_map() {
            Value::Map(Vec::new())
        } else if self.min == 0 {
            Value::Set(Vec::new())
        } else if self.is_scalar() {
            Value::Atom(self.key.atomic.default_atom())
        } else {
            Value::Set(vec![self.key.atomic.default_atom()])
        }
    }

    /// Puts a value read from the wire in canonical form for this type: scalars as
    /// [`Value::Atom`], sets (optional columns included) as [`Value::Set`], maps as
    /// [`Value::Map`], reals as reals.
    pub fn normalize(&self, value: Value) -> Value {
        let key = self.key.atomic;
        if let Some(value_type) = &self.value {
            let v = value_type.atomic;
            return match value {
                Value::Map(pairs) => Value::Map(
                    pairs
                        .into_iter()
                        .map(|(k, x)| (key.coerce(k), v.coerce(x)))
                        .collect(),
                ),
                // An empty set on the wire is also an empty map.
                Value::Set(s) if s.is_empty() => Value::Map(Vec::new()),
                other => other,
            };
        }
        match value {
            Value::Atom(a) if self.is_scalar() => Value::Atom(key.coerce(a)),
            Value::Atom(a) => Value::Set(vec![key.coerce(a)]),
            Value::Set(mut s) if self.is_scalar() && s.len() == 1 => {
                Value::Atom(key.coerce(s.remove(0)))
            }
            Value::Set(s) => Value::Set(s.into_iter().map(|a| key.coerce(a)).collect()),
            other => other,
        }
    }
}

impl fmt::Display for ColumnType {
    /// A short description, e.g. `string`, `optional integer`, `set of uuid(Port)`,
    /// `map string→string`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = |b: &BaseType| match &b.ref_table {
            Some(t) => format!("{}({t})", b.atomic),
            None => b.atomic.to_string(),
        };
        if let Some(v) = &self.value {
            write!(f, "map {}→{}", base(&self.key), base(v))
        } else if self.is_scalar() {
            f.write_str(&base(&self.key))
        } else if self.is_optional() {
            write!(f, "optional {}", base(&self.key))
        } else {
            write!(f, "set of {}", base(&self.key))
        }
    }
}

static UUID_COLUMN: std::sync::LazyLock<ColumnSchema> = std::sync::LazyLock::new(|| ColumnSchema {
    type_: ColumnType::scalar(AtomicType::Uuid),
    ephemeral: false,
    mutable: false,
});

impl TableSchema {
    fn from_json(name: &str, v: &Json) -> Result<Self, Error> {
        let o = v
            .as_object()
            .ok_or_else(|| Error::Schema(format!("table {name} is not an object")))?;
        let cols = o
            .get("columns")
            .and_then(Json::as_object)
            .ok_or_else(|| Error::Schema(format!("table {name} has no columns")))?;
        let mut columns = BTreeMap::new();
        for (col, def) in cols {
            let type_json = def
                .get("type")
                .ok_or_else(|| Error::Schema(format!("column {name}.{col} has no type")))?;
            let type_ = ColumnType::from_json(type_json)
                .map_err(|e| Error::Schema(format!("column {name}.{col}: {e}")))?;
            columns.insert(
                col.clone(),
                ColumnSchema {
                    type_,
                    ephemeral: def
                        .get("ephemeral")
                        .and_then(Json::as_bool)
                        .unwrap_or(false),
                    mutable: def.get("mutable").and_then(Json::as_bool).unwrap_or(true),
                },
            );
        }
        let indexes = o
            .get("indexes")
            .and_then(Json::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Json::as_array)
                    .map(|cols| {
                        cols.iter()
                            .filter_map(Json::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            columns,
            max_rows: o.get("maxRows").and_then(Json::as_u64),
            is_root: o.get("isRoot").and_then(Json::as_bool).unwrap_or(false),
            indexes,
        })
    }

    /// A column by name; `_uuid` and `_version` are known too.
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        match name {
            "_uuid" | "_version" => Some(&UUID_COLUMN),
            _ => self.columns.get(name),
        }
    }
}

impl Schema {
    /// Parses a schema from its JSON (a `get_schema` result or an `.ovsschema` file).
    pub fn from_json(v: &Json) -> Result<Self, Error> {
        let o = v
            .as_object()
            .ok_or_else(|| Error::Schema("schema is not an object".into()))?;
        let name = o
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| Error::Schema("schema has no name".into()))?
            .to_string();
        let tables_json = o
            .get("tables")
            .and_then(Json::as_object)
            .ok_or_else(|| Error::Schema(format!("schema {name} has no tables")))?;
        let mut tables = BTreeMap::new();
        for (table, def) in tables_json {
            tables.insert(table.clone(), TableSchema::from_json(table, def)?);
        }
        Ok(Self {
            name,
            version: o
                .get("version")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string(),
            cksum: o.get("cksum").and_then(Json::as_str).map(str::to_string),
            tables,
        })
    }

    /// Reads an `.ovsschema` file (e.g. `/usr/share/ovn/ovn-nb.ovsschema`).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let text = std::fs::read(path.as_ref())?;
        Self::from_json(&serde_json::from_slice(&text)?)
    }

    pub fn table(&self, name: &str) -> Option<&TableSchema> {
        self.tables.get(name)
    }

    /// The type of `table.column` (`_uuid`/`_version` included).
    pub fn column_type(&self, table: &str, column: &str) -> Option<&ColumnType> {
        Some(&self.table(table)?.column(column)?.type_)
    }
}

impl std::str::FromStr for Schema {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_json(&serde_json::from_str(s)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::from_json(&json!({
            "name": "T", "version": "1.2.3",
            "tables": {
                "A": {
                    "isRoot": true,
                    "indexes": [["name"]],
                    "columns": {
                        "name": {"type": "string"},
                        "n": {"type": {"key": {"type": "integer", "minInteger": 1, "maxInteger": 9}, "min": 0, "max": 1}},
                        "r": {"type": "real"},
                        "kind": {"type": {"key": {"type": "string", "enum": ["set", ["x", "y"]]}}},
                        "one": {"type": {"key": {"type": "string", "enum": "x"}}},
                        "refs": {"type": {"key": {"type": "uuid", "refTable": "A", "refType": "weak"}, "min": 1, "max": "unlimited"}},
                        "vlans": {"type": {"key": "integer", "min": 0, "max": 4096}},
                        "ids": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
                    }
                }
            }
        }))
        .unwrap()
    }

    #[test]
    fn parses_types_and_constraints() {
        let s = schema();
        assert_eq!((s.name.as_str(), s.version.as_str()), ("T", "1.2.3"));
        let a = s.table("A").unwrap();
        assert!(a.is_root);
        assert_eq!(a.indexes, vec![vec!["name".to_string()]]);
        let t = |c: &str| s.column_type("A", c).unwrap().clone();
        assert!(t("name").is_scalar());
        assert!(t("n").is_optional() && t("n").is_set());
        assert_eq!(
            (t("n").key.min_integer, t("n").key.max_integer),
            (Some(1), Some(9))
        );
        assert_eq!(
            t("kind").key.enum_values.as_deref(),
            Some(&["x".into(), "y".into()][..])
        );
        assert_eq!(t("one").key.enum_values.as_deref(), Some(&["x".into()][..]));
        assert_eq!(t("refs").key.ref_table.as_deref(), Some("A"));
        assert_eq!(t("refs").key.ref_type, RefType::Weak);
        assert_eq!((t("refs").min, t("refs").max), (1, None));
        assert_eq!(t("vlans").max, Some(4096));
        assert!(t("ids").is_map());
        assert!(t("_uuid").is_scalar());
        assert_eq!(t("ids").to_string(), "map string→string");
        assert_eq!(t("refs").to_string(), "set of uuid(A)");
        assert_eq!(t("n").to_string(), "optional integer");
    }

    #[test]
    fn defaults_and_normalisation_follow_the_type() {
        let s = schema();
        let t = |c: &str| s.column_type("A", c).unwrap().clone();
        assert_eq!(t("name").default_value(), Value::string(""));
        assert_eq!(t("n").default_value(), Value::empty_set());
        assert_eq!(t("ids").default_value(), Value::empty_map());
        assert_eq!(t("r").normalize(Value::integer(2)), Value::real(2.0));
        assert_eq!(
            t("n").normalize(Value::integer(2)),
            Value::set_of([Atom::Integer(2)])
        );
        assert_eq!(
            t("name").normalize(Value::string_set(["a"])),
            Value::string("a")
        );
        assert_eq!(t("ids").normalize(Value::empty_set()), Value::empty_map());
    }

    #[test]
    fn rejects_malformed_schemas() {
        for bad in [
            json!({"tables": {}}),
            json!({"name": "x"}),
            json!({"name": "x", "tables": {"A": {"columns": {"c": {"type": "float"}}}}}),
            json!({"name": "x", "tables": {"A": {"columns": {"c": {"type": {"key": "string", "max": -1}}}}}}),
        ] {
            assert!(Schema::from_json(&bad).is_err(), "{bad}");
        }
    }
}
