//! Request bodies: the `{"network": {...}}` envelope, Neutron's attribute
//! rules (unknown / not allowed in POST / read-only in PUT) and typed
//! accessors whose messages match Neutron's validators.

use neutrino_types::ApiError;
use serde_json::{Map, Value};

/// Largest request body we read. Anything larger is refused with 413
/// before it is parsed.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Which attributes of a resource a client may send, and when.
pub struct Attr {
    pub name: &'static str,
    pub post: bool,
    pub put: bool,
}

pub const fn attr(name: &'static str, post: bool, put: bool) -> Attr {
    Attr { name, post, put }
}

pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.is_empty() || bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("Resource body required"));
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|_| {
        ApiError::new(
            400,
            "MalformedRequestBody",
            "Malformed request body: Cannot understand JSON",
        )
    })?;
    // Every string of every body is checked here, once, rather than per
    // attribute: PostgreSQL cannot store a NUL, SQLite would.
    if let Some(path) = neutrino_types::input::find_nul(&v) {
        // Name the resource's attribute (`name` of `{"network": {"name"}}`,
        // also inside a bulk list), else the top-level key.
        let attr = path
            .iter()
            .skip(1)
            .find(|p| p.parse::<usize>().is_err())
            .or(path.first())
            .map_or("body", String::as_str);
        return Err(ApiError::invalid_attr(
            &attr.replace('\0', "\\0"),
            "NUL characters are not allowed",
        ));
    }
    Ok(v)
}

/// One or many items: `{"port": {...}}` or, for bulk creates, `{"ports": [...]}`.
pub fn items(
    body: Value,
    singular: &str,
    plural: &str,
    allow_bulk: bool,
) -> Result<(Vec<Map<String, Value>>, bool), ApiError> {
    let Value::Object(mut top) = body else {
        return Err(ApiError::bad_request(format!(
            "Unable to find '{singular}' in request body"
        )));
    };
    if let Some(v) = top.remove(singular) {
        return match v {
            Value::Object(m) => Ok((vec![m], false)),
            _ => Err(ApiError::bad_request(format!(
                "Unable to find '{singular}' in request body"
            ))),
        };
    }
    if allow_bulk && let Some(Value::Array(list)) = top.remove(plural) {
        let mut out = Vec::with_capacity(list.len());
        for v in list {
            match v {
                // Neutron takes each item bare or in its own envelope.
                Value::Object(mut m)
                    if m.len() == 1 && m.get(singular).is_some_and(Value::is_object) =>
                {
                    match m.remove(singular) {
                        Some(Value::Object(inner)) => out.push(inner),
                        _ => unreachable!("checked above"),
                    }
                }
                Value::Object(m) => out.push(m),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "Unable to find '{singular}' in request body"
                    )));
                }
            }
        }
        if out.is_empty() {
            return Err(ApiError::bad_request("Resources required"));
        }
        return Ok((out, true));
    }
    Err(ApiError::bad_request(format!(
        "Unable to find '{singular}' in request body"
    )))
}

pub fn single(body: Value, singular: &str) -> Result<Map<String, Value>, ApiError> {
    Ok(items(body, singular, "", false)?.0.remove(0))
}

/// Applies Neutron's attribute rules for a POST or PUT body.
pub fn check_attrs(m: &Map<String, Value>, attrs: &[Attr], is_post: bool) -> Result<(), ApiError> {
    let unknown: Vec<&str> = m
        .keys()
        .map(String::as_str)
        .filter(|k| !attrs.iter().any(|a| a.name == *k))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Unrecognized attribute(s) '{}'",
            unknown.join(", ")
        )));
    }
    for k in m.keys() {
        let a = attrs.iter().find(|a| a.name == k).expect("checked above");
        if is_post && !a.post {
            return Err(ApiError::bad_request(format!(
                "Attribute '{k}' not allowed in POST"
            )));
        }
        if !is_post && !a.put {
            return Err(ApiError::bad_request(format!(
                "Cannot update read-only attribute {k}"
            )));
        }
    }
    Ok(())
}

/// Resolves `tenant_id` / `project_id` to one project id, if given.
pub fn project_of(m: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let p = opt_string(m, "project_id", 255)?;
    let t = opt_string(m, "tenant_id", 255)?;
    match (p, t) {
        (Some(p), Some(t)) if p != t => Err(ApiError::bad_request(
            "'project_id' and 'tenant_id' do not match",
        )),
        (p, t) => Ok(p.or(t)),
    }
}

/// Neutron's `_validate_privileges`: a non-admin naming another project in
/// a create body is a bad request (400), not a policy failure.
pub fn foreign_project() -> ApiError {
    ApiError::bad_request(
        "Specifying 'project_id' other than the authenticated project in request is not allowed for the current user.",
    )
}

fn repr(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn opt_string(
    m: &Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(ApiError::invalid_attr(
            key,
            format!("'{s}' exceeds maximum length of {max}"),
        )),
        Some(v) => Err(ApiError::invalid_attr(
            key,
            format!("'{}' is not a valid string", repr(v)),
        )),
    }
}

/// A string attribute that may also be `null`.
pub fn opt_nullable_string(
    m: &Map<String, Value>,
    key: &str,
) -> Result<Option<Option<String>>, ApiError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(_) => Ok(Some(opt_string(m, key, 255)?)),
    }
}

/// Neutron's `convert_to_boolean`: true/false, "true"/"false" in any case, 0/1.
pub fn to_bool(key: &str, v: &Value) -> Result<bool, ApiError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
        Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("true") || s == "1" => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") || s == "0" => Ok(false),
        other => Err(ApiError::invalid_attr(
            key,
            format!("'{}' cannot be converted to boolean", repr(other)),
        )),
    }
}

pub fn opt_bool(m: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    m.get(key).map(|v| to_bool(key, v)).transpose()
}

/// Integers, also given as strings of digits (clients send both).
pub fn opt_int(m: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => Ok(s.trim().parse().ok()),
        Some(v) => Err(ApiError::invalid_attr(
            key,
            format!("'{}' is not an integer", repr(v)),
        )),
    }
}

pub fn opt_string_list(m: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, ApiError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(ApiError::invalid_attr(
                    key,
                    format!("'{}' is not a valid string", repr(other)),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(v) => Err(ApiError::invalid_attr(
            key,
            format!("'{}' is not a list", repr(v)),
        )),
    }
}

pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() >= 32
}

pub fn check_uuid(key: &str, s: &str) -> Result<(), ApiError> {
    if is_uuid(s) {
        Ok(())
    } else {
        Err(ApiError::invalid_attr(
            key,
            format!("'{s}' is not a valid UUID"),
        ))
    }
}

/// Parses the `If-Match: revision_number=N` precondition, if present.
pub fn if_match_revision(headers: &axum::http::HeaderMap) -> Result<Option<i64>, ApiError> {
    let mut found = None;
    for v in headers.get_all(axum::http::header::IF_MATCH) {
        let s = v
            .to_str()
            .map_err(|_| ApiError::bad_request("Invalid If-Match header"))?;
        for part in s.split(',') {
            let part = part.trim().trim_matches('"');
            if let Some(n) = part.strip_prefix("revision_number=") {
                if found.is_some() {
                    return Err(ApiError::bad_request(
                        "Multiple revision_number etags are not supported.",
                    ));
                }
                let n: i64 = n.parse().map_err(|_| {
                    ApiError::bad_request(format!("Revision number must be an integer, got {n}"))
                })?;
                found = Some(n);
            }
        }
    }
    Ok(found)
}

pub fn check_revision(expected: Option<i64>, current: i64) -> Result<(), ApiError> {
    match expected {
        Some(e) if e != current => Err(ApiError::revision_mismatch(e, current)),
        _ => Ok(()),
    }
}

/// A `[{"destination": CIDR, "nexthop": IP}]` list (subnet host routes,
/// router extra routes), checked as neutron-lib's `validate_hostroutes`
/// checks both: the shape, each address, no duplicates. `null` is empty.
pub fn parse_route_list(
    v: &Value,
    attr: &str,
) -> Result<Vec<(neutrino_ipam::IpNet, std::net::IpAddr)>, ApiError> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(ApiError::invalid_attr(
                attr,
                format!("Invalid data format for hostroute: '{other}'"),
            ));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let shape_ok = item.as_object().is_some_and(|o| o.len() == 2);
        let (Some(dst), Some(hop), true) = (
            item.get("destination").and_then(Value::as_str),
            item.get("nexthop").and_then(Value::as_str),
            shape_ok,
        ) else {
            return Err(ApiError::invalid_attr(
                attr,
                format!("Invalid data format for hostroute: '{item}'"),
            ));
        };
        let dst: neutrino_ipam::IpNet = dst.parse().map_err(|_| {
            ApiError::invalid_attr(attr, format!("'{dst}' is not a valid IP subnet"))
        })?;
        let hop: std::net::IpAddr = hop.parse().map_err(|_| {
            ApiError::invalid_attr(attr, format!("'{hop}' is not a valid IP address"))
        })?;
        let route = (dst.trunc(), hop);
        if out.contains(&route) {
            return Err(ApiError::invalid_attr(
                attr,
                format!("Duplicate hostroute '{item}'"),
            ));
        }
        out.push(route);
    }
    Ok(out)
}
