//! Request bodies as Octavia's WSME types read them.
//!
//! Every POST/PUT type of octavia 19 is a list of typed attributes. WSME
//! (0.13, `rest/json.py` `fromjson` and `types.py`) walks them in
//! declaration order and, per attribute present in the body, first
//! *converts* the JSON value (`int("12")`, oslo-style booleans, ...; a
//! failure there escapes as a `ValueError` and is reported against the
//! whole request argument) and then *validates* it (ranges, lengths,
//! patterns, enum values; reported against the attribute). Unknown keys
//! are refused before any attribute is read, and a missing mandatory
//! attribute is reported when its turn comes. [`parse_root`] reproduces
//! that order and those texts; what it returns is the body with values
//! converted (integers as numbers, UUIDs and CIDRs normalised), keeping
//! explicit `null`s so PUT handlers can tell "clear" from "unchanged".

use crate::LbError;
use crate::checks;
use serde_json::{Map, Value};
use std::net::IpAddr;

/// A pattern of a WSME `StringType`: upstream's Python text (quoted in
/// the error) and an equivalent for fancy-regex (Python's `$` also
/// matches before a final newline, spelled out here).
pub(crate) struct Pattern {
    pub python: &'static str,
    pub rust: &'static str,
}

impl Pattern {
    pub(crate) fn search(&self, s: &str) -> bool {
        fancy_regex::Regex::new(self.rust)
            .ok()
            .and_then(|re| re.is_match(s).ok())
            .unwrap_or(false)
    }
}

pub(crate) enum Kind {
    Str {
        min: Option<usize>,
        max: Option<usize>,
        pattern: Option<&'static Pattern>,
    },
    Uuid,
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    Bool,
    StrEnum(&'static [&'static str]),
    FloatEnum(&'static [f64]),
    IntEnum(&'static [i64]),
    Ip,
    Cidr,
    Url,
    UrlPath,
    Alpn,
    List(&'static Kind),
    StrMap(&'static Kind),
    Object(&'static Schema),
    ObjectList(&'static Schema),
}

pub(crate) const fn text(max: usize) -> Kind {
    Kind::Str {
        min: None,
        max: Some(max),
        pattern: None,
    }
}

pub(crate) const fn int(min: Option<i64>, max: Option<i64>) -> Kind {
    Kind::Int { min, max }
}

pub(crate) struct Attr {
    pub name: &'static str,
    pub kind: Kind,
    pub mandatory: bool,
}

pub(crate) const fn opt(name: &'static str, kind: Kind) -> Attr {
    Attr {
        name,
        kind,
        mandatory: false,
    }
}

pub(crate) const fn req(name: &'static str, kind: Kind) -> Attr {
    Attr {
        name,
        kind,
        mandatory: true,
    }
}

pub(crate) struct Schema {
    pub attrs: &'static [Attr],
    /// Types declaring `project_id` also accept `tenant_id` (octavia's
    /// `BaseMeta`), which overrides it.
    pub tenant_id: bool,
}

/// What went wrong while reading one value.
enum Fail {
    /// A conversion `ValueError`: reported against the request argument
    /// with the whole body as the value.
    Convert(String),
    /// A validator's complaint about the (converted) value.
    Invalid(Value, String),
    /// Already a complete error (nested attribute, unknown attributes).
    Done(LbError),
}

struct Ctx<'a> {
    argname: &'a str,
    body: &'a Value,
}

impl Ctx<'_> {
    fn finish(&self, attr: &str, fail: Fail) -> LbError {
        match fail {
            Fail::Convert(msg) => LbError::invalid_input(self.argname, &py_str(self.body), msg),
            Fail::Invalid(v, msg) => LbError::invalid_input(attr, &py_str(&v), msg),
            Fail::Done(e) => e,
        }
    }
}

/// Reads `{root_key: {...}}` of a request whose WSME argument is named
/// `argname` (the controller's parameter, e.g. `listener_`).
pub(crate) fn parse_root(
    body: &Value,
    argname: &str,
    root_key: &str,
    schema: &Schema,
) -> Result<Map<String, Value>, LbError> {
    let ctx = Ctx { argname, body };
    let Value::Object(root) = body else {
        return Err(ctx.finish(
            argname,
            Fail::Convert(format!("Value not a valid dict: {}", py_str(body))),
        ));
    };
    let unknown: Vec<String> = root.keys().filter(|k| *k != root_key).cloned().collect();
    if !unknown.is_empty() {
        return Err(LbError::unknown_attributes(argname, &unknown));
    }
    // Upstream fails with a 500 on a missing or null root object; a 400
    // naming it is what a client can act on.
    match root.get(root_key) {
        None | Some(Value::Null) => Err(LbError::mandatory_missing(root_key)),
        Some(inner) => parse_object(&ctx, schema, inner, &[argname, root_key]),
    }
}

/// Reads a body that is itself the WSME argument (e.g. the member batch
/// `{"members": [...]}`).
pub(crate) fn parse_body(
    body: &Value,
    argname: &str,
    schema: &Schema,
) -> Result<Map<String, Value>, LbError> {
    let ctx = Ctx { argname, body };
    parse_object(&ctx, schema, body, &[argname])
}

fn parse_object(
    ctx: &Ctx<'_>,
    schema: &Schema,
    value: &Value,
    path: &[&str],
) -> Result<Map<String, Value>, LbError> {
    let Value::Object(obj) = value else {
        let attr = path.last().copied().unwrap_or(ctx.argname);
        return Err(ctx.finish(
            attr,
            Fail::Convert(format!("Value not a valid dict: {}", py_str(value))),
        ));
    };
    let known = |k: &str| {
        schema.attrs.iter().any(|a| a.name == k) || (schema.tenant_id && k == "tenant_id")
    };
    let unknown: Vec<String> = obj.keys().filter(|k| !known(k)).cloned().collect();
    if !unknown.is_empty() {
        return Err(LbError::unknown_attributes(&path.join("."), &unknown));
    }
    let mut out = Map::new();
    for attr in schema.attrs {
        match obj.get(attr.name) {
            Some(Value::Null) => {
                out.insert(attr.name.to_string(), Value::Null);
            }
            Some(v) => {
                let mut sub_path = path.to_vec();
                sub_path.push(attr.name);
                let converted =
                    read(ctx, &attr.kind, v, &sub_path).map_err(|f| ctx.finish(attr.name, f))?;
                out.insert(attr.name.to_string(), converted);
            }
            None if attr.mandatory => return Err(LbError::mandatory_missing(attr.name)),
            None => {}
        }
    }
    if schema.tenant_id
        && let Some(t) = obj.get("tenant_id")
    {
        let converted = if t.is_null() {
            Value::Null
        } else {
            read(ctx, &text(36), t, path).map_err(|f| ctx.finish("tenant_id", f))?
        };
        out.insert("project_id".into(), converted);
    }
    Ok(out)
}

/// Converts then validates one non-null value.
fn read(ctx: &Ctx<'_>, kind: &Kind, v: &Value, path: &[&str]) -> Result<Value, Fail> {
    match kind {
        Kind::List(item) => {
            let Value::Array(items) = v else {
                return Err(Fail::Convert(format!(
                    "Value not a valid list: {}",
                    py_str(v)
                )));
            };
            let converted = items
                .iter()
                .map(|i| convert(item, i))
                .collect::<Result<Vec<_>, _>>()?;
            let list = Value::Array(converted.clone());
            let validated = converted
                .iter()
                .map(|i| validate(item, i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|msg| Fail::Invalid(list, msg))?;
            Ok(Value::Array(validated))
        }
        Kind::StrMap(item) => {
            let Value::Object(m) = v else {
                return Err(Fail::Convert(format!(
                    "Value not a valid dict: {}",
                    py_str(v)
                )));
            };
            let mut out = Map::new();
            for (k, val) in m {
                let checked = if val.is_null() {
                    Value::Null
                } else {
                    validate(item, &convert(item, val)?)
                        .map_err(|msg| Fail::Invalid(v.clone(), msg))?
                };
                out.insert(k.clone(), checked);
            }
            Ok(Value::Object(out))
        }
        Kind::Object(schema) => parse_object(ctx, schema, v, path)
            .map(Value::Object)
            .map_err(Fail::Done),
        Kind::ObjectList(schema) => {
            let Value::Array(items) = v else {
                return Err(Fail::Convert(format!(
                    "Value not a valid list: {}",
                    py_str(v)
                )));
            };
            items
                .iter()
                .map(|i| parse_object(ctx, schema, i, path).map(Value::Object))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
                .map_err(Fail::Done)
        }
        scalar => {
            let converted = convert(scalar, v)?;
            validate(scalar, &converted).map_err(|msg| Fail::Invalid(converted, msg))
        }
    }
}

const ENUM_TRUE: &[&str] = &["true", "t", "yes", "y", "on", "1"];
const ENUM_FALSE: &[&str] = &["false", "f", "no", "n", "off", "0"];

/// WSME's `fromjson` for scalar types: only numbers and booleans change.
fn convert(kind: &Kind, v: &Value) -> Result<Value, Fail> {
    match kind {
        Kind::Int { .. } | Kind::IntEnum(_) => py_int(v).map(Value::from).map_err(Fail::Convert),
        Kind::FloatEnum(_) => py_float(v).map(Value::from).map_err(Fail::Convert),
        Kind::Bool => match v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::Number(n) if n.is_i64() || n.is_u64() => {
                Ok(Value::Bool(n.as_f64().is_some_and(|f| f != 0.0)))
            }
            Value::String(s) if ENUM_TRUE.contains(&s.as_str()) => Ok(Value::Bool(true)),
            Value::String(s) if ENUM_FALSE.contains(&s.as_str()) => Ok(Value::Bool(false)),
            other => Err(Fail::Convert(format!(
                "Value not an unambiguous boolean: {}",
                py_str(other)
            ))),
        },
        _ => Ok(v.clone()),
    }
}

/// The validators of the WSME/octavia user types; the error is the reason.
fn validate(kind: &Kind, v: &Value) -> Result<Value, String> {
    match kind {
        Kind::Str { min, max, pattern } => {
            let Some(s) = v.as_str() else {
                return Err("Value should be string".into());
            };
            let len = s.chars().count();
            if let Some(min) = min
                && len < *min
            {
                return Err(format!(
                    "Value should have a minimum character requirement of {min}"
                ));
            }
            if let Some(max) = max
                && len > *max
            {
                return Err(format!(
                    "Value should have a maximum character requirement of {max}"
                ));
            }
            if let Some(p) = pattern
                && !p.search(s)
            {
                return Err(format!("Value should match the pattern {}", p.python));
            }
            Ok(v.clone())
        }
        Kind::Uuid => v
            .as_str()
            .and_then(normalize_uuid)
            .map(Value::String)
            .ok_or_else(|| "Value should be UUID format".into()),
        Kind::Int { min, max } => {
            let n = v.as_i64().unwrap_or_default();
            if let Some(min) = min
                && n < *min
            {
                return Err(format!("Value should be greater or equal to {min}"));
            }
            if let Some(max) = max
                && n > *max
            {
                return Err(format!("Value should be lower or equal to {max}"));
            }
            Ok(v.clone())
        }
        Kind::Bool => Ok(v.clone()),
        Kind::StrEnum(values) => match v.as_str() {
            Some(s) if values.contains(&s) => Ok(v.clone()),
            _ => Err(format!("Value should be one of: {}", values.join(", "))),
        },
        Kind::FloatEnum(values) => match v.as_f64() {
            Some(f) if values.contains(&f) => Ok(v.clone()),
            _ => Err(format!(
                "Value should be one of: {}",
                values
                    .iter()
                    .map(|f| py_float_str(*f))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
        Kind::IntEnum(values) => match v.as_i64() {
            Some(n) if values.contains(&n) => Ok(v.clone()),
            _ => Err(format!(
                "Value should be one of: {}",
                values
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
        Kind::Ip => match v.as_str() {
            Some(s) if s.parse::<IpAddr>().is_ok() => Ok(v.clone()),
            _ => Err("Value should be IPv4 or IPv6 format".into()),
        },
        Kind::Cidr => v
            .as_str()
            .and_then(normalize_cidr)
            .map(Value::String)
            .ok_or_else(|| "Value should be IPv4 or IPv6 CIDR format".into()),
        Kind::Url => match v.as_str() {
            Some(s) if checks::is_url(s) => Ok(v.clone()),
            _ => Err("Value must be a valid URL string".into()),
        },
        Kind::UrlPath => match v.as_str() {
            Some(s) if checks::is_url_path(s) => Ok(v.clone()),
            _ => Err("Value must be a valid URL Path string".into()),
        },
        Kind::Alpn => match v.as_str() {
            Some(s) if crate::consts::SUPPORTED_ALPN_PROTOCOLS.contains(&s) => Ok(v.clone()),
            _ => Err("Value should be a valid ALPN protocol ID".into()),
        },
        // Containers are read by `read`; inside a list they do not occur.
        Kind::List(_) | Kind::StrMap(_) | Kind::Object(_) | Kind::ObjectList(_) => Ok(v.clone()),
    }
}

/// Python's `uuid.UUID(s)` accepted forms (braces, `urn:uuid:`, no
/// dashes), rendered as `str(UUID)`.
pub fn normalize_uuid(s: &str) -> Option<String> {
    let hex: String = s
        .replace("urn:", "")
        .replace("uuid:", "")
        .trim_matches(|c| c == '{' || c == '}')
        .replace('-', "");
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    uuid::Uuid::parse_str(&hex)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// `ipaddress.ip_network(s, strict=False).with_prefixlen`.
pub fn normalize_cidr(s: &str) -> Option<String> {
    if let Ok(net) = s.parse::<ipnet::IpNet>() {
        return Some(net.trunc().to_string());
    }
    s.parse::<IpAddr>()
        .ok()
        .map(|ip| ipnet::IpNet::from(ip).to_string())
}

/// Python's `int(v)` for what JSON can hold.
fn py_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.abs() < 9.2e18)
                    .map(|f| f.trunc() as i64)
            })
            .ok_or_else(|| format!("invalid literal for int() with base 10: '{n}'")),
        Value::String(s) => {
            let t = s.trim();
            let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
            let ok = !digits.is_empty()
                && !digits.starts_with('_')
                && !digits.ends_with('_')
                && !digits.contains("__")
                && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
            ok.then(|| t.replace('_', "").parse::<i64>().ok())
                .flatten()
                .ok_or_else(|| format!("invalid literal for int() with base 10: {}", py_repr(v)))
        }
        other => Err(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            py_type(other)
        )),
    }
}

/// Python's `float(v)`.
fn py_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Number(n) => Ok(n.as_f64().unwrap_or_default()),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| format!("could not convert string to float: {}", py_repr(v))),
        other => Err(format!(
            "float() argument must be a string or a real number, not '{}'",
            py_type(other)
        )),
    }
}

fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

pub(crate) fn py_float_str(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// Python's `str()` of a decoded JSON value (what `'%s' % value` prints).
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of a decoded JSON value.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) if n.is_f64() => py_float_str(n.as_f64().unwrap_or_default()),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_repr_str(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(m) => {
            let inner: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr_str(k), py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

pub(crate) fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_renderings() {
        assert_eq!(py_str(&json!("abc")), "abc");
        assert_eq!(
            py_str(&json!({"a": [1, "x", null, true]})),
            "{'a': [1, 'x', None, True]}"
        );
        assert_eq!(py_repr(&json!("it's")), "\"it's\"");
        assert_eq!(py_repr(&json!(1.0)), "1.0");
        assert_eq!(py_repr(&json!("a\nb")), "'a\\nb'");
    }

    #[test]
    fn python_int_and_float() {
        assert_eq!(py_int(&json!("12")), Ok(12));
        assert_eq!(py_int(&json!(" -3 ")), Ok(-3));
        assert_eq!(py_int(&json!(1.9)), Ok(1));
        assert_eq!(py_int(&json!(true)), Ok(1));
        assert_eq!(
            py_int(&json!("1.5")),
            Err("invalid literal for int() with base 10: '1.5'".into())
        );
        assert_eq!(py_float(&json!("1.1")), Ok(1.1));
        assert!(py_float(&json!("x")).is_err());
    }

    #[test]
    fn uuid_and_cidr_forms() {
        let id = "6a0a707c-45ef-4758-b533-e55adddba8ce";
        assert_eq!(
            normalize_uuid("6A0A707C45EF4758B533E55ADDDBA8CE").as_deref(),
            Some(id)
        );
        assert_eq!(normalize_uuid(&format!("{{{id}}}")).as_deref(), Some(id));
        assert_eq!(
            normalize_uuid(&format!("urn:uuid:{id}")).as_deref(),
            Some(id)
        );
        assert_eq!(normalize_uuid("not-a-uuid"), None);
        assert_eq!(normalize_cidr("10.1.2.3/8").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(normalize_cidr("10.1.2.3").as_deref(), Some("10.1.2.3/32"));
        assert_eq!(
            normalize_cidr("2001:db8::1/64").as_deref(),
            Some("2001:db8::/64")
        );
        assert_eq!(normalize_cidr("10.0.0.0/33"), None);
    }
}
