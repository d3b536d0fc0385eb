//! Comparing rows the way OVSDB means them: a one-element set equals its
//! atom, sets and maps are unordered, an empty set equals an empty map.

use std::collections::{BTreeMap, BTreeSet};

use neutrino_ovsdb::{Atom, Row, Value};

#[derive(PartialEq, Eq)]
enum Norm<'a> {
    Set(BTreeSet<&'a Atom>),
    Map(BTreeMap<&'a Atom, &'a Atom>),
}

fn norm(v: &Value) -> Norm<'_> {
    match v {
        Value::Map(m) if !m.is_empty() => Norm::Map(m.iter().map(|(k, v)| (k, v)).collect()),
        Value::Map(_) => Norm::Set(BTreeSet::new()),
        other => Norm::Set(other.atoms().iter().collect()),
    }
}

pub fn same_value(a: &Value, b: &Value) -> bool {
    norm(a) == norm(b)
}

/// The columns of `desired` whose value differs in `existing` (a missing
/// column counts as empty).
pub fn changed_columns(desired: &Row, existing: &Row) -> Row {
    let empty = Value::empty_set();
    let mut out = Row::new();
    for (col, want) in desired.iter() {
        let have = existing.get(col).unwrap_or(&empty);
        if !same_value(want, have) {
            out.set(col.clone(), want.clone());
        }
    }
    out
}

/// Whether `existing` already holds every column of `desired`.
pub fn matches(desired: &Row, existing: &Row) -> bool {
    changed_columns(desired, existing).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ovsdb_equality() {
        assert!(same_value(&Value::string("a"), &Value::string_set(["a"])));
        assert!(same_value(
            &Value::string_set(["a", "b"]),
            &Value::string_set(["b", "a"])
        ));
        assert!(same_value(&Value::empty_set(), &Value::empty_map()));
        assert!(!same_value(
            &Value::string_map([("k", "v")]),
            &Value::string_map([("k", "w")])
        ));
        let want = Row::new().with("name", "x").with("tag", Value::empty_set());
        let have = Row::new().with("name", "x").with("other", "y");
        assert!(matches(&want, &have));
        let have = Row::new().with("name", "y");
        assert_eq!(changed_columns(&want, &have).str("name"), Some("x"));
    }
}
