//! The part of JSON Schema upstream's validators use (`type`,
//! `properties`, `additionalProperties: false`, `required`, `items`,
//! `enum`, `minLength`, `maxLength`, `minimum`, `maximum`), reporting the one error python-jsonschema's
//! `validate` would (its `best_match`), with its message, so that the
//! 400s read as upstream's.

use serde_json::{Map, Value};

use crate::pyrepr::{repr, string};

/// One step into the instance: a key or an array index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Key(String),
    Index(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaError {
    pub message: String,
    /// Where in the instance.
    pub path: Vec<Step>,
    /// Where in the schema (keywords and property names).
    pub schema_path: Vec<String>,
    /// Whether the failing instance matches its schema's `type`.
    matches_type: bool,
}

impl SchemaError {
    /// The property upstream names: the second step of the schema path.
    pub fn property(&self) -> Option<&str> {
        self.schema_path.get(1).map(String::as_str)
    }
}

/// The most relevant error of `instance` against `schema`, if any.
pub fn validate(instance: &Value, schema: &Value) -> Option<SchemaError> {
    let mut errors = Vec::new();
    check(
        instance,
        schema,
        &mut Vec::new(),
        &mut Vec::new(),
        &mut errors,
    );
    best(errors)
}

/// python-jsonschema's relevance: shallowest instance path first, then
/// the greatest path, then an error whose instance does not even match
/// its type; the first error wins ties (`max` keeps the first maximum).
fn best(errors: Vec<SchemaError>) -> Option<SchemaError> {
    let mut best: Option<SchemaError> = None;
    for e in errors {
        let better = match &best {
            None => true,
            Some(b) => {
                let ke = (std::cmp::Reverse(e.path.len()), &e.path, !e.matches_type);
                let kb = (std::cmp::Reverse(b.path.len()), &b.path, !b.matches_type);
                ke > kb
            }
        };
        if better {
            best = Some(e);
        }
    }
    best
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "string" => v.is_string(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "number" => v.is_number(),
        // Draft 2020-12 (the default without `$schema`): 1.0 is an integer.
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

fn types(t: &Value) -> Vec<&str> {
    match t {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn matches_type(instance: &Value, schema: &Map<String, Value>) -> bool {
    match schema.get("type") {
        Some(t) => types(t).iter().any(|t| is_type(instance, t)),
        None => false,
    }
}

fn check(
    instance: &Value,
    schema: &Value,
    path: &mut Vec<Step>,
    schema_path: &mut Vec<String>,
    out: &mut Vec<SchemaError>,
) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    for (keyword, arg) in schema {
        let fail = |message: String, out: &mut Vec<SchemaError>| {
            let mut sp = schema_path.clone();
            sp.push(keyword.clone());
            out.push(SchemaError {
                message,
                path: path.clone(),
                schema_path: sp,
                matches_type: matches_type(instance, schema),
            });
        };
        match keyword.as_str() {
            "type" => {
                let ts = types(arg);
                if !ts.iter().any(|t| is_type(instance, t)) {
                    let reprs: Vec<String> = ts.iter().map(|t| string(t)).collect();
                    fail(
                        format!("{} is not of type {}", repr(instance), reprs.join(", ")),
                        out,
                    );
                }
            }
            "enum" => {
                let options = arg.as_array().map(Vec::as_slice).unwrap_or_default();
                if !options.iter().any(|o| o == instance) {
                    fail(
                        format!("{} is not one of {}", repr(instance), repr(arg)),
                        out,
                    );
                }
            }
            "maxLength" => {
                if let (Some(s), Some(max)) = (instance.as_str(), arg.as_u64())
                    && s.chars().count() as u64 > max
                {
                    let what = if max == 0 {
                        "is expected to be empty"
                    } else {
                        "is too long"
                    };
                    fail(format!("{} {what}", repr(instance)), out);
                }
            }
            "minLength" => {
                if let (Some(s), Some(min)) = (instance.as_str(), arg.as_u64())
                    && (s.chars().count() as u64) < min
                {
                    let what = if min == 1 {
                        "should be non-empty"
                    } else {
                        "is too short"
                    };
                    fail(format!("{} {what}", repr(instance)), out);
                }
            }
            "minimum" => {
                if is_type(instance, "number")
                    && let (Some(x), Some(min)) = (instance.as_f64(), arg.as_f64())
                    && x < min
                {
                    fail(
                        format!(
                            "{} is less than the minimum of {}",
                            repr(instance),
                            repr(arg)
                        ),
                        out,
                    );
                }
            }
            "maximum" => {
                if is_type(instance, "number")
                    && let (Some(x), Some(max)) = (instance.as_f64(), arg.as_f64())
                    && x > max
                {
                    fail(
                        format!(
                            "{} is greater than the maximum of {}",
                            repr(instance),
                            repr(arg)
                        ),
                        out,
                    );
                }
            }
            "required" => {
                if let Some(obj) = instance.as_object() {
                    for name in arg
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !obj.contains_key(name) {
                            fail(format!("{} is a required property", string(name)), out);
                        }
                    }
                }
            }
            "properties" => {
                if let (Some(obj), Some(props)) = (instance.as_object(), arg.as_object()) {
                    for (name, sub) in props {
                        if let Some(v) = obj.get(name) {
                            path.push(Step::Key(name.clone()));
                            schema_path.push("properties".into());
                            schema_path.push(name.clone());
                            check(v, sub, path, schema_path, out);
                            schema_path.truncate(schema_path.len() - 2);
                            path.pop();
                        }
                    }
                }
            }
            // Only the `false` form: no property beyond `properties`.
            "additionalProperties" if arg == &Value::Bool(false) => {
                if let Some(obj) = instance.as_object() {
                    let known = schema.get("properties").and_then(Value::as_object);
                    let mut extras: Vec<&String> = obj
                        .keys()
                        .filter(|k| !known.is_some_and(|p| p.contains_key(*k)))
                        .collect();
                    if !extras.is_empty() {
                        extras.sort();
                        let names: Vec<String> = extras.iter().map(|k| string(k)).collect();
                        let verb = if extras.len() == 1 { "was" } else { "were" };
                        fail(
                            format!(
                                "Additional properties are not allowed ({} {verb} unexpected)",
                                names.join(", ")
                            ),
                            out,
                        );
                    }
                }
            }
            "items" => {
                if let Some(items) = instance.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        path.push(Step::Index(i));
                        schema_path.push("items".into());
                        check(item, arg, path, schema_path, out);
                        schema_path.pop();
                        path.pop();
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "name": {"type": ["string", "null"], "maxLength": 5},
                "bits": {"type": "integer", "minimum": 1, "maximum": 10},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "refs": {"type": "array", "items": {
                    "type": "object", "required": ["ref"],
                    "properties": {"ref": {"type": "string", "minLength": 1}}}},
            },
            "required": ["kind"],
        })
    }

    fn msg(v: Value) -> (String, Option<String>) {
        let e = validate(&v, &schema()).expect("an error");
        (e.message.clone(), e.property().map(String::from))
    }

    #[test]
    fn messages_and_properties() {
        assert!(validate(&json!({"kind": "a"}), &schema()).is_none());
        assert_eq!(msg(json!([])), ("[] is not of type 'object'".into(), None));
        assert_eq!(
            msg(json!({})),
            ("'kind' is a required property".into(), None)
        );
        assert_eq!(
            msg(json!({"kind": "c"})),
            ("'c' is not one of ['a', 'b']".into(), Some("kind".into()))
        );
        assert_eq!(
            msg(json!({"kind": "a", "name": 3})),
            (
                "3 is not of type 'string', 'null'".into(),
                Some("name".into())
            )
        );
        assert_eq!(
            msg(json!({"kind": "a", "name": "toolong"})),
            ("'toolong' is too long".into(), Some("name".into()))
        );
        assert_eq!(
            msg(json!({"kind": "a", "bits": 0})),
            (
                "0 is less than the minimum of 1".into(),
                Some("bits".into())
            )
        );
        assert_eq!(
            msg(json!({"kind": "a", "bits": 2.5})),
            ("2.5 is not of type 'integer'".into(), Some("bits".into()))
        );
        assert!(validate(&json!({"kind": "a", "bits": 2.0}), &schema()).is_none());
        assert_eq!(
            msg(json!({"kind": "a", "refs": [{"ref": ""}]})),
            ("'' should be non-empty".into(), Some("refs".into()))
        );
        assert_eq!(
            msg(json!({"kind": "a", "refs": [{}]})),
            ("'ref' is a required property".into(), Some("refs".into()))
        );
        // Shallower first: the missing `kind` beats the bad name.
        assert_eq!(
            msg(json!({"name": 3})),
            ("'kind' is a required property".into(), None)
        );
        // Siblings: the greatest path wins ('name' < 'kind'? no: 'name' > 'kind').
        assert_eq!(
            msg(json!({"kind": "c", "name": 3})),
            (
                "3 is not of type 'string', 'null'".into(),
                Some("name".into())
            )
        );
    }

    #[test]
    fn additional_properties() {
        let s = json!({
            "type": "object",
            "properties": {"read": {"type": "object",
                "properties": {"users": {"type": "array"}},
                "additionalProperties": false}},
            "additionalProperties": false,
        });
        let e = validate(&json!({"b": 1, "a": 2}), &s).expect("an error");
        assert_eq!(
            e.message,
            "Additional properties are not allowed ('a', 'b' were unexpected)"
        );
        assert_eq!(e.property(), None);
        let e = validate(&json!({"read": {"x": 1}}), &s).expect("an error");
        assert_eq!(
            e.message,
            "Additional properties are not allowed ('x' was unexpected)"
        );
        assert_eq!(e.property(), Some("read"));
        assert!(validate(&json!({"read": {"users": []}}), &s).is_none());
    }
}
