//! OVSDB data in its wire form (RFC 7047 §5.1): atoms, sets, maps and rows.
//!
//! The JSON forms are `"s"`, `1`, `1.5`, `true`, `["uuid","…"]`, `["named-uuid","…"]`,
//! `["set",[atom…]]` and `["map",[[key,value]…]]`. A set of exactly one element may be
//! sent as the bare atom, so a [`Value::Atom`] can stand for a set: the [`Row`] getters
//! accept both, and a replica normalises values against the schema.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One scalar value.
///
/// Equality, ordering and hashing are total: reals compare with [`f64::total_cmp`].
#[derive(Debug, Clone)]
pub enum Atom {
    String(String),
    Integer(i64),
    Real(f64),
    Boolean(bool),
    Uuid(Uuid),
    /// `["named-uuid", name]`: the row inserted by an `insert` with that `uuid-name`
    /// in the same transaction. Only valid in requests.
    NamedUuid(String),
}

impl Atom {
    pub fn string(s: impl Into<String>) -> Self {
        Atom::String(s.into())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Atom::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Atom::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// A real, or an integer read as a real (servers print `1.0` as `1`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Atom::Real(r) => Some(*r),
            Atom::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Atom::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            Atom::Uuid(u) => Some(*u),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Atom::String(_) => 0,
            Atom::Integer(_) => 1,
            Atom::Real(_) => 2,
            Atom::Boolean(_) => 3,
            Atom::Uuid(_) => 4,
            Atom::NamedUuid(_) => 5,
        }
    }
}

impl PartialEq for Atom {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Atom {}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Atom {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Atom::String(a), Atom::String(b)) => a.cmp(b),
            (Atom::Integer(a), Atom::Integer(b)) => a.cmp(b),
            (Atom::Real(a), Atom::Real(b)) => a.total_cmp(b),
            (Atom::Boolean(a), Atom::Boolean(b)) => a.cmp(b),
            (Atom::Uuid(a), Atom::Uuid(b)) => a.cmp(b),
            (Atom::NamedUuid(a), Atom::NamedUuid(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Hash for Atom {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Atom::String(s) | Atom::NamedUuid(s) => s.hash(state),
            Atom::Integer(i) => i.hash(state),
            Atom::Real(r) => r.to_bits().hash(state),
            Atom::Boolean(b) => b.hash(state),
            Atom::Uuid(u) => u.hash(state),
        }
    }
}

impl fmt::Display for Atom {
    /// `ovn-nbctl`-like text: strings unquoted, uuids bare.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::String(s) => f.write_str(s),
            Atom::Integer(i) => write!(f, "{i}"),
            Atom::Real(r) => write!(f, "{r}"),
            Atom::Boolean(b) => write!(f, "{b}"),
            Atom::Uuid(u) => write!(f, "{u}"),
            Atom::NamedUuid(n) => write!(f, "@{n}"),
        }
    }
}

impl From<&str> for Atom {
    fn from(s: &str) -> Self {
        Atom::String(s.to_string())
    }
}
impl From<String> for Atom {
    fn from(s: String) -> Self {
        Atom::String(s)
    }
}
impl From<i64> for Atom {
    fn from(i: i64) -> Self {
        Atom::Integer(i)
    }
}
impl From<f64> for Atom {
    fn from(r: f64) -> Self {
        Atom::Real(r)
    }
}
impl From<bool> for Atom {
    fn from(b: bool) -> Self {
        Atom::Boolean(b)
    }
}
impl From<Uuid> for Atom {
    fn from(u: Uuid) -> Self {
        Atom::Uuid(u)
    }
}

impl Serialize for Atom {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Atom::String(s) => serializer.serialize_str(s),
            Atom::Integer(i) => serializer.serialize_i64(*i),
            Atom::Real(r) if r.is_finite() => serializer.serialize_f64(*r),
            Atom::Real(r) => Err(serde::ser::Error::custom(format!(
                "OVSDB cannot represent the real {r}"
            ))),
            Atom::Boolean(b) => serializer.serialize_bool(*b),
            Atom::Uuid(u) => tagged(serializer, "uuid", &u.to_string()),
            Atom::NamedUuid(n) => tagged(serializer, "named-uuid", n),
        }
    }
}

fn tagged<S: Serializer, T: Serialize + ?Sized>(
    serializer: S,
    tag: &str,
    payload: &T,
) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(2))?;
    seq.serialize_element(tag)?;
    seq.serialize_element(payload)?;
    seq.end()
}

fn parse_uuid<E: de::Error>(s: &str) -> Result<Uuid, E> {
    Uuid::parse_str(s).map_err(|_| E::custom(format!("invalid uuid {s:?}")))
}

/// Reads the payload of `["uuid", s]` / `["named-uuid", s]` once the tag is known.
fn tagged_atom<'de, A: SeqAccess<'de>>(tag: &str, seq: &mut A) -> Result<Atom, A::Error> {
    let payload: String = seq
        .next_element()?
        .ok_or_else(|| de::Error::custom(format!("[\"{tag}\"] without a value")))?;
    match tag {
        "uuid" => Ok(Atom::Uuid(parse_uuid(&payload)?)),
        "named-uuid" => Ok(Atom::NamedUuid(payload)),
        _ => unreachable!("only called for uuid tags"),
    }
}

fn expect_end<'de, A: SeqAccess<'de>>(seq: &mut A, what: &str) -> Result<(), A::Error> {
    match seq.next_element::<de::IgnoredAny>()? {
        None => Ok(()),
        Some(_) => Err(de::Error::custom(format!("trailing elements in {what}"))),
    }
}

struct AtomVisitor;

impl<'de> Visitor<'de> for AtomVisitor {
    type Value = Atom;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OVSDB atom (string, number, boolean, [\"uuid\",..] or [\"named-uuid\",..])")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Atom, E> {
        Ok(Atom::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Atom, E> {
        Ok(Atom::String(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Atom, E> {
        Ok(Atom::Integer(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Atom, E> {
        i64::try_from(v)
            .map(Atom::Integer)
            .map_err(|_| E::custom(format!("integer {v} out of OVSDB's range")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Atom, E> {
        Ok(Atom::Real(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Atom, E> {
        Ok(Atom::Boolean(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Atom, A::Error> {
        let tag: String = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("empty array is not an atom"))?;
        let atom = match tag.as_str() {
            "uuid" | "named-uuid" => tagged_atom(&tag, &mut seq)?,
            other => {
                return Err(de::Error::custom(format!(
                    "[\"{other}\",..] is not an atom"
                )));
            }
        };
        expect_end(&mut seq, "an atom")?;
        Ok(atom)
    }
}

impl<'de> Deserialize<'de> for Atom {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AtomVisitor)
    }
}

/// A column's value: one atom, a set or a map.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Atom(Atom),
    Set(Vec<Atom>),
    Map(Vec<(Atom, Atom)>),
}

impl Value {
    pub fn string(s: impl Into<String>) -> Self {
        Value::Atom(Atom::String(s.into()))
    }
    pub fn integer(i: i64) -> Self {
        Value::Atom(Atom::Integer(i))
    }
    pub fn real(r: f64) -> Self {
        Value::Atom(Atom::Real(r))
    }
    pub fn boolean(b: bool) -> Self {
        Value::Atom(Atom::Boolean(b))
    }
    pub fn uuid(u: Uuid) -> Self {
        Value::Atom(Atom::Uuid(u))
    }
    /// `["named-uuid", name]`: refers to a row inserted in the same transaction.
    pub fn named(name: impl Into<String>) -> Self {
        Value::Atom(Atom::NamedUuid(name.into()))
    }
    pub fn set_of<I: IntoIterator<Item = Atom>>(atoms: I) -> Self {
        Value::Set(atoms.into_iter().collect())
    }
    pub fn string_set<I, S>(strings: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::Set(
            strings
                .into_iter()
                .map(|s| Atom::String(s.into()))
                .collect(),
        )
    }
    pub fn uuid_set<I: IntoIterator<Item = Uuid>>(uuids: I) -> Self {
        Value::Set(uuids.into_iter().map(Atom::Uuid).collect())
    }
    pub fn map_of<I: IntoIterator<Item = (Atom, Atom)>>(pairs: I) -> Self {
        Value::Map(pairs.into_iter().collect())
    }
    pub fn string_map<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Atom::String(k.into()), Atom::String(v.into())))
                .collect(),
        )
    }
    /// `["set",[]]`: the empty value of a set or optional column.
    pub fn empty_set() -> Self {
        Value::Set(Vec::new())
    }
    /// `["map",[]]`.
    pub fn empty_map() -> Self {
        Value::Map(Vec::new())
    }
    /// The value of an optional column (a set of 0 or 1 elements).
    pub fn optional(atom: Option<Atom>) -> Self {
        Value::Set(atom.into_iter().collect())
    }
    /// An optional string column: `None` is the empty set.
    pub fn optional_string<S: Into<String>>(s: Option<S>) -> Self {
        Value::optional(s.map(|s| Atom::String(s.into())))
    }

    /// The elements of a set (an atom counts as a set of one); empty for a map.
    pub fn atoms(&self) -> &[Atom] {
        match self {
            Value::Atom(a) => std::slice::from_ref(a),
            Value::Set(s) => s,
            Value::Map(_) => &[],
        }
    }

    /// The single atom of an atom or a one-element set; `None` for an empty set, a
    /// set of several elements or a map.
    pub fn as_atom(&self) -> Option<&Atom> {
        match self.atoms() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// The pairs of a map (an empty set counts as an empty map).
    pub fn pairs(&self) -> &[(Atom, Atom)] {
        match self {
            Value::Map(m) => m,
            _ => &[],
        }
    }

    /// Whether this is an empty set or map.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Atom(_) => false,
            Value::Set(s) => s.is_empty(),
            Value::Map(m) => m.is_empty(),
        }
    }
}

impl From<Atom> for Value {
    fn from(a: Atom) -> Self {
        Value::Atom(a)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::string(s)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::string(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::integer(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::boolean(b)
    }
}
impl From<Uuid> for Value {
    fn from(u: Uuid) -> Self {
        Value::uuid(u)
    }
}

struct PairsRef<'a>(&'a [(Atom, Atom)]);

impl Serialize for PairsRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (k, v) in self.0 {
            seq.serialize_element(&[k, v])?;
        }
        seq.end()
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Atom(a) => a.serialize(serializer),
            Value::Set(s) => tagged(serializer, "set", s),
            Value::Map(m) => tagged(serializer, "map", &PairsRef(m)),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OVSDB value (atom, [\"set\",..] or [\"map\",..])")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        AtomVisitor.visit_str(v).map(Value::Atom)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        AtomVisitor.visit_string(v).map(Value::Atom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        AtomVisitor.visit_i64(v).map(Value::Atom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        AtomVisitor.visit_u64(v).map(Value::Atom)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        AtomVisitor.visit_f64(v).map(Value::Atom)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        AtomVisitor.visit_bool(v).map(Value::Atom)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let tag: String = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("empty array is not a value"))?;
        let value = match tag.as_str() {
            "uuid" | "named-uuid" => Value::Atom(tagged_atom(&tag, &mut seq)?),
            "set" => Value::Set(
                seq.next_element()?
                    .ok_or_else(|| de::Error::custom("[\"set\"] without elements"))?,
            ),
            "map" => Value::Map(
                seq.next_element()?
                    .ok_or_else(|| de::Error::custom("[\"map\"] without pairs"))?,
            ),
            other => return Err(de::Error::custom(format!("unknown value tag {other:?}"))),
        };
        expect_end(&mut seq, "a value")?;
        Ok(value)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// A row: column name → value. Rows read from the server carry `_uuid` (and `_version`)
/// when they were selected or replicated.
///
/// The getters read optional columns (sets of 0 or 1 elements) naturally: an empty set
/// is `None`, a one-element set or a bare atom is `Some`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Row(pub BTreeMap<String, Value>);

impl Row {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder form of [`Row::set`].
    pub fn with(mut self, column: impl Into<String>, value: impl Into<Value>) -> Self {
        self.0.insert(column.into(), value.into());
        self
    }

    /// Sets (or replaces) a column.
    pub fn set(&mut self, column: impl Into<String>, value: impl Into<Value>) {
        self.0.insert(column.into(), value.into());
    }

    pub fn remove(&mut self, column: &str) -> Option<Value> {
        self.0.remove(column)
    }

    /// The row's `_uuid`.
    pub fn uuid(&self) -> Option<Uuid> {
        self.get_uuid("_uuid")
    }

    pub fn get(&self, column: &str) -> Option<&Value> {
        self.0.get(column)
    }

    pub fn contains(&self, column: &str) -> bool {
        self.0.contains_key(column)
    }

    /// The single atom of a column (`None` if absent, an empty set, or several elements).
    pub fn atom(&self, column: &str) -> Option<&Atom> {
        self.get(column)?.as_atom()
    }

    pub fn str(&self, column: &str) -> Option<&str> {
        self.atom(column)?.as_str()
    }

    pub fn int(&self, column: &str) -> Option<i64> {
        self.atom(column)?.as_i64()
    }

    pub fn real(&self, column: &str) -> Option<f64> {
        self.atom(column)?.as_f64()
    }

    pub fn bool(&self, column: &str) -> Option<bool> {
        self.atom(column)?.as_bool()
    }

    /// A uuid (reference) column, e.g. an optional `dhcpv4_options`.
    pub fn get_uuid(&self, column: &str) -> Option<Uuid> {
        self.atom(column)?.as_uuid()
    }

    /// The strings of a set column (or of a single atom); empty if absent.
    pub fn strings(&self, column: &str) -> Vec<String> {
        self.atoms(column)
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect()
    }

    /// The uuids of a set-of-references column; empty if absent.
    pub fn uuids(&self, column: &str) -> Vec<Uuid> {
        self.atoms(column)
            .iter()
            .filter_map(Atom::as_uuid)
            .collect()
    }

    /// The integers of a set column; empty if absent.
    pub fn ints(&self, column: &str) -> Vec<i64> {
        self.atoms(column).iter().filter_map(Atom::as_i64).collect()
    }

    /// The elements of a set column (or of a single atom); empty if absent.
    pub fn atoms(&self, column: &str) -> &[Atom] {
        self.get(column).map(Value::atoms).unwrap_or(&[])
    }

    /// A string→string map column (e.g. `external_ids`); empty if absent.
    pub fn string_map(&self, column: &str) -> BTreeMap<String, String> {
        self.pairs(column)
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
            .collect()
    }

    /// One key of a string→string map column, without copying the map.
    pub fn map_str(&self, column: &str, key: &str) -> Option<&str> {
        self.pairs(column)
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))?
            .1
            .as_str()
    }

    /// The pairs of a map column; empty if absent.
    pub fn pairs(&self, column: &str) -> &[(Atom, Atom)] {
        self.get(column).map(Value::pairs).unwrap_or(&[])
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<BTreeMap<String, Value>> for Row {
    fn from(map: BTreeMap<String, Value>) -> Self {
        Self(map)
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Row {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests;
