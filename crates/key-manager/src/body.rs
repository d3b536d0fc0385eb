//! Request bodies as barbican reads them (`api.load_body`): at most
//! `max_allowed_request_size_in_bytes` (25000) bytes are read, parsed as
//! JSON (400 "Malformed JSON" otherwise), every string stripped of
//! surrounding whitespace, then handed to a validator.

use axum::body::Body;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::fault::Fault;

/// Upstream's `max_allowed_request_size_in_bytes`: a JSON body is read
/// up to this many bytes and no further (a longer one is cut, and then
/// almost always malformed).
pub const MAX_REQUEST_BYTES: usize = 25_000;
/// Upstream's `max_allowed_secret_in_bytes`.
pub const MAX_SECRET_BYTES: usize = 20_000;

/// Reads at most `limit` bytes of `body`; the rest is left unread.
pub async fn read_prefix(body: Body, limit: usize) -> Result<Vec<u8>, Fault> {
    let mut body = body;
    let mut out = Vec::new();
    while out.len() < limit {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = limit - out.len();
                    out.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Some(Err(_)) => return Err(Fault::new(500, "Read Error")),
        }
    }
    Ok(out)
}

/// Reads a whole body of at most `limit` bytes; `None` when longer.
pub async fn read_all(body: Body, limit: usize) -> Result<Option<Vec<u8>>, Fault> {
    let bytes = read_prefix(body, limit + 1).await?;
    Ok((bytes.len() <= limit).then_some(bytes))
}

/// `load_body` before the validator: parse and strip. A string holding
/// NUL is refused here as everywhere in Neutrino (PostgreSQL cannot
/// store it), with the message of a schema mismatch.
pub fn parse_json(bytes: &[u8], schema_name: &str) -> Result<Value, Fault> {
    let mut v: Value =
        serde_json::from_slice(bytes).map_err(|_| Fault::new(400, "Malformed JSON"))?;
    if let Some(path) = neutrino_types::input::find_nul(&v) {
        return Err(invalid_object(
            schema_name,
            "NUL characters are not allowed",
            path.first().map(String::as_str),
        ));
    }
    strip_whitespace(&mut v);
    Ok(v)
}

/// Python's `str.strip()` on every string value (keys are left alone).
fn strip_whitespace(v: &mut Value) {
    match v {
        Value::String(s) => {
            let stripped = py_strip(s);
            if stripped.len() != s.len() {
                *s = stripped.to_string();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_whitespace),
        Value::Object(m) => m.values_mut().for_each(strip_whitespace),
        _ => {}
    }
}

/// Python's `str.strip()`: Unicode whitespace plus the four ASCII
/// separators (0x1c-0x1f) Python also counts as space.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// `InvalidObject`'s message, as `load_body` answers it (400).
pub fn invalid_object(schema_name: &str, reason: &str, property: Option<&str>) -> Fault {
    Fault::new(
        400,
        format!(
            "Provided object does not match schema '{schema_name}': {reason}. \
             Invalid property: '{}'",
            property.unwrap_or("None")
        ),
    )
}

/// Runs the schema; the first error becomes `InvalidObject`.
pub fn check_schema(v: &Value, schema: &Value, schema_name: &str) -> Result<(), Fault> {
    match crate::schema::validate(v, schema) {
        None => Ok(()),
        Some(e) => Err(invalid_object(schema_name, &e.message, e.property())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_like_python() {
        assert_eq!(py_strip(" \t x y\n\u{1f}\u{a0}"), "x y");
        let mut v = serde_json::json!({" k ": [" a ", 1, {"b": "\nc"}]});
        strip_whitespace(&mut v);
        assert_eq!(v, serde_json::json!({" k ": ["a", 1, {"b": "c"}]}));
    }

    #[test]
    fn malformed_and_nul() {
        assert_eq!(
            parse_json(b"{", "Secret")
                .unwrap_err()
                .description
                .as_deref(),
            Some("Malformed JSON")
        );
        let nul = parse_json(br#"{"name": "a\u0000b"}"#, "Secret").unwrap_err();
        assert_eq!(nul.status, 400);
        assert_eq!(
            nul.description.as_deref(),
            Some(
                "Provided object does not match schema 'Secret': NUL characters are not \
                 allowed. Invalid property: 'name'"
            )
        );
    }

    #[tokio::test]
    async fn reads_only_a_prefix() {
        let body = Body::from(vec![b'x'; 30_000]);
        assert_eq!(
            read_prefix(body, MAX_REQUEST_BYTES).await.unwrap().len(),
            25_000
        );
        assert_eq!(
            read_all(Body::from("abc"), 3).await.unwrap(),
            Some(b"abc".to_vec())
        );
        assert_eq!(read_all(Body::from("abcd"), 3).await.unwrap(), None);
    }
}
