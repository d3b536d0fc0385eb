//! Reading a parsed body: [`Patch`] keeps "absent" apart from `null`.

use serde_json::{Map, Value};

/// One attribute of a request body.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Patch<T> {
    /// Not in the body: keep what is stored (PUT) or use the default (POST).
    #[default]
    Unset,
    /// Explicit `null`: clear, or back to the default.
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn is_unset(&self) -> bool {
        matches!(self, Patch::Unset)
    }

    pub fn is_set(&self) -> bool {
        !self.is_unset()
    }

    pub fn value(&self) -> Option<&T> {
        match self {
            Patch::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Absent and null both mean "nothing".
    pub fn into_option(self) -> Option<T> {
        match self {
            Patch::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The new value for a PUT: `stored` when absent, `None` when null.
    pub fn apply(self, stored: Option<T>) -> Option<T> {
        match self {
            Patch::Unset => stored,
            Patch::Null => None,
            Patch::Value(v) => Some(v),
        }
    }

    /// A null that means "back to the default" (upstream's
    /// `_set_default_on_none`).
    pub fn null_as(self, default: impl FnOnce() -> T) -> Patch<T> {
        match self {
            Patch::Null => Patch::Value(default()),
            other => other,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Unset => Patch::Unset,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(f(v)),
        }
    }

    pub fn as_ref(&self) -> Patch<&T> {
        match self {
            Patch::Unset => Patch::Unset,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(v),
        }
    }
}

/// A body as [`crate::wsme`] returned it: values already converted and
/// validated, so the accessors cannot fail on types.
pub(crate) struct Fields(pub Map<String, Value>);

impl Fields {
    fn raw(&self, k: &str) -> Patch<&Value> {
        match self.0.get(k) {
            None => Patch::Unset,
            Some(Value::Null) => Patch::Null,
            Some(v) => Patch::Value(v),
        }
    }

    pub fn has(&self, k: &str) -> bool {
        self.0.contains_key(k)
    }

    pub fn str(&self, k: &str) -> Patch<String> {
        self.raw(k)
            .map(|v| v.as_str().unwrap_or_default().to_string())
    }

    pub fn int(&self, k: &str) -> Patch<i64> {
        self.raw(k).map(|v| v.as_i64().unwrap_or_default())
    }

    pub fn float(&self, k: &str) -> Patch<f64> {
        self.raw(k).map(|v| v.as_f64().unwrap_or_default())
    }

    pub fn bool(&self, k: &str) -> Patch<bool> {
        self.raw(k).map(|v| v.as_bool().unwrap_or_default())
    }

    pub fn strs(&self, k: &str) -> Patch<Vec<String>> {
        self.raw(k).map(|v| {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    pub fn map(&self, k: &str) -> Patch<Map<String, Value>> {
        self.raw(k)
            .map(|v| v.as_object().cloned().unwrap_or_default())
    }

    pub fn object(&self, k: &str) -> Patch<Fields> {
        self.raw(k)
            .map(|v| Fields(v.as_object().cloned().unwrap_or_default()))
    }

    pub fn objects(&self, k: &str) -> Patch<Vec<Fields>> {
        self.raw(k).map(|v| {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .map(|o| Fields(o.as_object().cloned().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// `admin_state_up`-style booleans: absent → `default`, null → false
    /// (octavia's `to_dict` turns a null `admin_state_up` into false).
    pub fn flag(&self, k: &str, default: bool) -> bool {
        match self.bool(k) {
            Patch::Unset => default,
            Patch::Null => false,
            Patch::Value(b) => b,
        }
    }
}
